"""The conduct guard: allow or block one outbound contact, with the reason and the rule.

`decide(profile, request, facts)` is a pure function of the jurisdiction profile, the contact
asked for (channel, party, purpose, the moment, the debtor's time zones) and a compact summary
of what happened before (`ContactFacts`: counts and flags the service reads from the contact
log, across the lender and all its agencies). It does no I/O and reads no clock, so a decision
costs microseconds and the same inputs always give the same answer.

The rules run in a fixed order and the first that blocks decides:

1. do-not-contact, channel opt-out, channel not in the profile;
2. third parties (anyone but the debtor and a guarantor): refused before, purpose (location
   only, never disclosing the debt), debtor still reachable, repeated contact;
3. channel consent;
4. an open dispute or promise to pay (collection only, where the profile says so);
5. quiet hours in every zone the debtor may be in, unless the debtor agreed;
6. frequency caps: unanswered attempts per contact method per day, connected calls per day,
   calls in seven days, calls after a conversation, messages per channel per day.

A blocked decision that time alone will lift carries `retry_at` (the next allowed moment), so a
queued reminder waits instead of being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tailguard.engagement.profiles import JurisdictionProfile, zone
from tailguard.engagement.vocabulary import Channel, Party, Purpose, ReasonCode
from tailguard.errors import InvalidInput

_EMPTY: frozenset[Channel] = frozenset()


@dataclass(frozen=True, slots=True)
class ContactRequest:
    channel: Channel
    party: Party
    purpose: Purpose
    at: datetime
    """The moment of the contact, timezone-aware (stored in UTC)."""
    time_zones: tuple[str, ...]
    """IANA zones the debtor may be in; the first one gives the debtor's local day."""
    automated: bool = False
    """An automated (AI) call or a system message; counted like any other."""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidInput.one("at", "naive", "the contact time needs a time zone")
        if not self.time_zones:
            raise InvalidInput.one("time_zones", "required", "at least one time zone")

    def local(self) -> datetime:
        return self.at.astimezone(zone(self.time_zones[0]))


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What the policy needs to know about earlier contacts and standing instructions.

    Counts are over the debtor's local day of the request (and the six days before it for
    the seven-day window), for the person contacted, by the lender and all its agencies."""

    call_attempts_last_7_days: int = 0
    """Calls placed to this person about this debt, the request's local day included."""
    connected_calls_today: int = 0
    """Connected calls today; calls whose outcome is not recorded yet count as connected."""
    unanswered_today_on_method: int = 0
    """Unanswered attempts today to the contact method asked for (one phone number)."""
    messages_today_on_channel: int = 0
    """Contacts today on the channel asked for (messages, letters, visits)."""
    last_conversation_on: date | None = None
    """Debtor-local day of the last connected call with this person about this debt."""
    consecutive_failed_attempts: int = 0
    """The debtor's unanswered attempts since the last connected call (any method)."""
    debtor_number_invalid: bool = False
    debtor_incapacitated: bool = False
    """The debtor is dead or incapacitated (recorded as a standing instruction)."""
    third_party_contacts_before: int = 0
    """Earlier contacts with the third party asked for (same party reference)."""
    do_not_contact: bool = False
    third_party_refused: bool = False
    opted_out: frozenset[Channel] = _EMPTY
    consented: frozenset[Channel] = _EMPTY
    quiet_hours_consent: bool = False
    dispute_open: bool = False
    promise_open_until: date | None = None


@dataclass(frozen=True, slots=True)
class ContactDecision:
    allowed: bool
    reason: ReasonCode
    rule: str
    """`profile/rule`, e.g. `cn-consumer-auto/frequency.connected-calls`."""
    citation: str
    profile: str
    local_time: datetime
    """The request's moment in the debtor's (first) time zone."""
    retry_at: datetime | None = None
    """For a block that time alone lifts: the first moment (UTC) it no longer applies."""

    def to_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed, "decision": "allow" if self.allowed else "block",
            "reason": self.reason.value, "rule": self.rule, "citation": self.citation,
            "profile": self.profile, "local_time": self.local_time.isoformat(),
            "retry_at": None if self.retry_at is None else self.retry_at.isoformat(),
        }


def _within(local: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # a window across midnight


def _next_start(local: datetime, start: time) -> datetime:
    """The next local moment at `start` (today if still ahead, else tomorrow), in UTC."""
    candidate = datetime.combine(local.date(), start, tzinfo=local.tzinfo)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), start,
                                     tzinfo=local.tzinfo)
    return candidate.astimezone(UTC)


def _next_day_start(local: datetime, start: time, days: int = 1) -> datetime:
    return datetime.combine(local.date() + timedelta(days=days), start,
                            tzinfo=local.tzinfo).astimezone(UTC)


def decide(
    profile: JurisdictionProfile, request: ContactRequest, facts: ContactFacts
) -> ContactDecision:
    """Allow or block `request` under `profile` given `facts` (see the module docstring)."""
    local = request.local()
    channel = request.channel
    code = profile.code

    def block(reason: ReasonCode, name: str, retry_at: datetime | None = None
              ) -> ContactDecision:
        return ContactDecision(False, reason, f"{code}/{name}", profile.cite(name), code,
                               local, retry_at)

    # 1. standing instructions and the channel itself
    if facts.do_not_contact:
        return block(ReasonCode.DO_NOT_CONTACT, "do-not-contact")
    if channel in facts.opted_out:
        return block(ReasonCode.CHANNEL_OPTED_OUT, "channel-opt-out")
    if channel not in profile.allowed_channels:
        return block(ReasonCode.CHANNEL_NOT_ALLOWED, "channel-not-allowed")

    # 2. third parties: the debtor's relatives, employer and other contacts
    third_party = not request.party.is_obligor
    if third_party:
        if facts.third_party_refused:
            return block(ReasonCode.THIRD_PARTY_REFUSED, "third-party.refused")
        if request.purpose not in profile.third_party_purposes:
            return block(ReasonCode.THIRD_PARTY_PURPOSE, "third-party.purpose")
        if profile.third_party_needs_unreachable and not (
            facts.debtor_number_invalid or facts.debtor_incapacitated
            or facts.consecutive_failed_attempts >= profile.unreachable_after_failed_attempts
        ):
            return block(ReasonCode.THIRD_PARTY_DEBTOR_REACHABLE, "third-party.unreachable")
        limit = profile.max_contacts_per_third_party
        if limit is not None and facts.third_party_contacts_before >= limit:
            return block(ReasonCode.THIRD_PARTY_REPEATED, "third-party.repeat")

    # 3. consent to the channel
    if channel in profile.consent_channels and channel not in facts.consented:
        return block(ReasonCode.CHANNEL_NOT_CONSENTED, "channel-consent")

    # 4. pauses in collection
    if request.purpose is Purpose.COLLECTION:
        if profile.dispute_stops_collection and facts.dispute_open:
            return block(ReasonCode.DISPUTE_OPEN, "dispute-open")
        until = facts.promise_open_until
        if profile.promise_pauses_collection and until is not None and local.date() <= until:
            return block(ReasonCode.PROMISE_OPEN, "promise-open",
                         _next_day_start(local, profile.allowed_from,
                                         (until - local.date()).days + 1))

    # 5. quiet hours, in every zone the debtor may be in
    if channel in profile.quiet_hours_channels and not (
        facts.quiet_hours_consent and profile.quiet_hours_consent_applies and not third_party
    ):
        for name in request.time_zones:
            there = local if name == request.time_zones[0] else request.at.astimezone(zone(name))
            if not _within(there.time(), profile.allowed_from,
                           profile.allowed_until):
                return block(ReasonCode.QUIET_HOURS, "quiet-hours",
                             _next_start(there, profile.allowed_from))

    # 6. frequency
    if channel is Channel.CALL:
        cap = profile.max_unanswered_per_method_per_day
        if cap is not None and facts.unanswered_today_on_method >= cap:
            return block(ReasonCode.UNANSWERED_ATTEMPTS_CAP, "frequency.unanswered-per-method",
                         _next_day_start(local, profile.allowed_from))
        cap = profile.max_connected_calls_per_day
        if cap is not None and facts.connected_calls_today >= cap:
            return block(ReasonCode.CONNECTED_CALLS_CAP, "frequency.connected-calls",
                         _next_day_start(local, profile.allowed_from))
        gap = profile.days_after_conversation
        last = facts.last_conversation_on
        if gap is not None and last is not None and (local.date() - last).days < gap:
            return block(ReasonCode.AFTER_CONVERSATION, "frequency.after-conversation",
                         _next_day_start(local, profile.allowed_from,
                                         gap - (local.date() - last).days))
        cap = profile.max_calls_per_seven_days
        if cap is not None and facts.call_attempts_last_7_days >= cap:
            return block(ReasonCode.CALLS_IN_SEVEN_DAYS_CAP, "frequency.seven-in-seven")
    else:
        cap = profile.max_per_channel_per_day.get(channel)
        if cap is not None and facts.messages_today_on_channel >= cap:
            return block(ReasonCode.DAILY_CHANNEL_CAP, "frequency.per-channel-day",
                         _next_day_start(local, profile.allowed_from))

    return ContactDecision(True, ReasonCode.WITHIN_RULES, f"{code}/within-rules",
                           profile.cite("within-rules"), code, local)
