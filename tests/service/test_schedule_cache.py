"""The platform's cache of committed schedule versions: what a committed unit of work read is
kept and served as the database has it; what a rolled-back one read (its own uncommitted
version included) is never served, even when another version later takes the same number."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from tailguard.infra.db.loan_repository import LoanRepository
from tailguard.infra.db.schedule_cache import ScheduleCache
from tailguard.loans.events import Channel
from tailguard.loans.schedule import Schedule
from tailguard.services import payments, servicing
from tailguard.services.booking import book_application
from tailguard.services.loan_books import repository
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore::tailguard.calendar.CalendarFallbackWarning")


def _stored(platform: Platform, loan_id: str) -> tuple[Schedule, ...]:
    """The loan's schedules read from the database, past any cache."""
    with platform.uow() as uow:
        account = LoanRepository(uow.connection, platform.calendar_for).get(loan_id)
        assert account is not None
        return account.schedules


def _second_version(platform: Platform, loan_id: str, shift: int) -> Schedule:
    """A version 2 of the loan's schedule: the first with the last instalment `shift` fen
    of interest dearer (a stand-in for a restructure)."""
    current = _stored(platform, loan_id)[-1]
    rows = list(current.installments)
    rows[-1] = replace(rows[-1], interest_fen=rows[-1].interest_fen + shift)
    return Schedule(tuple(rows), version=2, replaces=1, effective_date=platform.today(),
                    reason="restructure")


def test_a_committed_read_is_kept_and_an_uncommitted_version_never_is(
    platform: Platform,
) -> None:
    with_dealer(platform)
    loan_id = book_application(platform, "officer", application(1))
    servicing.load_account(platform, loan_id)  # read only: the unit of work rolls back
    assert platform.schedules.get((loan_id, 1)) is None

    payments.post_payment(platform, "ops", loan_id, 100_00, platform.today(), Channel.APP,
                          "cache-1")
    assert platform.schedules.get((loan_id, 1)) == _stored(platform, loan_id)[0]

    # A version written, read through the cache and rolled back is not kept...
    dearer_by_1, dearer_by_7 = (_second_version(platform, loan_id, n) for n in (1, 7))
    with platform.uow() as uow:
        repo = repository(platform, uow)
        account = repo.get(loan_id)
        assert account is not None
        repo.add_schedule(account.with_schedule(dearer_by_1),
                          uow.clock.now())
        assert repo.get(loan_id).schedule.installments[-1].interest_fen == (  # type: ignore[union-attr]
            account.schedule.installments[-1].interest_fen + 1)
    assert platform.schedules.get((loan_id, 2)) is None

    # ...so another version 2, committed later, is read as stored.
    with platform.uow() as uow:
        repo = repository(platform, uow)
        account = repo.get(loan_id)
        assert account is not None and len(account.schedules) == 1
        repo.add_schedule(account.with_schedule(dearer_by_7),
                          uow.clock.now())
        uow.commit()
    for _ in range(2):  # the first read fills the cache, the second is served from it
        payments.post_payment(platform, "ops", loan_id, 100_00, platform.today(), Channel.APP,
                              f"cache-{_ + 2}")
        assert servicing.load_account(platform, loan_id).schedules == _stored(platform, loan_id)
    assert platform.schedules.get((loan_id, 2)) == _stored(platform, loan_id)[1]
    first = _stored(platform, loan_id)[0].installments[-1].interest_fen
    assert platform.schedules.get((loan_id, 2)).installments[-1].interest_fen == first + 7  # type: ignore[union-attr]


def test_the_cache_keeps_the_most_recently_used_versions(platform: Platform) -> None:
    cache = ScheduleCache(size=2)
    cache.watch(platform.engine)
    schedule = Schedule(())
    with platform.engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # a transaction to commit
        cache.offer(conn, [(("a", 1), schedule), (("b", 1), schedule)])
        conn.commit()
    assert cache.get(("a", 1)) is schedule  # "a" is now the more recently used
    with platform.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        cache.offer(conn, [(("c", 1), schedule)])
        conn.commit()
    assert len(cache) == 2
    assert cache.get(("b", 1)) is None
    assert cache.get(("a", 1)) is schedule and cache.get(("c", 1)) is schedule
