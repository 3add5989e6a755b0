"""The conduct guard as a pure function: each rule of collection-conduct.md, per profile, at
its edges (the minute before and after the quiet hours, the cap and one past it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tailguard.engagement.contact_policy import ContactFacts, ContactRequest, decide
from tailguard.engagement.profiles import (
    CHINA_BANK,
    CHINA_CONSUMER_AUTO,
    PROFILES,
    US_THIRD_PARTY,
    profile,
    zones_for_region,
)
from tailguard.engagement.vocabulary import Channel, Party, Purpose, ReasonCode
from tailguard.errors import InvalidInput

SHANGHAI = "Asia/Shanghai"
C, P, U, R = Channel, Purpose, Party, ReasonCode
CN_BANK, CN_AUTO, US = CHINA_BANK, CHINA_CONSUMER_AUTO, US_THIRD_PARTY


def at(day: date, hh: int, mm: int = 0, zone: str = SHANGHAI) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(zone)).astimezone(UTC)


DAY = date(2026, 3, 2)


def request(channel: Channel = C.CALL, *, party: Party = U.DEBTOR,
            purpose: Purpose = P.COLLECTION, hh: int = 10, mm: int = 0,
            zones: tuple[str, ...] = (SHANGHAI,), day: date = DAY) -> ContactRequest:
    return ContactRequest(channel, party, purpose, at(day, hh, mm, zones[0]), zones)


# -- quiet hours ------------------------------------------------------------------------
@pytest.mark.parametrize(("prof", "channel", "hh", "mm", "allowed"), [
    (CN_AUTO, C.CALL, 22, 30, False),  # the acceptance case
    (CN_AUTO, C.CALL, 21, 59, True),
    (CN_AUTO, C.CALL, 22, 0, False),
    (CN_AUTO, C.CALL, 7, 59, False),
    (CN_AUTO, C.CALL, 8, 0, True),
    (CN_AUTO, C.CALL, 0, 30, False),
    (CN_AUTO, C.SMS, 23, 0, False),
    (CN_AUTO, C.FIELD_VISIT, 6, 0, False),
    (CN_AUTO, C.LETTER, 23, 0, True),  # a letter does not reach anyone at night
    (CN_AUTO, C.IN_APP, 23, 0, True),
    (CN_BANK, C.CALL, 22, 30, False),
    (CN_BANK, C.FIELD_VISIT, 21, 30, True),
    (CN_BANK, C.FIELD_VISIT, 22, 15, False),
    (US, C.CALL, 20, 59, True),
    (US, C.CALL, 21, 0, False),
    (US, C.SMS, 21, 30, False),
    (US, C.CALL, 7, 59, False),
    (US, C.CALL, 8, 0, True),
])
def test_quiet_hours_in_the_debtors_local_time(
    prof: object, channel: Channel, hh: int, mm: int, allowed: bool
) -> None:
    facts = ContactFacts(consented=frozenset(Channel))
    decision = decide(prof, request(channel, hh=hh, mm=mm), facts)  # type: ignore[arg-type]
    assert decision.allowed is allowed, decision
    if not allowed:
        assert decision.reason is R.QUIET_HOURS
        assert decision.rule.endswith("/quiet-hours")
        assert "22:00" in decision.citation or "21:00" in decision.citation
        assert decision.retry_at is not None
        local_retry = decision.retry_at.astimezone(ZoneInfo(SHANGHAI))
        assert local_retry.time() == time(8, 0) and local_retry > decision.local_time


def test_the_local_time_is_the_debtors_not_the_collectors() -> None:
    # 10:30 in Shanghai is 22:30 in New York: blocked for a New York debtor, allowed in Shanghai
    moment = at(DAY, 10, 30)
    facts = ContactFacts(consented=frozenset(Channel))
    for zones, allowed in (((SHANGHAI,), True), (("America/New_York",), False)):
        decision = decide(US, ContactRequest(C.CALL, U.DEBTOR, P.COLLECTION, moment, zones),
                          facts)
        assert decision.allowed is allowed
        assert decision.local_time.tzinfo == ZoneInfo(zones[0])


def test_a_debtor_who_may_be_in_several_zones_is_called_only_when_all_are_awake() -> None:
    zones = zones_for_region("US-TX")  # Central and Mountain time
    assert zones == ("America/Chicago", "America/Denver")
    moment = datetime(2026, 3, 2, 8, 30, tzinfo=ZoneInfo("America/Chicago"))  # 07:30 Denver
    decision = decide(US, ContactRequest(C.CALL, U.DEBTOR, P.COLLECTION, moment, zones),
                      ContactFacts())
    assert decision.reason is R.QUIET_HOURS
    assert decision.retry_at == datetime(2026, 3, 2, 8, 0,
                                         tzinfo=ZoneInfo("America/Denver")).astimezone(UTC)


@pytest.mark.parametrize(("party", "allowed"), [(U.DEBTOR, True), (U.RELATIVE, False)])
def test_quiet_hours_consent_is_the_debtors_own(party: Party, allowed: bool) -> None:
    facts = ContactFacts(quiet_hours_consent=True, consecutive_failed_attempts=3)
    decision = decide(CN_AUTO, request(party=party, purpose=P.LOCATION, hh=22, mm=30), facts)
    assert decision.allowed is allowed


# -- frequency ----------------------------------------------------------------------------
@pytest.mark.parametrize(("prof", "facts", "allowed", "reason"), [
    # China consumer and auto finance: 3 connected calls a day across lender and agencies
    (CN_AUTO, ContactFacts(connected_calls_today=2), True, R.WITHIN_RULES),
    (CN_AUTO, ContactFacts(connected_calls_today=3), False, R.CONNECTED_CALLS_CAP),
    (CN_AUTO, ContactFacts(unanswered_today_on_method=10), True, R.WITHIN_RULES),
    # China banks: 6 unanswered attempts a day to one contact method
    (CN_BANK, ContactFacts(unanswered_today_on_method=5), True, R.WITHIN_RULES),
    (CN_BANK, ContactFacts(unanswered_today_on_method=6), False, R.UNANSWERED_ATTEMPTS_CAP),
    (CN_BANK, ContactFacts(connected_calls_today=5), True, R.WITHIN_RULES),
    # US Regulation F: 7 calls in 7 days per debt; none within 7 days after a conversation
    (US, ContactFacts(call_attempts_last_7_days=6), True, R.WITHIN_RULES),
    (US, ContactFacts(call_attempts_last_7_days=7), False, R.CALLS_IN_SEVEN_DAYS_CAP),
    (US, ContactFacts(last_conversation_on=DAY), False, R.AFTER_CONVERSATION),
    (US, ContactFacts(last_conversation_on=DAY - timedelta(days=6)), False,
     R.AFTER_CONVERSATION),
    (US, ContactFacts(last_conversation_on=DAY - timedelta(days=7)), True, R.WITHIN_RULES),
])
def test_call_frequency_caps(prof: object, facts: ContactFacts, allowed: bool,
                             reason: ReasonCode) -> None:
    decision = decide(prof, request(C.CALL), facts)  # type: ignore[arg-type]
    assert (decision.allowed, decision.reason) == (allowed, reason)
    assert decision.profile == prof.code  # type: ignore[attr-defined]


def test_a_fourth_connected_call_waits_for_tomorrow_morning() -> None:
    decision = decide(CN_AUTO, request(C.CALL, hh=15), ContactFacts(connected_calls_today=3))
    assert decision.rule == "cn-consumer-auto/frequency.connected-calls"
    assert "3 connected voice calls" in decision.citation
    assert decision.retry_at == at(DAY + timedelta(days=1), 8)


def test_after_a_conversation_the_us_profile_waits_until_day_eight() -> None:
    decision = decide(US, request(C.CALL), ContactFacts(last_conversation_on=DAY))
    assert decision.retry_at == at(DAY + timedelta(days=7), 8)


@pytest.mark.parametrize(("channel", "count", "allowed"), [
    (C.SMS, 2, True), (C.SMS, 3, False), (C.EMAIL, 3, False), (C.FIELD_VISIT, 1, False),
    (C.FIELD_VISIT, 0, True), (C.IN_APP, 50, True), (C.LETTER, 5, True),
])
def test_written_messages_and_visits_per_channel_per_day(
    channel: Channel, count: int, allowed: bool
) -> None:
    facts = ContactFacts(messages_today_on_channel=count, consented=frozenset(Channel))
    decision = decide(CN_AUTO, request(channel), facts)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason is R.DAILY_CHANNEL_CAP


def test_message_caps_do_not_count_calls() -> None:
    assert decide(CN_AUTO, request(C.CALL), ContactFacts(messages_today_on_channel=99)).allowed


# -- third parties -------------------------------------------------------------------------
REACHABLE = ContactFacts()
UNREACHABLE = ContactFacts(consecutive_failed_attempts=3)


@pytest.mark.parametrize(("prof", "party", "purpose", "facts", "allowed", "reason"), [
    # China: only when the debtor is unreachable, only to locate, never disclosing the debt
    (CN_AUTO, U.RELATIVE, P.LOCATION, REACHABLE, False, R.THIRD_PARTY_DEBTOR_REACHABLE),
    (CN_AUTO, U.RELATIVE, P.LOCATION, ContactFacts(consecutive_failed_attempts=2), False,
     R.THIRD_PARTY_DEBTOR_REACHABLE),
    (CN_AUTO, U.RELATIVE, P.LOCATION, UNREACHABLE, True, R.WITHIN_RULES),
    (CN_AUTO, U.EMPLOYER, P.LOCATION, ContactFacts(debtor_number_invalid=True), True,
     R.WITHIN_RULES),
    (CN_AUTO, U.OTHER_CONTACT, P.LOCATION, ContactFacts(debtor_incapacitated=True), True,
     R.WITHIN_RULES),
    (CN_AUTO, U.RELATIVE, P.COLLECTION, UNREACHABLE, False, R.THIRD_PARTY_PURPOSE),
    (CN_AUTO, U.EMPLOYER, P.SERVICE, UNREACHABLE, False, R.THIRD_PARTY_PURPOSE),
    (CN_AUTO, U.RELATIVE, P.LOCATION,
     ContactFacts(consecutive_failed_attempts=3, third_party_refused=True), False,
     R.THIRD_PARTY_REFUSED),
    (CN_BANK, U.RELATIVE, P.LOCATION, REACHABLE, False, R.THIRD_PARTY_DEBTOR_REACHABLE),
    (CN_BANK, U.RELATIVE, P.LOCATION, UNREACHABLE, True, R.WITHIN_RULES),
    (CN_BANK, U.RELATIVE, P.COLLECTION, UNREACHABLE, False, R.THIRD_PARTY_PURPOSE),
    # a guarantor owes the debt too: contacted like the debtor
    (CN_AUTO, U.GUARANTOR, P.COLLECTION, REACHABLE, True, R.WITHIN_RULES),
    (CN_BANK, U.GUARANTOR, P.COLLECTION, REACHABLE, True, R.WITHIN_RULES),
    # US: location communications only, once per third party
    (US, U.RELATIVE, P.LOCATION, REACHABLE, True, R.WITHIN_RULES),
    (US, U.RELATIVE, P.COLLECTION, REACHABLE, False, R.THIRD_PARTY_PURPOSE),
    (US, U.EMPLOYER, P.LOCATION, ContactFacts(third_party_contacts_before=1), False,
     R.THIRD_PARTY_REPEATED),
])
def test_third_party_rules(prof: object, party: Party, purpose: Purpose, facts: ContactFacts,
                           allowed: bool, reason: ReasonCode) -> None:
    decision = decide(prof, request(C.CALL, party=party, purpose=purpose),  # type: ignore[arg-type]
                      facts)
    assert (decision.allowed, decision.reason) == (allowed, reason), decision


# -- opt-outs, do-not-contact, consent, disputes ---------------------------------------------
@pytest.mark.parametrize(("prof", "channel", "facts", "allowed", "reason"), [
    (CN_AUTO, C.SMS, ContactFacts(opted_out=frozenset({C.SMS})), False, R.CHANNEL_OPTED_OUT),
    (CN_AUTO, C.CALL, ContactFacts(opted_out=frozenset({C.SMS})), True, R.WITHIN_RULES),
    (CN_AUTO, C.LETTER, ContactFacts(do_not_contact=True), False, R.DO_NOT_CONTACT),
    (CN_AUTO, C.IN_APP, ContactFacts(do_not_contact=True), False, R.DO_NOT_CONTACT),
    (US, C.CALL, ContactFacts(do_not_contact=True), False, R.DO_NOT_CONTACT),
    (CN_AUTO, C.EMAIL, ContactFacts(), False, R.CHANNEL_NOT_CONSENTED),
    (CN_AUTO, C.EMAIL, ContactFacts(consented=frozenset({C.EMAIL})), True, R.WITHIN_RULES),
    (CN_AUTO, C.WECHAT, ContactFacts(consented=frozenset({C.EMAIL})), False,
     R.CHANNEL_NOT_CONSENTED),
    (CN_AUTO, C.SMS, ContactFacts(), True, R.WITHIN_RULES),
    (US, C.SMS, ContactFacts(), False, R.CHANNEL_NOT_CONSENTED),
    (US, C.WECHAT, ContactFacts(consented=frozenset(Channel)), False, R.CHANNEL_NOT_ALLOWED),
    (US, C.CALL, ContactFacts(dispute_open=True), False, R.DISPUTE_OPEN),
    (CN_AUTO, C.CALL, ContactFacts(dispute_open=True), True, R.WITHIN_RULES),
    # opting out wins over consent; do-not-contact wins over everything
    (CN_AUTO, C.EMAIL, ContactFacts(consented=frozenset({C.EMAIL}),
                                    opted_out=frozenset({C.EMAIL})), False,
     R.CHANNEL_OPTED_OUT),
    (CN_AUTO, C.CALL, ContactFacts(do_not_contact=True, connected_calls_today=9), False,
     R.DO_NOT_CONTACT),
])
def test_standing_instructions(prof: object, channel: Channel, facts: ContactFacts,
                               allowed: bool, reason: ReasonCode) -> None:
    decision = decide(prof, request(channel), facts)  # type: ignore[arg-type]
    assert (decision.allowed, decision.reason) == (allowed, reason), decision
    assert decision.retry_at is None


def test_a_dispute_stops_collection_not_service_messages() -> None:
    facts = ContactFacts(dispute_open=True, consented=frozenset(Channel))
    assert not decide(US, request(C.EMAIL), facts).allowed
    assert decide(US, request(C.EMAIL, purpose=P.SERVICE), facts).allowed


def test_a_promise_to_pay_pauses_collection_where_the_tenant_says_so() -> None:
    paused = replace(CN_AUTO, promise_pauses_collection=True)
    facts = ContactFacts(promise_open_until=DAY + timedelta(days=2))
    assert decide(CN_AUTO, request(), facts).allowed
    decision = decide(paused, request(), facts)
    assert decision.reason is R.PROMISE_OPEN
    assert decision.retry_at == at(DAY + timedelta(days=3), 8)
    assert decide(paused, request(day=DAY + timedelta(days=3)), facts).allowed


def test_every_decision_names_its_profile_rule_and_a_citation() -> None:
    for prof in PROFILES.values():
        for channel in Channel:
            for facts in (ContactFacts(), ContactFacts(do_not_contact=True)):
                decision = decide(prof, request(channel, hh=23), facts)
                assert decision.rule.startswith(prof.code + "/")
                assert decision.citation and decision.profile == prof.code
                assert decision.to_dict()["decision"] in ("allow", "block")


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        ContactRequest(C.CALL, U.DEBTOR, P.COLLECTION, datetime(2026, 3, 2, 10), (SHANGHAI,))
    assert caught.value.errors[0].field == "at"
    with pytest.raises(InvalidInput) as caught:
        profile("cn-somewhere")
    assert caught.value.errors[0].field == "profile"
    with pytest.raises(InvalidInput) as caught:
        zones_for_region("Mars/Olympus_Mons")
    assert caught.value.errors[0].field == "time_zone"


@pytest.mark.parametrize(("region", "zones"), [
    ("440305", (SHANGHAI,)), ("650102", (SHANGHAI,)), (None, (SHANGHAI,)),
    ("US-CA", ("America/Los_Angeles",)), ("Europe/Berlin", ("Europe/Berlin",)),
])
def test_time_zone_from_the_borrowers_region(region: str | None,
                                             zones: tuple[str, ...]) -> None:
    assert zones_for_region(region) == zones
