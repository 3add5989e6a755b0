"""Money invariants of every schedule `build_schedule` can make, for all four methods.

A schedule whose principal parts do not add up to the financed amount loses or invents money on
the books, whatever else it gets right; the balloon must fall in the final instalment or the
borrower is asked for it early; equal principal must be equal except for the one part the
product names as taking the leftover fen. These hold for any principal, rate, term, start
date, broken first period, rounding mode and day count, so they are properties, not examples.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tailguard.calendar import days_in_month
from tailguard.loans.products import RepaymentMethod, ResidualTo
from tailguard.loans.schedule import Installment, InstallmentKind, build_schedule
from tailguard.money import DayCount, RoundingMode

principals = st.integers(1, 10**11)
rates = st.integers(0, 360_000).map(lambda units: Decimal(units).scaleb(-6))
terms = st.integers(1, 60) | st.integers(61, 360)


@st.composite
def starts(draw: st.DrawFn) -> date:
    year, month = draw(st.integers(2000, 2040)), draw(st.integers(1, 12))
    day = draw(st.integers(28, 31) | st.integers(1, 31))
    return date(year, month, min(day, days_in_month(year, month)))


@st.composite
def first_dues(draw: st.DrawFn, start: date) -> date | None:
    if draw(st.booleans()):
        return None
    return start + timedelta(days=draw(st.integers(1, 62)))


def build(
    method: RepaymentMethod,
    principal_fen: int,
    rate: Decimal,
    term: int,
    start: date,
    first_due: date | None,
    balloon_fen: int = 0,
    rounding: RoundingMode = RoundingMode.HALF_UP,
    day_count: DayCount = DayCount.ACT_360,
    residual_to: ResidualTo = ResidualTo.LAST,
) -> tuple[Installment, ...]:
    return build_schedule(
        principal_fen=principal_fen,
        annual_rate=rate,
        method=method,
        term_months=term,
        start=start,
        first_due_date=first_due,
        balloon_fen=balloon_fen,
        rounding=rounding,
        day_count=day_count,
        residual_to=residual_to,
    )


def assert_balances_consistent(principal_fen: int, installments: tuple[Installment, ...]) -> None:
    balance = principal_fen
    for inst in installments:
        assert inst.principal_fen >= 0 and inst.interest_fen >= 0
        balance -= inst.principal_fen
        assert inst.balance_after_fen == balance >= 0
    assert balance == 0


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(RepaymentMethod),
    principal_fen=principals,
    share_per_mille=st.integers(0, 500),
    rate=rates,
    term=terms,
    start=starts(),
    data=st.data(),
    rounding=st.sampled_from(RoundingMode),
    day_count=st.sampled_from(DayCount),
    residual_to=st.sampled_from(ResidualTo),
)
def test_principal_parts_sum_exactly_to_the_financed_amount(
    method: RepaymentMethod,
    principal_fen: int,
    share_per_mille: int,
    rate: Decimal,
    term: int,
    start: date,
    data: st.DataObject,
    rounding: RoundingMode,
    day_count: DayCount,
    residual_to: ResidualTo,
) -> None:
    is_balloon = method is RepaymentMethod.BALLOON
    balloon_fen = principal_fen * share_per_mille // 1000 if is_balloon else 0
    installments = build(
        method, principal_fen, rate, term, start, data.draw(first_dues(start)),
        balloon_fen, rounding, day_count, residual_to,
    )
    assert len(installments) == term
    assert sum(i.principal_fen for i in installments) == principal_fen
    assert_balances_consistent(principal_fen, installments)
    assert [i.kind for i in installments] == [InstallmentKind.REGULAR] * (term - 1) + [
        InstallmentKind.FINAL
    ]


@settings(max_examples=150, deadline=None)
@given(
    principal_fen=st.integers(100, 10**11),
    share_per_mille=st.integers(1, 500),
    rate=rates,
    term=st.integers(2, 60) | st.integers(61, 120),
    start=starts(),
    data=st.data(),
    rounding=st.sampled_from(RoundingMode),
)
def test_balloon_is_paid_with_the_final_instalment(
    principal_fen: int,
    share_per_mille: int,
    rate: Decimal,
    term: int,
    start: date,
    data: st.DataObject,
    rounding: RoundingMode,
) -> None:
    balloon_fen = principal_fen * share_per_mille // 1000
    installments = build(
        RepaymentMethod.BALLOON, principal_fen, rate, term, start,
        data.draw(first_dues(start)), balloon_fen, rounding,
    )
    final = installments[-1]
    assert final.balloon_fen == balloon_fen
    assert all(i.balloon_fen == 0 for i in installments[:-1])
    # Until the final instalment the balloon is never repaid early: it stays owed.
    assert all(i.balance_after_fen >= balloon_fen for i in installments[:-1])
    assert final.principal_fen >= balloon_fen
    assert final.principal_fen == installments[-2].balance_after_fen


@settings(max_examples=150, deadline=None)
@given(
    principal_fen=principals,
    rate=rates,
    term=st.integers(2, 360),
    start=starts(),
    residual_to=st.sampled_from(ResidualTo),
)
def test_equal_principal_parts_are_equal_except_the_one_the_product_names(
    principal_fen: int, rate: Decimal, term: int, start: date, residual_to: ResidualTo
) -> None:
    installments = build(
        RepaymentMethod.EQUAL_PRINCIPAL, principal_fen, rate, term, start, None,
        residual_to=residual_to,
    )
    parts = [i.principal_fen for i in installments]
    taker = 0 if residual_to is ResidualTo.FIRST else term - 1
    others = parts[:taker] + parts[taker + 1 :]
    share = others[0]
    assert all(part == share for part in others)
    # The share is P / n to within a fen, and the named part takes exactly what is left.
    assert abs(share * term - principal_fen) < term
    assert parts[taker] == principal_fen - share * (term - 1)


@settings(max_examples=100, deadline=None)
@given(principal_fen=principals, rate=rates, term=terms, start=starts())
def test_interest_only_repays_all_principal_at_the_end(
    principal_fen: int, rate: Decimal, term: int, start: date
) -> None:
    installments = build(RepaymentMethod.INTEREST_ONLY, principal_fen, rate, term, start, None)
    assert [i.principal_fen for i in installments] == [0] * (term - 1) + [principal_fen]
    assert len({i.interest_fen for i in installments}) == 1
