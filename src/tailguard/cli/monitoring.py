"""`tailguard signals …`: run the bus consumer, publish signals, import a bank statement, and
show or raise the balloon watch (docs/monitoring.md).

`consume` is the production path for signals from other systems: a process reading the Redis
stream with a consumer group (run several with different `--consumer` names to share the load)
or the NATS JetStream stream with a durable consumer (processes sharing `--group` share it);
the embedded bus only lives inside one process, so it cannot be consumed from here.
"""

from __future__ import annotations

import json
import signal as os_signal
import threading
from pathlib import Path
from typing import Any

import click

from tailguard.cli.errors import reports_errors
from tailguard.cli.operations import parse_day, platform
from tailguard.errors import InvalidInput
from tailguard.infra.bus import Consumer, SignalBus, open_bus
from tailguard.infra.bus_redis import DEFAULT_GROUP
from tailguard.services import alerts as alert_service
from tailguard.services import signals as signal_service

_BUS = click.option("--bus", "bus_url", envvar="TAILGUARD_SIGNAL_BUS", required=True,
                    help="The Redis or NATS URL of the signal bus (or TAILGUARD_SIGNAL_BUS).")
_STREAM = click.option("--stream", default=None,
                       help="Stream name; default tailguard:signals on Redis, "
                            "TAILGUARD_SIGNALS on NATS.")
_BUS_SCHEMES = ("redis://", "rediss://", "unix://", "nats://", "tls://")


def _open(bus_url: str, stream: str | None, **options: Any) -> SignalBus:
    if not bus_url.startswith(_BUS_SCHEMES):
        raise InvalidInput.one("bus", "invalid", "a redis:// or nats:// URL")
    if stream is not None:
        options["stream"] = stream
    return open_bus(bus_url, **options)


@click.group("signals")
def signals() -> None:
    """Post-loan signals, early-warning alerts and the balloon watch."""


@signals.command("consume")
@_BUS
@_STREAM
@click.option("--group", default=DEFAULT_GROUP, show_default=True)
@click.option("--consumer", "consumer_name", default=None,
              help="This consumer's name in the group; default host-pid.")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 5000))
@reports_errors
def consume(bus_url: str, stream: str | None, group: str, consumer_name: str | None,
            batch: int) -> None:
    """Read signals from the bus until interrupted, raising alerts as they arrive."""
    bus = _open(bus_url, stream, group=group, consumer=consumer_name)
    plat = platform()
    consumer = Consumer(bus, signal_service.bus_handler(plat), batch=batch).start()
    stop = threading.Event()
    for sig in (os_signal.SIGINT, os_signal.SIGTERM):
        os_signal.signal(sig, lambda *_: stop.set())
    click.echo(f"consuming {stream or 'the default stream'} as group {group}; Ctrl-C to stop")
    stop.wait()
    consumer.stop()
    bus.close()
    click.echo(f"handled {consumer.handled} signals ({consumer.failures} failed batches)")


def _read_signals(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        return data.get("signals", [data]) if isinstance(data, dict) else list(data)
    except json.JSONDecodeError:  # JSON lines
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise InvalidInput.one("file", "invalid_json", f"line {exc.lineno}: {exc.msg}"
                                   ) from exc


@signals.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_BUS
@_STREAM
@reports_errors
def publish(file: Path, bus_url: str, stream: str | None) -> None:
    """Put the signals of a JSON (or JSON-lines) file on the bus."""
    bus = _open(bus_url, stream)
    ids = signal_service.publish(bus, _read_signals(file))
    bus.close()
    click.echo(f"published {len(ids)} signals")


@signals.command("ingest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reports_errors
def ingest(file: Path) -> None:
    """Ingest the signals of a JSON file directly (as the API would) and print the outcome."""
    result = signal_service.ingest(platform(), "cli", _read_signals(file), source="api")
    click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))


@signals.command("import-statement")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reports_errors
def import_statement(file: Path) -> None:
    """Import a bank statement export (.csv or .xlsx) and match its lines to loans."""
    result = signal_service.import_statement(platform(), "cli", file.read_bytes(), file.name)
    result.pop("signals", None)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@signals.command("balloon-watch")
@click.option("--as-of", "as_of_text", help="The day (YYYY-MM-DD); default today.")
@click.option("--raise", "raise_alerts", is_flag=True,
              help="Also send balloon-window signals through the rules (once per stage).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1_000_000))
@reports_errors(field_options={"as_of": "--as-of"})
def balloon_watch(as_of_text: str | None, raise_alerts: bool, limit: int) -> None:
    """Loans whose balloon falls due within 120 days, most likely not to be settled first."""
    plat = platform()
    as_of = parse_day(as_of_text, "as_of", plat.today())
    for item in alert_service.balloon_watch(plat, as_of, limit=limit):
        click.echo(f"{item['rank']:>4}  {item['loan_id']:<20} stage {item['stage']:>3}  "
                   f"{item['days_left']:>3} days  dpd {item['dpd']:>3}  "
                   f"chance {item['chance_not_settled']:.2f}")
    if raise_alerts:
        result = alert_service.raise_balloon_watch(plat, as_of=as_of)
        click.echo(f"raised {len(result.alerts_raised)} alerts "
                   f"({len(result.duplicates)} stages already signalled)")
