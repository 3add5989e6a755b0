"""The column-wise kernel gives exactly the numbers of `build_schedule`, loan by loan.

`build_schedule` is the definition of a schedule; `build_schedule_batch` is only a faster way to
compute the same thing for many loans. If the two ever differed, the end-of-day run would book
different interest from what the borrower's schedule shows, so the property is equality of
every due date, principal, interest and balance, over random principals, balloons of 0–50 %,
rates of 0–24 % with up to four decimals in percent, terms of 1–60 months (some up to 360),
start dates biased to the 28th–31st, contract days, broken first periods, every rounding mode
and both day counts. Batches mix rates and terms so the grouping inside the kernel is exercised,
and a few principals are large enough to take the int64-overflow path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tailguard.calendar import add_months, days_in_month
from tailguard.loans.products import RepaymentMethod
from tailguard.loans.schedule import build_schedule
from tailguard.loans.schedule_batch import build_schedule_batch
from tailguard.money import DayCount, RoundingMode


@st.composite
def start_dates(draw: st.DrawFn) -> date:
    """Dates from 2000 to 2040, half of them on the 28th–31st (clamped to the month's end)."""
    year = draw(st.integers(2000, 2040))
    month = draw(st.integers(1, 12))
    day = draw(st.one_of(st.integers(28, 31), st.integers(1, 31)))
    return date(year, month, min(day, days_in_month(year, month)))


@dataclass(frozen=True)
class LoanCase:
    principal_fen: int
    balloon_fen: int
    annual_rate: Decimal
    term_months: int
    start: date
    contract_day: int | None
    first_due_date: date | None


@st.composite
def loans(draw: st.DrawFn, rates: list[Decimal], terms: list[int]) -> LoanCase:
    principal = draw(
        st.one_of(
            st.integers(1, 10_000_000_000),
            st.integers(1, 200_000_000),
            st.integers(10**11, 10**12),
        )
    )
    start = draw(start_dates())
    broken = draw(st.booleans())
    contract_day = draw(st.none() | st.integers(1, 31))
    first_due = None
    if broken:
        # A broken first period ends on the contract day (when one is named) of the first or
        # second month, or on any day when the contract day is taken from the first due date.
        if contract_day is None:
            first_due = start + timedelta(days=draw(st.integers(1, 62)))
        else:
            first_due = add_months(start, draw(st.integers(0, 2)), contract_day)
            if first_due <= start:
                first_due = add_months(start, 1, contract_day)
    return LoanCase(
        principal_fen=principal,
        balloon_fen=draw(st.integers(0, principal // 2)),
        annual_rate=draw(st.sampled_from(rates)),
        term_months=draw(st.sampled_from(terms)),
        start=start,
        contract_day=contract_day,
        first_due_date=first_due,
    )


@st.composite
def batches(draw: st.DrawFn) -> list[LoanCase]:
    rate_units = st.integers(0, 240_000)  # percent with four decimals, as a fraction × 10^6
    rates = draw(st.lists(rate_units, min_size=1, max_size=3))
    long_term = st.integers(61, 360)
    terms = draw(st.lists(st.integers(1, 60) | long_term, min_size=1, max_size=3))
    return draw(
        st.lists(
            loans([Decimal(units).scaleb(-6) for units in rates], terms),
            min_size=1,
            max_size=6,
        )
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=batches(),
    rounding=st.sampled_from(RoundingMode),
    day_count=st.sampled_from(DayCount),
)
def test_batch_equals_build_schedule_for_every_loan(
    rows: list[LoanCase], rounding: RoundingMode, day_count: DayCount
) -> None:
    batch = build_schedule_batch(
        principal_fen=[r.principal_fen for r in rows],
        balloon_fen=[r.balloon_fen for r in rows],
        annual_rate=[r.annual_rate for r in rows],
        term_months=[r.term_months for r in rows],
        start=np.array([r.start for r in rows], dtype="datetime64[D]"),
        contract_day=[
            r.contract_day or (r.first_due_date or r.start).day for r in rows
        ],
        first_due_date=np.array([r.first_due_date or "NaT" for r in rows], dtype="datetime64[D]"),
        day_count=day_count,
        rounding=rounding,
    )
    for row, loan in enumerate(rows):
        expected = build_schedule(
            principal_fen=loan.principal_fen,
            annual_rate=loan.annual_rate,
            method=(
                RepaymentMethod.BALLOON if loan.balloon_fen else RepaymentMethod.EQUAL_INSTALLMENT
            ),
            term_months=loan.term_months,
            start=loan.start,
            first_due_date=loan.first_due_date,
            contract_day=loan.contract_day,
            balloon_fen=loan.balloon_fen,
            day_count=day_count,
            rounding=rounding,
        )
        term = len(expected)
        assert batch.term_months[row] == term
        assert batch.due_date[row, :term].astype(object).tolist() == [
            i.due_date for i in expected
        ]
        assert batch.principal_fen[row, :term].tolist() == [i.principal_fen for i in expected]
        assert batch.interest_fen[row, :term].tolist() == [i.interest_fen for i in expected]
        assert batch.balance_after_fen[row, :term].tolist() == [
            i.balance_after_fen for i in expected
        ]
        assert batch.payment_fen[row, :term].tolist() == [i.payment_fen for i in expected]
        # Cells past the loan's own term are empty, not stale numbers of another loan.
        assert np.isnat(batch.due_date[row, term:]).all()
        assert not batch.principal_fen[row, term:].any()
        assert not batch.interest_fen[row, term:].any()
        assert not batch.balance_after_fen[row, term:].any()
