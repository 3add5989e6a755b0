"""`tailguard serve` and `tailguard user create`: running the API and giving people access."""

from __future__ import annotations

import click

from tailguard.cli.errors import reports_errors
from tailguard.cli.operations import platform
from tailguard.errors import InvalidInput
from tailguard.infra.auth import Role
from tailguard.infra.users import create_user


@click.group("user")
def user() -> None:
    """Staff and borrower accounts."""


@user.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 10 characters; prompted for when not given.")
@click.option("--agency-id", help="Required for the agency role.")
@click.option("--borrower-id", help="Required for the borrower role.")
@reports_errors
def user_create(username: str, role: str, password: str, agency_id: str | None,
                borrower_id: str | None) -> None:
    """Create a user with one role."""
    plat = platform()
    with plat.uow("cli") as uow:
        created = create_user(uow.connection, uow.clock, username, password, Role(role),
                              agency_id, borrower_id)
        uow.audit("user.create", "user", created.username, {"role": role})
        uow.commit()
    click.echo(f"created {created.username} ({created.role.value})")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-schedule", is_flag=True,
              help="Do not run the daily end of day and reminders, message delivery, nor the "
                   "periodic log checkpoints.")
@click.option("--signal-bus", envvar="TAILGUARD_SIGNAL_BUS", default=None,
              help="A redis:// or nats:// URL: also consume monitoring signals from it "
                   "(or TAILGUARD_SIGNAL_BUS; default: signals come over the API only).")
@reports_errors
def serve(host: str, port: int, no_schedule: bool, signal_bus: str | None) -> None:
    """Serve the REST API, and run yesterday's end of day whenever it has not run yet."""
    import uvicorn

    from tailguard.api.app import create_app
    from tailguard.batch.schedule import DailyEndOfDay, MessageDelivery, PeriodicCheckpoint
    from tailguard.infra.bus import Consumer, open_bus
    from tailguard.infra.channels import channels_from_settings
    from tailguard.services import signals as signal_service

    plat = platform()
    consumer = None
    if signal_bus:
        try:
            bus = open_bus(signal_bus)
        except ValueError as exc:
            raise InvalidInput.one("signal_bus", "invalid", str(exc)) from exc
        consumer = Consumer(bus, signal_service.bus_handler(plat)).start()
    scheduler = None if no_schedule else DailyEndOfDay(plat)
    if scheduler is not None:
        scheduler.start()
    checkpoints = (None if no_schedule else
                   PeriodicCheckpoint(plat, plat.settings.checkpoint_minutes * 60.0))
    if checkpoints is not None:
        checkpoints.start()
    delivery = (None if no_schedule else
                MessageDelivery(plat, channels_from_settings(plat.settings)))
    if delivery is not None:
        delivery.start()
    click.echo(f"tailguard API on http://{host}:{port}/api/v1/docs", err=True)
    try:
        uvicorn.run(create_app(plat), host=host, port=port, log_level="info")
    finally:
        if consumer is not None:
            consumer.stop()
            consumer.bus.close()
        if scheduler is not None:
            scheduler.stop()
        if checkpoints is not None:
            checkpoints.stop()
        if delivery is not None:
            delivery.stop()
