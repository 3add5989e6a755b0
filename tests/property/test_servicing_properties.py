"""Money invariants of servicing, over random loans and random payment histories."""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tailguard.calendar import WeekendCalendar
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import PaymentReceived, PaymentReversed
from tailguard.loans.products import (
    HolidayRule,
    Product,
    ProductLimits,
    RepaymentMethod,
    WaterfallOrder,
)
from tailguard.loans.terms import LoanRequest, validate_request

warnings.simplefilter("ignore")

METHODS = list(RepaymentMethod)


@st.composite
def accounts(draw: st.DrawFn) -> LoanAccount:
    method = draw(st.sampled_from(METHODS))
    product = Product(
        code="prop",
        version=1,
        name="property",
        method=method,
        limits=ProductLimits(term_months_max=60),
        grace_days=draw(st.integers(0, 3)),
        holiday_rule=draw(st.sampled_from(list(HolidayRule))),
        waterfall=draw(st.sampled_from(list(WaterfallOrder))),
        compound_overdue_interest=draw(st.booleans()),
    )
    principal = draw(st.integers(1_000_00, 2_000_000_00))
    term = draw(st.integers(1, 36))
    start = date(2024, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
    share = (
        Decimal(draw(st.integers(0, 50))) / 100 if method is RepaymentMethod.BALLOON else None
    )
    rate = Decimal(draw(st.integers(0, 2400))) / 10000
    terms = validate_request(
        product,
        LoanRequest(principal, rate, term, start, balloon_share=share),
    )
    return LoanAccount.open("prop", terms, WeekendCalendar())


@st.composite
def histories(draw: st.DrawFn) -> tuple[LoanAccount, list[PaymentReceived]]:
    account = draw(accounts())
    start = account.terms.disbursement_date
    span = (account.schedule.maturity_date - start).days + 60
    payments = [
        PaymentReceived(
            f"p{k}",
            start + timedelta(days=draw(st.integers(1, span))),
            draw(st.integers(1, 20_000_00)),
        )
        for k in range(draw(st.integers(0, 8)))
    ]
    return account, payments


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(accounts())
def test_principal_parts_sum_to_the_financed_amount(account: LoanAccount) -> None:
    assert account.schedule.total_principal_fen == account.terms.principal_fen
    assert account.schedule.installments[-1].balance_after_fen == 0


@FAST
@given(histories())
def test_every_allocation_sums_exactly_to_its_payment(
    history: tuple[LoanAccount, list[PaymentReceived]],
) -> None:
    account, payments = history
    for payment in payments:
        account = account.with_event(payment)
    end = account.schedule.maturity_date + timedelta(days=60)
    position = account.position(end)
    for allocation in position.allocations:
        assert sum(p.amount_fen for p in allocation.parts) + allocation.to_credit_fen == (
            allocation.amount_fen
        )
        assert all(p.amount_fen > 0 for p in allocation.parts)
    received = sum(p.amount_fen for p in payments)
    settled = sum(
        s.principal_paid_fen + s.interest_paid_fen + s.fee_paid_fen + s.penalty_paid_fen
        for s in position.installments
    )
    assert settled + position.credit_balance_fen == received


@FAST
@given(accounts())
def test_paying_every_instalment_on_its_due_date_ends_at_zero(account: LoanAccount) -> None:
    for inst in account.schedule.installments:
        if inst.payment_fen == 0:  # an interest-free month of an interest-only loan
            continue
        account = account.with_event(
            PaymentReceived(f"p{inst.number}", inst.due_date, inst.payment_fen)
        )
    end = account.schedule.maturity_date
    position = account.position(end + timedelta(days=30))
    assert position.paid_off
    assert position.principal_outstanding_fen == 0
    assert position.penalty_outstanding_fen == 0
    assert position.credit_balance_fen == 0
    assert position.dpd == 0


@FAST
@given(histories(), st.data())
def test_a_reversal_restores_the_state_exactly(
    history: tuple[LoanAccount, list[PaymentReceived]], data: st.DataObject
) -> None:
    account, payments = history
    bounced = PaymentReceived(
        "bounced",
        account.terms.disbursement_date + timedelta(days=data.draw(st.integers(1, 400))),
        data.draw(st.integers(1, 50_000_00)),
    )
    without = account
    for payment in payments:
        without = without.with_event(payment)
    with_bounce = without.with_event(bounced).with_event(
        PaymentReversed("bounced", bounced.value_date + timedelta(days=3))
    )
    as_of = max(bounced.value_date + timedelta(days=3), account.schedule.maturity_date)
    assert with_bounce.position(as_of) == without.position(as_of)


@FAST
@given(accounts(), st.data())
def test_days_past_due_never_decrease_while_nothing_is_paid(
    account: LoanAccount, data: st.DataObject
) -> None:
    start = account.terms.disbursement_date
    days = sorted(
        data.draw(st.lists(st.integers(0, 2000), min_size=2, max_size=6, unique=True))
    )
    dpds = [account.position(start + timedelta(days=d)).dpd for d in days]
    assert dpds == sorted(dpds)
    penalties = [
        account.position(start + timedelta(days=d)).penalty_outstanding_fen for d in days
    ]
    assert penalties == sorted(penalties)


@FAST
@given(histories(), st.randoms())
def test_entry_order_does_not_matter_only_value_dates_do(
    history: tuple[LoanAccount, list[PaymentReceived]], rnd: object
) -> None:
    account, payments = history
    dated = sorted(payments, key=lambda p: p.value_date)
    shuffled = list(payments)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    # Payments on the same value date keep their relative entry order.
    shuffled.sort(key=lambda p: p.value_date)
    a, b = account, account
    for p in dated:
        a = a.with_event(p)
    for p in shuffled:
        b = b.with_event(p)
    as_of = account.schedule.maturity_date + timedelta(days=10)
    assert a.position(as_of).installments == b.position(as_of).installments
