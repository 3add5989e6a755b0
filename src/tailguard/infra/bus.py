"""The signal bus port, its embedded in-process adapter, and the consumer loop.

Producers publish plain JSON objects (a signal as the API accepts it); one consumer group reads
them, hands each batch to a handler (the signals service) and acknowledges the batch only after
the handler returned, so a crash between reading and committing redelivers instead of losing.
Handlers must therefore be idempotent: the service recognises a signal it already holds by its
`external_id`.

Adapters: `EmbeddedBus` (default: a queue inside the process, for one-process installations,
tests and the simulator), `bus_redis.RedisStreamBus` (Redis Streams with a consumer group) and
`bus_nats.NatsJetStreamBus` (a NATS JetStream stream with a durable pull consumer), the latter
two for production with several processes. `open_bus("embedded" | "redis://…" | "nats://…")`
picks one.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One message as read: the bus's id (to acknowledge it) and the decoded payload."""

    id: str
    payload: Any


class SignalBus(Protocol):
    def publish(self, message: Mapping[str, Any]) -> str:
        """Append one message; returns its id on the bus."""
        ...

    def publish_many(self, messages: Sequence[Mapping[str, Any]]) -> list[str]: ...

    def read(self, count: int, block_ms: int) -> list[Delivery]:
        """Up to `count` messages not yet delivered to this consumer (first those it read
        before and never acknowledged), waiting up to `block_ms` for the first."""
        ...

    def ack(self, ids: Sequence[str]) -> None: ...

    def redeliver(self) -> None:
        """Hand this consumer's read but unacknowledged messages out again on the next read
        (after its handler failed)."""
        ...

    def close(self) -> None: ...


def encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


def decode(data: str | bytes) -> Any:
    """The payload, or the raw text when it is not JSON (the handler rejects it, named)."""
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


class EmbeddedBus:
    """A bus inside the process: messages go through the same encode/decode as on Redis, so a
    payload that would not survive the wire does not survive here either."""

    def __init__(self) -> None:
        self._queue: deque[tuple[str, str]] = deque()
        self._pending: dict[str, str] = {}
        self._redeliver: deque[tuple[str, str]] = deque()
        self._ready = threading.Condition()
        self._ids = itertools.count(1)
        self._closed = False

    def publish(self, message: Mapping[str, Any]) -> str:
        return self.publish_many([message])[0]

    def publish_many(self, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        encoded = [(f"{next(self._ids)}-0", encode(m)) for m in messages]
        with self._ready:
            self._queue.extend(encoded)
            self._ready.notify_all()
        return [message_id for message_id, _ in encoded]

    def read(self, count: int, block_ms: int) -> list[Delivery]:
        with self._ready:
            if not self._queue and not self._redeliver and not self._closed:
                self._ready.wait(block_ms / 1000)
            out: list[Delivery] = []
            for source in (self._redeliver, self._queue):
                while source and len(out) < count:
                    message_id, data = source.popleft()
                    self._pending[message_id] = data
                    out.append(Delivery(message_id, decode(data)))
            return out

    def ack(self, ids: Sequence[str]) -> None:
        with self._ready:
            for message_id in ids:
                self._pending.pop(message_id, None)

    def requeue_unacknowledged(self) -> int:
        """Hand read but unacknowledged messages out again (what a restarted consumer gets
        from Redis); returns how many."""
        with self._ready:
            items = sorted(self._pending.items(), key=lambda kv: int(kv[0].split("-")[0]))
            self._pending.clear()
            self._redeliver.extend(items)
            self._ready.notify_all()
            return len(items)

    def redeliver(self) -> None:
        self.requeue_unacknowledged()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()


Handler = Callable[[list[Delivery]], None]


class Consumer:
    """A thread reading batches from a bus and handing them to `handler`; acknowledges a batch
    after the handler returns. A handler that raises leaves the batch unacknowledged; after a
    pause the loop reads it again, so one bad moment of the database neither stops monitoring
    nor loses signals (ingestion is idempotent, so a retried batch is not counted twice)."""

    def __init__(self, bus: SignalBus, handler: Handler, *, batch: int = 500,
                 block_ms: int = 200, name: str = "signal-consumer") -> None:
        self.bus = bus
        self.handler = handler
        self.batch = batch
        self.block_ms = block_ms
        self.handled = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Consumer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def poll_once(self) -> int:
        """Read and handle one batch in the calling thread; returns how many were handled."""
        deliveries = self.bus.read(self.batch, self.block_ms)
        if not deliveries:
            return 0
        self.handler(deliveries)
        self.bus.ack([d.id for d in deliveries])
        self.handled += len(deliveries)
        return len(deliveries)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # keep consuming; the batch is read again after a pause
                self.failures += 1
                log.exception("signal batch failed; it will be read again")
                self._stop.wait(1.0)
                self.bus.redeliver()


def open_bus(spec: str, **options: Any) -> SignalBus:
    """`embedded`, a `redis://` / `rediss://` URL or a `nats://` / `tls://` URL (stream and
    group from `options`)."""
    if spec == "embedded":
        return EmbeddedBus()
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from tailguard.infra.bus_redis import RedisStreamBus

        return RedisStreamBus(spec, **options)
    if spec.startswith(("nats://", "tls://")):
        from tailguard.infra.bus_nats import NatsJetStreamBus

        return NatsJetStreamBus(spec, **options)
    raise ValueError(f"unknown signal bus {spec!r}: embedded, a redis:// or a nats:// URL")
