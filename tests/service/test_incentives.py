"""Incentives on SQLite and PostgreSQL: programmes as data, awards once per loan and
programme, booked as incentive expense against the borrower's credit balance with the trial
balance at zero, holdout loans never awarded, and the champion/challenger read-out."""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.engagement.treatments import HOLDOUT, TREATMENT
from tailguard.errors import InvalidInput
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import ledger_repository, tables
from tailguard.infra.db.tables_engagement import messages
from tailguard.infra.db.tables_offers import incentive_awards, treatment_arms
from tailguard.ledger.flows import CREDIT_BALANCE, INCENTIVE_EXPENSE
from tailguard.loans.events import Channel
from tailguard.services import incentives, queries, servicing, treatments
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

STREAK = {"id": "streak-3", "kind": "on-time-streak", "streak": 3, "amount_fen": 50_00,
          "starts_on": "2026-01-01"}


def books_are_right(platform: Platform) -> None:
    with platform.engine.connect() as conn:
        trial = queries.trial_balance(conn, date.max)
        assert trial.balanced and trial.debits_fen - trial.credits_fen == 0
        assert queries.reconcile(conn) == []


def book(platform: Platform, serial: int = 1, **kwargs: Any) -> str:
    with_dealer(platform)
    return book_application(platform, "officer", application(serial, **kwargs))


def pay(platform: Platform, loan_id: str, late_numbers: tuple[int, ...] = ()) -> None:
    """Pay every instalment due by today, on its due date or, for `late_numbers`, 5 days late."""
    account = servicing.load_account(platform, loan_id)
    position = account.position(platform.today())
    for i in account.schedule.installments:
        if i.due_date > platform.today() or not position.state_of(
                i.number).total_outstanding_fen:
            continue
        servicing.post_payment(
            platform, "ops", loan_id, i.payment_fen,
            i.due_date + timedelta(days=5 if i.number in late_numbers else 0),
            Channel.BANK_TRANSFER, f"{loan_id}-p{i.number}")


def account_total(platform: Platform, account: str, loan_id: str | None = None) -> int:
    with platform.engine.connect() as conn:
        if loan_id is not None:
            return ledger_repository.loan_balances(conn, loan_id).get(account, 0)
        rows = queries.trial_balance(conn, date.max).rows
    return sum(r.balance_fen for r in rows if r.account == account)


def test_a_streak_is_rewarded_once_and_booked_as_incentive_expense(
    platform: Platform, clock: FixedClock
) -> None:
    on_time = book(platform, 1)
    late = book(platform, 2)
    clock.advance(timedelta(days=100))  # 2026-04-20: instalments of Feb, Mar, Apr due
    pay(platform, on_time)
    pay(platform, late, late_numbers=(2,))
    incentives.save_programme(platform, "risk.li", STREAK)
    today = platform.today()
    run = incentives.evaluate_incentives(platform, today)
    (result,) = run.programmes
    assert (result.considered, result.eligible, result.awarded) == (2, 1, 1)
    assert run.amount_fen == 50_00
    assert incentives.awards_of(platform, on_time)[0]["amount"] == "50.00"
    assert incentives.awards_of(platform, late) == []
    # Nothing was due on the award day: the award is credit, Dr incentive expense.
    assert account_total(platform, INCENTIVE_EXPENSE) == 50_00
    assert account_total(platform, CREDIT_BALANCE, on_time) == -50_00
    assert servicing.load_account(platform, on_time).position(today).credit_balance_fen == 50_00
    books_are_right(platform)
    # A rerun of the day, and the next day, award nothing again.
    assert incentives.evaluate_incentives(platform, today).awarded == 0
    clock.advance(timedelta(days=1))
    assert incentives.evaluate_incentives(platform, platform.today()).awarded == 0
    assert account_total(platform, INCENTIVE_EXPENSE) == 50_00
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(incentive_awards)).scalar_one() == 1
        outbox = conn.execute(select(func.count()).select_from(tables.outbox).where(
            tables.outbox.c.event_type == "IncentiveAwarded")).scalar_one()
        audit = conn.execute(select(func.count()).select_from(tables.audit_log).where(
            tables.audit_log.c.action == "incentive.award")).scalar_one()
        notes = conn.execute(select(messages.c.channel).where(
            messages.c.template == "incentive")).scalars().all()
    assert (outbox, audit, sorted(notes)) == (1, 1, ["in-app", "sms"])
    # The credit pays towards the next instalment: the books follow the replay.
    clock.advance(timedelta(days=20))  # 2026-05-11: May instalment due
    account = servicing.load_account(platform, on_time)
    may = next(i for i in account.schedule.installments if i.due_date == date(2026, 5, 10))
    servicing.post_payment(platform, "ops", on_time, may.payment_fen - 50_00,
                           date(2026, 5, 10), Channel.BANK_TRANSFER, "may-pay")
    assert servicing.load_account(platform, on_time).position(platform.today()).dpd == 0
    books_are_right(platform)


def test_holdout_loans_earn_nothing_and_the_read_out_compares_the_arms(
    platform: Platform, clock: FixedClock
) -> None:
    loans = [book(platform, serial) for serial in range(1, 9)]
    clock.advance(timedelta(days=100))
    for loan_id in loans:
        pay(platform, loan_id)
    incentives.save_programme(platform, "risk.li", STREAK | {"holdout": "0.5"})
    run = incentives.evaluate_incentives(platform, platform.today())
    (result,) = run.programmes
    with platform.engine.connect() as conn:
        arms = dict(conn.execute(select(treatment_arms.c.loan_id, treatment_arms.c.arm).where(
            treatment_arms.c.programme == "streak-3")).all())
        awarded = set(conn.execute(select(incentive_awards.c.loan_id)).scalars())
    assert set(arms) == set(loans)
    assert HOLDOUT in arms.values() and TREATMENT in arms.values()
    assert awarded == {loan for loan, arm in arms.items() if arm == TREATMENT}
    assert result.held_out == sum(1 for arm in arms.values() if arm == HOLDOUT)
    assert account_total(platform, INCENTIVE_EXPENSE) == 50_00 * len(awarded)
    books_are_right(platform)
    # The next instalment (2026-05-10): treatment loans pay on time, holdout loans late.
    clock.advance(timedelta(days=30))
    for loan_id, arm in arms.items():
        pay(platform, loan_id, late_numbers=() if arm == TREATMENT else (4,))
    readout = treatments.read_out_programme(platform, "streak-3", "on-time-next",
                                            platform.today()).to_dict()
    assert readout["treatment"]["rate"] == 1.0 and readout["holdout"]["rate"] == 0.0
    assert readout["difference"] == 1.0
    low, high = readout["ci95"]
    assert 0 < low < 1.0 and high == 1.0


def test_settling_the_balloon_early_earns_a_share_of_the_interest_as_credit(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = book(platform)
    clock.advance(timedelta(days=1000))  # 2028-10-06, about three months before the balloon
    pay(platform, loan_id)
    quote = servicing.payoff_quote(platform, loan_id)
    servicing.settle_loan(platform, "ops", loan_id, quote.total_fen, Channel.APP, "settle-1")
    incentives.save_programme(platform, "risk.li", {
        "id": "early-60", "kind": "balloon-early-settlement", "days_early": 60,
        "share_of_interest": "0.05", "max_fen": 500_00, "starts_on": "2028-01-01"})
    run = incentives.evaluate_incentives(platform, platform.today())
    assert run.awarded == 1 and run.amount_fen == 500_00  # 5 % of the interest (909.34), capped
    account = servicing.load_account(platform, loan_id)
    assert account.position(platform.today()).credit_balance_fen == 500_00
    books_are_right(platform)
    # The closed loan's credit is paid back like any credit balance.
    servicing.refund_credit(platform, "ops", loan_id, 500_00, "refund-1")
    assert account_total(platform, CREDIT_BALANCE, loan_id) == 0
    assert incentives.evaluate_incentives(platform, platform.today()).awarded == 0
    books_are_right(platform)


def test_a_bad_programme_is_refused_field_by_field(platform: Platform) -> None:
    with pytest.raises(InvalidInput) as caught:
        incentives.save_programme(platform, "risk.li", {"id": "x", "kind": "on-time-streak",
                                                        "starts_on": "someday"})
    assert {e.field for e in caught.value.errors} >= {"starts_on", "streak", "amount_fen"}
    assert incentives.programmes(platform) == []


def test_the_end_of_day_of_serve_awards_and_expires(platform: Platform, clock: FixedClock
                                                    ) -> None:
    from tailguard.batch.schedule import DailyEndOfDay
    from tailguard.engagement.offers import OfferKind
    from tailguard.services import offers

    loan_id = book(platform)
    clock.advance(timedelta(days=101))  # 2026-04-21
    pay(platform, loan_id)
    offer = offers.quote_offer(platform, "ops", loan_id, OfferKind.DUE_DATE_CHANGE,
                               new_day=20)
    incentives.save_programme(platform, "risk.li", STREAK)
    clock.advance(timedelta(days=15))  # 2026-05-06: the end of 05-05 lapses the offer
    assert DailyEndOfDay(platform).run_once() >= 1
    assert offers.get_offer(platform, offer["offer_id"])["status"] == "expired"
    assert [a["amount"] for a in incentives.awards_of(platform, loan_id)] == ["50.00"]
    books_are_right(platform)
