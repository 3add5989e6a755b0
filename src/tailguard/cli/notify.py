"""`tailguard notify`: the reminders and message delivery that `tailguard serve` runs on its own
schedule, by hand (a server started with `--no-schedule`, a cron job, a catch-up after an
outage). Both steps are idempotent: reminders have one dedupe key per loan, template, date and
channel, and delivery only sends what is due and not yet sent."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from tailguard.cli.errors import reports_errors
from tailguard.cli.operations import parse_day, platform


@click.group("notify")
def notify() -> None:
    """Reminders before due dates and balloons, overdue notices, and their delivery."""


@notify.command("reminders")
@click.option("--as-of", "as_of_text", help="The day whose reminders to queue (YYYY-MM-DD); "
              "default today.")
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options={"as_of": "--as-of"})
def reminders(as_of_text: str | None, as_json: bool) -> None:
    """Queue the day's due-date reminders, balloon milestones and overdue notices."""
    from tailguard.services import notifications

    plat = platform()
    as_of = parse_day(as_of_text, "as_of", plat.today())
    queued = notifications.queue_due_reminders(plat, as_of)
    if as_json:
        click.echo(json.dumps({"as_of": as_of.isoformat(), **asdict(queued)}))
    else:
        click.echo(f"{as_of}: {queued.due} due-date, {queued.balloon} balloon, "
                   f"{queued.overdue} overdue message(s); {queued.new} newly queued")


@notify.command("deliver")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def deliver(as_json: bool) -> None:
    """Send the queued messages whose time has come (contact policy first)."""
    from tailguard.infra.channels import channels_from_settings
    from tailguard.services import notifications

    plat = platform()
    report = notifications.deliver_due(plat, channels_from_settings(plat.settings))
    if as_json:
        click.echo(json.dumps(asdict(report), default=str))
    else:
        click.echo(f"{report.sent} sent, {report.retrying} to retry, {report.failed} failed, "
                   f"{report.blocked} blocked, {report.deferred} deferred, "
                   f"{report.rate_limited} held by the rate limit")
