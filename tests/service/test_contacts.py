"""The contact service on SQLite and PostgreSQL: caps counted from the log across the lender
and its agencies, every decision logged with its reason, audit row and outbox event."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.engagement.vocabulary import Channel, Outcome, Party, Purpose, ReasonCode
from tailguard.errors import InvalidInput, NotFound
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import contact_log
from tailguard.services import contacts
from tailguard.services.booking import book_application
from tailguard.services.contacts import Actor, ContactCommand
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

COLLECTOR = Actor("collector.wang", "collector")
AGENCY = Actor("agency.li", "agency", agency_id="AG-SZ-1")
OTHER_AGENCY = Actor("agency.zhao", "agency", agency_id="AG-GZ-2")
DAY = date(2026, 3, 2)


def local(hh: int, mm: int = 0, day: date = DAY, zone: str = "Asia/Shanghai") -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(zone))


def booked(platform: Platform, serial: int = 1) -> str:
    with_dealer(platform)
    return book_application(platform, "officer", application(serial))


def call(loan_id: str, hh: int, mm: int = 0, **kwargs: object) -> ContactCommand:
    fields: dict[str, object] = {"channel": Channel.CALL, "purpose": Purpose.COLLECTION,
                                 "loan_id": loan_id, "at": local(hh, mm),
                                 "contact_method": "mobile-1"}
    fields.update(kwargs)
    return ContactCommand(**fields)  # type: ignore[arg-type]


def test_fourth_connected_call_is_blocked_counting_agency_calls(platform: Platform) -> None:
    loan_id = booked(platform)
    # connected calls by the lender's collector and an agency; one unanswered in between
    for actor, hh in ((COLLECTOR, 9), (AGENCY, 10), (COLLECTOR, 12)):
        if hh == 12:
            unanswered = contacts.record_contact(platform, OTHER_AGENCY, call(loan_id, 11),
                                                 Outcome.NO_ANSWER)
            assert unanswered.decision.allowed  # an unanswered call is not a connected one
        result = contacts.check_contact(platform, actor, call(loan_id, hh))
        assert result.decision.allowed
        contacts.record_outcome(platform, actor, result.contact_id, Outcome.CONNECTED)

    fourth = contacts.check_contact(platform, OTHER_AGENCY, call(loan_id, 14))
    assert not fourth.decision.allowed
    assert fourth.decision.reason is ReasonCode.CONNECTED_CALLS_CAP
    assert fourth.decision.rule == "cn-consumer-auto/frequency.connected-calls"
    tomorrow = contacts.check_contact(platform, COLLECTOR,
                                      call(loan_id, 9, at=local(9, day=DAY + timedelta(1))))
    assert tomorrow.decision.allowed

    with platform.engine.connect() as conn:
        row = conn.execute(select(contact_log).where(
            contact_log.c.id == fourth.contact_id)).mappings().one()
        audit = conn.execute(select(tables.audit_log.c.action, tables.audit_log.c.detail)
                             .where(tables.audit_log.c.entity_id == str(fourth.contact_id))
                             ).all()
        events = conn.execute(select(tables.outbox.c.event_type)).scalars().all()
    assert (row["decision"], row["reason_code"], row["outcome"]) == (
        "block", "CONNECTED_CALLS_CAP", None)
    assert (row["actor"], row["agency_id"], row["local_date"]) == (
        "agency.zhao", "AG-GZ-2", DAY)
    assert row["local_time"] == "2026-03-02T14:00:00+08:00"
    assert [a.action for a in audit] == ["contact.block"]
    assert "CONNECTED_CALLS_CAP" in audit[0].detail
    assert events.count("ContactBlocked") == 1 and events.count("ContactAllowed") == 5


def test_a_call_at_half_past_ten_at_night_is_blocked_and_recorded(platform: Platform) -> None:
    loan_id = booked(platform)
    result = contacts.check_contact(platform, AGENCY, call(loan_id, 22, 30))
    assert not result.decision.allowed
    assert result.decision.reason is ReasonCode.QUIET_HOURS
    # the same moment given in UTC is the same local time
    utc = contacts.check_contact(platform, AGENCY, call(
        loan_id, 0, at=local(22, 30).astimezone(UTC)))
    assert utc.decision.reason is ReasonCode.QUIET_HOURS
    log = contacts.contacts_of(platform, result.borrower_id)
    assert [(c["decision"], c["reason"], c["local_time"]) for c in log] == [
        ("block", "QUIET_HOURS", "2026-03-02T22:30:00+08:00")] * 2
    # the debtor's actual location, when known, decides the local time
    contacts.set_contact_settings(platform, COLLECTOR, result.borrower_id,
                                  time_zone="Europe/Berlin")
    berlin = contacts.check_contact(platform, AGENCY, call(loan_id, 22, 30))  # 15:30 Berlin
    assert not berlin.decision.allowed  # …but still 22:30 in the region's zone
    assert berlin.decision.local_time.tzinfo == ZoneInfo("Europe/Berlin")


def test_third_parties_only_after_three_failed_attempts_and_not_after_refusal(
    platform: Platform,
) -> None:
    loan_id = booked(platform)
    relative = {"party": Party.RELATIVE, "party_ref": "contact-mother",
                "purpose": Purpose.LOCATION, "contact_method": "relative-mobile"}
    early = contacts.check_contact(platform, COLLECTOR, call(loan_id, 9, **relative))
    assert early.decision.reason is ReasonCode.THIRD_PARTY_DEBTOR_REACHABLE
    # three unanswered attempts to the debtor, by the lender and two agencies
    for actor, hh in ((COLLECTOR, 9), (AGENCY, 10), (OTHER_AGENCY, 11)):
        contacts.record_contact(platform, actor, call(loan_id, hh), Outcome.NO_ANSWER)
    ok = contacts.check_contact(platform, AGENCY, call(loan_id, 12, **relative))
    assert ok.decision.allowed
    disclose = contacts.check_contact(platform, AGENCY, call(
        loan_id, 12, **{**relative, "purpose": Purpose.COLLECTION}))
    assert disclose.decision.reason is ReasonCode.THIRD_PARTY_PURPOSE
    contacts.record_outcome(platform, AGENCY, ok.contact_id, Outcome.REFUSED)
    again = contacts.check_contact(platform, COLLECTOR, call(loan_id, 15, **relative))
    assert again.decision.reason is ReasonCode.THIRD_PARTY_REFUSED
    other = contacts.check_contact(platform, COLLECTOR, call(
        loan_id, 15, **{**relative, "party_ref": "contact-employer", "party": Party.EMPLOYER}))
    assert other.decision.allowed
    # a connected call with the debtor makes them reachable again
    contacts.record_contact(platform, COLLECTOR, call(loan_id, 16), Outcome.CONNECTED)
    after = contacts.check_contact(platform, COLLECTOR, call(
        loan_id, 17, **{**relative, "party_ref": "contact-employer", "party": Party.EMPLOYER}))
    assert after.decision.reason is ReasonCode.THIRD_PARTY_DEBTOR_REACHABLE


def test_opt_out_do_not_contact_and_revocation(platform: Platform) -> None:
    loan_id = booked(platform)
    borrower = contacts.borrower_of_loan(platform, loan_id)
    sms = call(loan_id, 10, channel=Channel.SMS, purpose=Purpose.SERVICE)
    assert contacts.check_contact(platform, COLLECTOR, sms).decision.allowed
    opt_out = contacts.set_permission(platform, COLLECTOR, borrower, "opt-out",
                                      channel=Channel.SMS, reason="asked by phone")
    assert contacts.check_contact(platform, COLLECTOR, sms).decision.reason is (
        ReasonCode.CHANNEL_OPTED_OUT)
    assert contacts.check_contact(platform, COLLECTOR, call(loan_id, 10)).decision.allowed
    contacts.revoke_permission(platform, COLLECTOR, opt_out)
    assert contacts.check_contact(platform, COLLECTOR, sms).decision.allowed
    contacts.set_permission(platform, COLLECTOR, borrower, "do-not-contact",
                            reason="represented by a lawyer")
    for channel in (Channel.CALL, Channel.LETTER, Channel.IN_APP):
        decision = contacts.check_contact(platform, AGENCY, call(loan_id, 10, channel=channel))
        assert decision.decision.reason is ReasonCode.DO_NOT_CONTACT


def test_us_profile_seven_calls_in_seven_days_per_debt(platform: Platform) -> None:
    loan_id = booked(platform)
    contacts.set_loan_profile(platform, COLLECTOR, loan_id, "us-third-party")
    # the borrower lives in Shenzhen: Reg F hours 08:00–21:00 in Beijing time
    for offset in range(7):
        day = DAY + timedelta(days=offset)
        result = contacts.record_contact(
            platform, AGENCY if offset % 2 else COLLECTOR,
            call(loan_id, 10, at=local(10, day=day)), Outcome.NO_ANSWER)
        assert result.decision.allowed, offset
    eighth = contacts.check_contact(platform, COLLECTOR,
                                    call(loan_id, 11, at=local(11, day=DAY + timedelta(6))))
    assert eighth.decision.reason is ReasonCode.CALLS_IN_SEVEN_DAYS_CAP
    assert eighth.decision.profile == "us-third-party"
    later = contacts.check_contact(platform, COLLECTOR,
                                   call(loan_id, 11, at=local(11, day=DAY + timedelta(7))))
    assert later.decision.allowed  # the first call has left the seven-day window


def test_bad_commands_name_the_field(platform: Platform) -> None:
    loan_id = booked(platform)
    with pytest.raises(InvalidInput) as caught:
        ContactCommand.parse(channel="pigeon", purpose="collection", loan_id=loan_id)
    assert caught.value.errors[0].field == "channel"
    with pytest.raises(InvalidInput) as caught:
        contacts.check_contact(platform, COLLECTOR, call(loan_id, 10, party=Party.RELATIVE))
    assert caught.value.errors[0].field == "party_ref"
    with pytest.raises(InvalidInput) as caught:
        contacts.check_contact(platform, COLLECTOR, call(loan_id, 10,
                                                         at=datetime(2026, 3, 2, 10)))
    assert caught.value.errors[0].field == "at"
    with pytest.raises(NotFound):
        contacts.check_contact(platform, COLLECTOR, call("NOPE", 10))
    blocked = contacts.check_contact(platform, COLLECTOR, call(loan_id, 23))
    with pytest.raises(InvalidInput) as caught:
        contacts.record_outcome(platform, COLLECTOR, blocked.contact_id, Outcome.CONNECTED)
    assert caught.value.errors[0].field == "contact_id"
    with pytest.raises(NotFound):  # an agency cannot touch another's contact
        allowed = contacts.check_contact(platform, AGENCY, call(loan_id, 10))
        contacts.record_outcome(platform, OTHER_AGENCY, allowed.contact_id, Outcome.CONNECTED)


def test_contacts_over_http(platform: Platform, clock: object) -> None:
    from fastapi.testclient import TestClient

    from tailguard.api.app import create_app
    from tailguard.infra.auth import Role

    loan_id = booked(platform)
    app = create_app(platform)
    client = TestClient(app)
    agency = {"Authorization": "Bearer " + app.state.tokens.issue(
        "agency.li", Role.AGENCY, agency_id="AG-SZ-1")}
    lead = {"Authorization": "Bearer " + app.state.tokens.issue("lead.wu", Role.TEAM_LEAD)}
    late = client.post("/api/v1/contacts/check", headers=agency, json={
        "loan_id": loan_id, "channel": "call", "purpose": "collection",
        "at": "2026-03-02T22:30:00+08:00"})
    assert late.status_code == 200, late.text
    assert (late.json()["decision"], late.json()["reason"]) == ("block", "QUIET_HOURS")
    ok = client.post("/api/v1/contacts/check", headers=agency, json={
        "loan_id": loan_id, "channel": "call", "purpose": "collection",
        "at": "2026-03-02T10:00:00+08:00"}).json()
    assert ok["allowed"]
    done = client.post("/api/v1/contacts", headers=agency,
                       json={"contact_id": ok["contact_id"], "outcome": "connected"})
    assert done.status_code == 201 and done.json()["outcome"] == "connected"
    manual = client.post("/api/v1/contacts", headers=lead, json={
        "loan_id": loan_id, "channel": "call", "purpose": "collection",
        "outcome": "no-answer", "at": "2026-03-02T11:00:00+08:00"})
    assert manual.status_code == 201 and manual.json()["allowed"]
    for body, field in (
        ({"loan_id": loan_id, "channel": "pigeon", "purpose": "collection"}, "channel"),
        ({"loan_id": loan_id, "channel": "call", "purpose": "collection", "x": 1}, "x"),
        ({"loan_id": loan_id, "channel": "call", "purpose": "collection",
          "party": "relative"}, "party_ref"),
    ):
        bad = client.post("/api/v1/contacts/check", headers=agency, json=body)
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == field, bad.text
    incomplete = client.post("/api/v1/contacts", headers=lead, json={"outcome": "connected"})
    assert incomplete.status_code == 422
    assert incomplete.json()["detail"][0]["field"] == "loan_id"
    mine = client.get(f"/api/v1/loans/{loan_id}/contacts", headers=agency).json()["contacts"]
    everyone = client.get(f"/api/v1/loans/{loan_id}/contacts", headers=lead).json()["contacts"]
    assert len(mine) == 2 and len(everyone) == 3  # an agency sees only its own contacts
    assert everyone[-1]["reason"] == "QUIET_HOURS"
    assert client.get("/api/v1/loans/NOPE/contacts", headers=lead).status_code == 404
