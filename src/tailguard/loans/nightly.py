"""The nightly step, column-wise: advance many loans by one day with no new facts.

The rules are the replay's (`position.py`, `accrual.py`) restated over numpy columns, so the
end-of-day run costs a few array operations per chunk of loans instead of one replay per loan:

- penalty: every open instalment due before the day accrues base × rate numerator per day in
  units of 1/denominator fen (base = principal outstanding, plus interest outstanding when the
  product compounds); it is owed, rounded once, after the grace end unless forgiven;
- an instalment falling due with nothing to pay is settled that day (and forgiven);
- days past due from the oldest open instalment once its grace has ended;
- interest accrued in the current period: opening balance × rate × days, rounded once and capped
  at the period's interest.

Loans with a waiting credit balance and an instalment falling due that day are not handled here:
the credit is applied by the waterfall, which only the replay does; the caller replays them.
A property test holds this module equal to the replay day by day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tailguard.loans.products import DEFAULT_BUCKETS, Bucket
from tailguard.money import RoundingMode, round_ratio_array

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
Days = npt.NDArray[np.int64]
"""Dates as days since 1970-01-01 (numpy datetime64[D] viewed as int64)."""


@dataclass(frozen=True)
class OpenRows:
    """Open instalments (not settled, due on or before the day) of a chunk, by loan then number.

    `loan` indexes into the chunk's loan arrays.
    """

    loan: I64
    due: Days
    grace_end: Days
    principal_left: I64
    interest_left: I64
    fee_left: I64
    penalty_numerator: I64
    penalty_denominator: I64
    penalty_rate_numerator: I64
    accrued_to: Days
    """Days since epoch; the due date where nothing has accrued yet."""
    forgiven: B
    penalty_paid_waived: I64


@dataclass(frozen=True)
class Loans:
    """Per-loan columns of a chunk."""

    compound: B
    rounding: tuple[RoundingMode, ...]
    period_start: Days
    period_due: Days
    """Days since epoch, or -1 when no instalment is left to fall due."""
    period_opening: I64
    period_interest: I64
    period_rate_numerator: I64
    period_rate_denominator: I64
    interest_due: I64
    settled_penalty: I64
    """Penalty owed on instalments that are already settled (fixed from now on)."""
    settled_penalty_left: I64
    """Of that, what is still unpaid."""


@dataclass(frozen=True)
class Night:
    """What the day did: new penalty state of the open rows and per-loan results."""

    penalty_numerator: I64
    accrued_to: Days
    settled_today: B
    penalty_owed: I64
    """Per open row: penalty owed in total (rounded, after grace), 0 when forgiven."""
    dpd: I64
    bucket: tuple[str, ...]
    accrued_interest: I64
    earned_interest: I64
    earned_penalty: I64
    penalty_outstanding: I64
    overdue_principal: I64
    overdue_interest: I64
    overdue_fee: I64


_MODES = tuple(RoundingMode)
_MODE_CODE = {mode: code for code, mode in enumerate(_MODES)}


def _mode_codes(modes: tuple[RoundingMode, ...] | list[RoundingMode]) -> I64:
    """Rounding modes as small integer codes, so rows can be grouped by numpy, not Python."""
    return np.array([_MODE_CODE[m] for m in modes], dtype=np.int64)


def _round(numerator: I64, denominator: I64, codes: I64) -> I64:
    """round_ratio_array over rows with per-row denominators and modes (`_mode_codes`).

    `round_ratio_array` takes one denominator and one mode, so rows are grouped by the pair:
    one sort and one call per distinct pair. (Filtering the whole chunk once per pair costs
    a pass over every row per pair, and a book with many rates has many denominators.)"""
    out = np.zeros_like(numerator)
    if not len(numerator):
        return out
    order = np.lexsort((denominator, codes))
    code, den = codes[order], denominator[order]
    change = (code[1:] != code[:-1]) | (den[1:] != den[:-1])
    starts = np.flatnonzero(np.concatenate(([True], change))).tolist()
    for begin, end in zip(starts, [*starts[1:], len(order)], strict=True):
        rows = order[begin:end]
        out[rows] = round_ratio_array(numerator[rows], int(den[begin]), _MODES[int(code[begin])])
    return out


def advance(
    day: int, loans: Loans, rows: OpenRows, buckets: tuple[Bucket, ...] = DEFAULT_BUCKETS
) -> Night:
    """Advance the chunk to the end of `day` (days since epoch)."""
    n = len(loans.compound)
    assert int(rows.loan.max(initial=-1)) < n
    # Penalty accrual on rows due before the day.
    base = rows.principal_left + np.where(
        loans.compound[rows.loan], rows.interest_left, 0
    )
    start = np.maximum(rows.accrued_to, rows.due)
    days = np.where(rows.due < day, np.maximum(day - start, 0), 0)
    increment = np.where(base > 0, base * rows.penalty_rate_numerator * days, 0)
    assert int(np.abs(increment).max(initial=0)) < 2**62, "penalty accrual overflows int64"
    numerator = rows.penalty_numerator + increment
    accrued_to = np.where(rows.due < day, np.maximum(start, day), rows.accrued_to)

    contractual_left = rows.principal_left + rows.interest_left + rows.fee_left
    settled_today = (rows.due == day) & (contractual_left == 0)
    forgiven = rows.forgiven | (settled_today & (day <= rows.grace_end))
    numerator = np.where(settled_today & forgiven, 0, numerator)

    loan_codes = _mode_codes(loans.rounding)
    rounded = _round(numerator, rows.penalty_denominator, loan_codes[rows.loan])
    owed = np.where(forgiven | (day <= rows.grace_end), 0, rounded)

    # Per-loan sums over open rows.
    def per_loan(values: I64) -> I64:
        return np.bincount(rows.loan, weights=values, minlength=n).astype(np.int64)

    penalty_total = per_loan(owed) + loans.settled_penalty
    penalty_left = per_loan(owed - rows.penalty_paid_waived) + loans.settled_penalty_left
    open_left = ~settled_today
    overdue_principal = per_loan(np.where(open_left, rows.principal_left, 0))
    overdue_interest = per_loan(np.where(open_left, rows.interest_left, 0))
    overdue_fee = per_loan(np.where(open_left, rows.fee_left, 0))

    # Days past due: the oldest open row with contractual amounts left (rows are sorted).
    dpd = np.zeros(n, dtype=np.int64)
    unpaid = np.flatnonzero(contractual_left > 0)
    if unpaid.size:
        first_of_loan = unpaid[np.unique(rows.loan[unpaid], return_index=True)[1]]
        oldest = rows.loan[first_of_loan]
        late = day > rows.grace_end[first_of_loan]
        dpd[oldest] = np.where(late, day - rows.due[first_of_loan], 0)
    labels = _buckets(dpd, buckets)

    # Interest accrued in the current period (none once nothing is left to fall due).
    in_period = (loans.period_due > day) & (loans.period_start <= day)
    elapsed = np.where(in_period, day - loans.period_start, 0)
    product = loans.period_opening * loans.period_rate_numerator * elapsed
    assert int(np.abs(product).max(initial=0)) < 2**62, "accrual overflows int64"
    accrued = np.minimum(
        _round(product, loans.period_rate_denominator, loan_codes),
        loans.period_interest,
    )
    accrued = np.where(in_period, accrued, 0)
    return Night(
        penalty_numerator=numerator,
        accrued_to=accrued_to,
        settled_today=settled_today,
        penalty_owed=owed,
        dpd=dpd,
        bucket=labels,
        accrued_interest=accrued,
        earned_interest=loans.interest_due + accrued,
        earned_penalty=penalty_total,
        penalty_outstanding=penalty_left,
        overdue_principal=overdue_principal,
        overdue_interest=overdue_interest,
        overdue_fee=overdue_fee,
    )


def _buckets(dpd: I64, buckets: tuple[Bucket, ...]) -> tuple[str, ...]:
    lower = np.array([b.dpd_min for b in buckets], dtype=np.int64)
    index = np.searchsorted(lower, dpd, side="right") - 1
    return tuple(buckets[i].label for i in index.tolist())
