"""Compliance checks of collections (issue 8), registered into `registry.REGISTRY` on import.

- `contacts-outside-rules`: contacts that happened although the rules forbid them:
  a contact the conduct guard blocked that nevertheless has an outcome, or a field visit
  recorded after the guard blocked it (`visit-outside-rules` in the case history); an allowed
  contact whose debtor-local time is outside the profile's allowed hours without the debtor's
  consent to be contacted then; and days on which the contacts made exceed the profile's caps
  (per channel a day, unanswered calls to one number a day, conversations a day, calls in
  any seven days). The guard
  refuses all of these when asked; finding one means it was bypassed, its facts were wrong,
  or the log was written some other way.
- `partner-assessment-overdue`: an active partner (agency, repossession or law firm) whose
  yearly assessment is missing or more than 365 days old on the review date; high when it still
  holds cases.

Each reads in a constant number of grouped queries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select

from tailguard.compliance.registry import REGISTRY, CheckContext, Finding, Severity
from tailguard.engagement.profiles import PROFILES, JurisdictionProfile
from tailguard.engagement.vocabulary import Channel, Outcome
from tailguard.infra.db.tables_engagement import contact_log, contact_permissions
from tailguard.infra.db.tables_recovery import (
    recovery_case_events,
    recovery_cases,
    recovery_partners,
)
from tailguard.recovery.partners import ASSESSMENT_VALID_DAYS

CONTACTS_OUTSIDE_RULES = "contacts-outside-rules"
PARTNER_ASSESSMENT_OVERDUE = "partner-assessment-overdue"
MADE = (Outcome.PENDING.value, Outcome.CONNECTED.value, Outcome.NO_ANSWER.value,
        Outcome.INVALID_NUMBER.value, Outcome.REFUSED.value, Outcome.SENT.value,
        Outcome.VISITED.value)
"""Outcomes that mean the contact went ahead (as the guard's own caps count them)."""
UNANSWERED = (Outcome.NO_ANSWER.value, Outcome.INVALID_NUMBER.value)


def _finding(name: str, reference: str, message: str,
             severity: Severity | None = None) -> Finding:
    return REGISTRY.get(name).finding(reference, message, severity)


def _outside_hours(profile: JurisdictionProfile, local_time: str) -> bool:
    try:
        moment = datetime.fromisoformat(local_time).time()
    except ValueError:
        return False
    return not profile.allowed_from <= moment < profile.allowed_until


def _weekly_calls(rows: Sequence[Any]) -> Iterator[Finding]:
    """Calls made in any seven consecutive days above the profile's weekly cap: a sliding
    window over the per-day counts (already grouped by the database)."""
    window: deque[tuple[date, int]] = deque()
    current: tuple[str, str] | None = None
    total = 0
    for borrower, day, code, count in rows:
        rules = PROFILES.get(code)
        cap = None if rules is None else rules.max_calls_per_seven_days
        if cap is None:
            continue
        if (borrower, code) != current:
            current, total = (borrower, code), 0
            window.clear()
        window.append((day, int(count)))
        total += int(count)
        while window and (day - window[0][0]).days >= 7:
            total -= window.popleft()[1]
        if total > cap:
            yield _finding(CONTACTS_OUTSIDE_RULES, f"borrower {borrower} {day}",
                           f"{total} calls in the seven days to {day}, above the cap of {cap} "
                           f"({code})")


@REGISTRY.check(CONTACTS_OUTSIDE_RULES, Severity.HIGH,
                "no contact is made that the contact policy forbids (blocked, quiet hours, "
                "caps)")
def contacts_outside_rules(ctx: CheckContext) -> Iterator[Finding]:
    c = contact_log.c
    up_to = c.local_date <= ctx.as_of
    with ctx.platform.engine.connect() as conn:
        made_anyway = conn.execute(
            select(c.id, c.borrower_id, c.channel, c.local_time, c.reason_code, c.outcome)
            .where(up_to, c.decision == "block", c.outcome.is_not(None),
                   c.outcome != Outcome.NOT_MADE.value).order_by(c.id)).all()
        e = recovery_case_events.c
        visits = conn.execute(
            select(e.id, e.case_id, e.on_date)
            .where(e.kind == "visit-outside-rules", e.on_date <= ctx.as_of)
            .order_by(e.id)).all()
        p = contact_permissions.c
        consenting = select(p.borrower_id).where(
            p.kind == "quiet-hours-consent", p.revoked_at.is_(None))
        timed = conn.execute(
            select(c.id, c.borrower_id, c.channel, c.local_time, c.profile)
            .where(up_to, c.decision == "allow", c.outcome.in_(MADE),
                   c.borrower_id.not_in(consenting))
            .order_by(c.id)).all()
        per_channel = conn.execute(
            select(c.borrower_id, c.local_date, c.channel, c.profile, func.count())
            .where(up_to, c.decision == "allow", c.outcome.in_(MADE))
            .group_by(c.borrower_id, c.local_date, c.channel, c.profile)
            .having(func.count() > 1)).all()
        unanswered = conn.execute(
            select(c.borrower_id, c.local_date, c.contact_method, c.profile, func.count())
            .where(up_to, c.decision == "allow", c.channel == Channel.CALL.value,
                   c.outcome.in_(UNANSWERED))
            .group_by(c.borrower_id, c.local_date, c.contact_method, c.profile)
            .having(func.count() > 1)).all()
        connected = conn.execute(
            select(c.borrower_id, c.local_date, c.profile, func.count())
            .where(up_to, and_(c.decision == "allow", c.channel == Channel.CALL.value,
                               c.outcome == Outcome.CONNECTED.value))
            .group_by(c.borrower_id, c.local_date, c.profile)
            .having(func.count() > 1)).all()
        calls_a_day = conn.execute(
            select(c.borrower_id, c.local_date, c.profile, func.count())
            .where(up_to, c.decision == "allow", c.channel == Channel.CALL.value,
                   c.outcome.in_(MADE))
            .group_by(c.borrower_id, c.local_date, c.profile)
            .order_by(c.borrower_id, c.profile, c.local_date)).all()
    yield from _weekly_calls(calls_a_day)
    for row_id, borrower, channel, local_time, reason, outcome in made_anyway:
        yield _finding(CONTACTS_OUTSIDE_RULES, f"contact {row_id}",
                       f"{channel} to borrower {borrower} at {local_time} was blocked "
                       f"({reason}) but has the outcome {outcome!r}")
    for event_id, case_id, day in visits:
        yield _finding(CONTACTS_OUTSIDE_RULES, f"case event {event_id}",
                       f"a field visit on case {case_id} on {day} went ahead although the "
                       "contact policy blocked it")
    for row_id, borrower, channel, local_time, code in timed:
        rules = PROFILES.get(code)
        if rules is None or Channel(channel) not in rules.quiet_hours_channels:
            continue
        if _outside_hours(rules, local_time):
            yield _finding(CONTACTS_OUTSIDE_RULES, f"contact {row_id}",
                           f"{channel} to borrower {borrower} at {local_time}, outside the "
                           f"allowed hours {rules.allowed_from:%H:%M}-"
                           f"{rules.allowed_until:%H:%M} of {code}")
    for borrower, day, channel, code, count in per_channel:
        rules = PROFILES.get(code)
        cap = None if rules is None else rules.max_per_channel_per_day.get(Channel(channel))
        if cap is not None and count > cap:
            yield _finding(CONTACTS_OUTSIDE_RULES, f"borrower {borrower} {day}",
                           f"{count} {channel} contacts on {day}, above the cap of {cap} "
                           f"({code})")
    for borrower, day, method, code, count in unanswered:
        rules = PROFILES.get(code)
        cap = None if rules is None else rules.max_unanswered_per_method_per_day
        if cap is not None and count > cap:
            yield _finding(CONTACTS_OUTSIDE_RULES, f"borrower {borrower} {day}",
                           f"{count} unanswered calls to {method or 'one number'} on {day}, "
                           f"above the cap of {cap} ({code})")
    for borrower, day, code, count in connected:
        rules = PROFILES.get(code)
        cap = None if rules is None else rules.max_connected_calls_per_day
        if cap is not None and count > cap:
            yield _finding(CONTACTS_OUTSIDE_RULES, f"borrower {borrower} {day}",
                           f"{count} conversations on {day}, above the cap of {cap} ({code})")


@REGISTRY.check(PARTNER_ASSESSMENT_OVERDUE, Severity.MEDIUM,
                "every active partner was assessed within the last year")
def partner_assessment_overdue(ctx: CheckContext) -> Iterator[Finding]:
    pt, c = recovery_partners.c, recovery_cases.c
    with ctx.platform.engine.connect() as conn:
        holding: dict[Any, Any] = dict(conn.execute(
            select(c.agency_id, func.count()).where(c.status == "open",
                                                    c.agency_id.is_not(None))
            .group_by(c.agency_id)).all())
        partners = conn.execute(
            select(pt.id, pt.kind, pt.last_assessed_on).where(pt.active.is_(True))
            .order_by(pt.id)).all()
    for partner_id, kind, assessed in partners:
        if assessed is not None and (ctx.as_of - assessed).days <= ASSESSMENT_VALID_DAYS:
            continue
        cases = int(holding.get(partner_id, 0))
        when = "never assessed" if assessed is None else f"last assessed on {assessed}"
        yield _finding(PARTNER_ASSESSMENT_OVERDUE, f"partner {partner_id}",
                       f"{kind} {partner_id} is {when}; assessments are due at least yearly"
                       + (f", and it holds {cases} open case(s)" if cases else ""),
                       Severity.HIGH if cases else None)
