"""The signal bus on NATS JetStream: a stream keeps the signals, a durable pull consumer with
explicit acknowledgement reads them, and a message is acknowledged only after the handler
committed.

nats-py is asynchronous while the signal service and the consumer loop are not, so the adapter
owns one event loop in a daemon thread and every call waits for its coroutine there. The
durable consumer is what makes a restart safe: messages delivered and never acknowledged are
delivered again, on `redeliver()` at once (each is nak'd) and otherwise after `ack_wait`.

Ids handed to the consumer are the stream sequence numbers, which are unique and increasing,
so a redelivered message keeps its id. The stream is capped at `max_messages` (oldest dropped)
so that one nobody reads cannot fill the server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, StreamConfig
from nats.js.errors import NotFoundError

from tailguard.infra.bus import Delivery, decode, encode

DEFAULT_STREAM = "TAILGUARD_SIGNALS"
DEFAULT_SUBJECT = "tailguard.signals"
DEFAULT_DURABLE = "tailguard-monitoring"

T = TypeVar("T")


class NatsJetStreamBus:
    def __init__(self, url: str, *, stream: str = DEFAULT_STREAM,
                 subject: str | None = None, group: str = DEFAULT_DURABLE,
                 consumer: str | None = None, max_messages: int = 1_000_000,
                 ack_wait_seconds: float = 30.0, connect_timeout: float = 5.0) -> None:
        """`group` names the durable consumer (the equivalent of a Redis consumer group: all
        processes sharing it split the messages); `consumer` is accepted for the same call
        shape as the Redis adapter and not needed by JetStream. The subject defaults to
        `tailguard.signals` for the default stream and `tailguard.signals.<stream>` for any
        other, so naming a stream (as `--stream` does) is enough to address it."""
        del consumer
        self.stream = stream
        self.subject = subject or (DEFAULT_SUBJECT if stream == DEFAULT_STREAM
                                   else f"{DEFAULT_SUBJECT}.{stream}")
        self.durable = group
        self._held: dict[str, Any] = {}  # id -> message read and not yet acknowledged
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-bus",
                                        daemon=True)
        self._thread.start()
        try:
            self._nc = self._call(nats.connect(url, connect_timeout=connect_timeout,
                                               max_reconnect_attempts=3,
                                               allow_reconnect=True))
            self._js = self._nc.jetstream()
            self._call(self._ensure_stream(max_messages))
            self._sub: Any = None
            self._ack_wait = ack_wait_seconds
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _ensure_stream(self, max_messages: int) -> None:
        config = StreamConfig(name=self.stream, subjects=[self.subject], max_msgs=max_messages,
                              discard=DiscardPolicy.OLD)
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(config)

    async def _subscription(self) -> Any:
        if self._sub is None:
            self._sub = await self._js.pull_subscribe(
                self.subject, durable=self.durable, stream=self.stream,
                config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT,
                                      ack_wait=self._ack_wait))
        return self._sub

    def publish(self, message: Mapping[str, Any]) -> str:
        return self.publish_many([message])[0]

    def publish_many(self, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        async def publish_all() -> list[str]:
            acks = [await self._js.publish(self.subject, encode(m).encode("utf-8"))
                    for m in messages]
            return [str(a.seq) for a in acks]

        return self._call(publish_all())

    def read(self, count: int, block_ms: int) -> list[Delivery]:
        async def fetch() -> list[Any]:
            sub = await self._subscription()
            try:
                return list(await sub.fetch(batch=count, timeout=max(block_ms, 1) / 1000))
            except (NatsTimeout, TimeoutError):  # nothing arrived in time
                return []

        out: list[Delivery] = []
        for msg in self._call(fetch(), timeout=max(block_ms / 1000, 0) + 30):
            key = str(msg.metadata.sequence.stream)
            self._held[key] = msg
            out.append(Delivery(key, decode(msg.data)))
        return out

    def ack(self, ids: Sequence[str]) -> None:
        messages = [self._held.pop(i) for i in ids if i in self._held]

        async def ack_all() -> None:
            for msg in messages:
                await msg.ack_sync()  # waits for the server: an ack is not lost in a buffer

        if messages:
            self._call(ack_all())

    def redeliver(self) -> None:
        messages = list(self._held.values())
        self._held.clear()

        async def nak_all() -> None:
            for msg in messages:
                await msg.nak()

        if messages:
            self._call(nak_all())

    def pending(self) -> int:
        """How many messages the durable consumer has delivered and not had acknowledged."""
        async def info() -> int:
            await self._subscription()
            consumer = await self._js.consumer_info(self.stream, self.durable)
            return int(consumer.num_ack_pending or 0)

        return self._call(info())

    def delete_stream(self) -> None:
        """Remove the stream with everything in it (tests and benchmarks use throwaway ones)."""
        self._call(self._js.delete_stream(self.stream))

    def close(self) -> None:
        try:  # acknowledgements were already flushed (ack_sync); what is held is redelivered
            self._call(self._nc.close(), timeout=10)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
