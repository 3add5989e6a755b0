"""Jurisdiction profiles of the contact policy, with the numbers and citations of
`shared/reference/collection-conduct.md`, and the debtor's time zone from their region.

A profile is configuration: the lender chooses one (`TAILGUARD_CONTACT_PROFILE`), a loan may be
given another (the `contact_profiles` table). Numbers that the reference gives are marked with
their source; the few house limits the reference does not give (written messages per channel
per day) are marked `house` and can be changed per tenant with `dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tailguard.engagement.vocabulary import Channel, Purpose
from tailguard.errors import InvalidInput

ALL_CHANNELS = frozenset(Channel)
REACHING_CHANNELS = frozenset({Channel.CALL, Channel.SMS, Channel.EMAIL, Channel.WECHAT,
                               Channel.FIELD_VISIT})
"""Channels that reach the person at the moment they are used; a letter or an in-app inbox
message waits until the person looks, so quiet hours do not apply to them."""

CBA_2026 = "China Banking Association collection guide (30 Jan 2026)"
GBT_45251 = "GB/T 45251-2025 and the NIFA guide (auto-finance companies named)"
REG_F = "CFPB Regulation F (12 CFR 1006)"
FDCPA = "FDCPA (15 U.S.C. 1692)"
HOUSE = "house limit (configuration; the reference gives no number)"


@dataclass(frozen=True, slots=True)
class JurisdictionProfile:
    code: str
    name: str
    allowed_from: time
    """Contact is allowed from this local time (inclusive) …"""
    allowed_until: time
    """… until this local time (exclusive), in every time zone the debtor may be in."""
    quiet_hours_channels: frozenset[Channel]
    quiet_hours_consent_applies: bool
    """The debtor may agree to be contacted outside the allowed hours."""
    max_unanswered_per_method_per_day: int | None
    max_connected_calls_per_day: int | None
    max_calls_per_seven_days: int | None
    days_after_conversation: int | None
    """No call on the conversation day and the next N-1 days (the conversation day is day 1)."""
    max_per_channel_per_day: dict[Channel, int]
    third_party_purposes: frozenset[Purpose]
    third_party_needs_unreachable: bool
    unreachable_after_failed_attempts: int
    max_contacts_per_third_party: int | None
    consent_channels: frozenset[Channel]
    """Channels used only after the person consented to them (an address given for the purpose)."""
    allowed_channels: frozenset[Channel]
    dispute_stops_collection: bool
    promise_pauses_collection: bool
    citations: dict[str, str] = field(default_factory=dict)
    """Rule id → the source that gives it; every decision carries the one that decided."""

    def rule(self, name: str) -> str:
        return f"{self.code}/{name}"

    def cite(self, name: str) -> str:
        return self.citations.get(name, HOUSE)


_COMMON_CITATIONS = {
    "do-not-contact": "the debtor's do-not-contact flag (complaint, lawyer, death); "
                      "PIPL consent withdrawal",
    "channel-opt-out": "the person's opt-out from the channel",
    "promise-open": HOUSE,
    "within-rules": "no rule of the profile blocks this contact",
}

CHINA_BANK = JurisdictionProfile(
    code="cn-bank",
    name="China, banks (China Banking Association guide, 30 Jan 2026)",
    allowed_from=time(8, 0),
    allowed_until=time(22, 0),
    quiet_hours_channels=REACHING_CHANNELS,
    quiet_hours_consent_applies=True,
    max_unanswered_per_method_per_day=6,
    max_connected_calls_per_day=None,
    max_calls_per_seven_days=None,
    days_after_conversation=None,
    max_per_channel_per_day={Channel.SMS: 3, Channel.EMAIL: 3, Channel.WECHAT: 3,
                             Channel.FIELD_VISIT: 1},
    third_party_purposes=frozenset({Purpose.LOCATION}),
    third_party_needs_unreachable=True,
    unreachable_after_failed_attempts=3,
    max_contacts_per_third_party=None,
    consent_channels=frozenset({Channel.EMAIL, Channel.WECHAT}),
    allowed_channels=ALL_CHANNELS,
    dispute_stops_collection=False,
    promise_pauses_collection=False,
    citations={
        **_COMMON_CITATIONS,
        "quiet-hours": f"{CBA_2026}: no phone, field visit or other collection 22:00–08:00 "
                       "without the debtor's consent",
        "frequency.unanswered-per-method": f"{CBA_2026}: at most 6 unanswered attempts a day "
                                           "to one contact method",
        "third-party.purpose": f"{CBA_2026}: never disclose the debt to a third party",
        "third-party.unreachable": f"{CBA_2026}: third parties only once the debtor is "
                                   "unreachable (number invalid, or 3 consecutive failed "
                                   "attempts)",
        "third-party.refused": "stop when a contact refuses (GB/T 45251-2025, applied as a floor)",
        "channel-consent": "PIPL (个人信息保护法): a channel used with the person's consent",
    },
)

CHINA_CONSUMER_AUTO = JurisdictionProfile(
    code="cn-consumer-auto",
    name="China, consumer and auto finance (GB/T 45251-2025; NIFA guide)",
    allowed_from=time(8, 0),
    allowed_until=time(22, 0),
    quiet_hours_channels=REACHING_CHANNELS,
    quiet_hours_consent_applies=True,
    max_unanswered_per_method_per_day=None,
    max_connected_calls_per_day=3,
    max_calls_per_seven_days=None,
    days_after_conversation=None,
    max_per_channel_per_day={Channel.SMS: 3, Channel.EMAIL: 3, Channel.WECHAT: 3,
                             Channel.FIELD_VISIT: 1},
    third_party_purposes=frozenset({Purpose.LOCATION}),
    third_party_needs_unreachable=True,
    unreachable_after_failed_attempts=3,
    max_contacts_per_third_party=None,
    consent_channels=frozenset({Channel.EMAIL, Channel.WECHAT}),
    allowed_channels=ALL_CHANNELS,
    dispute_stops_collection=False,
    promise_pauses_collection=False,
    citations={
        **_COMMON_CITATIONS,
        "quiet-hours": f"{GBT_45251}: no collection 22:00–08:00 unless agreed",
        "frequency.connected-calls": f"{GBT_45251}: at most 3 connected voice calls a day per "
                                     "debtor, AI calls included, counted across the lender and "
                                     "all its agencies together",
        "third-party.purpose": f"{GBT_45251}: never disclose the debt to a third party",
        "third-party.unreachable": f"{GBT_45251}: third parties only if the debtor is "
                                   "unreachable, dead or incapacitated (unreachable = number "
                                   "invalid or 3 consecutive failed attempts, the bank guide's "
                                   "definition)",
        "third-party.refused": f"{GBT_45251}: stop when a contact refuses",
        "channel-consent": "PIPL (个人信息保护法): a channel used with the person's consent",
    },
)

US_THIRD_PARTY = JurisdictionProfile(
    code="us-third-party",
    name="United States, third-party collectors (CFPB Regulation F)",
    allowed_from=time(8, 0),
    allowed_until=time(21, 0),
    quiet_hours_channels=REACHING_CHANNELS,
    quiet_hours_consent_applies=True,
    max_unanswered_per_method_per_day=None,
    max_connected_calls_per_day=None,
    max_calls_per_seven_days=7,
    days_after_conversation=7,
    max_per_channel_per_day={Channel.SMS: 3, Channel.EMAIL: 3, Channel.FIELD_VISIT: 1},
    third_party_purposes=frozenset({Purpose.LOCATION}),
    third_party_needs_unreachable=False,
    unreachable_after_failed_attempts=3,
    max_contacts_per_third_party=1,
    consent_channels=frozenset({Channel.EMAIL, Channel.SMS}),
    allowed_channels=ALL_CHANNELS - {Channel.WECHAT},
    dispute_stops_collection=True,
    promise_pauses_collection=False,
    citations={
        **_COMMON_CITATIONS,
        "quiet-hours": f"{REG_F} §1006.6(b)(1)(i): calls, texts, e-mails only 08:00–21:00 "
                       "local time, in every zone the consumer may be in, unless the consumer "
                       "agreed",
        "frequency.seven-in-seven": f"{REG_F} §1006.14(b)(2)(i): at most 7 calls in 7 days "
                                    "per debt",
        "frequency.after-conversation": f"{REG_F} §1006.14(b)(2)(ii): no call within 7 days "
                                        "after a conversation about the debt (the "
                                        "conversation day is day 1)",
        "third-party.purpose": f"{REG_F} §1006.10: location communications only",
        "third-party.repeat": f"{FDCPA} §804(3): a third party is contacted about location "
                              "only once unless they ask",
        "dispute-open": f"{FDCPA} §809(b): collection stops on a timely dispute until the debt "
                        "is verified",
        "channel-consent": f"{REG_F} §1006.6(d)(3)–(4): e-mail and text to an address the "
                           "consumer gave for the purpose",
        "channel-not-allowed": "WeChat is not a channel of this profile",
    },
)

PROFILES: dict[str, JurisdictionProfile] = {
    p.code: p for p in (CHINA_BANK, CHINA_CONSUMER_AUTO, US_THIRD_PARTY)
}
DEFAULT_PROFILE = CHINA_CONSUMER_AUTO.code


def profile(code: str) -> JurisdictionProfile:
    try:
        return PROFILES[code]
    except KeyError:
        raise InvalidInput.one("profile", "unknown",
                               f"unknown contact profile {code!r}; one of "
                               + ", ".join(sorted(PROFILES))) from None


# -- time zones --------------------------------------------------------------------------
CHINA_ZONE = "Asia/Shanghai"
"""All of mainland China keeps Beijing time (UTC+8), Xinjiang and Tibet included officially."""

_US_STATE_ZONES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("CT", "DE", "DC", "GA", "ME", "MD", "MA", "NH", "NJ", "NY", "NC", "OH",
                     "PA", "RI", "SC", "VT", "VA", "WV"), ("America/New_York",)),
    "MI": ("America/Detroit", "America/Menominee"),
    "IN": ("America/Indiana/Indianapolis", "America/Chicago"),
    "KY": ("America/New_York", "America/Chicago"),
    "TN": ("America/Chicago", "America/New_York"),
    "FL": ("America/New_York", "America/Chicago"),
    **dict.fromkeys(("AL", "AR", "IL", "IA", "LA", "MN", "MS", "MO", "OK", "WI"),
                    ("America/Chicago",)),
    "TX": ("America/Chicago", "America/Denver"),
    "KS": ("America/Chicago", "America/Denver"),
    "NE": ("America/Chicago", "America/Denver"),
    "ND": ("America/Chicago", "America/Denver"),
    "SD": ("America/Chicago", "America/Denver"),
    **dict.fromkeys(("CO", "MT", "NM", "UT", "WY"), ("America/Denver",)),
    "ID": ("America/Boise", "America/Los_Angeles"),
    "AZ": ("America/Phoenix",),
    **dict.fromkeys(("CA", "NV", "WA"), ("America/Los_Angeles",)),
    "OR": ("America/Los_Angeles", "America/Boise"),
    "AK": ("America/Anchorage", "America/Adak"),
    "HI": ("Pacific/Honolulu",),
}


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.one("time_zone", "unknown", f"unknown time zone {name!r}") from None


def zones_for_region(region: str | None, default: str = CHINA_ZONE) -> tuple[str, ...]:
    """Every IANA zone the debtor of `region` may be in (the first decides the local day).

    `region` is a GB/T 2260 code (six digits: mainland China), `CN-…`, `US-XX` (a state; a
    state spanning zones gives all of them, as Regulation F asks for the inconvenient-time
    rule), or an IANA zone name such as `Europe/Berlin`; None gives `default`."""
    if region is None or not region.strip():
        return (zone(default).key,)
    text = region.strip()
    if (text.isdigit() and len(text) in (2, 4, 6)) or text.upper().startswith("CN"):
        return (CHINA_ZONE,)
    if text.upper().startswith("US-"):
        zones = _US_STATE_ZONES.get(text[3:].upper())
        if zones is None:
            raise InvalidInput.one("region", "unknown", f"unknown US state {text!r}")
        return zones
    return (zone(text).key,)
