"""The next best action of a case from the platform's facts, on SQLite and PostgreSQL: the
conduct guard's answer for each channel is asked without logging a contact, steps taken are
counted, and a quiet-hours moment leaves only the actions that do not contact anyone."""

from __future__ import annotations

import warnings
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.engagement.vocabulary import Channel, Outcome, Purpose
from tailguard.infra.clock import FixedClock
from tailguard.infra.db.tables_engagement import contact_log
from tailguard.infra.db.tables_recovery import recovery_cases
from tailguard.services import recovery_cases as cases_service
from tailguard.services.booking import book_application
from tailguard.services.contacts import Actor, ContactCommand
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import recovery_eod
from tailguard.services.recovery_next_action import for_case
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

DAY = date(2026, 3, 2)
COLLECTOR = Actor("collector.wang", "collector")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _contacts(platform: Platform) -> int:
    with platform.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(contact_log)).scalar_one())


def test_the_best_allowed_action_and_why_the_others_are_not(
        platform: Platform, clock: FixedClock) -> None:
    with_dealer(platform)
    book_application(platform, "officer", application(1))
    clock.current = FixedClock.at(DAY).current
    from tailguard.batch import eod

    eod.run(platform, DAY)
    recovery_eod(platform, DAY)
    with platform.engine.connect() as conn:
        case_id = int(conn.execute(select(recovery_cases.c.id)).scalar_one())
    cases_service.contact(platform, COLLECTOR, case_id, ContactCommand(
        Channel.CALL, Purpose.COLLECTION, at=datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)),
        Outcome.NO_ANSWER)
    before = _contacts(platform)
    answer = for_case(platform, COLLECTOR, case_id,
                      at=datetime(2026, 3, 2, 11, tzinfo=SHANGHAI))
    assert _contacts(platform) == before  # asking the guard logged nothing
    assert answer["facts"]["dpd"] == 20 and answer["facts"]["done"] == ["call"]
    assert answer["facts"]["contact_allowed"]["call"] is True
    assert answer["best"]["action"] == "call" and answer["best"]["allowed"]
    by = {c["action"]: c for c in answer["candidates"]}
    assert by["repossession"]["why_not"] == "first: field-visit, lawyer-letter"
    assert by["wait"]["expected_recovered_fen"] == round(0.45 * answer["facts"]["overdue_fen"])
    night = for_case(platform, COLLECTOR, case_id,
                     at=datetime(2026, 3, 2, 23, tzinfo=SHANGHAI))
    assert night["facts"]["contact_allowed"]["call"] is False
    night_by = {c["action"]: c for c in night["candidates"]}
    assert not night_by["call"]["allowed"] and not night_by["field-visit"]["allowed"]
    assert night["best"]["action"] in ("wait", "reminder")
