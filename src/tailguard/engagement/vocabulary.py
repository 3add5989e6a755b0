"""The words of the contact policy: channels, parties, purposes, outcomes and reason codes.

Values are the strings stored in the contact log and accepted over the API, so they never
change once released; add new members instead.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    CALL = "call"  # a voice call, by a person or an automated (AI) dialler
    SMS = "sms"
    EMAIL = "email"
    WECHAT = "wechat"
    IN_APP = "in-app"  # a message in the borrower app's inbox
    LETTER = "letter"  # paper mail
    FIELD_VISIT = "field-visit"  # 外访: a visit to the borrower's home, work place or vehicle

    @property
    def is_message(self) -> bool:
        """A written message sent by a channel adapter (not a call, letter or visit)."""
        return self in (Channel.SMS, Channel.EMAIL, Channel.WECHAT, Channel.IN_APP)


class Party(StrEnum):
    """Who is contacted about the borrower's debt."""

    DEBTOR = "debtor"
    GUARANTOR = "guarantor"  # 担保人: also obliged to pay (see the profiles)
    RELATIVE = "relative"
    EMPLOYER = "employer"
    OTHER_CONTACT = "other-contact"  # an emergency contact (紧急联系人) or anyone else

    @property
    def is_obligor(self) -> bool:
        return self in (Party.DEBTOR, Party.GUARANTOR)


class Purpose(StrEnum):
    SERVICE = "service"  # reminders before a due date, balloon notices, offers, statements
    COLLECTION = "collection"  # asking for an overdue amount
    LOCATION = "location"  # asking a third party how to reach the debtor, nothing else


class Outcome(StrEnum):
    """What happened after an allowed contact; `pending` until someone says."""

    PENDING = "pending"
    CONNECTED = "connected"  # a conversation with the person called (right or wrong party)
    NO_ANSWER = "no-answer"  # rang out, busy, voicemail, hung up before speaking
    INVALID_NUMBER = "invalid-number"  # the number does not exist or is not the debtor's
    REFUSED = "refused"  # the person asked not to be contacted again
    NOT_MADE = "not-made"  # allowed, but the collector did not go ahead
    SENT = "sent"  # a message handed to its channel
    FAILED = "failed"  # a message the channel could not take
    VISITED = "visited"  # a field visit took place

    @property
    def unanswered(self) -> bool:
        return self in (Outcome.NO_ANSWER, Outcome.INVALID_NUMBER)


class ReasonCode(StrEnum):
    """Why the policy allowed or blocked a contact; stored with every decision."""

    WITHIN_RULES = "WITHIN_RULES"
    DO_NOT_CONTACT = "DO_NOT_CONTACT"
    CHANNEL_OPTED_OUT = "CHANNEL_OPTED_OUT"
    CHANNEL_NOT_CONSENTED = "CHANNEL_NOT_CONSENTED"
    CHANNEL_NOT_ALLOWED = "CHANNEL_NOT_ALLOWED"
    THIRD_PARTY_REFUSED = "THIRD_PARTY_REFUSED"
    THIRD_PARTY_PURPOSE = "THIRD_PARTY_PURPOSE"
    THIRD_PARTY_DEBTOR_REACHABLE = "THIRD_PARTY_DEBTOR_REACHABLE"
    THIRD_PARTY_REPEATED = "THIRD_PARTY_REPEATED"
    DISPUTE_OPEN = "DISPUTE_OPEN"
    PROMISE_OPEN = "PROMISE_OPEN"
    QUIET_HOURS = "QUIET_HOURS"
    UNANSWERED_ATTEMPTS_CAP = "UNANSWERED_ATTEMPTS_CAP"
    CONNECTED_CALLS_CAP = "CONNECTED_CALLS_CAP"
    CALLS_IN_SEVEN_DAYS_CAP = "CALLS_IN_SEVEN_DAYS_CAP"
    AFTER_CONVERSATION = "AFTER_CONVERSATION"
    DAILY_CHANNEL_CAP = "DAILY_CHANNEL_CAP"
