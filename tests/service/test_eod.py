"""The end-of-day run: column-wise, yet equal to the replay; idempotent; restartable."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tailguard.batch import eod
from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import ledger_repository as ledger
from tailguard.infra.db import state_repository as states
from tailguard.infra.db import tables
from tailguard.loans.events import Channel
from tailguard.services import loan_books, queries, servicing
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.conftest import make_platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


def portfolio(platform: Platform, clock: FixedClock) -> list[str]:
    """Loans of every method, some paying on time, some late, some with credit balances."""
    with_dealer(platform)
    specs: list[dict[str, Any]] = [
        {"product": "auto-balloon"},
        {"product": "auto-balloon", "rate": "0.0899", "term": 24, "balloon": "0.4"},
        {"product": "auto-equal-installment", "balloon": None, "term": 12},
        {"product": "auto-equal-principal", "balloon": None, "term": 12},
        {"product": "auto-interest-only", "balloon": None, "term": 6},
        {"product": "auto-balloon", "rate": "0", "term": 12, "balloon": "0.2"},
    ]
    ids = [book_application(platform, "officer", application(k + 1, **spec,  # type: ignore[arg-type]
                                                                start=date(2026, 1, 10)))
           for k, spec in enumerate(specs)]
    clock.advance(timedelta(days=31))  # 2026-02-10
    servicing.post_payment(platform, "ops", ids[0], 4417_73, date(2026, 2, 10), Channel.APP,
                           "p0")
    servicing.post_payment(platform, "ops", ids[2], 20_000_00, date(2026, 2, 10), Channel.APP,
                           "p2")  # overpays: credit waits for the next due date
    servicing.post_payment(platform, "ops", ids[3], 1_000_00, date(2026, 2, 10), Channel.APP,
                           "p3")  # part of an instalment
    return ids


def replay_state(platform: Platform, loan_id: str, day: date) -> tuple[dict[str, Any], list[Any]]:
    account = servicing.load_account(platform, loan_id)
    position = account.position(day)
    accrued = loan_books.accrued(account, day)
    return (states.loan_state_row(account, position, accrued),
            states.installment_rows(account, position))


def test_eod_equals_the_replay_every_day(platform: Platform, clock: FixedClock) -> None:
    ids = portfolio(platform, clock)
    day = date(2026, 2, 10)
    for _ in range(75):  # past several due dates, grace ends and bucket changes
        day += timedelta(days=1)
        clock.advance(timedelta(days=1))
        eod.run(platform, day, chunk_size=4)
        with platform.engine.connect() as conn:
            for loan_id in ids:
                want_state, want_rows = replay_state(platform, loan_id, day)
                have_state = states.state_of(conn, loan_id)
                assert have_state is not None
                for key, value in want_state.items():
                    assert have_state[key] == value, (day, loan_id, key)
                have_rows = conn.execute(
                    select(tables.installment_state).where(
                        tables.installment_state.c.loan_id == loan_id)
                    .order_by(tables.installment_state.c.number)).mappings().all()
                for want, have in zip(want_rows, have_rows, strict=True):
                    for key in ("penalty_numerator", "settled_on", "forgiven"):
                        assert have[key] == want[key], (day, loan_id, want["number"], key)
            assert queries.reconcile(conn) == []
            assert queries.trial_balance(conn, date.max).balanced
            # Books already equal the replay: a per-loan true-up posts nothing.
            for loan_id in ids:
                account = servicing.load_account(platform, loan_id)
                booked = ledger.booked_flows(conn, loan_id)
                from tailguard.ledger.flows import target_flows, true_up

                channels = {e.payment_id: e.channel for e in account.events
                            if hasattr(e, "channel")}
                target = target_flows(account.position(day), account.terms.principal_fen,
                                      loan_books.accrued(account, day), channels)
                assert true_up(target, booked)[1] == [], (day, loan_id)


def _eod_ledger(platform: Platform) -> list[Any]:
    with platform.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(tables.journal_entries.c.id, tables.journal_entries.c.value_date,
                   tables.postings.c.account_code, tables.postings.c.loan_id,
                   tables.postings.c.amount_fen)
            .join(tables.postings, tables.postings.c.entry_seq == tables.journal_entries.c.seq)
            .where(tables.journal_entries.c.reference_type == "eod")
            .order_by(tables.journal_entries.c.id, tables.postings.c.id)
        ).all()]


def test_eod_is_idempotent_and_an_interrupted_run_gives_the_same_books(
    new_database: Callable[[], str], clock: FixedClock
) -> None:
    target = date(2026, 3, 20)
    books = []
    for interrupted in (False, True):
        run_clock = FixedClock(clock.current)
        platform = make_platform(new_database(), run_clock)
        portfolio(platform, run_clock)
        run_clock.advance(timedelta(days=40))
        if interrupted:
            eod.run(platform, target, chunk_size=2, stop_after_chunks=3)
        eod.run(platform, target, chunk_size=2)
        eod.run(platform, target, chunk_size=2)  # a rerun changes nothing
        books.append(_eod_ledger(platform))
        with platform.engine.connect() as conn:
            done = conn.execute(select(tables.eod_runs.c.status)).scalars().all()
            assert queries.reconcile(conn) == []
        assert set(done) == {"done"}
        assert len(done) == (target - date(2026, 1, 10)).days
        platform.engine.dispose()
    assert books[0] and books[0] == books[1]


def test_a_credit_that_settles_the_last_instalment_at_end_of_day_closes_the_loan(
    platform: Platform, clock: FixedClock
) -> None:
    """An overpayment waits as credit; when the end of day applies it to the last instalment,
    the loan is paid off, closed, and says so in the outbox."""
    with_dealer(platform)
    loan_id = book_application(platform, "officer", application(
        40, product="auto-interest-only", balloon=None, term=6, principal_fen=12_000_00,
        start=date(2026, 1, 10)))
    clock.advance(timedelta(days=1))
    quote = servicing.payoff_quote(platform, loan_id, date(2026, 1, 11))
    servicing.post_payment(platform, "ops", loan_id, quote.total_fen + 500_00,
                           date(2026, 1, 11), Channel.APP, "prepay-all")
    with platform.engine.connect() as conn:
        status = conn.execute(select(tables.loans.c.status).where(
            tables.loans.c.id == loan_id)).scalar_one()
    if status == "closed":
        pytest.skip("the payment already settled every instalment")  # not the case measured
    day = date(2026, 1, 11)
    while day < date(2026, 7, 15):
        day += timedelta(days=1)
        clock.advance(timedelta(days=1))
    eod.run(platform, day)
    with platform.engine.connect() as conn:
        status = conn.execute(select(tables.loans.c.status).where(
            tables.loans.c.id == loan_id)).scalar_one()
        paid_off = conn.execute(select(func.count()).select_from(tables.outbox).where(
            tables.outbox.c.event_type == "LoanPaidOff",
            tables.outbox.c.aggregate_id == loan_id)).scalar_one()
        assert queries.reconcile(conn) == []
    assert status == "closed" and paid_off == 1
