"""End of day (日终) for a chunk of loans, column-wise: one business day forward, no payments.

Why a kernel: the nightly run must cost the same for a loan in its third year as in its first
month, and must not replay every payment of every loan every night (`DESIGN.md`, "What users of
other servicing systems complain about"). The reference replay, `tailguard.loans.position`,
rebuilds a loan from its whole history; this kernel instead takes yesterday's stored state of
every instalment (the `installment_state` columns, penalty interest kept as an exact ratio) and
moves it to the end of `as_of` with a fixed number of numpy operations per chunk, whatever the
age of the loans. It imports no database and no clock: the caller loads the columns, passes the
business date, and writes the result.

It reproduces the reference rule by rule, for a day on which no payment, reversal or waiver is
dated (those are posted by services, which re-replay the loan and rewrite its rows):

- penalty interest accrues on rows due before `as_of`, from `accrued_to` (or the due date) up to
  `as_of`, on the base of the previous end of day (overdue principal, plus overdue interest when
  the product compounds), exactly: ``numerator += base × penalty_rate_numerator × days`` in
  units of ``1 / penalty_denominator`` fen;
- on a day an instalment falls due, instalments due so far with nothing contractual left are
  marked settled that day, and forgiven (penalty dropped) when that is within their grace;
- penalty owed is the exact penalty rounded once with the product's mode (`round_ratio_array`),
  zero inside the grace window and when forgiven; inside grace the same rounded value is
  reported as pending;
- days past due count from the oldest instalment due with principal, interest or fee still
  owed, once its grace has ended; the bucket comes from the product's table;
- contract interest accrues in the current period pro rata on the day count, rounded once and
  capped at the period's interest (`tailguard.loans.accrual`).

The one thing the kernel does not do is apply a waiting credit balance: the reference applies
it through the product's repayment waterfall on every due date, which is per-loan logic with
no useful column form. Loans with a credit balance and an instalment falling due on `as_of`
are flagged `exceptional`; the caller must replay them with the reference replay
(`LoanAccount.position`) and store that state instead of the kernel's row for them. A credit
balance only exists after an overpayment and a due date comes once a month, so the set is a
small fraction of a chunk.

Rows are the instalments of the chunk sorted by loan, then instalment number; `first_row`
gives each loan's first row, so per-loan figures are segment reductions (`np.add.reduceat`,
`np.minimum.reduceat`) and per-row values of a loan are gathers. The only Python loops run over
groups of rows sharing a rounding denominator and mode (a portfolio has a handful of rates),
never over loans or instalments. Every product of integers is checked against int64 before it
is formed: the kernel refuses input that would overflow rather than return a wrong fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import pairwise
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from tailguard.loans.delinquency import LoanChangedBucket
from tailguard.loans.products import Bucket
from tailguard.money.rounding import RoundingMode, round_ratio_array

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]

ROUNDING_MODES: tuple[RoundingMode, ...] = tuple(RoundingMode)
"""Rounding modes by code: a loan's `rounding` column holds an index into this tuple."""

BALLOON_NOTICE_DAYS: tuple[int, ...] = (120, 90, 60, 30)
"""Days before the balloon due date on which a balloon-approaching event is due."""

NUMERATOR_MAX = 2**62
"""Largest exact numerator the kernel keeps (`round_ratio_array` doubles remainders)."""

_EPOCH = date(1970, 1, 1)
_NAT_DAY = np.iinfo(np.int64).min
"""How NaT looks when a datetime64[D] column is viewed as int64 day numbers."""
_NO_DAY = np.iinfo(np.int64).max
_Item = TypeVar("_Item", bound=np.generic)


@dataclass(frozen=True, eq=False)
class InstallmentColumns:
    """The `installment_state` columns of a chunk, one row per instalment of the current schedule.

    Dates are datetime64[D]; NaT stands for NULL (`accrued_to`, `settled_on`). The penalty
    interest of a row is exactly ``penalty_numerator / penalty_denominator`` fen, and each day
    overdue adds ``base × penalty_rate_numerator`` to the numerator.
    """

    number: Int64Array
    due_date: DateArray
    grace_end: DateArray
    principal_fen: Int64Array
    interest_fen: Int64Array
    fee_fen: Int64Array
    principal_paid_fen: Int64Array
    interest_paid_fen: Int64Array
    fee_paid_fen: Int64Array
    penalty_paid_fen: Int64Array
    penalty_waived_fen: Int64Array
    interest_waived_fen: Int64Array
    fee_waived_fen: Int64Array
    penalty_numerator: Int64Array
    penalty_denominator: Int64Array
    penalty_rate_numerator: Int64Array
    accrued_to: DateArray
    settled_on: DateArray
    forgiven: BoolArray

    @property
    def rows(self) -> int:
        return int(self.number.shape[0])


@dataclass(frozen=True, eq=False)
class LoanColumns:
    """Per-loan inputs of the kernel, one row per loan in the order of the instalment rows.

    The current period is the instalment whose period contains `as_of` (the first one due after
    it, `tailguard.loans.accrual.current_period`), chosen by the caller for the day being run;
    NaT in `period_start` means there is none (before the first period or past maturity).
    """

    first_row: Int64Array
    """Index of each loan's first instalment row; strictly increasing, starting at 0."""
    compound_overdue_interest: BoolArray
    credit_balance_fen: Int64Array
    previous_dpd: Int64Array
    """Days past due at the previous end of day, for bucket-change events."""
    bucket_table: Int64Array
    """Index into the `BucketTables` passed with the chunk."""
    rounding: Int64Array
    """Index into `ROUNDING_MODES`."""
    period_start: DateArray
    period_due_date: DateArray
    period_opening_balance_fen: Int64Array
    period_interest_cap_fen: Int64Array
    """The scheduled interest of the current period: accrual never exceeds it."""
    interest_rate_numerator: Int64Array
    interest_rate_denominator: Int64Array
    """The current period's annual contract rate as an exact ratio."""
    year_days: Int64Array
    balloon_due_date: DateArray
    """Due date of the instalment carrying the balloon; NaT when the loan has none."""

    @property
    def loans(self) -> int:
        return int(self.first_row.shape[0])


@dataclass(frozen=True, eq=False)
class BucketTables:
    """The distinct delinquency bucket tables of a chunk's products, padded into one array.

    Buckets are contiguous (a `Product` checks that), so a table is its lower bounds: a loan's
    bucket is the number of lower bounds at or below its DPD, minus one.
    """

    labels: tuple[tuple[str, ...], ...]
    lower_dpd: Int64Array
    """(tables, widest table) lower bounds; padding is int64 max, never reached."""
    upper_dpd: Int64Array
    """(tables,) the last bucket's upper bound, int64 max when it is open-ended."""

    @classmethod
    def of(cls, tables: Sequence[Sequence[Bucket]]) -> BucketTables:
        assert tables, "a chunk needs at least one bucket table"
        width = max(len(table) for table in tables)
        lower = np.full((len(tables), width), _NO_DAY, dtype=np.int64)
        upper = np.full(len(tables), _NO_DAY, dtype=np.int64)
        for index, table in enumerate(tables):  # one pass per product, not per loan
            assert table and table[0].dpd_min == 0, "a bucket table starts at 0 days past due"
            lower[index, : len(table)] = [bucket.dpd_min for bucket in table]
            last = table[-1].dpd_max
            if last is not None:
                upper[index] = last
        lower.flags.writeable = False
        upper.flags.writeable = False
        return cls(
            tuple(tuple(bucket.label for bucket in table) for table in tables), lower, upper
        )

    def index_of(self, dpd: Int64Array, table: Int64Array) -> Int64Array:
        """Bucket index (0 is current) of each loan's `dpd` in its own table."""
        assert not dpd.size or int(dpd.min()) >= 0, "days past due cannot be negative"
        assert bool(np.all(dpd <= self.upper_dpd[table])), "no bucket holds these days past due"
        below: Int64Array = np.sum(self.lower_dpd[table] <= dpd[:, np.newaxis], axis=1)
        return below - 1

    def label(self, table: int, index: int) -> str:
        return self.labels[table][index]


@dataclass(frozen=True, eq=False)
class EodResult:
    """The chunk at the end of `as_of`. Rows of flagged `exceptional` loans must be replaced."""

    as_of: date
    installments: InstallmentColumns
    """The new `installment_state`: numerators, `accrued_to`, `settled_on`, `forgiven` moved."""
    penalty_owed_fen: Int64Array
    """Per row: penalty owed in total (paid and waived included); 0 in grace or forgiven."""
    penalty_pending_fen: Int64Array
    """Per row: penalty accrued inside the grace window, owed only if grace ends unsettled."""
    loan_penalty_owed_fen: Int64Array
    penalty_outstanding_fen: Int64Array
    principal_outstanding_fen: Int64Array
    overdue_principal_fen: Int64Array
    overdue_interest_fen: Int64Array
    overdue_fee_fen: Int64Array
    dpd: Int64Array
    bucket_index: Int64Array
    previous_bucket_index: Int64Array
    bucket_table: Int64Array
    bucket_changed: Int64Array
    """Loans (indices) whose bucket differs from the one of `previous_dpd`, exceptional ones
    left out: the replay decides theirs."""
    accrued_interest_fen: Int64Array
    """Contract interest accrued in the current period, not yet due."""
    interest_earned_fen: Int64Array
    """Interest of every instalment due on or before `as_of`, plus the accrued interest."""
    next_due_date: DateArray
    paid_off: BoolArray
    exceptional: BoolArray
    """Loans with a credit balance and an instalment due on `as_of`: replay them."""
    balloon_notice_days: Int64Array
    """Per loan: 120, 90, 60 or 30 when the balloon is exactly that many days away, else 0."""
    balloon_approaching: Int64Array
    """Loans (indices) with a balloon-approaching event due on `as_of`."""
    bucket_labels: BucketTables

    def bucket_change_events(self, loan_ids: Sequence[str]) -> list[LoanChangedBucket]:
        """`LoanChangedBucket` events for the loans that changed bucket (a loop over those only)."""
        events = []
        for loan in self.bucket_changed.tolist():
            table = int(self.bucket_table[loan])
            before = int(self.previous_bucket_index[loan])
            after = int(self.bucket_index[loan])
            events.append(
                LoanChangedBucket(
                    loan_id=loan_ids[loan],
                    as_of=self.as_of,
                    from_bucket=self.bucket_labels.label(table, before),
                    to_bucket=self.bucket_labels.label(table, after),
                    dpd=int(self.dpd[loan]),
                    worsened=after > before,
                )
            )
        return events


def advance_one_day(
    installments: InstallmentColumns,
    loans: LoanColumns,
    buckets: BucketTables,
    as_of: date,
) -> EodResult:
    """Move a chunk from the end of the previous business day to the end of `as_of`.

    Idempotent for its date: run again on its own output for the same `as_of`, it adds no
    penalty (`accrued_to` is already `as_of`) and returns the same state.
    """
    today = (as_of - _EPOCH).days
    rows, first_row, loan_of_row = _segments(installments, loans)
    due = _day_numbers(installments.due_date)
    grace = _day_numbers(installments.grace_end)
    assert not bool(np.any(due == _NAT_DAY) | np.any(grace == _NAT_DAY)), "dates are required"
    assert bool(np.all(grace >= due)), "grace ends on or after the due date"
    _check_amounts(installments)

    principal_left = installments.principal_fen - installments.principal_paid_fen
    interest_left = (
        installments.interest_fen - installments.interest_paid_fen
        - installments.interest_waived_fen
    )
    fee_left = installments.fee_fen - installments.fee_paid_fen - installments.fee_waived_fen
    contractual_left = principal_left + interest_left + fee_left
    compound = loans.compound_overdue_interest[loan_of_row]

    # Penalty interest for the days from `accrued_to` (or the due date) up to `as_of`, on the
    # base of the previous end of day: no payment is dated today, so the base held all along.
    accruing = due < today
    accrued_to = _day_numbers(installments.accrued_to)
    start = np.where(accrued_to == _NAT_DAY, due, accrued_to)
    assert bool(np.all(~accruing | (start <= today))), "state is ahead of the day being run"
    days = np.where(accruing, today - start, 0)
    base = np.where(accruing, principal_left + np.where(compound, interest_left, 0), 0)
    rate = installments.penalty_rate_numerator
    _assert_fits(base, rate, days, installments.penalty_numerator, "penalty numerator")
    numerator = installments.penalty_numerator + base * rate * days
    new_accrued_to = np.where(accruing, today, accrued_to)

    # On a due date the reference checks which instalments due so far are settled.
    due_today = due == today
    loan_due_today = np.logical_or.reduceat(due_today, first_row)
    settling = (
        loan_due_today[loan_of_row]
        & (due <= today)
        & np.isnat(installments.settled_on)
        & (contractual_left == 0)
    )
    newly_forgiven = settling & (today <= grace)
    forgiven = installments.forgiven | newly_forgiven
    numerator = np.where(newly_forgiven, 0, numerator)
    settled_on = np.where(settling, today, _day_numbers(installments.settled_on))

    mode_of_row = loans.rounding[loan_of_row]
    rounded = _round_grouped(numerator, installments.penalty_denominator, mode_of_row)
    after_grace = today > grace
    penalty_owed = np.where(~forgiven & after_grace, rounded, 0)
    penalty_pending = np.where(~forgiven & ~after_grace, rounded, 0)
    penalty_left = penalty_owed - installments.penalty_paid_fen - installments.penalty_waived_fen

    is_due = due <= today
    overdue_principal = np.add.reduceat(np.where(is_due, principal_left, 0), first_row)
    overdue_interest = np.add.reduceat(np.where(is_due, interest_left, 0), first_row)
    overdue_fee = np.add.reduceat(np.where(is_due, fee_left, 0), first_row)

    # Days past due: the oldest instalment due with contractual amounts left, once its grace
    # has ended (rows are in number order, so the smallest row index is the oldest).
    row_index = np.arange(rows, dtype=np.int64)
    late = is_due & (contractual_left > 0)
    oldest = np.minimum.reduceat(np.where(late, row_index, rows), first_row)
    has_late = oldest < rows
    pick = np.minimum(oldest, rows - 1)
    dpd: Int64Array = np.where(has_late & (today > grace[pick]), today - due[pick], 0)

    bucket_index = buckets.index_of(dpd, loans.bucket_table)
    previous_bucket_index = buckets.index_of(loans.previous_dpd, loans.bucket_table)
    exceptional = (loans.credit_balance_fen > 0) & loan_due_today
    changed = (bucket_index != previous_bucket_index) & ~exceptional

    accrued = _accrued_interest(loans, today)
    interest_due = np.add.reduceat(np.where(is_due, installments.interest_fen, 0), first_row)

    upcoming = np.where(due > today, due, _NO_DAY)
    next_due = np.minimum.reduceat(upcoming, first_row)

    balloon = _day_numbers(loans.balloon_due_date)
    ahead = np.where(balloon == _NAT_DAY, -1, balloon - today)
    notice = np.where(np.isin(ahead, BALLOON_NOTICE_DAYS), ahead, 0)

    anything_left = (contractual_left != 0) | (penalty_left != 0)
    paid_off = ~np.logical_or.reduceat(anything_left, first_row)

    new_state = replace(
        installments,
        penalty_numerator=_frozen(numerator),
        accrued_to=_frozen(_dates(new_accrued_to)),
        settled_on=_frozen(_dates(settled_on)),
        forgiven=_frozen(forgiven),
    )
    return EodResult(
        as_of=as_of,
        installments=new_state,
        penalty_owed_fen=penalty_owed,
        penalty_pending_fen=penalty_pending,
        loan_penalty_owed_fen=np.add.reduceat(penalty_owed, first_row),
        penalty_outstanding_fen=np.add.reduceat(penalty_left, first_row),
        principal_outstanding_fen=np.add.reduceat(principal_left, first_row),
        overdue_principal_fen=overdue_principal,
        overdue_interest_fen=overdue_interest,
        overdue_fee_fen=overdue_fee,
        dpd=dpd,
        bucket_index=bucket_index,
        previous_bucket_index=previous_bucket_index,
        bucket_table=loans.bucket_table,
        bucket_changed=np.flatnonzero(changed),
        accrued_interest_fen=accrued,
        interest_earned_fen=interest_due + accrued,
        next_due_date=_dates(np.where(next_due == _NO_DAY, _NAT_DAY, next_due)),
        paid_off=paid_off,
        exceptional=exceptional,
        balloon_notice_days=notice,
        balloon_approaching=np.flatnonzero(notice),
        bucket_labels=buckets,
    )


def _segments(
    installments: InstallmentColumns, loans: LoanColumns
) -> tuple[int, Int64Array, Int64Array]:
    """Row count, each loan's first row, and the loan of every row, after checking the layout.

    `reduceat` returns a lone element instead of an empty sum for an empty segment, so every
    loan must own at least one row; numbers must rise within a loan so row order is age order.
    """
    rows = installments.rows
    first_row = loans.first_row
    assert loans.loans >= 1 and rows >= 1, "a chunk holds at least one loan with instalments"
    for name, column in vars(installments).items():
        assert column.shape == (rows,), f"installment column {name} has the wrong shape"
    for name, column in vars(loans).items():
        assert column.shape == (loans.loans,), f"loan column {name} has the wrong shape"
    assert int(first_row[0]) == 0, "the first loan starts at row 0"
    counts = np.diff(np.append(first_row, rows))
    assert bool(np.all(counts >= 1)), "every loan has at least one instalment row"
    loan_of_row = np.repeat(np.arange(loans.loans, dtype=np.int64), counts)
    starts_loan = np.zeros(rows, dtype=np.bool_)
    starts_loan[first_row] = True
    rising = np.diff(installments.number) > 0
    assert bool(np.all(rising | starts_loan[1:])), "rows are sorted by loan, then number"
    assert bool(np.all((loans.rounding >= 0) & (loans.rounding < len(ROUNDING_MODES))))
    return rows, first_row, loan_of_row


def _check_amounts(installments: InstallmentColumns) -> None:
    """Invariants of stored state the kernel relies on; a violation means corrupt input."""
    for name in (
        "principal_fen", "interest_fen", "fee_fen", "principal_paid_fen", "interest_paid_fen",
        "fee_paid_fen", "penalty_paid_fen", "penalty_waived_fen", "interest_waived_fen",
        "fee_waived_fen", "penalty_numerator", "penalty_rate_numerator",
    ):
        column: Int64Array = getattr(installments, name)
        assert not column.size or int(column.min()) >= 0, f"{name} cannot be negative"
    assert int(installments.penalty_denominator.min()) > 0, "penalty denominators are positive"
    assert int(installments.penalty_numerator.max()) < NUMERATOR_MAX, "numerator out of range"
    forgiven = installments.forgiven
    assert not bool(np.any(forgiven & (installments.penalty_numerator != 0))), (
        "a forgiven instalment carries no penalty"
    )
    assert not bool(np.any(forgiven & np.isnat(installments.settled_on))), (
        "only a settled instalment is forgiven"
    )


def _assert_fits(
    base: Int64Array, rate: Int64Array, days: Int64Array, offset: Int64Array, what: str
) -> None:
    """Assert ``offset + base × rate × days < NUMERATOR_MAX`` on every row, without overflow.

    For positive integers ``a·b·c ≤ h`` exactly when ``a ≤ ⌊⌊h / b⌋ / c⌋``, so the bound is
    found by two floor divisions and never by forming the product that might overflow.
    """
    headroom = NUMERATOR_MAX - 1 - offset
    limit = headroom // np.maximum(rate, 1) // np.maximum(days, 1)
    fits = (rate == 0) | (days == 0) | (base <= limit)
    assert bool(np.all(fits)), f"{what} would exceed int64: replay these loans exactly instead"


def _accrued_interest(loans: LoanColumns, today: int) -> Int64Array:
    """Contract interest of the current period: opening × rate × days / year-days, capped."""
    start = _day_numbers(loans.period_start)
    has_period = start != _NAT_DAY
    period_due = _day_numbers(loans.period_due_date)
    assert bool(np.all(~has_period | ((start <= today) & (today < period_due)))), (
        "the current period given does not contain the day being run"
    )
    days = np.where(has_period, today - start, 0)
    opening = loans.period_opening_balance_fen
    rate = loans.interest_rate_numerator
    assert not opening.size or int(np.min(opening)) >= 0, "balances cannot be negative"
    assert int(np.min(rate)) >= 0 and int(np.min(loans.interest_rate_denominator)) > 0
    _assert_fits(opening, rate, days, np.zeros_like(opening), "accrual numerator")
    denominator = loans.interest_rate_denominator * loans.year_days
    earned = _round_grouped(opening * rate * days, denominator, loans.rounding)
    accrued: Int64Array = np.minimum(loans.period_interest_cap_fen, earned)
    return accrued


def _round_grouped(
    numerator: Int64Array, denominator: Int64Array, mode: Int64Array
) -> Int64Array:
    """`round_ratio_array` over rows with per-row denominators and modes.

    The one rounding rule takes one denominator and one mode per call, so rows are grouped by
    (denominator, mode) with a sort and each group is rounded in one call; zero numerators
    round to zero under every mode and are skipped.
    """
    out = np.zeros(numerator.shape[0], dtype=np.int64)
    live = np.flatnonzero(numerator)
    if not live.size:
        return out
    order = live[np.lexsort((mode[live], denominator[live]))]
    sorted_denominator = denominator[order]
    sorted_mode = mode[order]
    cuts = np.flatnonzero(
        (np.diff(sorted_denominator) != 0) | (np.diff(sorted_mode) != 0)
    ) + 1
    bounds = [0, *cuts.tolist(), int(order.size)]
    for begin, end in pairwise(bounds):
        group = order[begin:end]
        out[group] = round_ratio_array(
            numerator[group],
            int(sorted_denominator[begin]),
            ROUNDING_MODES[int(sorted_mode[begin])],
        )
    return out


def _day_numbers(dates: DateArray) -> Int64Array:
    """Days since 1970-01-01 of each date; NaT becomes `_NAT_DAY`."""
    days: Int64Array = dates.astype("datetime64[D]").view(np.int64)
    return days


def _dates(days: Int64Array) -> DateArray:
    """The inverse of `_day_numbers`: `_NAT_DAY` becomes NaT again."""
    dates: DateArray = np.asarray(days, dtype=np.int64).view("datetime64[D]")
    return dates


def _frozen(column: npt.NDArray[_Item]) -> npt.NDArray[_Item]:
    column.flags.writeable = False
    return column
