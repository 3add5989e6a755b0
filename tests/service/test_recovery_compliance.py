"""Collections in the compliance review and in the contact policy's facts, on SQLite and
PostgreSQL: contacts made outside the rules and partners overdue for their yearly assessment
are named by their checks (and a clean collections book passes them); an open promise to pay
reaches the contact policy as `promise_open_until`, so a profile that pauses collection during
a promise blocks the call."""

from __future__ import annotations

import dataclasses
import warnings
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, update

from tailguard.calendar import CalendarFallbackWarning
from tailguard.compliance.recovery_checks import (
    CONTACTS_OUTSIDE_RULES,
    PARTNER_ASSESSMENT_OVERDUE,
)
from tailguard.compliance.review import run_review
from tailguard.engagement import profiles
from tailguard.engagement.contact_policy import ContactRequest
from tailguard.engagement.vocabulary import Channel, Outcome, Purpose
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import contact_log, contact_profiles
from tailguard.infra.db.tables_recovery import recovery_cases
from tailguard.services import contacts, recovery_partners
from tailguard.services import recovery_cases as cases_service
from tailguard.services.booking import book_application
from tailguard.services.contacts import Actor, ContactCommand
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import recovery_eod
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

DAY = date(2026, 3, 2)
COLLECTOR = Actor("collector.wang", "collector")
LEAD = Actor("lead.zhou", "team-lead")
ONLY = (CONTACTS_OUTSIDE_RULES, PARTNER_ASSESSMENT_OVERDUE)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def case(platform: Platform, clock: FixedClock) -> tuple[int, str]:
    with_dealer(platform)
    loan_id = book_application(platform, "officer", application(1))
    clock.current = FixedClock.at(DAY).current
    from tailguard.batch import eod

    eod.run(platform, DAY)
    recovery_eod(platform, DAY)
    with platform.engine.connect() as conn:
        case_id = conn.execute(select(recovery_cases.c.id)).scalar_one()
    return int(case_id), loan_id


def _call(platform: Platform, case_id: int, hour: int,
          outcome: Outcome = Outcome.NO_ANSWER) -> dict[str, object]:
    at = datetime(2026, 3, 2, hour, tzinfo=SHANGHAI)
    return cases_service.contact(platform, COLLECTOR, case_id,
                                 ContactCommand(Channel.CALL, Purpose.COLLECTION, at=at),
                                 outcome)


def _findings(platform: Platform) -> list[tuple[str, str]]:
    review = run_review(platform, DAY, only=ONLY)
    return [(f.check, f.reference) for f in review.findings]


def test_contacts_within_the_rules_and_assessed_partners_pass(
        platform: Platform, case: tuple[int, str]) -> None:
    case_id, _ = case
    _call(platform, case_id, 10)
    _call(platform, case_id, 11, Outcome.CONNECTED)
    blocked = _call(platform, case_id, 23)  # quiet hours: blocked, logged, not made
    assert blocked["decision"] == "block"
    recovery_partners.save_partner(platform, "risk", {
        "id": "AG-1", "name": "某催收", "kind": "agency", "provinces": ["440000"],
        "last_assessed_on": DAY - timedelta(days=365), "capacity": 5})
    assert _findings(platform) == []


def test_contacts_outside_the_rules_are_named(platform: Platform,
                                              case: tuple[int, str]) -> None:
    case_id, loan_id = case
    blocked = _call(platform, case_id, 23)
    allowed = _call(platform, case_id, 10)
    with platform.engine.begin() as conn:
        # a blocked call that was made anyway
        conn.execute(update(contact_log).where(contact_log.c.id == blocked["contact_id"])
                     .values(outcome="connected"))
        row = dict(conn.execute(select(contact_log).where(
            contact_log.c.id == allowed["contact_id"])).mappings().one())
        row.pop("id")
        # an allowed call at 22:30 local time (written around the guard)
        late = row | {"local_time": "2026-03-02T22:30:00+08:00", "outcome": "no-answer"}
        late_id = conn.execute(insert(contact_log).values(**late)
                               .returning(contact_log.c.id)).scalar_one()
        # four conversations in a day (cn-consumer-auto allows three)
        for k in range(4):
            conn.execute(insert(contact_log).values(
                **(row | {"local_time": f"2026-03-02T1{k}:30:00+08:00",
                          "outcome": "connected"})))
    found = _findings(platform)
    assert (CONTACTS_OUTSIDE_RULES, f"contact {blocked['contact_id']}") in found
    assert (CONTACTS_OUTSIDE_RULES, f"contact {late_id}") in found
    with platform.engine.connect() as conn:
        borrower = conn.execute(select(tables.loans.c.borrower_id)
                                .where(tables.loans.c.id == loan_id)).scalar_one()
    assert (CONTACTS_OUTSIDE_RULES, f"borrower {borrower} {DAY}") in found
    assert len(found) == 3
    assert platform.settings.contact_profile == "cn-consumer-auto"


def test_calls_above_the_weekly_cap_are_named(platform: Platform,
                                              case: tuple[int, str]) -> None:
    case_id, loan_id = case
    with platform.engine.begin() as conn:  # us-third-party: at most 7 calls in 7 days
        conn.execute(insert(contact_profiles).values(
            loan_id=loan_id, profile="us-third-party",
            recorded_at=FixedClock.at(DAY).current))
    allowed = _call(platform, case_id, 10)
    with platform.engine.begin() as conn:
        row = dict(conn.execute(select(contact_log).where(
            contact_log.c.id == allowed["contact_id"])).mappings().one())
        row.pop("id")
        assert row["profile"] == "us-third-party"
        for k in range(7):  # one more today and one on each of the six days before: 8 calls
            day = DAY - timedelta(days=k)
            conn.execute(insert(contact_log).values(**(row | {
                "local_date": day, "local_time": f"{day}T10:00:00+08:00"})))
    found = _findings(platform)
    assert found == [(CONTACTS_OUTSIDE_RULES, f"borrower {row['borrower_id']} {DAY}")]


def test_partners_overdue_for_assessment_are_named_high_when_holding_cases(
        platform: Platform, case: tuple[int, str]) -> None:
    case_id, _ = case
    recovery_partners.save_partner(platform, "risk", {
        "id": "AG-OLD", "name": "老机构", "kind": "agency", "provinces": ["440000"],
        "last_assessed_on": date(2025, 1, 1), "capacity": 5})
    recovery_partners.save_partner(platform, "risk", {
        "id": "LAW-NEW", "name": "某律所", "kind": "legal", "provinces": ["440000"]})
    recovery_partners.save_partner(platform, "risk", {
        "id": "AG-GONE", "name": "已停用", "kind": "agency", "active": False})
    with platform.engine.begin() as conn:  # placed while it was still assessed
        conn.execute(update(recovery_cases).where(recovery_cases.c.id == case_id)
                     .values(agency_id="AG-OLD"))
    review = run_review(platform, DAY, only=(PARTNER_ASSESSMENT_OVERDUE,))
    by_ref = {f.reference: f for f in review.findings}
    assert set(by_ref) == {"partner AG-OLD", "partner LAW-NEW"}
    assert by_ref["partner AG-OLD"].severity.value == "high"
    assert "1 open case" in by_ref["partner AG-OLD"].message
    assert by_ref["partner LAW-NEW"].severity.value == "medium"
    assert by_ref["partner LAW-NEW"].message.startswith("legal LAW-NEW is never assessed")


def test_an_open_promise_reaches_the_contact_policy(
        platform: Platform, case: tuple[int, str], monkeypatch: pytest.MonkeyPatch) -> None:
    case_id, loan_id = case
    pausing = dataclasses.replace(profiles.profile(platform.settings.contact_profile),
                                  promise_pauses_collection=True)
    monkeypatch.setitem(profiles.PROFILES, platform.settings.contact_profile, pausing)
    at = datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
    command = ContactCommand(Channel.CALL, Purpose.COLLECTION, loan_id=loan_id, at=at)
    assert contacts.check_contact(platform, COLLECTOR, command).decision.allowed
    cases_service.record_promise(platform, COLLECTOR, case_id, 1_000_00,
                                 DAY + timedelta(days=3))
    paused = contacts.check_contact(platform, COLLECTOR, command).decision
    assert not paused.allowed and paused.reason.value == "PROMISE_OPEN"
    assert paused.retry_at is not None
    assert paused.retry_at.astimezone(SHANGHAI).date() == DAY + timedelta(days=4)
    # the fact itself, as the policy receives it
    with platform.engine.connect() as conn:
        subject = contacts._subject(conn, platform, command, lock=False)
        request = ContactRequest(command.channel, command.party, command.purpose, at,
                                 subject.zones, command.automated)
        facts = contacts._facts(conn, subject, command, request)
    assert facts.promise_open_until == DAY + timedelta(days=3)
