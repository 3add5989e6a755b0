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
