"""Unit tests of the servicing rules: waterfall orders, buckets, accrual, payoff, APR."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy_financial as npf
import pytest

from tailguard.calendar import RegionalCalendar, WeekendCalendar
from tailguard.errors import InvalidInput, Refused
from tailguard.loans.account import LoanAccount
from tailguard.loans.accrual import accrued_interest_fen
from tailguard.loans.annualised_rate import annualised_rate, monthly_irr
from tailguard.loans.delinquency import bucket_change, bucket_for
from tailguard.loans.events import Component, PaymentReceived
from tailguard.loans.payoff import SettlementReason, loan_age_months, quote_payoff
from tailguard.loans.position import grace_end
from tailguard.loans.prepayment import plan_partial_prepayment
from tailguard.loans.products import (
    Bucket,
    HolidayRule,
    PrepaymentFeeTier,
    PrepaymentMode,
    Product,
    RepaymentMethod,
    WaterfallOrder,
    standard_catalogue,
)
from tailguard.loans.terms import LoanRequest, validate_request


def product(**overrides: object) -> Product:
    base = dict(code="t", version=1, name="test", method=RepaymentMethod.EQUAL_INSTALLMENT,
                holiday_rule=HolidayRule.NONE)
    base.update(overrides)
    return Product(**base)  # type: ignore[arg-type]


def account(prod: Product, principal_fen: int = 12_000_00, term: int = 12,
            rate: str = "0.06", start: date = date(2026, 1, 15)) -> LoanAccount:
    terms = validate_request(prod, LoanRequest(principal_fen, Decimal(rate), term, start))
    return LoanAccount.open("L", terms, WeekendCalendar())


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [(0, "C"), (1, "M1"), (30, "M1"), (31, "M2"), (60, "M2"), (61, "M3"), (90, "M3"),
     (91, "M4"), (150, "M5"), (151, "M6+"), (4000, "M6+")],
)
def test_default_buckets(dpd: int, bucket: str) -> None:
    assert bucket_for(dpd) == bucket


def test_bucket_change_events_and_custom_tables() -> None:
    assert bucket_change("L", date(2026, 3, 1), 30, 30) is None
    event = bucket_change("L", date(2026, 3, 1), 30, 31)
    assert event is not None and (event.from_bucket, event.to_bucket, event.worsened) == (
        "M1", "M2", True,
    )
    cured = bucket_change("L", date(2026, 3, 1), 45, 0)
    assert cured is not None and not cured.worsened
    weekly = (Bucket("C", 0, 0), Bucket("W1", 1, 7), Bucket("W2+", 8, None))
    assert bucket_for(8, weekly) == "W2+"


def test_oldest_first_versus_by_component_waterfall() -> None:
    # Two instalments overdue; a payment smaller than both. Oldest-first finishes instalment 1
    # (penalty, interest, principal) before touching 2; by-component pays both interests first.
    for order in WaterfallOrder:
        acct = account(product(waterfall=order))
        acct = acct.with_event(PaymentReceived("p", date(2026, 4, 1), 1_500_00))
        allocation = acct.position(date(2026, 4, 1)).allocations[0]
        first = [p for p in allocation.parts if p.installment_number == 1]
        second = [p for p in allocation.parts if p.installment_number == 2]
        if order is WaterfallOrder.OLDEST_FIRST:
            assert [p.component for p in first] == [
                Component.PENALTY, Component.INTEREST, Component.PRINCIPAL,
            ]
            assert [p.component for p in second] == [Component.PENALTY, Component.INTEREST,
                                                     Component.PRINCIPAL]
        else:
            components = [p.component for p in allocation.parts]
            assert components[:4] == [Component.PENALTY, Component.PENALTY,
                                      Component.INTEREST, Component.INTEREST]


def test_grace_days_and_regional_holidays() -> None:
    due = date(2026, 3, 7)  # a Saturday
    assert grace_end(product(grace_days=3), due, WeekendCalendar()) == date(2026, 3, 10)
    holiday_rule = product(holiday_rule=HolidayRule.GRACE_TO_NEXT_WORKING_DAY)
    assert grace_end(holiday_rule, due, WeekendCalendar()) == date(2026, 3, 9)
    region = RegionalCalendar.of(WeekendCalendar(), "650000", holidays=[date(2026, 3, 9)])
    assert grace_end(holiday_rule, due, region) == date(2026, 3, 10)
    assert grace_end(product(), due, WeekendCalendar()) == due


def test_accrued_interest_is_pro_rata_and_capped() -> None:
    acct = account(product(), principal_fen=36_000_00, rate="0.072")
    # 36,000 × 7.2 % / 360 = 7.20 a day; the first period's interest is 216.00.
    schedule = acct.schedule
    assert accrued_interest_fen(schedule, acct.product, acct.annual_rate, date(2026, 1, 25)) == (
        72_00
    )
    assert accrued_interest_fen(schedule, acct.product, acct.annual_rate, date(2026, 2, 14)) == (
        216_00
    )


def test_payoff_quote_with_prepayment_fee_and_trade_in_waiver() -> None:
    tiers = (PrepaymentFeeTier(12, Decimal("0.03")),)
    acct = account(product(prepayment_fee_tiers=tiers), principal_fen=120_000_00)
    acct = acct.with_event(
        PaymentReceived("p1", date(2026, 2, 15), acct.schedule.installments[0].payment_fen)
    )
    quote = quote_payoff(acct, date(2026, 2, 25))
    not_due = sum(i.principal_fen for i in acct.schedule.installments[1:])
    assert quote.principal_fen == not_due
    assert quote.prepayment_fee_fen == round(not_due * 3 / 100)
    assert quote.interest_fen == round(
        acct.schedule.installments[1].balance_after_fen * 0 + (not_due * 6 * 10) / (100 * 360)
    )
    assert quote.total_fen == quote.principal_fen + quote.interest_fen + quote.prepayment_fee_fen
    assert quote_payoff(acct, date(2026, 2, 25), SettlementReason.TRADE_IN).prepayment_fee_fen == 0
    paid = acct.with_schedule(quote.settlement).with_event(
        PaymentReceived("payoff", date(2026, 2, 25), quote.total_fen)
    )
    assert paid.position(date(2026, 2, 25)).paid_off
    assert paid.position(date(2027, 6, 1)).dpd == 0


def test_loan_age_months() -> None:
    assert loan_age_months(date(2026, 1, 31), date(2026, 2, 27)) == 0
    assert loan_age_months(date(2026, 1, 31), date(2026, 2, 28)) == 1
    assert loan_age_months(date(2026, 1, 15), date(2027, 1, 14)) == 11
    assert loan_age_months(date(2026, 1, 15), date(2027, 1, 15)) == 12


@pytest.mark.parametrize("mode", list(PrepaymentMode)[:2])
def test_partial_prepayment_keeps_principal_exact(mode: PrepaymentMode) -> None:
    acct = account(product(), principal_fen=120_000_00, term=24)
    plan = plan_partial_prepayment(acct, date(2026, 1, 30), 30_000_00, mode)
    future = [i for i in plan.schedule.installments if i.due_date > date(2026, 1, 30)]
    assert sum(i.principal_fen for i in future) + plan.principal_fen == 120_000_00
    assert plan.arrears_fen + plan.accrued_interest_fen + plan.fee_fen + plan.principal_fen + (
        plan.unused_fen
    ) == 30_000_00
    old_payment = acct.schedule.installments[0].payment_fen
    if mode is PrepaymentMode.SHORTEN_TERM:
        assert len(future) < 24
        assert future[1].payment_fen <= old_payment
    else:
        assert len(future) == 24
        assert future[1].payment_fen < old_payment


def test_prepayment_refusals() -> None:
    acct = account(product(), principal_fen=12_000_00)
    with pytest.raises(Refused) as small:
        plan_partial_prepayment(acct, date(2026, 3, 20), 100, PrepaymentMode.SHORTEN_TERM)
    assert small.value.code == "PREPAYMENT_TOO_SMALL"
    with pytest.raises(Refused) as whole:
        plan_partial_prepayment(acct, date(2026, 1, 20), 20_000_00, PrepaymentMode.SHORTEN_TERM)
    assert whole.value.code == "SETTLES_LOAN"
    with pytest.raises(Refused) as balloon:
        plan_partial_prepayment(acct, date(2026, 1, 20), 1_000_00, PrepaymentMode.REDUCE_BALLOON)
    assert balloon.value.code == "NO_BALLOON"


def test_balloon_reduction_keeps_the_instalment() -> None:
    prod = standard_catalogue()[0]
    terms = validate_request(prod, LoanRequest(200_000_00, Decimal("0.0475"), 36,
                                               date(2026, 1, 10), balloon_share=Decimal("0.3")))
    acct = LoanAccount.open("B", terms, WeekendCalendar())
    plan = plan_partial_prepayment(acct, date(2026, 1, 20), 20_000_00,
                                   PrepaymentMode.REDUCE_BALLOON)
    regular = acct.schedule.installments[1].payment_fen
    new_regular = [i for i in plan.schedule.installments if i.due_date > date(2026, 2, 10)]
    assert abs(new_regular[0].payment_fen - regular) <= 1
    assert plan.schedule.balloon_fen < acct.schedule.balloon_fen


def test_annualised_rate_matches_numpy_financial_irr() -> None:
    # 100,000 at 6 % over 12 months with a 2,000 service fee paid up front: the borrower
    # receives 98,000 and pays the schedule; numpy-financial's IRR of the same flows × 12.
    acct = account(product(), principal_fen=100_000_00)
    payments = [i.payment_fen for i in acct.schedule.installments]
    ours = annualised_rate(98_000_00, payments)
    reference = npf.irr([-98_000_00, *payments]) * 12
    assert abs(float(ours) - reference) < 1e-9
    assert ours > Decimal("0.06")
    # Without fees the annualised rate is the contract rate (to rounding of the instalments).
    assert abs(annualised_rate(100_000_00, payments) - Decimal("0.06")) < Decimal("0.00001")
    assert annualised_rate(100_00, [100_00]) == 0
    assert monthly_irr(100_00, [50_00, 50_00]) < Decimal("1e-12")


def test_validation_names_every_bad_field() -> None:
    prod = standard_catalogue()[0]
    with pytest.raises(InvalidInput) as bad:
        validate_request(prod, LoanRequest(-5, Decimal("0.5"), 400, date(2026, 1, 1),
                                           balloon_share=Decimal("0.6")))
    fields = {e.field for e in bad.value.errors}
    assert fields == {"principal", "annual_rate", "term", "balloon"}
    with pytest.raises(InvalidInput) as no_balloon:
        validate_request(standard_catalogue()[2], LoanRequest(
            100_000_00, Decimal("0.05"), 24, date(2026, 1, 1), balloon_share=Decimal("0.2")))
    assert no_balloon.value.errors[0].field == "balloon"


def test_every_loan_states_its_annualised_rate_with_fees() -> None:
    # auto-balloon finances a 1,500 GPS fee and takes a 2,000 service fee up front.
    prod = standard_catalogue()[0]
    from tailguard.loans.terms import financed_amount_fen

    principal = financed_amount_fen(250_000_00, 50_000_00, prod)
    assert principal == 201_500_00
    terms = validate_request(prod, LoanRequest(principal, Decimal("0.0475"), 36,
                                               date(2026, 1, 10), balloon_share=Decimal("0.3")))
    payments = [i.payment_fen for i in terms.initial_schedule().installments]
    reference = npf.irr([-(principal - 1_500_00 - 2_000_00), *payments]) * 12
    assert abs(float(terms.annualised_rate()) - reference) < 1e-9
    assert terms.annualised_rate() > Decimal("0.0475")


def test_money_dated_before_the_version_in_force_is_refused() -> None:
    """A payment or waiver dated before a restructure would count against debt the new
    version already took over, so the account refuses it and names the day to use."""
    from tailguard.loans.events import ChargeWaived
    from tailguard.loans.restructure import apply_restructure, plan_restructure

    loan = account(product(), start=date(2026, 1, 15))
    plan = plan_restructure(loan, date(2026, 5, 20), 12, "conv-1")
    restructured = apply_restructure(loan, plan)
    for fact in (PaymentReceived("late-entry", date(2026, 5, 19), 100_00),
                 ChargeWaived("w-late", date(2026, 5, 1), 10_00)):
        with pytest.raises(Refused) as refused:
            restructured.with_event(fact)
        assert refused.value.code == "BEFORE_SCHEDULE_VERSION"
        assert "2026-05-20" in refused.value.message
    on_the_day = restructured.with_event(PaymentReceived("on-day", date(2026, 5, 20), 100_00))
    assert on_the_day.position(date(2026, 5, 20)).credit_balance_fen == 100_00  # nothing due yet


def test_a_conversion_is_not_reversed_like_a_payment() -> None:
    from tailguard.loans.events import PaymentReversed
    from tailguard.loans.restructure import apply_restructure, plan_restructure

    loan = account(product(), start=date(2026, 1, 15))
    plan = plan_restructure(loan, date(2026, 5, 20), 12, "conv-1")
    assert plan.conversion is not None
    restructured = apply_restructure(loan, plan)
    with pytest.raises(Refused) as refused:
        restructured.with_event(PaymentReversed("conv-1", date(2026, 5, 21)))
    assert refused.value.code == "NOT_A_CASH_PAYMENT"


def test_a_vehicle_is_not_taken_against_a_settled_loan() -> None:
    from tailguard.loans.maturity import MaturityOption, plan_vehicle_disposition

    loan = account(product(), start=date(2026, 1, 15))
    quote = quote_payoff(loan, date(2026, 3, 1))
    settled = loan.with_schedule(quote.settlement).with_event(
        PaymentReceived("settle", date(2026, 3, 1), quote.total_fen))
    with pytest.raises(Refused) as refused:
        plan_vehicle_disposition(settled, date(2026, 3, 1), MaturityOption.TRADE_IN,
                                 50_000_00, "proceeds-1")
    assert refused.value.code == "NOTHING_OWED"


def test_a_refund_pays_out_credit_that_exists_and_blocks_reversing_what_made_it() -> None:
    from tailguard.loans.events import CreditRefunded, PaymentReversed

    loan = account(product(), start=date(2026, 1, 15))
    over = loan.with_event(PaymentReceived("big", date(2026, 1, 20), 3_000_00))
    assert over.position(date(2026, 1, 20)).credit_balance_fen == 3_000_00
    with pytest.raises(Refused) as too_much:
        over.with_event(CreditRefunded("r0", date(2026, 1, 21), 3_000_01))
    assert too_much.value.code == "REFUND_OVER_CREDIT"
    refunded = over.with_event(CreditRefunded("r1", date(2026, 1, 21), 1_000_00))
    position = refunded.position(date(2026, 1, 21))
    assert (position.credit_balance_fen, position.refunded_fen) == (2_000_00, 1_000_00)
    with pytest.raises(Refused) as gone:
        refunded.with_event(PaymentReversed("big", date(2026, 1, 22)))
    assert gone.value.code == "CREDIT_ALREADY_REFUNDED"
    # Without the refund, the same reversal restores the loan exactly.
    assert over.with_event(PaymentReversed("big", date(2026, 1, 22))).position(
        date(2026, 3, 1)) == loan.position(date(2026, 3, 1))
