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


def test_a_repeated_request_gives_back_the_pending_approval(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = booked(platform)
    clock.advance(timedelta(days=50))
    payload = {"amount_fen": 3_00, "component": "penalty"}
    first = approvals.request_approval(platform, "maker", "waive", loan_id, payload)
    again = approvals.request_approval(platform, "maker", "waive", loan_id, dict(payload))
    assert again.approval_id == first.approval_id
    other = approvals.request_approval(platform, "maker", "waive", loan_id,
                                       {"amount_fen": 4_00, "component": "penalty"})
    assert other.approval_id != first.approval_id
    approvals.decide(platform, "checker", first.approval_id, True)
    # once decided, the same proposal is a new request for the checker
    later = approvals.request_approval(platform, "maker", "waive", loan_id, payload)
    assert later.approval_id not in (first.approval_id, other.approval_id)
    with platform.engine.connect() as conn:
        pending = conn.execute(select(tables.approvals.c.id).where(
            tables.approvals.c.status == "pending")).scalars().all()
    assert sorted(pending) == sorted([other.approval_id, later.approval_id])


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


def test_a_batch_of_payments_answers_each_command_and_books_as_one_by_one(
    platform: Platform, clock: FixedClock
) -> None:
    """One unit of work for many payments: every command gets its own answer (posted, replay,
    conflict, refusal, bad input, unknown loan) and the books equal posting them singly."""
    from tailguard.services.payments import PaymentCommand, post_payments

    loans = [booked(platform, serial) for serial in (1, 2, 3)]
    clock.advance(timedelta(days=31))
    with platform.uow() as uow:
        servicing.repository(platform, uow).set_status(loans[2], "written-off")
        uow.commit()
    day = date(2026, 2, 10)
    first = servicing.post_payment(platform, "ops", loans[0], 100_00, day, Channel.APP, "k-old")

    def cmd(loan: str, amount: int, key: str, value: date = day) -> PaymentCommand:
        return PaymentCommand(loan, amount, value, Channel.APP, key)

    results = post_payments(platform, "ops", [
        cmd(loans[0], 4317_73, "k-1"),          # posted
        cmd(loans[0], 2_000_00, "k-2"),         # second on the same loan: credit balance
        cmd(loans[1], 4417_73, "k-3"),          # posted on another loan
        cmd(loans[0], 100_00, "k-old"),         # stored before: replayed
        cmd(loans[1], 4417_73, "k-3"),          # same key twice in the batch: replayed
        cmd(loans[1], 1_00, "k-3"),             # same key, other payload: conflict
        cmd("NOPE", 1_00, "k-4"),               # unknown loan
        cmd(loans[1], 0, "k-5"),                # bad amount
        cmd(loans[1], 1_00, "k-6", date(2027, 1, 1)),  # value date in the future
        cmd(loans[2], 1_00, "k-7"),             # written off: refused and stored
    ])
    posted = [r for r in results if isinstance(r, servicing.PaymentOutcome)]
    assert [r.status for r in posted] == ["posted", "posted", "posted", "posted", "posted",
                                          "refused"]
    assert [r.replayed for r in posted] == [False, False, False, True, True, False]
    assert results[3] == servicing.PaymentOutcome(**(first.to_dict() | {
        "value_date": day, "replayed": True}))
    assert results[0].credit_balance_fen == 0 and results[1].credit_balance_fen == 2_000_00
    assert isinstance(results[5], IdempotencyConflict)
    assert isinstance(results[6], NotFound)
    assert isinstance(results[7], InvalidInput) and results[7].errors[0].field == "amount"
    assert isinstance(results[8], InvalidInput) and results[8].errors[0].field == "value_date"
    assert results[9].refusal_code == "LOAN_NOT_ACTIVE"
    with platform.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(tables.loan_events).where(
            tables.loan_events.c.kind == "payment")).scalar_one()
        keys = conn.execute(select(func.count()).select_from(tables.idempotency)).scalar_one()
    assert (stored, keys) == (4, 5)  # k-old, k-1, k-2, k-3; and k-7's refusal
    with platform.engine.connect() as conn:  # loans[2] was written off by hand above
        assert queries.trial_balance(conn, date.max).balanced
        assert [d for d in queries.reconcile(conn) if d.loan_id != loans[2]] == []
    # The same payments posted one at a time on fresh loans leave the same balances.
    again = [booked(platform, serial) for serial in (4, 5)]
    for loan, amount, key in ((again[0], 100_00, "s-0"), (again[0], 4317_73, "s-1"),
                              (again[0], 2_000_00, "s-2"), (again[1], 4417_73, "s-3")):
        servicing.post_payment(platform, "ops", loan, amount, day, Channel.APP, key)
    with platform.engine.connect() as conn:
        from tailguard.infra.db import ledger_repository
        for batch_loan, single_loan in zip(loans[:2], again, strict=True):
            assert ledger_repository.loan_balances(conn, batch_loan) == \
                ledger_repository.loan_balances(conn, single_loan)


def test_a_trade_in_settles_the_loan_and_books_the_surplus_owed_to_the_borrower(
    platform: Platform, clock: FixedClock
) -> None:
    from tailguard.infra.db import ledger_repository
    from tailguard.loans.maturity import MaturityOption

    loan_id = booked(platform)
    clock.advance(timedelta(days=45))
    owed = servicing.payoff_quote(platform, loan_id, reason=servicing.SettlementReason.TRADE_IN
                                  ).total_fen
    position, disposition = servicing.dispose_vehicle(
        platform, "ops", loan_id, MaturityOption.TRADE_IN, owed + 12_345_67)
    assert position.paid_off and disposition.surplus_fen == 12_345_67
    assert disposition.shortfall_fen == 0
    with platform.engine.connect() as conn:
        balances = ledger_repository.loan_balances(conn, loan_id)
        surplus_events = conn.execute(select(func.count()).select_from(tables.outbox).where(
            tables.outbox.c.event_type == "VehicleSurplusOwed")).scalar_one()
    assert balances["2244.payable"] == -12_345_67
    assert balances["1441.collateral"] == owed + 12_345_67  # the car, at its appraisal
    assert surplus_events == 1
    books_are_right(platform)


def test_a_trade_in_worth_less_than_the_debt_leaves_the_shortfall_owed(
    platform: Platform, clock: FixedClock
) -> None:
    from tailguard.loans.maturity import MaturityOption

    loan_id = booked(platform)
    clock.advance(timedelta(days=45))
    position, disposition = servicing.dispose_vehicle(
        platform, "ops", loan_id, MaturityOption.TRADE_IN, 50_000_00)
    assert disposition.surplus_fen == 0 and disposition.shortfall_fen > 0
    assert not position.paid_off
    assert position.principal_outstanding_fen + position.arrears_fen > 0
    books_are_right(platform)


def test_a_credit_balance_is_refunded_once_and_booked_out_of_cash(
    platform: Platform, clock: FixedClock
) -> None:
    from tailguard.infra.db import ledger_repository

    loan_id = booked(platform)
    clock.advance(timedelta(days=31))
    paid = servicing.post_payment(platform, "ops", loan_id, 10_000_00, date(2026, 2, 10),
                                  Channel.APP, "over-1")
    credit = paid.credit_balance_fen
    assert credit > 0
    refund = servicing.refund_credit(platform, "ops", loan_id, credit, "refund-1")
    again = servicing.refund_credit(platform, "ops", loan_id, credit, "refund-1")
    assert refund.credit_balance_fen == 0 and again.replayed
    with pytest.raises(Refused):
        servicing.refund_credit(platform, "ops", loan_id, 1_00, "refund-2")
    with pytest.raises(InvalidInput):
        servicing.refund_credit(platform, "ops", loan_id, 0, "refund-3")
    with pytest.raises(Refused) as refused:
        servicing.reverse_payment(platform, "ops", loan_id, paid.payment_id, "bounced", "rev-1")
    assert refused.value.code == "CREDIT_ALREADY_REFUNDED"
    with platform.engine.connect() as conn:
        balances = ledger_repository.loan_balances(conn, loan_id)
    assert balances.get("2243.credit", 0) == 0
    books_are_right(platform)
