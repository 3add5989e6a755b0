"""Contact use cases: check a contact against the conduct guard, record its outcome, and keep
the standing instructions (opt-outs, consents, do-not-contact) and contact settings.

`check_contact` is one unit of work: it locks the borrower (so two collectors, or a collector
and the reminder dispatcher, cannot both take the last call of the day), reads the compact
history the policy needs from `contact_log` across every actor, the lender's staff and every
agency alike, lets `engagement.contact_policy.decide` rule, and writes the decision (allowed or
blocked, with reason, rule and profile) with an audit row and an outbox event, committing once.
An allowed contact is logged as `pending` until its outcome is recorded; pending calls count as
connected and as unanswered for the caps, so an unrecorded outcome can only make the guard
stricter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, select, true, update

from tailguard.engagement.contact_policy import (
    ContactDecision,
    ContactFacts,
    ContactRequest,
    decide,
)
from tailguard.engagement.profiles import JurisdictionProfile, profile, zone, zones_for_region
from tailguard.engagement.vocabulary import Channel, Outcome, Party, Purpose
from tailguard.errors import FieldError, InvalidInput, NotFound
from tailguard.infra.crypto import FieldCipher
from tailguard.infra.db import tables
from tailguard.infra.db.engine import is_sqlite
from tailguard.infra.db.tables_engagement import (
    contact_log,
    contact_permissions,
    contact_profiles,
    contact_settings,
)
from tailguard.infra.db.tables_recovery import recovery_cases, recovery_promises
from tailguard.infra.db.uow import UnitOfWork
from tailguard.services.platform import Platform

PERMISSION_KINDS = ("opt-out", "consent", "do-not-contact", "quiet-hours-consent", "refused",
                    "dispute", "incapacitated")
"""Standing instructions: an opt-out or consent is per channel (or all channels), per person;
do-not-contact, dispute and incapacitated are about the debtor; `refused` is a third party
who asked not to be contacted again."""
LANGUAGES = ("zh", "en")
_COUNTED = (Outcome.PENDING.value, Outcome.CONNECTED.value, Outcome.NO_ANSWER.value,
            Outcome.INVALID_NUMBER.value, Outcome.REFUSED.value, Outcome.SENT.value,
            Outcome.VISITED.value)
"""Outcomes of allowed contacts that count as made: not `not-made`, nor a message the channel
could not take (`failed`: it reached nobody)."""


@dataclass(frozen=True)
class Actor:
    """Who asks: a user (staff or an agency's) or the system; agency users carry their agency."""

    name: str
    role: str
    agency_id: str | None = None


SYSTEM = Actor("system", "system")


@dataclass(frozen=True)
class ContactCommand:
    channel: Channel
    purpose: Purpose
    party: Party = Party.DEBTOR
    loan_id: str | None = None
    borrower_id: str | None = None
    party_ref: str | None = None
    """Which third party (or guarantor): a contact's id as the caller knows it."""
    contact_method: str | None = None
    """Which number or address of the person (e.g. `mobile-1`); caps per method count by it."""
    automated: bool = False
    at: datetime | None = None
    """When the contact happens; None means now (the platform's clock)."""
    message_id: int | None = None

    @classmethod
    def parse(cls, **fields: Any) -> ContactCommand:
        """From plain strings (the CLI, a JSON body), naming any field that is wrong."""
        errors: list[FieldError] = []
        values: dict[str, Any] = dict(fields)
        kinds: tuple[tuple[str, type[StrEnum]], ...] = (
            ("channel", Channel), ("purpose", Purpose), ("party", Party))
        for name, kind in kinds:
            raw = fields.get(name)
            if raw is None and name == "party":
                continue
            try:
                values[name] = kind(str(raw))
            except ValueError:
                errors.append(FieldError(name, "invalid",
                                         f"one of {', '.join(m.value for m in kind)}"))
        if errors:
            raise InvalidInput(errors)
        return cls(**values)


@dataclass(frozen=True)
class ContactResult:
    contact_id: int
    borrower_id: str
    loan_id: str | None
    decision: ContactDecision

    def to_dict(self) -> dict[str, Any]:
        return {"contact_id": self.contact_id, "borrower_id": self.borrower_id,
                "loan_id": self.loan_id, **self.decision.to_dict()}


# -- reading the context of a contact -----------------------------------------------------
@dataclass(frozen=True)
class _Subject:
    borrower_id: str
    loan_id: str | None
    profile: JurisdictionProfile
    zones: tuple[str, ...]


def _subject(conn: Connection, platform: Platform, command: ContactCommand,
             lock: bool) -> _Subject:
    borrower_id = command.borrower_id
    loan_region = None
    loan_profile = None
    if command.loan_id is not None:
        row = conn.execute(
            select(tables.loans.c.borrower_id, tables.loans.c.region_code,
                   contact_profiles.c.profile)
            .select_from(tables.loans.outerjoin(
                contact_profiles, contact_profiles.c.loan_id == tables.loans.c.id))
            .where(tables.loans.c.id == command.loan_id)
        ).first()
        if row is None:
            raise NotFound(f"loan {command.loan_id} does not exist")
        if borrower_id is not None and borrower_id != row.borrower_id:
            raise InvalidInput.one("borrower_id", "mismatch",
                                   f"loan {command.loan_id} is not this borrower's")
        borrower_id, loan_region, loan_profile = row.borrower_id, row.region_code, row.profile
    if borrower_id is None:
        raise InvalidInput.one("loan_id", "required", "name the loan or the borrower")
    query = (select(tables.parties.c.residence_region_code, tables.parties.c.id_region_code,
                    contact_settings.c.time_zone)
             .select_from(tables.parties.outerjoin(
                 contact_settings, contact_settings.c.borrower_id == tables.parties.c.id))
             .where(tables.parties.c.id == borrower_id))
    if lock and not is_sqlite(platform.engine):  # SQLite writers are serialised already
        query = query.with_for_update(of=tables.parties)
    party = conn.execute(query).first()
    if party is None:
        raise NotFound(f"borrower {borrower_id} does not exist")
    region = party.residence_region_code or party.id_region_code or loan_region
    zones = zones_for_region(region, platform.settings.timezone)
    if party.time_zone:  # where the debtor actually is comes first
        zones = (party.time_zone, *(z for z in zones if z != party.time_zone))
    chosen = profile(loan_profile or platform.settings.contact_profile)
    return _Subject(borrower_id, command.loan_id, chosen, zones)


def _person(command: ContactCommand) -> Any:
    condition = contact_log.c.party == command.party.value
    if command.party is not Party.DEBTOR:
        condition = and_(condition, contact_log.c.party_ref == command.party_ref)
    return condition


def _facts(conn: Connection, subject: _Subject, command: ContactCommand,
           request: ContactRequest) -> ContactFacts:
    today = request.local().date()
    week_start = today - timedelta(days=6)
    c = contact_log.c
    person = _person(command)
    call = c.channel == Channel.CALL.value
    on_day = c.local_date == today
    this_debt = c.loan_id == subject.loan_id if subject.loan_id is not None else true()
    method = (c.contact_method == command.contact_method if command.contact_method is not None
              else c.contact_method.is_(None))

    def count(*conditions: Any) -> Any:
        return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

    recent = conn.execute(
        select(
            count(call, this_debt),
            count(call, on_day, c.outcome.in_((Outcome.CONNECTED.value,
                                               Outcome.PENDING.value))),
            count(call, on_day, method, c.outcome.in_((Outcome.NO_ANSWER.value,
                                                       Outcome.INVALID_NUMBER.value,
                                                       Outcome.PENDING.value))),
            count(c.channel == command.channel.value, on_day),
            func.max(case((and_(call, this_debt, c.outcome == Outcome.CONNECTED.value),
                           c.local_date), else_=None)),
        ).where(c.borrower_id == subject.borrower_id, c.decision == "allow",
                c.outcome.in_(_COUNTED), c.local_date >= week_start, c.local_date <= today,
                person)
    ).one()

    permissions = conn.execute(
        select(contact_permissions.c.kind, contact_permissions.c.channel,
               contact_permissions.c.party, contact_permissions.c.party_ref)
        .where(contact_permissions.c.borrower_id == subject.borrower_id,
               contact_permissions.c.revoked_at.is_(None))
    ).all()
    do_not_contact = refused = dispute = incapacitated = quiet_consent = False
    opted_out: set[Channel] = set()
    consented: set[Channel] = set()
    for kind, channel, party, party_ref in permissions:
        about_debtor = party == Party.DEBTOR.value
        this_person = party == command.party.value and (
            command.party is Party.DEBTOR or party_ref == command.party_ref)
        channels = set(Channel) if channel is None else {Channel(channel)}
        if kind == "do-not-contact" and (about_debtor or this_person):
            do_not_contact = True
        elif kind == "dispute" and about_debtor:
            dispute = True
        elif kind == "incapacitated" and about_debtor:
            incapacitated = True
        elif kind == "refused" and this_person:
            refused = True
        elif kind == "opt-out" and this_person:
            opted_out |= channels
        elif kind == "consent" and this_person:
            consented |= channels
        elif kind == "quiet-hours-consent" and this_person:
            quiet_consent = True

    failed = invalid = third_before = 0
    if not command.party.is_obligor:
        debtor_calls = and_(c.borrower_id == subject.borrower_id,
                            c.party == Party.DEBTOR.value, call, c.decision == "allow")
        last_connected = (select(func.max(c.requested_at))
                          .where(debtor_calls, c.outcome == Outcome.CONNECTED.value)
                          .scalar_subquery())
        since = conn.execute(
            select(count(c.outcome.in_((Outcome.NO_ANSWER.value,
                                        Outcome.INVALID_NUMBER.value))),
                   count(c.outcome == Outcome.INVALID_NUMBER.value))
            .where(debtor_calls, c.requested_at > func.coalesce(
                last_connected, datetime(1970, 1, 1, tzinfo=UTC)))
        ).one()
        failed, invalid = int(since[0]), int(since[1])
        third_before = int(conn.execute(
            select(func.count()).select_from(contact_log)
            .where(c.borrower_id == subject.borrower_id, c.decision == "allow",
                   c.outcome.in_(_COUNTED), person)
        ).scalar_one())

    # An open promise to pay on the borrower's case: a profile may pause collection contacts
    # until its due day (`promise_pauses_collection`); judged promises no longer count.
    promise_open_until = conn.execute(
        select(func.max(recovery_promises.c.due_on))
        .select_from(recovery_promises.join(
            recovery_cases, recovery_cases.c.id == recovery_promises.c.case_id))
        .where(recovery_cases.c.borrower_id == subject.borrower_id,
               recovery_promises.c.status == "open", recovery_promises.c.due_on >= today)
    ).scalar_one_or_none()

    return ContactFacts(
        call_attempts_last_7_days=int(recent[0]),
        connected_calls_today=int(recent[1]),
        unanswered_today_on_method=int(recent[2]),
        messages_today_on_channel=int(recent[3]),
        last_conversation_on=recent[4],
        consecutive_failed_attempts=failed,
        debtor_number_invalid=invalid > 0,
        debtor_incapacitated=incapacitated,
        third_party_contacts_before=third_before,
        do_not_contact=do_not_contact,
        third_party_refused=refused,
        opted_out=frozenset(opted_out),
        consented=frozenset(consented),
        quiet_hours_consent=quiet_consent,
        dispute_open=dispute,
        promise_open_until=promise_open_until,
    )


def _validate(command: ContactCommand) -> None:
    if command.at is not None and command.at.utcoffset() is None:
        raise InvalidInput.one("at", "naive", "the contact time needs a time zone")
    if command.party is not Party.DEBTOR and not command.party_ref:
        raise InvalidInput.one("party_ref", "required",
                               "name the third party (or guarantor) contacted")
    if command.party_ref is not None and len(command.party_ref) > 80:
        raise InvalidInput.one("party_ref", "too_long", "at most 80 characters")
    if command.contact_method is not None and len(command.contact_method) > 80:
        raise InvalidInput.one("contact_method", "too_long", "at most 80 characters")


def decide_in(uow: UnitOfWork, platform: Platform, actor: Actor, command: ContactCommand,
              outcome: Outcome | None = None, note: str | None = None) -> ContactResult:
    """Check and log one contact inside the caller's unit of work (the caller commits).

    `outcome` is for a contact recorded after the fact or a message sent at once: an allowed
    contact gets it instead of `pending`."""
    _validate(command)
    conn = uow.connection
    subject = _subject(conn, platform, command, lock=True)
    at = (command.at or uow.clock.now()).astimezone(UTC)
    request = ContactRequest(command.channel, command.party, command.purpose, at,
                             subject.zones, command.automated)
    decision = decide(subject.profile, request, _facts(conn, subject, command, request))
    now = uow.clock.now()
    row_outcome = (outcome or Outcome.PENDING).value if decision.allowed else None
    contact_id = int(conn.execute(insert(contact_log).values(
        borrower_id=subject.borrower_id, loan_id=subject.loan_id,
        channel=command.channel.value, party=command.party.value,
        party_ref=command.party_ref, contact_method=command.contact_method,
        purpose=command.purpose.value, automated=command.automated,
        actor=actor.name, actor_role=actor.role, agency_id=actor.agency_id,
        requested_at=at, local_time=decision.local_time.isoformat(),
        local_date=decision.local_time.date(), time_zone=subject.zones[0],
        decision="allow" if decision.allowed else "block",
        reason_code=decision.reason.value, rule=decision.rule, profile=decision.profile,
        retry_at=decision.retry_at, outcome=row_outcome,
        outcome_at=now if outcome is not None and decision.allowed else None,
        note=note, message_id=command.message_id, recorded_at=now,
    ).returning(contact_log.c.id)).scalar_one())
    detail = {"channel": command.channel.value, "party": command.party.value,
              "purpose": command.purpose.value, "reason": decision.reason.value,
              "rule": decision.rule, "local_time": decision.local_time.isoformat(),
              "agency_id": actor.agency_id, "loan_id": subject.loan_id}
    verb = "allow" if decision.allowed else "block"
    uow.audit(f"contact.{verb}", "contact", str(contact_id), detail)
    uow.emit("ContactAllowed" if decision.allowed else "ContactBlocked", subject.borrower_id,
             {"contact_id": contact_id, "borrower_id": subject.borrower_id, **detail},
             decision.local_time.date())
    if outcome is not None and decision.allowed:
        _after_outcome(uow, actor, command, subject.borrower_id, outcome)
    return ContactResult(contact_id, subject.borrower_id, subject.loan_id, decision)


def check_contact(platform: Platform, actor: Actor, command: ContactCommand) -> ContactResult:
    """Decide a contact about to be made and log the decision (pending if allowed)."""
    with platform.uow(actor.name) as uow:
        result = decide_in(uow, platform, actor, command)
        uow.commit()
    return result


def record_contact(platform: Platform, actor: Actor, command: ContactCommand,
                   outcome: Outcome, note: str | None = None) -> ContactResult:
    """A contact decided and its outcome recorded in one step (e.g. a collector's manual
    call entered right after it). A blocked contact is logged as blocked, without outcome."""
    if outcome is Outcome.PENDING:
        raise InvalidInput.one("outcome", "invalid", "record what happened, not `pending`")
    with platform.uow(actor.name) as uow:
        result = decide_in(uow, platform, actor, command, outcome, note)
        uow.commit()
    return result


def _after_outcome(uow: UnitOfWork, actor: Actor, command: ContactCommand, borrower_id: str,
                   outcome: Outcome) -> None:
    if outcome is Outcome.REFUSED and not command.party.is_obligor:
        _insert_permission(uow, actor, borrower_id, "refused", None, command.party,
                           command.party_ref, "the contact refused further contact")


def record_outcome(platform: Platform, actor: Actor, contact_id: int, outcome: Outcome,
                   note: str | None = None) -> dict[str, Any]:
    """The outcome of an allowed, pending contact (connected, no answer, …)."""
    if outcome is Outcome.PENDING:
        raise InvalidInput.one("outcome", "invalid", "record what happened, not `pending`")
    with platform.uow(actor.name) as uow:
        row = uow.connection.execute(
            select(contact_log).where(contact_log.c.id == contact_id)).mappings().first()
        if row is None or (actor.agency_id is not None and row["agency_id"] != actor.agency_id):
            raise NotFound(f"contact {contact_id} does not exist")
        if row["decision"] != "allow":
            raise InvalidInput.one("contact_id", "blocked",
                                   "this contact was blocked; it has no outcome")
        if row["outcome"] != Outcome.PENDING.value:
            raise InvalidInput.one("contact_id", "recorded",
                                   f"the outcome is already recorded ({row['outcome']})")
        uow.connection.execute(update(contact_log).where(contact_log.c.id == contact_id)
                               .values(outcome=outcome.value, outcome_at=uow.clock.now(),
                                       note=note))
        command = ContactCommand(Channel(row["channel"]), Purpose(row["purpose"]),
                                 Party(row["party"]), party_ref=row["party_ref"])
        _after_outcome(uow, actor, command, row["borrower_id"], outcome)
        uow.audit("contact.outcome", "contact", str(contact_id), {"outcome": outcome.value})
        uow.emit("ContactOutcomeRecorded", row["borrower_id"],
                 {"contact_id": contact_id, "outcome": outcome.value})
        uow.commit()
    return {"contact_id": contact_id, "outcome": outcome.value}


# -- standing instructions and settings ----------------------------------------------------
def _insert_permission(uow: UnitOfWork, actor: Actor, borrower_id: str, kind: str,
                       channel: Channel | None, party: Party, party_ref: str | None,
                       reason: str | None) -> int:
    return int(uow.connection.execute(insert(contact_permissions).values(
        borrower_id=borrower_id, party=party.value, party_ref=party_ref, kind=kind,
        channel=None if channel is None else channel.value, reason=reason, actor=actor.name,
        recorded_at=uow.clock.now(), revoked_at=None,
    ).returning(contact_permissions.c.id)).scalar_one())


def set_permission(platform: Platform, actor: Actor, borrower_id: str, kind: str, *,
                   channel: Channel | None = None, party: Party = Party.DEBTOR,
                   party_ref: str | None = None, reason: str | None = None) -> int:
    """Record an opt-out, consent, do-not-contact, refusal, dispute or incapacity."""
    if kind not in PERMISSION_KINDS:
        raise InvalidInput.one("kind", "invalid", f"one of {', '.join(PERMISSION_KINDS)}")
    if party is not Party.DEBTOR and not party_ref:
        raise InvalidInput.one("party_ref", "required", "name the third party")
    with platform.uow(actor.name) as uow:
        exists = uow.connection.execute(select(tables.parties.c.id).where(
            tables.parties.c.id == borrower_id)).first()
        if exists is None:
            raise NotFound(f"borrower {borrower_id} does not exist")
        permission_id = _insert_permission(uow, actor, borrower_id, kind, channel, party,
                                           party_ref, reason)
        uow.audit("contact.permission", "party", borrower_id, {
            "id": permission_id, "kind": kind, "channel": None if channel is None
            else channel.value, "party": party.value, "party_ref": party_ref,
            "reason": reason})
        uow.emit("ContactPermissionRecorded", borrower_id,
                 {"borrower_id": borrower_id, "kind": kind,
                  "channel": None if channel is None else channel.value})
        uow.commit()
    return permission_id


def revoke_permission(platform: Platform, actor: Actor, permission_id: int) -> None:
    with platform.uow(actor.name) as uow:
        done = uow.connection.execute(
            update(contact_permissions)
            .where(contact_permissions.c.id == permission_id,
                   contact_permissions.c.revoked_at.is_(None))
            .values(revoked_at=uow.clock.now()).returning(contact_permissions.c.borrower_id)
        ).first()
        if done is None:
            raise NotFound(f"active permission {permission_id} does not exist")
        uow.audit("contact.permission.revoke", "party", done.borrower_id,
                  {"id": permission_id})
        uow.commit()


def set_contact_settings(
    platform: Platform, actor: Actor, borrower_id: str, *, language: str = "zh",
    time_zone: str | None = None, email: str | None = None, wechat_openid: str | None = None,
    reminder_channels: tuple[Channel, ...] | None = None,
) -> None:
    """Language, actual time zone, e-mail and WeChat openid of a borrower. Giving an e-mail
    or openid for messages records the consent to that channel as well."""
    if language not in LANGUAGES:
        raise InvalidInput.one("language", "invalid", "zh or en")
    if time_zone is not None:
        zone(time_zone)
    if email is not None and ("@" not in email or len(email) > 254 or "\n" in email):
        raise InvalidInput.one("email", "invalid", "an e-mail address")
    cipher = FieldCipher.from_settings(platform.settings)
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        if conn.execute(select(tables.parties.c.id).where(
                tables.parties.c.id == borrower_id)).first() is None:
            raise NotFound(f"borrower {borrower_id} does not exist")
        values = {
            "time_zone": time_zone, "language": language,
            "email_enc": None if email is None else cipher.encrypt("email", email),
            "wechat_openid_enc": (None if wechat_openid is None
                                  else cipher.encrypt("wechat_openid", wechat_openid)),
            "reminder_channels": (None if reminder_channels is None
                                  else ",".join(c.value for c in reminder_channels)),
            "recorded_at": uow.clock.now(),
        }
        exists = conn.execute(select(contact_settings.c.borrower_id).where(
            contact_settings.c.borrower_id == borrower_id)).first()
        if exists:
            conn.execute(update(contact_settings)
                         .where(contact_settings.c.borrower_id == borrower_id).values(**values))
        else:
            conn.execute(insert(contact_settings).values(borrower_id=borrower_id, **values))
        for channel, given in ((Channel.EMAIL, email), (Channel.WECHAT, wechat_openid)):
            if given is not None:
                _insert_permission(uow, actor, borrower_id, "consent", channel, Party.DEBTOR,
                                   None, "address given for messages")
        uow.audit("contact.settings", "party", borrower_id, {
            "language": language, "time_zone": time_zone, "email": email is not None,
            "wechat": wechat_openid is not None})
        uow.commit()


def set_loan_profile(platform: Platform, actor: Actor, loan_id: str, code: str) -> None:
    """Give a loan a contact profile other than the lender's."""
    chosen = profile(code)
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        if conn.execute(select(tables.loans.c.id).where(
                tables.loans.c.id == loan_id)).first() is None:
            raise NotFound(f"loan {loan_id} does not exist")
        conn.execute(contact_profiles.delete().where(contact_profiles.c.loan_id == loan_id))
        conn.execute(insert(contact_profiles).values(loan_id=loan_id, profile=chosen.code,
                                                     recorded_at=uow.clock.now()))
        uow.audit("contact.profile", "loan", loan_id, {"profile": chosen.code})
        uow.commit()


# -- reading ------------------------------------------------------------------------------
def contacts_of(platform: Platform, borrower_id: str, *, agency_id: str | None = None,
                limit: int = 200) -> list[dict[str, Any]]:
    """The borrower's contact log, newest first; an agency sees only its own contacts."""
    query = (select(contact_log).where(contact_log.c.borrower_id == borrower_id)
             .order_by(contact_log.c.id.desc()).limit(limit))
    if agency_id is not None:
        query = query.where(contact_log.c.agency_id == agency_id)
    with platform.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {"contact_id": r["id"], "loan_id": r["loan_id"], "channel": r["channel"],
         "party": r["party"], "party_ref": r["party_ref"], "purpose": r["purpose"],
         "automated": r["automated"], "actor": r["actor"], "actor_role": r["actor_role"],
         "agency_id": r["agency_id"], "requested_at": r["requested_at"].isoformat(),
         "local_time": r["local_time"], "decision": r["decision"],
         "reason": r["reason_code"], "rule": r["rule"], "profile": r["profile"],
         "outcome": r["outcome"], "note": r["note"]}
        for r in rows
    ]


def borrower_of_loan(platform: Platform, loan_id: str) -> str:
    with platform.engine.connect() as conn:
        borrower: str | None = conn.execute(select(tables.loans.c.borrower_id).where(
            tables.loans.c.id == loan_id)).scalar_one_or_none()
    if borrower is None:
        raise NotFound(f"loan {loan_id} does not exist")
    return borrower
