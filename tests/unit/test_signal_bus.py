"""The signal bus adapters: the embedded queue, and Redis Streams against the real server at
127.0.0.1:6379 (skipped when it does not answer, unless TAILGUARD_TEST_REDIS=1 demands it).
Both must deliver in order, hand unacknowledged messages out again, and survive the wire."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import pytest

from tailguard.infra.bus import Consumer, Delivery, EmbeddedBus, open_bus

REDIS_URL = os.environ.get("TAILGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("TAILGUARD_TEST_REDIS") == "1":
            pytest.fail(f"TAILGUARD_TEST_REDIS=1 but Redis does not answer at {REDIS_URL}")
        pytest.skip("Redis is not reachable")


@pytest.fixture
def stream() -> Iterator[str]:
    redis_or_skip()
    import redis

    name = f"tailguard-test:{uuid.uuid4().hex}"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name)


def test_embedded_bus_delivers_in_order_and_redelivers_unacknowledged() -> None:
    bus = EmbeddedBus()
    ids = bus.publish_many([{"n": i, "text": "逾期"} for i in range(5)])
    first = bus.read(3, 10)
    assert [d.payload["n"] for d in first] == [0, 1, 2] and first[0].id == ids[0]
    assert first[0].payload["text"] == "逾期"
    bus.ack([first[0].id])
    assert [d.payload["n"] for d in bus.read(10, 10)] == [3, 4]
    assert bus.read(10, 10) == []
    assert bus.requeue_unacknowledged() == 4  # 1, 2, 3, 4 were read and not acknowledged
    assert [d.payload["n"] for d in bus.read(10, 10)] == [1, 2, 3, 4]


def test_a_blocked_read_wakes_on_publish() -> None:
    bus = EmbeddedBus()
    got: list[Delivery] = []
    reader = threading.Thread(target=lambda: got.extend(bus.read(10, 5000)))
    reader.start()
    bus.publish({"kind": "court-hit"})
    reader.join(2)
    assert not reader.is_alive() and got[0].payload == {"kind": "court-hit"}


def test_the_consumer_acknowledges_only_after_its_handler_returns() -> None:
    bus = EmbeddedBus()
    seen: list[int] = []

    def failing(batch: list[Delivery]) -> None:
        raise RuntimeError("database down")

    consumer = Consumer(bus, failing, batch=10, block_ms=10)
    bus.publish_many([{"n": 1}, {"n": 2}])
    with pytest.raises(RuntimeError):
        consumer.poll_once()
    assert bus.requeue_unacknowledged() == 2
    consumer.handler = lambda batch: seen.extend(d.payload["n"] for d in batch)
    assert consumer.poll_once() == 2 and seen == [1, 2]
    assert bus.requeue_unacknowledged() == 0


def test_unknown_bus_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown signal bus"):
        open_bus("kafka://nowhere")


def test_redis_streams_consumer_group_ack_and_redelivery(stream: str) -> None:
    from tailguard.infra.bus_redis import RedisStreamBus

    bus = RedisStreamBus(REDIS_URL, stream=stream, group="g", consumer="c1")
    ids = bus.publish_many([{"n": i, "text": "失信被执行人"} for i in range(4)])
    got = bus.read(2, 100)
    assert [d.id for d in got] == ids[:2] and got[1].payload["text"] == "失信被执行人"
    bus.ack([got[0].id])
    assert bus.pending() == 1
    # a restarted consumer of the same name first gets what it read and never acknowledged
    again = RedisStreamBus(REDIS_URL, stream=stream, group="g", consumer="c1")
    assert [d.payload["n"] for d in again.read(10, 100)] == [1]
    again.ack([ids[1]])
    assert [d.payload["n"] for d in again.read(10, 100)] == [2, 3]
    # another consumer in the group never sees what was already delivered
    other = RedisStreamBus(REDIS_URL, stream=stream, group="g", consumer="c2")
    assert other.read(10, 50) == []
    again.ack(ids[2:])
    assert again.pending() == 0
    for b in (bus, again, other):
        b.close()


def test_redis_garbage_reaches_the_handler_as_text(stream: str) -> None:
    import redis

    from tailguard.infra.bus_redis import RedisStreamBus

    redis.Redis.from_url(REDIS_URL).xadd(stream, {"data": b"{not json"})
    bus = open_bus(REDIS_URL, stream=stream, group="g2", consumer="c")
    assert isinstance(bus, RedisStreamBus)
    [delivery] = bus.read(10, 100)
    assert delivery.payload == "{not json"
    bus.close()


@pytest.mark.parametrize("kind", ["embedded", "redis"])
def test_a_failed_batch_is_read_again_by_the_running_consumer(kind: str) -> None:
    import time

    from tailguard.infra.bus import SignalBus

    stream = f"tailguard-test:{uuid.uuid4().hex}"
    bus: SignalBus
    if kind == "redis":
        redis_or_skip()
        from tailguard.infra.bus_redis import RedisStreamBus

        bus = RedisStreamBus(REDIS_URL, stream=stream, group="g", consumer="c")
    else:
        bus = EmbeddedBus()
    calls: list[list[int]] = []

    def flaky(batch: list[Delivery]) -> None:
        calls.append([d.payload["n"] for d in batch])
        if len(calls) == 1:
            raise RuntimeError("database down")

    bus.publish_many([{"n": 1}, {"n": 2}])
    consumer = Consumer(bus, flaky, batch=10, block_ms=20).start()
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    consumer.stop()
    assert calls[:2] == [[1, 2], [1, 2]] and consumer.failures == 1 and consumer.handled == 2
    if kind == "redis":
        import redis

        from tailguard.infra.bus_redis import RedisStreamBus

        assert isinstance(bus, RedisStreamBus) and bus.pending() == 0
        redis.Redis.from_url(REDIS_URL).delete(stream)
    bus.close()
