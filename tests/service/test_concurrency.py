"""Concurrent payments on one loan: both land exactly once, serialised by the loan's lock."""

from __future__ import annotations

import threading
import warnings
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.loans.events import Channel
from tailguard.services import queries, servicing
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


def test_two_threads_posting_to_one_loan_both_land_once(
    platform: Platform, clock: FixedClock
) -> None:
    with_dealer(platform)
    loan_id = book_application(platform, "officer", application(7))
    clock.advance(timedelta(days=40))
    barrier = threading.Barrier(4)
    outcomes: list[servicing.PaymentOutcome] = []
    errors: list[BaseException] = []

    def pay(key: str, amount_fen: int) -> None:
        try:
            barrier.wait()
            outcomes.append(servicing.post_payment(
                platform, "ops", loan_id, amount_fen, date(2026, 2, 15), Channel.APP, key))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=pay, args=("k-a", 1_000_00)),
        threading.Thread(target=pay, args=("k-b", 2_000_00)),
        threading.Thread(target=pay, args=("k-a", 1_000_00)),  # a replay of k-a, concurrently
        threading.Thread(target=pay, args=("k-c", 3_000_00)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(outcomes) == 4
    assert sum(o.replayed for o in outcomes) == 1
    with platform.engine.connect() as conn:
        amounts = sorted(conn.execute(select(tables.loan_events.c.amount_fen).where(
            tables.loan_events.c.kind == "payment")).scalars())
        receipts = conn.execute(select(func.count()).select_from(tables.journal_entries).where(
            tables.journal_entries.c.reason_code == "PAYMENT")).scalar_one()
        assert amounts == [1_000_00, 2_000_00, 3_000_00]
        assert receipts == 3
        assert queries.trial_balance(conn, date.max).balanced
        assert queries.reconcile(conn) == []


def test_two_batchers_sharing_loans_post_every_payment_once(
    platform: Platform, clock: FixedClock
) -> None:
    """Two processes' worth of group commit (two batchers, as with two API workers) posting
    to the same loans at once: every payment lands once, each caller gets its own answer,
    requests share commits, and the books balance. Locks are taken in loan-id order, so the
    batches queue behind each other instead of deadlocking."""
    from tailguard.errors import NotFound
    from tailguard.services.payment_batcher import PaymentBatcher
    from tailguard.services.payments import PaymentCommand

    with_dealer(platform)
    loans = [book_application(platform, "officer", application(n)) for n in (11, 12, 13)]
    clock.advance(timedelta(days=40))
    batchers = [PaymentBatcher(platform, window_s=0.05), PaymentBatcher(platform, window_s=0.05)]
    barrier = threading.Barrier(24)
    answers: dict[int, object] = {}

    def pay(n: int) -> None:
        loan = "NOPE" if n == 23 else loans[n % 3]
        barrier.wait()
        try:
            answers[n] = batchers[n % 2].post("ops", PaymentCommand(
                loan, 100_00 + n, date(2026, 2, 15), Channel.APP, f"g-{n}"))
        except NotFound as missing:
            answers[n] = missing

    threads = [threading.Thread(target=pay, args=(n,)) for n in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for batcher in batchers:
        batcher.close()
    assert isinstance(answers.pop(23), NotFound)
    assert sorted(a.amount_fen for a in answers.values()) == [100_00 + n for n in range(23)]
    assert all(a.status == "posted" for a in answers.values())
    assert sum(b.batches for b in batchers) < 23  # commits were shared
    with platform.engine.connect() as conn:
        amounts = sorted(conn.execute(select(tables.loan_events.c.amount_fen).where(
            tables.loan_events.c.kind == "payment")).scalars())
        assert amounts == [100_00 + n for n in range(23)]
        assert queries.trial_balance(conn, date.max).balanced
        assert queries.reconcile(conn) == []
