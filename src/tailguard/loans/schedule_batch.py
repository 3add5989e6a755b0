"""Many equal-instalment and balloon schedules at once, column-wise, with the same numbers.

The end-of-day run, portfolio projections and the simulation need the schedules of hundreds of
thousands of loans; building them one `Installment` object at a time spends nearly all the time
in the interpreter. This kernel walks the periods instead of the loans: loans that share an
annual rate and a term form a group, and each period is a handful of int64 column operations
over the whole group.

The numbers are those of `tailguard.loans.schedule.build_schedule`, to the fen, for every loan
(a property test compares them over random loans). That holds because the kernel uses the same
definitions, not a re-derivation of them:

- the level payment of each loan comes from `level_payment_fen` (cached per group by principal
  and balloon, since portfolios repeat amounts);
- interest is the exact fraction balance × annual / 12 (or balance × annual × days / year-days
  for a broken first period), rounded once by `round_ratio_array`, the column form of the one
  rounding rule, with the rate taken as an exact `Fraction` so no digit is lost;
- principal of a period is min(balance − balloon, payment − regular interest), at least 0, and
  the last period repays whatever is left, balloon included;
- due dates are the contract day of each month from the first due date, clamped to the month's
  end, computed with `datetime64` month arithmetic.

int64 holds any amount a loan can have, but a product balance × rate numerator × days can
exceed it for absurd inputs (a rate with many decimals on a huge principal). Rows where that
could happen are detected before multiplying and built by `build_schedule` itself, so overflow
is checked, never assumed away, and the answer stays exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from tailguard.errors import InvalidInput
from tailguard.loans.products import RepaymentMethod
from tailguard.loans.schedule import TERM_MONTHS_MAX, build_schedule, level_payment_fen
from tailguard.money import DayCount, RoundingMode, round_ratio_array

Int64Array = npt.NDArray[np.int64]
DateArray = npt.NDArray[np.datetime64]

INT64_PRODUCT_MAX = 2**62
"""Largest numerator `round_ratio_array` accepts (it doubles remainders internally)."""

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, eq=False)
class ScheduleBatch:
    """Schedules of many loans as read-only 2-D columns: one row per loan, one column per period.

    Rows are in the order of the input. A loan with a shorter term than the longest one has
    zeros (amounts) and NaT (dates) in the columns past its term; `in_term` marks the real cells.
    """

    term_months: Int64Array
    """(loans,) number of instalments of each loan."""
    level_payment_fen: Int64Array
    """(loans,) the equal monthly payment solved for each loan (the last one adds the balloon)."""
    due_date: DateArray
    """(loans, periods) datetime64[D] due dates."""
    principal_fen: Int64Array
    """(loans, periods) principal part of each instalment."""
    interest_fen: Int64Array
    """(loans, periods) interest part of each instalment."""
    balance_after_fen: Int64Array
    """(loans, periods) principal outstanding after each instalment is paid."""

    @property
    def loans(self) -> int:
        return int(self.term_months.shape[0])

    @property
    def periods(self) -> int:
        return int(self.principal_fen.shape[1])

    @property
    def payment_fen(self) -> Int64Array:
        """(loans, periods) amount due at each instalment: principal plus interest."""
        return self.principal_fen + self.interest_fen

    @property
    def in_term(self) -> npt.NDArray[np.bool_]:
        """(loans, periods) True where the cell is an instalment of that loan."""
        columns = np.arange(self.periods, dtype=np.int64)
        return columns[np.newaxis, :] < self.term_months[:, np.newaxis]


def build_schedule_batch(
    *,
    principal_fen: npt.ArrayLike,
    balloon_fen: npt.ArrayLike,
    annual_rate: Sequence[Decimal],
    term_months: npt.ArrayLike,
    start: npt.ArrayLike,
    contract_day: npt.ArrayLike | None = None,
    first_due_date: npt.ArrayLike | None = None,
    day_count: DayCount = DayCount.ACT_360,
    rounding: RoundingMode = RoundingMode.HALF_UP,
) -> ScheduleBatch:
    """Equal-instalment (balloon 0) and balloon schedules of many loans, one per input row.

    Every argument but the conventions is a column of the same length: `start` holds
    disbursement dates (`datetime64[D]` or `datetime.date`), `contract_day` the day of month
    instalments fall on (default: the start's day), `first_due_date` an explicit first due date
    or NaT for "one month after the start" (a different date makes a broken first period).
    The day count and rounding mode are the product's and apply to every row.
    """
    principal = _int_column(principal_fen, "principal_fen")
    loans = principal.shape[0]
    balloon = _int_column(balloon_fen, "balloon_fen", loans)
    terms = _int_column(term_months, "term_months", loans)
    rates = list(annual_rate)
    if len(rates) != loans:
        raise _bad("annual_rate", "shape", f"needs {loans} rows, got {len(rates)}")
    starts = _date_column(start, "start", loans)
    _check_amounts(principal, balloon, terms, rates)

    dates = _dates(starts, terms, contract_day, first_due_date)
    first_due, broken, broken_days = dates.first_due, dates.broken, dates.broken_days
    periods = dates.due.shape[1]
    principal_out = np.zeros((loans, periods), dtype=np.int64)
    interest_out = np.zeros((loans, periods), dtype=np.int64)
    balance_out = np.zeros((loans, periods), dtype=np.int64)
    level_out = np.zeros(loans, dtype=np.int64)

    for (rate, term), rows in _groups(rates, terms).items():
        levels = _level_payments(principal[rows], balloon[rows], rate, term, rounding)
        level_out[rows] = levels
        fraction = Fraction(rate)
        fits = _fits_int64(principal[rows], broken[rows], broken_days[rows], fraction)
        fast = rows[fits]
        if fast.size:
            part, interest, balance_after = _amortise(
                principal[fast], balloon[fast], levels[fits], fraction, term,
                broken[fast], broken_days[fast], day_count, rounding,
            )
            principal_out[fast, :term] = part
            interest_out[fast, :term] = interest
            balance_out[fast, :term] = balance_after
        for row in rows[~fits].tolist():
            _fill_from_reference(
                row, principal_out, interest_out, balance_out,
                principal=int(principal[row]), balloon=int(balloon[row]), rate=rate,
                term=term, start=starts[row], first_due=first_due[row],
                contract_day=int(dates.contract_day[row]), day_count=day_count, rounding=rounding,
            )

    for column in (terms, level_out, dates.due, principal_out, interest_out, balance_out):
        column.flags.writeable = False
    return ScheduleBatch(
        term_months=terms,
        level_payment_fen=level_out,
        due_date=dates.due,
        principal_fen=principal_out,
        interest_fen=interest_out,
        balance_after_fen=balance_out,
    )


@dataclass(frozen=True)
class _Dates:
    contract_day: Int64Array
    first_due: DateArray
    broken: npt.NDArray[np.bool_]
    broken_days: Int64Array
    """Days from the start to the first due date; used only where `broken`."""
    due: DateArray


def _dates(
    starts: DateArray,
    terms: Int64Array,
    contract_day: npt.ArrayLike | None,
    first_due_date: npt.ArrayLike | None,
) -> _Dates:
    """Contract days, first due dates, broken periods and the due-date grid, as `build_schedule`.

    Like `build_schedule`, the first period is broken when the first due date is not the
    contract day one month after the start, and every due date (the first included) falls on
    the contract day of its month, counted from the first due date's month.
    """
    loans = starts.shape[0]
    given_first: DateArray | None = None
    if first_due_date is not None:
        given_first = _date_column(first_due_date, "first_due_date", loans)
    if contract_day is None:
        # As in build_schedule: the contract day is the first due date's day when one is given.
        days = _day_of_month(starts)
        if given_first is not None:
            days = np.where(np.isnat(given_first), days, _day_of_month(given_first))
    else:
        days = _int_column(contract_day, "contract_day", loans)
        if loans and (days.min() < 1 or days.max() > 31):
            raise _bad("contract_day", "out_of_range", "must be 1–31")
    regular_first_due = _on_day(_month_index(starts) + 1, days)
    if given_first is None:
        first_due = regular_first_due
    else:
        first_due = np.where(np.isnat(given_first), regular_first_due, given_first)
    if loans and bool(np.any(first_due <= starts)):
        raise _bad("first_due_date", "not_after_start", "must be after the start")
    periods = int(terms.max()) if loans else 0
    return _Dates(
        contract_day=days,
        first_due=first_due,
        broken=first_due != regular_first_due,
        broken_days=(first_due - starts).astype(np.int64),
        due=_due_dates(_month_index(first_due), days, terms, periods),
    )


def _amortise(
    principal: Int64Array,
    balloon: Int64Array,
    level: Int64Array,
    rate: Fraction,
    term: int,
    broken: npt.NDArray[np.bool_],
    broken_days: Int64Array,
    day_count: DayCount,
    rounding: RoundingMode,
) -> tuple[Int64Array, Int64Array, Int64Array]:
    """The period loop for one group (same rate and term), vectorised over its loans.

    Returns (loans, term) arrays of principal, interest and balance after each instalment.
    Work arrays are (term, loans) so each period writes one contiguous row.
    """
    loans = principal.shape[0]
    part_out = np.empty((term, loans), dtype=np.int64)
    interest_out = np.empty((term, loans), dtype=np.int64)
    balance_out = np.empty((term, loans), dtype=np.int64)
    monthly_denominator = rate.denominator * 12
    daily_denominator = rate.denominator * day_count.year_days
    broken_rows = np.flatnonzero(broken)
    balance = principal.copy()
    for k in range(term):
        nominal = round_ratio_array(balance * rate.numerator, monthly_denominator, rounding)
        interest = nominal
        if k == 0 and broken_rows.size:
            interest = nominal.copy()
            interest[broken_rows] = round_ratio_array(
                balance[broken_rows] * rate.numerator * broken_days[broken_rows],
                daily_denominator,
                rounding,
            )
        if k == term - 1:
            part = balance.copy()
        else:
            part = np.maximum(0, np.minimum(balance - balloon, level - nominal))
        balance = balance - part
        part_out[k] = part
        interest_out[k] = interest
        balance_out[k] = balance
    assert not balance.any(), "every loan ends with no principal left"
    return part_out.T, interest_out.T, balance_out.T


def _fits_int64(
    principal: Int64Array,
    broken: npt.NDArray[np.bool_],
    broken_days: Int64Array,
    rate: Fraction,
) -> npt.NDArray[np.bool_]:
    """Rows whose largest interest numerator stays below `INT64_PRODUCT_MAX`.

    The balance never exceeds the principal, so principal × numerator (× days for a broken
    first period) bounds every numerator of the loan; the denominator (rate denominator × 12
    or × year-days, at most × 365) must fit too. The check runs in Python integers,
    which cannot overflow, and only row by row when the whole group's bound does not fit.
    """
    days = np.where(broken, broken_days, 1)
    if rate.denominator * 365 >= INT64_PRODUCT_MAX:
        return np.zeros(principal.shape[0], dtype=np.bool_)
    if principal.size == 0:
        return np.ones(0, dtype=np.bool_)
    group_bound = int(principal.max()) * rate.numerator * max(int(days.max()), 1)
    if group_bound < INT64_PRODUCT_MAX:
        return np.ones(principal.shape[0], dtype=np.bool_)
    return np.array(
        [
            p * rate.numerator * d < INT64_PRODUCT_MAX
            for p, d in zip(principal.tolist(), days.tolist(), strict=True)
        ],
        dtype=np.bool_,
    )


def _fill_from_reference(
    row: int,
    principal_out: Int64Array,
    interest_out: Int64Array,
    balance_out: Int64Array,
    *,
    principal: int,
    balloon: int,
    rate: Decimal,
    term: int,
    start: np.datetime64,
    first_due: np.datetime64,
    contract_day: int,
    day_count: DayCount,
    rounding: RoundingMode,
) -> None:
    """Build one row whose numbers are too large for int64 with the scalar reference."""
    installments = build_schedule(
        principal_fen=principal,
        annual_rate=rate,
        method=RepaymentMethod.BALLOON if balloon else RepaymentMethod.EQUAL_INSTALLMENT,
        term_months=term,
        start=_to_date(start),
        first_due_date=_to_date(first_due),
        contract_day=contract_day,
        balloon_fen=balloon,
        day_count=day_count,
        rounding=rounding,
    )
    for k, inst in enumerate(installments):
        principal_out[row, k] = inst.principal_fen
        interest_out[row, k] = inst.interest_fen
        balance_out[row, k] = inst.balance_after_fen


def _groups(rates: list[Decimal], terms: Int64Array) -> dict[tuple[Decimal, int], Int64Array]:
    """Row numbers of the loans sharing each (annual rate, term); equal Decimals share a key."""
    rows: dict[tuple[Decimal, int], list[int]] = {}
    for row, key in enumerate(zip(rates, terms.tolist(), strict=True)):
        rows.setdefault(key, []).append(row)
    return {key: np.asarray(members, dtype=np.int64) for key, members in rows.items()}


def _level_payments(
    principal: Int64Array,
    balloon: Int64Array,
    rate: Decimal,
    term: int,
    rounding: RoundingMode,
) -> Int64Array:
    """`level_payment_fen` for each loan of a group, computed once per distinct amount pair."""
    cache: dict[tuple[int, int], int] = {}
    levels: list[int] = []
    for pair in zip(principal.tolist(), balloon.tolist(), strict=True):
        level = cache.get(pair)
        if level is None:
            level = level_payment_fen(pair[0], pair[1], rate, term, rounding)
            cache[pair] = level
        levels.append(level)
    return np.array(levels, dtype=np.int64)


def _due_dates(
    first_due_month: Int64Array, days: Int64Array, terms: Int64Array, periods: int
) -> DateArray:
    """(loans, periods) due dates on the contract day from the first due month, NaT past term.

    A portfolio has few distinct (first due month, contract day) pairs, so each pair's row of
    dates is computed once and copied to its loans, instead of clamping every cell.
    """
    offsets = np.arange(periods, dtype=np.int64)
    key = first_due_month * 32 + days
    distinct, loan_to_pair = np.unique(key, return_inverse=True)
    pair_month, pair_day = np.divmod(distinct, 32)
    pair_dates = _on_day(pair_month[:, np.newaxis] + offsets, pair_day[:, np.newaxis])
    due: DateArray = pair_dates[loan_to_pair.reshape(-1)]
    due[offsets[np.newaxis, :] >= terms[:, np.newaxis]] = np.datetime64("NaT")
    return due


def _on_day(month_index: Int64Array, days: Int64Array) -> DateArray:
    """The date on `days` of each month (months counted from January 1970), clamped.

    Calendar conversions of `datetime64` are slow per element, so the first day of every month
    in the range is converted once into a small table and the cells only index into it.
    """
    if month_index.size == 0:
        return np.empty(month_index.shape, dtype="datetime64[D]")
    low = int(month_index.min())
    table_months = np.arange(low, int(month_index.max()) + 2, dtype=np.int64)
    first_days = table_months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    position = month_index - low
    first_of_month = first_days[position]
    month_length = first_days[position + 1] - first_of_month
    day_number = first_of_month + np.minimum(days, month_length) - 1
    result: DateArray = day_number.view("datetime64[D]")
    return result


def _month_index(dates: DateArray) -> Int64Array:
    """Months since January 1970 of each date."""
    return dates.astype("datetime64[M]").astype(np.int64)


def _day_of_month(dates: DateArray) -> Int64Array:
    first_of_month = dates.astype("datetime64[M]").astype("datetime64[D]")
    offset: Int64Array = (dates - first_of_month).astype(np.int64)
    return offset + 1


def _check_amounts(
    principal: Int64Array, balloon: Int64Array, terms: Int64Array, rates: list[Decimal]
) -> None:
    """The preconditions of `build_schedule`, as errors naming the column."""
    if not principal.size:
        return
    if principal.min() <= 0:
        raise _bad("principal_fen", "not_positive", "every principal must be positive")
    if balloon.min() < 0 or bool(np.any(balloon > principal)):
        raise _bad("balloon_fen", "out_of_range", "must be between 0 and the principal")
    if terms.min() < 1 or terms.max() > TERM_MONTHS_MAX:
        raise _bad("term_months", "out_of_range", f"must be 1–{TERM_MONTHS_MAX}")
    for rate in set(rates):
        if not isinstance(rate, Decimal) or not rate.is_finite() or rate < 0:
            raise _bad("annual_rate", "invalid", f"must be non-negative Decimals, got {rate!r}")


def _int_column(values: npt.ArrayLike, field: str, rows: int | None = None) -> Int64Array:
    column = np.asarray(values)
    if column.ndim != 1:
        raise _bad(field, "shape", "must be a one-dimensional column")
    if column.size and not np.issubdtype(column.dtype, np.integer):
        raise _bad(field, "dtype", f"must hold integers, got {column.dtype}")
    if rows is not None and column.shape[0] != rows:
        raise _bad(field, "shape", f"needs {rows} rows, got {column.shape[0]}")
    result: Int64Array = column.astype(np.int64)
    return result


def _date_column(values: npt.ArrayLike, field: str, rows: int) -> DateArray:
    column = np.asarray(values, dtype="datetime64[D]")
    if column.ndim != 1 or column.shape[0] != rows:
        raise _bad(field, "shape", f"needs a column of {rows} dates")
    if field == "start" and bool(np.any(np.isnat(column))):
        raise _bad(field, "missing", "every loan needs a start date")
    return column


def _to_date(value: np.datetime64) -> date:
    days = int(value.astype("datetime64[D]").astype(np.int64))
    return date.fromordinal(_EPOCH_ORDINAL + days)


def _bad(field: str, code: str, message: str) -> InvalidInput:
    return InvalidInput.one(field, code, message)
