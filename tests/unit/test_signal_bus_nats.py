"""The NATS JetStream signal bus against the real server at 127.0.0.1:4222 (skipped when it
does not answer, unless TAILGUARD_TEST_NATS=1 demands it): in order, acknowledged only when
told, redelivered after a failed batch or a restart, shared between processes of one group,
and garbage handed to the handler as text. Each test uses a throwaway stream."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tailguard.infra.bus import Consumer, Delivery, open_bus

NATS_URL = os.environ.get("TAILGUARD_TEST_NATS_URL", "nats://127.0.0.1:4222")


def nats_or_skip() -> None:
    host, _, port = NATS_URL.removeprefix("nats://").partition(":")
    try:
        socket.create_connection((host, int(port or 4222)), timeout=1).close()
    except OSError:
        if os.environ.get("TAILGUARD_TEST_NATS") == "1":
            pytest.fail(f"TAILGUARD_TEST_NATS=1 but NATS does not answer at {NATS_URL}")
        pytest.skip("NATS is not reachable")


def throwaway_stream() -> dict[str, str]:
    tag = uuid.uuid4().hex[:12]
    return {"stream": f"TG_TEST_{tag}", "subject": f"tailguard.signals.TG_TEST_{tag}"}


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    nats_or_skip()
    chosen = throwaway_stream()
    yield chosen
    from tailguard.infra.bus_nats import NatsJetStreamBus

    cleanup = NatsJetStreamBus(NATS_URL, **chosen)
    cleanup.delete_stream()
    cleanup.close()


def test_jetstream_delivers_in_order_acks_and_redelivers(names: dict[str, str]) -> None:
    from tailguard.infra.bus_nats import NatsJetStreamBus

    bus = open_bus(NATS_URL, group="g", **names)
    assert isinstance(bus, NatsJetStreamBus)
    ids = bus.publish_many([{"n": i, "text": "失信被执行人"} for i in range(4)])
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    got = bus.read(2, 500)
    assert [d.id for d in got] == ids[:2] and got[1].payload["text"] == "失信被执行人"
    bus.ack([got[0].id])
    assert bus.pending() == 1
    bus.redeliver()  # the handler failed: message 1 is handed out again, before the rest
    again = _read_all(bus, 3)
    assert [d.payload["n"] for d in again] == [1, 2, 3] and again[0].id == ids[1]
    bus.ack([d.id for d in again])
    assert bus.pending() == 0 and bus.read(10, 100) == []
    bus.close()


def test_a_restarted_consumer_gets_what_it_never_acknowledged(names: dict[str, str]) -> None:
    from tailguard.infra.bus_nats import NatsJetStreamBus

    first = NatsJetStreamBus(NATS_URL, group="g", ack_wait_seconds=1.0, **names)
    first.publish_many([{"n": 1}, {"n": 2}])
    assert len(first.read(10, 500)) == 2
    first.close()  # died without acknowledging
    second = NatsJetStreamBus(NATS_URL, group="g", ack_wait_seconds=1.0, **names)
    redelivered = _read_all(second, 2, seconds=5)
    assert [d.payload["n"] for d in redelivered] == [1, 2]
    second.ack([d.id for d in redelivered])
    assert second.pending() == 0
    # a second process of the same group does not see what the group already handled
    other = NatsJetStreamBus(NATS_URL, group="g", **names)
    assert other.read(10, 100) == []
    for bus in (second, other):
        bus.close()


def test_garbage_reaches_the_handler_as_text(names: dict[str, str]) -> None:
    from tailguard.infra.bus_nats import NatsJetStreamBus

    bus = open_bus(NATS_URL, group="g", **names)  # creates the stream first
    assert isinstance(bus, NatsJetStreamBus)
    # a producer that is not tailguard puts raw bytes on the subject (through the adapter's
    # own connection and loop: the suite may already run an event loop in this thread)
    bus._call(bus._js.publish(bus.subject, b"{not json"))
    [delivery] = bus.read(10, 500)
    assert delivery.payload == "{not json"
    bus.ack([delivery.id])
    bus.close()


def test_a_failed_batch_is_read_again_by_the_running_consumer(names: dict[str, str]) -> None:
    bus = open_bus(NATS_URL, group="g", **names)
    calls: list[list[int]] = []

    def flaky(batch: list[Delivery]) -> None:
        calls.append([d.payload["n"] for d in batch])
        if len(calls) == 1:
            raise RuntimeError("database down")

    bus.publish_many([{"n": 1}, {"n": 2}])
    consumer = Consumer(bus, flaky, batch=10, block_ms=50).start()
    deadline = time.monotonic() + 8
    while sum(map(len, calls[1:])) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    consumer.stop()
    assert calls[0] == [1, 2] and sorted(n for c in calls[1:] for n in c) == [1, 2]
    assert consumer.failures == 1 and consumer.handled == 2
    bus.close()


def _read_all(bus: Any, want: int, seconds: float = 3.0) -> list[Delivery]:
    """JetStream may hand a batch out in pieces: read until `want` arrived or time is up."""
    out: list[Delivery] = []
    deadline = time.monotonic() + seconds
    while len(out) < want and time.monotonic() < deadline:
        out.extend(bus.read(want - len(out), 200))
    return out


def test_the_command_line_publishes_to_nats(names: dict[str, str], tmp_path: Any) -> None:
    import json

    from click.testing import CliRunner

    from tailguard.cli.main import main

    stream_only = {"stream": names["stream"]}  # the subject follows from the stream's name
    bus = open_bus(NATS_URL, group="g", **stream_only)
    file = tmp_path / "s.json"
    file.write_text(json.dumps([{"kind": "court-hit", "loan_id": "L1"}]), encoding="utf-8")
    result = CliRunner().invoke(main, ["signals", "publish", str(file), "--bus", NATS_URL,
                                       "--stream", names["stream"]])
    assert result.exit_code == 0 and "published 1 signals" in result.output
    [delivery] = _read_all(bus, 1)
    assert delivery.payload == {"kind": "court-hit", "loan_id": "L1"}
    bus.ack([delivery.id])
    result = CliRunner().invoke(main, ["signals", "publish", str(file), "--bus", "kafka://x"])
    assert result.exit_code == 2 and "bus" in result.output
    bus.close()
