"""Servicing services on SQLite and PostgreSQL: booking, payments exactly once, reversals,
payoff, maker-checker, and books that reconcile after every step."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.idempotency import IdempotencyConflict
from tailguard.loans.events import Channel
from tailguard.services import approvals, queries, servicing
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


def books_are_right(platform: Platform) -> None:
    with platform.engine.connect() as conn:
        assert queries.trial_balance(conn, date.max).balanced
        assert queries.reconcile(conn) == []


def booked(platform: Platform, serial: int = 1, **kwargs: object) -> str:
    with_dealer(platform)
    return book_application(platform, "officer", application(serial, **kwargs))  # type: ignore[arg-type]


def test_booking_stores_loan_parties_and_disbursement(platform: Platform) -> None:
    loan_id = booked(platform)
    account = servicing.load_account(platform, loan_id)
    assert account.terms.principal_fen == 200_000_00
    assert account.schedule.balloon_fen == 60_000_00
    with platform.engine.connect() as conn:
        party = conn.execute(select(tables.parties)).mappings().one()
        assert b"110105" not in party["id_number_enc"]  # sealed, not plain
        events = conn.execute(select(tables.outbox.c.event_type)).scalars().all()
        audit = conn.execute(select(tables.audit_log.c.action)).scalars().all()
    assert "LoanDisbursed" in events and "loan.book" in audit
    books_are_right(platform)


def test_bad_application_names_every_field_and_stores_nothing(platform: Platform) -> None:
    with_dealer(platform)
    bad = application(2)
    bad = type(bad)(**{**bad.__dict__,
                       "borrower": type(bad.borrower)(**{**bad.borrower.__dict__,
                                                         "id_number": "110105198503151231",
                                                         "phone": "12345"}),
                       "term_months": 400})
    with pytest.raises(InvalidInput) as caught:
        book_application(platform, "officer", bad)
    fields = {e.field for e in caught.value.errors}
    assert {"borrower.id_number", "borrower.phone", "term"} <= fields
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.loans)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(tables.parties)).scalar_one() == 0


def test_a_payment_replayed_with_the_same_key_posts_once(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = booked(platform)
    clock.advance(timedelta(days=31))
    first = servicing.post_payment(platform, "ops", loan_id, 4417_73, date(2026, 2, 10),
                                   Channel.AUTO_DEBIT, "debit-2026-02-10")
    again = servicing.post_payment(platform, "ops", loan_id, 4417_73, date(2026, 2, 10),
                                   Channel.AUTO_DEBIT, "debit-2026-02-10")
    assert again.replayed and again.payment_id == first.payment_id
    with platform.engine.connect() as conn:
        payments = conn.execute(select(func.count()).select_from(tables.loan_events).where(
            tables.loan_events.c.kind == "payment")).scalar_one()
    assert payments == 1
    with pytest.raises(IdempotencyConflict):
        servicing.post_payment(platform, "ops", loan_id, 1_00, date(2026, 2, 10),
                               Channel.AUTO_DEBIT, "debit-2026-02-10")
    books_are_right(platform)


def test_refusals_are_stored_under_the_key_too(platform: Platform, clock: FixedClock) -> None:
    loan_id = booked(platform)
    with platform.uow() as uow:
        servicing.repository(platform, uow).set_status(loan_id, "written-off")
        uow.commit()
    refused = servicing.post_payment(platform, "ops", loan_id, 100_00, date(2026, 1, 10),
                                     Channel.APP, "k-refused")
    assert refused.status == "refused" and refused.refusal_code == "LOAN_NOT_ACTIVE"
    assert servicing.post_payment(platform, "ops", loan_id, 100_00, date(2026, 1, 10),
                                  Channel.APP, "k-refused").replayed


def test_backdated_payment_and_reversal_keep_the_books_equal_to_the_replay(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = booked(platform)
    clock.advance(timedelta(days=75))  # 2026-03-26: two instalments due, both unpaid
    # Entered today with last month's value date: 4,500 settles instalment 1 with its ten days
    # of penalty (an exact 4,417.73 would not: penalty is paid first); the rest waits as
    # credit and goes to instalment 2 on 03-10, which stays unpaid.
    late = servicing.post_payment(platform, "ops", loan_id, 4_500_00, date(2026, 2, 20),
                                  Channel.BANK_TRANSFER, "k-backdated")
    assert late.dpd == 16
    books_are_right(platform)
    extra = servicing.post_payment(platform, "ops", loan_id, 5_000_00, date(2026, 3, 26),
                                   Channel.APP, "k-extra")
    assert extra.dpd == 0 and extra.credit_balance_fen > 0
    books_are_right(platform)
    reversed_ = servicing.reverse_payment(platform, "ops", loan_id, extra.payment_id, "bounced",
                                          "k-reverse")
    assert reversed_.dpd == 16 and reversed_.credit_balance_fen == 0
    books_are_right(platform)
    with pytest.raises(Refused):
        servicing.reverse_payment(platform, "ops", loan_id, extra.payment_id, "bounced",
                                  "k-reverse-2")


def test_bad_payments_are_refused_by_field(platform: Platform) -> None:
    loan_id = booked(platform)
    with pytest.raises(InvalidInput) as future:
        servicing.post_payment(platform, "ops", loan_id, 1_00, date(2027, 1, 1), Channel.APP,
                               "k-future")
    assert future.value.errors[0].field == "value_date"
    with pytest.raises(NotFound):
        servicing.post_payment(platform, "ops", "nope", 1_00, date(2026, 1, 10), Channel.APP,
                               "k-nope")


def test_payoff_settles_and_closes_the_loan(platform: Platform, clock: FixedClock) -> None:
    loan_id = booked(platform)
    clock.advance(timedelta(days=20))
    quote = servicing.payoff_quote(platform, loan_id)
    with pytest.raises(Refused):
        servicing.settle_loan(platform, "ops", loan_id, quote.total_fen - 1, Channel.APP, "s1")
    outcome = servicing.settle_loan(platform, "ops", loan_id, quote.total_fen, Channel.APP, "s2")
    assert outcome.arrears_fen == 0
    with platform.engine.connect() as conn:
        status = conn.execute(select(tables.loans.c.status)).scalar_one()
    assert status == "closed"
    books_are_right(platform)


def test_waiver_needs_a_second_person(platform: Platform, clock: FixedClock) -> None:
    loan_id = booked(platform)
    clock.advance(timedelta(days=50))  # instalment 1 overdue 19 days: penalty accrues
    request = approvals.request_approval(platform, "maker", "waive", loan_id,
                                         {"amount_fen": 5_00, "component": "penalty"})
    with pytest.raises(Refused) as same:
        approvals.decide(platform, "maker", request.approval_id, True)
    assert same.value.code == "SAME_PERSON"
    before = servicing.load_account(platform, loan_id).position(platform.today())
    decided = approvals.decide(platform, "checker", request.approval_id, True)
    assert decided.status == "approved"
    after = servicing.load_account(platform, loan_id).position(platform.today())
    assert after.penalty_outstanding_fen == before.penalty_outstanding_fen - 5_00
    books_are_right(platform)


def test_extension_over_the_cap_is_refused_and_within_it_applies(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = booked(platform)
    clock.advance(timedelta(days=1070))  # 2028-12-15, before the balloon falls due
    too_long = approvals.request_approval(platform, "maker", "extend", loan_id, {"months": 19})
    with pytest.raises(Refused) as caught:
        approvals.decide(platform, "checker", too_long.approval_id, True)
    assert caught.value.code == "EXTENSION_OVER_CAP"
    assert approvals.get_approval(platform, too_long.approval_id).status == "pending"
    ok = approvals.request_approval(platform, "maker", "extend", loan_id, {"months": 12})
    approvals.decide(platform, "checker", ok.approval_id, True)
    account = servicing.load_account(platform, loan_id)
    assert account.schedule.version == 2 and account.extended_months == 12
    books_are_right(platform)


def test_write_off_moves_receivables_to_expense(platform: Platform, clock: FixedClock) -> None:
    loan_id = booked(platform)
    clock.advance(timedelta(days=200))
    request = approvals.request_approval(platform, "maker", "write-off", loan_id, {})
    approvals.decide(platform, "checker", request.approval_id, True)
    with platform.engine.connect() as conn:
        balances = servicing.ledger.loan_balances(conn, loan_id)
        assert queries.trial_balance(conn, date.max).balanced
    assert all(v == 0 for a, v in balances.items() if a.startswith("130"))
    assert balances["6701.write-off"] > 200_000_00 * 9 // 10
