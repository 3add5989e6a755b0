"""A signal raises its alert within a second over the real broker (issue 7's acceptance check):
a consumer reads the Redis stream (or the NATS JetStream stream) in its own thread, as
`tailguard` runs it, and the test publishes one signal and waits at most one second for the
alert row. Skipped when Redis does not answer at 127.0.0.1:6379 (NATS at 127.0.0.1:4222),
unless TAILGUARD_TEST_REDIS=1 (TAILGUARD_TEST_NATS=1) demands it.

The consumer first handles one warm-up signal that raises nothing (the first batch pays for
connections and for parsing the rules), so the second measures the steady path."""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.bus import Consumer, EmbeddedBus, SignalBus
from tailguard.infra.db.tables_monitoring import alerts, signals
from tailguard.services import signals as signal_service
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer
from tests.unit.test_signal_bus import REDIS_URL, redis_or_skip
from tests.unit.test_signal_bus_nats import NATS_URL, nats_or_skip, throwaway_stream

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


@pytest.fixture(params=["redis", "nats", "embedded"])
def bus(request: pytest.FixtureRequest) -> Iterator[SignalBus]:
    if request.param == "embedded":
        yield EmbeddedBus()
        return
    if request.param == "nats":
        nats_or_skip()
        from tailguard.infra.bus_nats import NatsJetStreamBus

        names = throwaway_stream()
        jetstream = NatsJetStreamBus(NATS_URL, group="monitoring", **names)
        yield jetstream
        jetstream.delete_stream()
        jetstream.close()
        return
    redis_or_skip()
    import redis

    from tailguard.infra.bus_redis import RedisStreamBus

    stream = f"tailguard-test:{uuid.uuid4().hex}"
    adapter = RedisStreamBus(REDIS_URL, stream=stream, group="monitoring", consumer="t1")
    yield adapter
    adapter.close()
    redis.Redis.from_url(REDIS_URL).delete(stream)


def _count(platform: Platform, table: Any) -> int:
    with platform.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _wait_for(condition: Any, seconds: float) -> float | None:
    """Seconds until `condition()` held, or None if it did not within `seconds`."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if condition():
            return time.monotonic() - start
        time.sleep(0.005)
    return None


def test_a_signal_on_the_bus_raises_its_alert_within_a_second(
        platform: Platform, bus: SignalBus) -> None:
    with_dealer(platform)
    loan = book_application(platform, "officer", application(1))
    consumer = Consumer(bus, signal_service.bus_handler(platform), block_ms=100).start()
    try:
        signal_service.publish(bus, [{
            "kind": "payment-received", "loan_id": loan,
            "occurred_at": "2026-01-10T09:00:00+08:00", "attributes": {"amount_fen": 100}}])
        assert _wait_for(lambda: _count(platform, signals) == 1, 10) is not None
        published = time.monotonic()
        signal_service.publish(bus, [{
            "kind": "court-hit", "loan_id": loan, "occurred_at": "2026-01-10T09:30:00+08:00",
            "external_id": "court-feed-1", "attributes": {"list": "dishonest-debtor"}}])
        waited = _wait_for(lambda: _count(platform, alerts) == 1, 1.0 - (time.monotonic()
                                                                         - published))
        assert waited is not None, "no alert within one second of publishing"
    finally:
        consumer.stop()
    assert consumer.failures == 0 and consumer.handled == 2


def test_signals_published_from_the_command_line_reach_the_rules(
        platform: Platform, tmp_path: Any) -> None:
    import json

    import redis
    from click.testing import CliRunner

    from tailguard.cli.main import main
    from tailguard.infra.bus_redis import RedisStreamBus

    redis_or_skip()
    with_dealer(platform)
    loan = book_application(platform, "officer", application(1))
    stream = f"tailguard-test:{uuid.uuid4().hex}"
    file = tmp_path / "s.json"
    file.write_text(json.dumps({"signals": [{
        "kind": "debit-failed", "loan_id": loan, "occurred_at": "2026-01-10T09:00:00+08:00",
        "attributes": {"amount_fen": 1000, "reason": "mandate-revoked"}}]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["signals", "publish", str(file), "--bus", REDIS_URL,
                                       "--stream", stream])
    assert result.exit_code == 0 and "published 1 signals" in result.output
    bus = RedisStreamBus(REDIS_URL, stream=stream, group="monitoring", consumer="cli-test")
    try:
        consumer = Consumer(bus, signal_service.bus_handler(platform), block_ms=50)
        assert consumer.poll_once() == 1
        assert _count(platform, alerts) == 1 and bus.pending() == 0
    finally:
        bus.close()
        redis.Redis.from_url(REDIS_URL).delete(stream)
