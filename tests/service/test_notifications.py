"""Notifications on SQLite and PostgreSQL: a reminder e-mail delivered to a real SMTP server
(aiosmtpd, started here), sandboxes, retries with backoff, quiet hours, opt-outs, the rate
limit, in-app messages, and reminders queued once per day however often the hook runs."""

from __future__ import annotations

import socket
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.engagement.channels import TokenBucket
from tailguard.engagement.vocabulary import Channel
from tailguard.infra.channels import SandboxChannel, SmtpEmailChannel
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import contact_log, in_app_messages, messages
from tailguard.services import contacts, notifications
from tailguard.services.booking import book_application
from tailguard.services.contacts import Actor
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

OPS = Actor("ops.chen", "servicing")
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Inbox:
    """An aiosmtpd handler keeping every message it receives, as sent on the wire."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def booked(platform: Platform, serial: int = 1) -> tuple[str, str]:
    with_dealer(platform)
    loan_id = book_application(platform, "officer", application(serial))
    return loan_id, contacts.borrower_of_loan(platform, loan_id)


def first_due(platform: Platform, loan_id: str) -> tuple[date, int]:
    with platform.engine.connect() as conn:
        row = conn.execute(select(
            tables.installment_state.c.due_date,
            tables.installment_state.c.principal_fen + tables.installment_state.c.interest_fen
            + tables.installment_state.c.fee_fen).where(
            tables.installment_state.c.loan_id == loan_id,
            tables.installment_state.c.number == 1)).one()
    return row[0], int(row[1])


def at_local(clock: FixedClock, day: date, hour: int, minute: int = 0) -> None:
    clock.current = datetime(day.year, day.month, day.day, hour, minute,
                             tzinfo=SHANGHAI).astimezone(UTC)


def test_a_due_reminder_arrives_at_a_real_smtp_server_in_chinese(
    platform: Platform, clock: FixedClock, smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    loan_id, borrower = booked(platform)
    due, amount_fen = first_due(platform, loan_id)
    contacts.set_contact_settings(platform, OPS, borrower, language="zh",
                                  email="zhang.san@example.cn",
                                  reminder_channels=(Channel.EMAIL,))
    as_of = due - timedelta(days=3)
    at_local(clock, as_of, 10)
    queued = notifications.queue_due_reminders(platform, as_of)
    assert (queued.due, queued.new) == (1, 1)

    email = SmtpEmailChannel("127.0.0.1", port, "reminders@tailguard.test",
                             sender_name="天衢汽车金融")
    report = notifications.deliver_due(platform, {Channel.EMAIL: email})
    assert report.sent == 1, report

    assert len(inbox.received) == 1
    mail_from, rcpt_tos, raw = inbox.received[0]
    assert mail_from == "reminders@tailguard.test" and rcpt_tos == ["zhang.san@example.cn"]
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    amount = f"{amount_fen // 100}.{amount_fen % 100:02d}"
    subject = str(parsed["Subject"])
    assert subject.startswith(f"【{platform.settings.lender_name}】还款提醒")
    assert due.isoformat() in subject and amount in subject
    body = parsed.get_content()
    assert f"合同号 {loan_id}" in body and "第 1 期" in body and "3 天后" in body
    assert f"应还金额 {amount} 元" in body
    assert "天衢汽车金融" in str(parsed["From"])
    with platform.engine.connect() as conn:
        message = conn.execute(select(messages)).mappings().one()
        logged = conn.execute(select(contact_log)).mappings().one()
    assert (message["status"], message["attempts"]) == ("sent", 1)
    assert message["provider_id"] == str(parsed["Message-ID"]).strip()
    assert (logged["channel"], logged["decision"], logged["outcome"], logged["actor"]) == (
        "email", "allow", "sent", "notifications")
    assert logged["message_id"] == message["id"]


def test_reminders_are_queued_once_per_day_with_balloon_milestones(
    platform: Platform, clock: FixedClock,
) -> None:
    loan_id, _ = booked(platform)
    due, _ = first_due(platform, loan_id)
    as_of = due - timedelta(days=3)
    at_local(clock, as_of, 20)
    first = notifications.queue_due_reminders(platform, as_of)
    again = notifications.queue_due_reminders(platform, as_of)  # a rerun of the end of day
    assert (first.due, first.new) == (2, 2)  # sms and in-app, the default channels
    assert (again.due, again.new) == (2, 0)
    with platform.engine.connect() as conn:
        balloon_date = conn.execute(select(tables.loan_state.c.balloon_due_date).where(
            tables.loan_state.c.loan_id == loan_id)).scalar_one()
    milestone = notifications.queue_due_reminders(platform, balloon_date - timedelta(days=90),
                                                  days=())
    assert (milestone.balloon, milestone.new) == (2, 2)
    assert notifications.queue_due_reminders(platform, balloon_date - timedelta(days=89),
                                             days=()).new == 0
    listed = notifications.messages_of(platform, loan_id)
    assert sorted(m["template"] for m in listed) == ["balloon-approaching"] * 2 + [
        "due-reminder"] * 2
    assert any("尾款" in m["subject"] and "90" not in m["subject"] for m in listed)


def test_sandbox_retries_with_backoff_then_sends_and_in_app_lands_in_the_inbox(
    platform: Platform, clock: FixedClock,
) -> None:
    loan_id, borrower = booked(platform)
    due, _ = first_due(platform, loan_id)
    at_local(clock, due - timedelta(days=3), 10)
    notifications.queue_due_reminders(platform, due - timedelta(days=3))
    sms = SandboxChannel(Channel.SMS, fail_next=2)
    report = notifications.deliver_due(platform, {Channel.SMS: sms})
    assert (report.sent, report.retrying) == (1, 1)  # in-app sent, SMS failed once
    assert notifications.deliver_due(platform, {Channel.SMS: sms}).sent == 0  # backing off
    clock.advance(timedelta(minutes=1))
    assert notifications.deliver_due(platform, {Channel.SMS: sms}).retrying == 1
    clock.advance(timedelta(minutes=3))
    assert notifications.deliver_due(platform, {Channel.SMS: sms}).sent == 0  # 4 min backoff
    clock.advance(timedelta(minutes=1))
    assert notifications.deliver_due(platform, {Channel.SMS: sms}).sent == 1
    assert [m.to for m in sms.sent] == ["+8613800138000"]
    assert sms.sent[0].body.startswith("尊敬的客户")
    with platform.engine.connect() as conn:
        sms_row = conn.execute(select(messages).where(messages.c.channel == "sms")
                               ).mappings().one()
        inbox = conn.execute(select(in_app_messages)).mappings().one()
        outcomes = conn.execute(select(contact_log.c.channel, contact_log.c.outcome)
                                .order_by(contact_log.c.id)).all()
        reads = conn.execute(select(tables.audit_log.c.detail).where(
            tables.audit_log.c.action == "pii.read")).scalars().all()
    assert (sms_row["status"], sms_row["attempts"]) == ("sent", 3)
    assert sms_row["provider_id"] == f"sandbox-sms-{sms_row['id']}"
    assert inbox["borrower_id"] == borrower and "还款提醒" in inbox["subject"]
    assert sorted(tuple(o) for o in outcomes) == [("in-app", "sent"), ("sms", "failed"),
                                                  ("sms", "failed"), ("sms", "sent")]
    assert len([r for r in reads if "message/" in r]) == 3  # each phone read is audited


def test_quiet_hours_defer_and_opt_outs_block_without_sending(
    platform: Platform, clock: FixedClock,
) -> None:
    loan_id, borrower = booked(platform)
    due, _ = first_due(platform, loan_id)
    contacts.set_contact_settings(platform, OPS, borrower, email="zhang.san@example.cn",
                                  reminder_channels=(Channel.SMS, Channel.EMAIL))
    as_of = due - timedelta(days=3)
    at_local(clock, as_of, 22, 30)  # the end of day runs late in the evening
    notifications.queue_due_reminders(platform, as_of)
    contacts.set_permission(platform, OPS, borrower, "opt-out", channel=Channel.EMAIL)
    sms, email = SandboxChannel(Channel.SMS), SandboxChannel(Channel.EMAIL)
    channels = {Channel.SMS: sms, Channel.EMAIL: email}
    report = notifications.deliver_due(platform, channels)
    assert (report.deferred, report.blocked, report.sent) == (1, 1, 0)
    assert {d["reason"] for d in report.details} == {"QUIET_HOURS", "CHANNEL_OPTED_OUT"}
    clock.advance(timedelta(hours=9))  # 07:30: still quiet, nothing is due yet
    assert notifications.deliver_due(platform, channels).sent == 0
    clock.advance(timedelta(minutes=30))  # 08:00 local
    assert notifications.deliver_due(platform, channels).sent == 1
    assert len(sms.sent) == 1 and email.sent == []
    with platform.engine.connect() as conn:
        states = dict(conn.execute(select(messages.c.channel, messages.c.status)).all())
        decisions = conn.execute(select(contact_log.c.channel, contact_log.c.reason_code)
                                 .order_by(contact_log.c.id)).all()
    assert states == {"sms": "sent", "email": "blocked"}
    assert [tuple(d) for d in decisions] == [("sms", "QUIET_HOURS"),
                                             ("email", "CHANNEL_OPTED_OUT"),
                                             ("sms", "WITHIN_RULES")]


def test_the_rate_limit_holds_messages_for_the_next_pass(
    platform: Platform, clock: FixedClock,
) -> None:
    loan_ids = [booked(platform, serial)[0] for serial in range(1, 5)]
    due, _ = first_due(platform, loan_ids[0])
    at_local(clock, due - timedelta(days=3), 10)
    notifications.queue_due_reminders(platform, due - timedelta(days=3))
    sms = SandboxChannel(Channel.SMS)
    limits = {Channel.SMS: TokenBucket(rate=1.0, burst=2.0)}
    seconds = iter([0.0, 0.1, 0.2])  # two at once, the third must wait a second
    first = notifications.deliver_due(platform, {Channel.SMS: sms}, limits=limits,
                                      monotonic=lambda: next(seconds))
    assert len(sms.sent) == 2 and first.rate_limited == 2 and first.sent == 6  # + 4 in-app
    later = iter([3.0, 3.1])
    notifications.deliver_due(platform, {Channel.SMS: sms}, limits=limits,
                              monotonic=lambda: next(later))
    assert len(sms.sent) == 4


def test_a_message_sent_on_request_renders_the_loans_state(
    platform: Platform, clock: FixedClock,
) -> None:
    loan_id, borrower = booked(platform)
    contacts.set_contact_settings(platform, OPS, borrower, language="en")
    at_local(clock, date(2026, 1, 20), 11)
    message_id = notifications.queue_message(platform, OPS, loan_id, "balloon-approaching",
                                             Channel.IN_APP)
    assert notifications.deliver_due(platform, {}).sent == 1
    with platform.engine.connect() as conn:
        inbox = conn.execute(select(in_app_messages)).mappings().one()
    assert inbox["message_id"] == message_id and inbox["language"] == "en"
    assert "balloon of 60000.00 yuan" in inbox["subject"]
    assert "refinance it into instalments" in inbox["body"]


def test_overdue_notices_after_the_end_of_day_ages_a_loan(
    platform: Platform, clock: FixedClock,
) -> None:
    from tailguard.batch import eod

    loan_id, borrower = booked(platform)
    contacts.set_contact_settings(platform, OPS, borrower, language="zh",
                                  reminder_channels=(Channel.IN_APP,))
    due, _ = first_due(platform, loan_id)
    queued: dict[int, notifications.QueuedReminders] = {}
    for offset in range(0, 12):
        day = due + timedelta(days=offset)
        at_local(clock, day + timedelta(days=1), 1)
        eod.run(platform, day)
        queued[offset] = notifications.queue_due_reminders(platform, day)
    with platform.engine.connect() as conn:
        dpd = conn.execute(select(tables.loan_state.c.dpd)).scalar_one()
        notices = conn.execute(select(messages.c.subject, messages.c.body, messages.c.purpose)
                               .where(messages.c.template == "overdue-notice")).all()
    assert dpd >= 7
    assert sum(q.overdue for q in queued.values()) == 2  # day 1 and day 7 past due
    assert [n.purpose for n in notices] == ["collection", "collection"]
    assert "已逾期 1 天" in notices[0].body and "已逾期 7 天" in notices[1].body
    assert notifications.queue_due_reminders(platform, due + timedelta(days=11)).new == 0


def test_the_serve_schedule_queues_the_days_reminders_after_the_end_of_day_and_delivers(
    platform: Platform, clock: FixedClock,
) -> None:
    from tailguard.batch.schedule import DailyEndOfDay, MessageDelivery

    loan_id, _ = booked(platform)
    due, _ = first_due(platform, loan_id)
    at_local(clock, due - timedelta(days=3), 10)  # `platform.today()` is three days before due
    days = DailyEndOfDay(platform).run_once()
    assert days >= 1  # the end of day caught up to yesterday before the reminders were queued
    assert DailyEndOfDay(platform).run_once() == 0  # a second tick: nothing more to run
    sms = SandboxChannel(Channel.SMS)
    report = MessageDelivery(platform, {Channel.SMS: sms}).run_once()
    assert report.sent == 2  # SMS and in-app, each once although the schedule ticked twice
    assert [m.to for m in sms.sent] == ["+8613800138000"]
    assert "还款提醒" in notifications.messages_of(platform, loan_id)[0]["subject"]


def test_notify_commands_queue_and_deliver(platform: Platform, clock: FixedClock,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from tailguard.cli.main import main

    loan_id, _ = booked(platform)
    due, _ = first_due(platform, loan_id)
    at_local(clock, due - timedelta(days=3), 10)
    monkeypatch.setenv("TAILGUARD_DATABASE_URL", str(platform.engine.url.render_as_string(
        hide_password=False)))
    monkeypatch.setenv("TAILGUARD_DOCUMENT_ROOT", str(platform.settings.document_root))
    runner = CliRunner()
    as_of = (due - timedelta(days=3)).isoformat()
    first = runner.invoke(main, ["notify", "reminders", "--as-of", as_of, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"as_of": as_of, "due": 2, "balloon": 0, "overdue": 0,
                                        "new": 2}
    again = runner.invoke(main, ["notify", "reminders", "--as-of", as_of])
    assert again.exit_code == 0 and "0 newly queued" in again.stdout
    sent = runner.invoke(main, ["notify", "deliver", "--json"])
    assert sent.exit_code == 0, sent.output
    report = json.loads(sent.stdout)
    # The command runs on the wall clock: by night the contact policy defers the SMS.
    assert report["sent"] + report["deferred"] == 2 and report["failed"] == 0
    bad = runner.invoke(main, ["notify", "reminders", "--as-of", "2026-02-30"])
    assert bad.exit_code == 2 and "--as-of" in bad.stderr
