"""Notifications: queue messages from templates, deliver them through the channel adapters
after the contact policy allows each one, track delivery, retry with backoff, limit the rate.

- `queue_message` renders one template for one loan into the `messages` table.
- `queue_due_reminders(platform, as_of)` is the end-of-day hook: one column-wise query over
  `loan_state` (joined with the instalment due and the borrower's contact settings) finds the
  loans whose instalment is due in N days (`TAILGUARD_REMINDER_DAYS`), whose balloon is due in
  120/90/60/30 days, or that became 1, 7 or 30 days overdue, and queues their messages in
  bulk; a rerun for the same day queues nothing twice (each message has a dedupe key).
- `deliver_due(platform, channels)` sends what is due. Each message goes through the contact
  policy first, in its own unit of work that logs the decision: a block that time lifts (quiet
  hours, a daily cap) leaves the message queued until then; any other block marks it `blocked`
  and nothing is sent. An allowed message is marked `sending` (a lease: a crash leaves it to be
  retried, at least once) and committed before the adapter is called outside any transaction;
  the result is written in a second unit of work: `sent`, or `retrying` with a backoff, or
  `failed` after the last attempt or a final provider error. In-app messages are written to
  the inbox table in the decision's own transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tailguard.engagement.channels import (
    MAX_ATTEMPTS,
    DeliveryError,
    MessageChannel,
    OutboundMessage,
    TokenBucket,
    backoff,
)
from tailguard.engagement.templates import BALLOON_MILESTONES, TEMPLATES, render
from tailguard.engagement.vocabulary import Channel, Outcome, Purpose
from tailguard.errors import InvalidInput, NotFound
from tailguard.infra.crypto import FieldCipher
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import (
    contact_log,
    contact_settings,
    in_app_messages,
    messages,
)
from tailguard.infra.db.uow import UnitOfWork
from tailguard.infra.pii import PersonalData
from tailguard.money import yuan
from tailguard.services.contacts import Actor, ContactCommand, decide_in
from tailguard.services.platform import Platform

NOTIFIER = Actor("notifications", "system")
OVERDUE_NOTICE_DPD = (1, 7, 30)
LEASE = timedelta(minutes=5)
"""How long a message stays `sending` before another delivery pass may try it again."""
PURPOSES = {"due-reminder": Purpose.SERVICE, "balloon-approaching": Purpose.SERVICE,
            "overdue-notice": Purpose.COLLECTION}
DUE_STATES = ("queued", "retrying", "sending")
CHUNK = 1000


# -- facts of a loan that templates use -------------------------------------------------------
def _fact_rows(conn: Connection, condition: Any) -> list[dict[str, Any]]:
    ls, inst, loans = tables.loan_state.c, tables.installment_state.c, tables.loans.c
    query = (
        select(
            ls.loan_id, loans.borrower_id, ls.next_due_date, ls.dpd, ls.balloon_due_date,
            ls.balloon_fen, ls.penalty_outstanding_fen,
            (ls.overdue_principal_fen + ls.overdue_interest_fen + ls.overdue_fee_fen
             + ls.penalty_outstanding_fen).label("overdue_fen"),
            inst.number.label("installment"),
            (inst.principal_fen + inst.interest_fen + inst.fee_fen - inst.principal_paid_fen
             - inst.interest_paid_fen - inst.fee_paid_fen - inst.interest_waived_fen
             - inst.fee_waived_fen).label("due_fen"),
            contact_settings.c.language, contact_settings.c.reminder_channels,
        )
        .select_from(
            tables.loan_state.join(tables.loans, loans.id == ls.loan_id)
            .outerjoin(tables.installment_state, and_(inst.loan_id == ls.loan_id,
                                                      inst.due_date == ls.next_due_date))
            .outerjoin(contact_settings, contact_settings.c.borrower_id == loans.borrower_id)
        )
        .where(condition)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def _context(template: str, row: Mapping[str, Any], as_of: date,
             lender: str) -> dict[str, Any]:
    base: dict[str, Any] = {"lender": lender, "loan_id": row["loan_id"],
                            "as_of": as_of.isoformat()}
    if template == "due-reminder":
        due: date | None = row["next_due_date"]
        if due is None:
            raise InvalidInput.one("template", "not_applicable", "the loan has nothing due")
        return {**base, "due_date": due.isoformat(), "days": (due - as_of).days,
                "installment": row["installment"] or "", "amount": yuan(row["due_fen"] or 0)}
    if template == "overdue-notice":
        return {**base, "dpd": row["dpd"], "overdue": yuan(row["overdue_fen"]),
                "penalty": yuan(row["penalty_outstanding_fen"])}
    balloon_date: date | None = row["balloon_due_date"]
    if balloon_date is None:
        raise InvalidInput.one("template", "not_applicable", "the loan has no balloon ahead")
    return {**base, "balloon": yuan(row["balloon_fen"]), "balloon_date": balloon_date.isoformat(),
            "days": (balloon_date - as_of).days}


def _channels_of(row: Mapping[str, Any], default: str) -> list[Channel]:
    return [Channel(c.strip()) for c in (row["reminder_channels"] or default).split(",")
            if c.strip()]


def _insert_ignoring_duplicates(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert messages; a row whose dedupe key exists already is skipped. Returns how many
    were new."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(messages).on_conflict_do_nothing(index_elements=["dedupe_key"])
    new = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        keys = [r["dedupe_key"] for r in chunk]
        existing = set(conn.execute(select(messages.c.dedupe_key)
                                    .where(messages.c.dedupe_key.in_(keys))).scalars())
        conn.execute(statement, chunk)
        new += len(set(keys) - existing)
    return new


def _message_row(row: Mapping[str, Any], template: str, channel: Channel, language: str,
                 context: dict[str, Any], dedupe_key: str | None, actor: str, now: datetime,
                 not_before: datetime | None) -> dict[str, Any]:
    rendered = render(template, language, context)
    return {"borrower_id": row["borrower_id"], "loan_id": row["loan_id"],
            "channel": channel.value, "purpose": PURPOSES[template].value,
            "template": template, "language": language, "subject": rendered.subject[:200],
            "body": rendered.body, "status": "queued", "attempts": 0,
            "next_attempt_at": not_before or now, "last_error": None, "provider_id": None,
            "contact_id": None, "dedupe_key": dedupe_key, "actor": actor, "recorded_at": now,
            "sent_at": None}


def queue_message(platform: Platform, actor: Actor, loan_id: str, template: str,
                  channel: Channel, *, language: str | None = None,
                  not_before: datetime | None = None) -> int:
    """Render `template` for a loan from its current state and queue it on `channel`."""
    if template not in TEMPLATES:
        raise InvalidInput.one("template", "unknown", f"one of {', '.join(TEMPLATES)}")
    with platform.uow(actor.name) as uow:
        rows = _fact_rows(uow.connection, tables.loan_state.c.loan_id == loan_id)
        if not rows:
            raise NotFound(f"loan {loan_id} does not exist")
        row = rows[0]
        chosen = language or row["language"] or "zh"
        now = uow.clock.now()
        values = _message_row(row, template, channel, chosen,
                              _context(template, row, platform.today(),
                                       platform.settings.lender_name),
                              None, actor.name, now, not_before)
        message_id = int(uow.connection.execute(
            insert(messages).values(**values).returning(messages.c.id)).scalar_one())
        uow.audit("message.queue", "message", str(message_id),
                  {"loan_id": loan_id, "template": template, "channel": channel.value})
        uow.emit("MessageQueued", loan_id, {"message_id": message_id, "template": template,
                                            "channel": channel.value})
        uow.commit()
    return message_id


@dataclass(frozen=True)
class QueuedReminders:
    """Messages of the day by template (queued now or by an earlier run), and how many of
    them this run queued."""

    due: int
    balloon: int
    overdue: int
    new: int


def queue_due_reminders(platform: Platform, as_of: date,
                        days: Iterable[int] | None = None) -> QueuedReminders:
    """Queue the day's reminders (see the module docstring); idempotent for `as_of`."""
    lead = tuple(days if days is not None else platform.settings.reminder_days)
    due_dates = [as_of + timedelta(days=d) for d in lead]
    balloon_dates = [as_of + timedelta(days=d) for d in BALLOON_MILESTONES]
    ls = tables.loan_state.c
    lender = platform.settings.lender_name
    counts = {"due-reminder": 0, "balloon-approaching": 0, "overdue-notice": 0}
    with platform.uow(NOTIFIER.name) as uow:
        now = uow.clock.now()
        facts = _fact_rows(uow.connection, and_(
            ls.paid_off.is_(False), tables.loans.c.status == "active",
            or_(ls.next_due_date.in_(due_dates), ls.balloon_due_date.in_(balloon_dates),
                ls.dpd.in_(OVERDUE_NOTICE_DPD))))
        rows: list[dict[str, Any]] = []
        for row in facts:
            wanted: list[tuple[str, str]] = []
            if row["next_due_date"] in due_dates:
                wanted.append(("due-reminder", row["next_due_date"].isoformat()))
            if row["balloon_due_date"] in balloon_dates:
                wanted.append(("balloon-approaching", row["balloon_due_date"].isoformat()
                               + f"-{(row['balloon_due_date'] - as_of).days}"))
            if row["dpd"] in OVERDUE_NOTICE_DPD:
                since = as_of - timedelta(days=row["dpd"])
                wanted.append(("overdue-notice", f"{since.isoformat()}-{row['dpd']}"))
            language = row["language"] or "zh"
            for template, key in wanted:
                context = _context(template, row, as_of, lender)
                for channel in _channels_of(row, platform.settings.reminder_channels):
                    rows.append(_message_row(
                        row, template, channel, language, context,
                        f"{template}:{row['loan_id']}:{key}:{channel.value}", NOTIFIER.name,
                        now, None))
        new = _insert_ignoring_duplicates(uow.connection, rows)
        for r in rows:
            counts[r["template"]] += 1
        uow.audit("message.queue-reminders", "eod", as_of.isoformat(),
                  {"candidates": len(rows), "queued": new, **counts})
        if new:
            uow.emit("RemindersQueued", None, {"as_of": as_of, "messages": new}, as_of,
                     dedupe_key=f"RemindersQueued:{as_of.isoformat()}")
        uow.commit()
    return QueuedReminders(counts["due-reminder"], counts["balloon-approaching"],
                           counts["overdue-notice"], new)


# -- delivery ---------------------------------------------------------------------------------
@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    blocked: int = 0
    deferred: int = 0
    """Blocked for now (quiet hours, a daily cap): queued again for the allowed time."""
    rate_limited: int = 0
    details: list[dict[str, Any]] = field(default_factory=list)


def rate_limits(platform: Platform) -> dict[Channel, TokenBucket]:
    rate = platform.settings.message_rate_per_second
    return {c: TokenBucket(rate, max(rate, 1.0)) for c in Channel if c.is_message}


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC, PostgreSQL aware times in the session's zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _address(uow: UnitOfWork, platform: Platform, channel: Channel, borrower_id: str,
             message_id: int) -> str | None:
    cipher = FieldCipher.from_settings(platform.settings)
    if channel is Channel.SMS:
        plain = PersonalData(uow, cipher).for_document(
            borrower_id, ["phone"], reason="send a notification by SMS",
            document=f"message/{message_id}")
        return next(iter(plain.values()))
    column = {Channel.EMAIL: contact_settings.c.email_enc,
              Channel.WECHAT: contact_settings.c.wechat_openid_enc}.get(channel)
    if column is None:
        return None
    blob = uow.connection.execute(select(column).where(
        contact_settings.c.borrower_id == borrower_id)).scalar_one_or_none()
    if blob is None:
        return None
    field_name = "email" if channel is Channel.EMAIL else "wechat_openid"
    uow.audit("pii.read", "party", borrower_id, {
        "fields": [field_name], "role": "system", "reason": "send a notification",
        "document": f"message/{message_id}"})
    return cipher.decrypt(field_name, blob)


def _finish(platform: Platform, message_id: int, contact_id: int, *, provider_id: str | None,
            error: DeliveryError | None, attempts: int) -> str:
    with platform.uow(NOTIFIER.name) as uow:
        now = uow.clock.now()
        if error is None:
            status, values = "sent", {"sent_at": now, "provider_id": provider_id,
                                      "last_error": None, "next_attempt_at": None}
        elif error.retryable and attempts < MAX_ATTEMPTS:
            status, values = "retrying", {"next_attempt_at": now + backoff(attempts),
                                          "last_error": str(error)[:300]}
        else:
            status, values = "failed", {"next_attempt_at": None, "last_error": str(error)[:300]}
        uow.connection.execute(update(messages).where(messages.c.id == message_id)
                               .values(status=status, attempts=attempts, **values))
        uow.connection.execute(update(contact_log).where(contact_log.c.id == contact_id).values(
            outcome=(Outcome.SENT if error is None else Outcome.FAILED).value, outcome_at=now))
        uow.audit(f"message.{status}", "message", str(message_id),
                  {"attempts": attempts, "error": None if error is None else str(error)[:300]})
        uow.emit(f"Message{status.capitalize()}", str(message_id),
                 {"message_id": message_id, "status": status, "attempts": attempts})
        uow.commit()
    return status


def deliver_due(
    platform: Platform, channels: Mapping[Channel, MessageChannel], *,
    limits: dict[Channel, TokenBucket] | None = None,
    monotonic: Callable[[], float] = time.monotonic, batch: int = 500,
) -> DeliveryReport:
    """Send the messages whose time has come (see the module docstring)."""
    report = DeliveryReport()
    limits = limits if limits is not None else rate_limits(platform)
    exhausted: set[Channel] = set()
    now = platform.clock.now()
    with platform.engine.connect() as conn:
        due = conn.execute(
            select(messages.c.id, messages.c.channel)
            .where(messages.c.status.in_(DUE_STATES), messages.c.next_attempt_at <= now)
            .order_by(messages.c.next_attempt_at, messages.c.id).limit(batch)
        ).all()
    for message_id, channel_text in due:
        channel = Channel(channel_text)
        if channel in exhausted:
            report.rate_limited += 1
            continue
        bucket = limits.get(channel)
        if bucket is not None and not bucket.take(monotonic()):
            exhausted.add(channel)
            report.rate_limited += 1
            continue
        _deliver_one(platform, channels, message_id, report)
    return report


def _deliver_one(platform: Platform, channels: Mapping[Channel, MessageChannel],
                 message_id: int, report: DeliveryReport) -> None:
    with platform.uow(NOTIFIER.name) as uow:
        conn = uow.connection
        query = select(messages).where(messages.c.id == message_id,
                                       messages.c.status.in_(DUE_STATES))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = conn.execute(query).mappings().first()
        now = uow.clock.now()
        if row is None or _utc(row["next_attempt_at"]) > now:
            return  # another pass took it
        channel = Channel(row["channel"])
        result = decide_in(uow, platform, NOTIFIER, ContactCommand(
            channel, Purpose(row["purpose"]), loan_id=row["loan_id"],
            borrower_id=row["borrower_id"], automated=True, at=now, message_id=message_id))
        decision = result.decision
        base = update(messages).where(messages.c.id == message_id)
        if not decision.allowed:
            status = "queued" if decision.retry_at is not None else "blocked"
            conn.execute(base.values(status=status, contact_id=result.contact_id,
                                     next_attempt_at=decision.retry_at,
                                     last_error=f"{decision.reason.value}: {decision.rule}"))
            uow.audit(f"message.{'defer' if status == 'queued' else 'block'}", "message",
                      str(message_id), {"reason": decision.reason.value, "rule": decision.rule})
            uow.commit()
            if status == "queued":
                report.deferred += 1
            else:
                report.blocked += 1
            report.details.append({"message_id": message_id, "status": status,
                                   "reason": decision.reason.value})
            return
        attempts = int(row["attempts"]) + 1
        if channel is Channel.IN_APP:
            conn.execute(insert(in_app_messages).values(
                message_id=message_id, borrower_id=row["borrower_id"], loan_id=row["loan_id"],
                subject=row["subject"], body=row["body"], language=row["language"],
                recorded_at=now, read_at=None))
            conn.execute(base.values(status="sent", attempts=attempts, sent_at=now,
                                     contact_id=result.contact_id,
                                     provider_id=f"in-app-{message_id}"))
            conn.execute(update(contact_log).where(contact_log.c.id == result.contact_id)
                         .values(outcome=Outcome.SENT.value, outcome_at=now))
            uow.audit("message.sent", "message", str(message_id), {"attempts": attempts})
            uow.commit()
            report.sent += 1
            return
        address = _address(uow, platform, channel, row["borrower_id"], message_id)
        adapter = channels.get(channel)
        problem = ("no address on file for this channel" if address is None
                   else None if adapter is not None else "no adapter for this channel")
        if problem is not None:
            conn.execute(base.values(status="failed", attempts=attempts, last_error=problem,
                                     contact_id=result.contact_id, next_attempt_at=None))
            conn.execute(update(contact_log).where(contact_log.c.id == result.contact_id)
                         .values(outcome=Outcome.NOT_MADE.value, outcome_at=now))
            uow.audit("message.failed", "message", str(message_id), {"error": problem})
            uow.commit()
            report.failed += 1
            return
        conn.execute(base.values(status="sending", contact_id=result.contact_id,
                                 next_attempt_at=now + LEASE))
        uow.commit()
        outbound = OutboundMessage(message_id, channel, str(address), row["template"],
                                   row["language"], row["subject"], row["body"])
    assert adapter is not None
    try:
        provider_id: str | None = adapter.send(outbound)
        error: DeliveryError | None = None
    except DeliveryError as exc:
        provider_id, error = None, exc
    status = _finish(platform, message_id, result.contact_id, provider_id=provider_id,
                     error=error, attempts=attempts)
    setattr(report, status, getattr(report, status) + 1)
    report.details.append({"message_id": message_id, "status": status})


# -- reading -----------------------------------------------------------------------------------
def messages_of(platform: Platform, loan_id: str) -> list[dict[str, Any]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(messages).where(messages.c.loan_id == loan_id)
                            .order_by(messages.c.id)).mappings().all()
    return [{"message_id": r["id"], "channel": r["channel"], "template": r["template"],
             "language": r["language"], "subject": r["subject"], "status": r["status"],
             "attempts": r["attempts"], "last_error": r["last_error"],
             "sent_at": None if r["sent_at"] is None else r["sent_at"].isoformat()}
            for r in rows]
