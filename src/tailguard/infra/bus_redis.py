"""The signal bus on Redis Streams: XADD to publish, one consumer group read with XREADGROUP,
XACK after the handler committed.

A consumer first re-reads the messages the group delivered to it and it never acknowledged
(id `0`: what it was doing when it stopped), then new ones (id `>`). The stream is trimmed
approximately to `max_length` entries on publish, so a stream nobody reads cannot fill the
server; acknowledged or not, the newest entries are kept.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from tailguard.infra.bus import Delivery, decode, encode

DEFAULT_STREAM = "tailguard:signals"
DEFAULT_GROUP = "tailguard-monitoring"


class RedisStreamBus:
    def __init__(self, url: str, *, stream: str = DEFAULT_STREAM, group: str = DEFAULT_GROUP,
                 consumer: str | None = None, max_length: int = 1_000_000,
                 client: redis.Redis | None = None) -> None:
        self.client = client or redis.Redis.from_url(url, socket_timeout=10)
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.max_length = max_length
        self._backlog = True  # first drain what this consumer read and never acknowledged
        self._group_ready = False

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def publish(self, message: Mapping[str, Any]) -> str:
        return self.publish_many([message])[0]

    def publish_many(self, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        for message in messages:
            pipe.xadd(self.stream, {"data": encode(message)}, maxlen=self.max_length,
                      approximate=True)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in pipe.execute()]

    def read(self, count: int, block_ms: int) -> list[Delivery]:
        self._ensure_group()
        if self._backlog:
            entries = self._read_group("0", count, None)
            if entries:
                return entries
            self._backlog = False
        return self._read_group(">", count, block_ms)

    def _read_group(self, start: str, count: int, block_ms: int | None) -> list[Delivery]:
        answer: Any = self.client.xreadgroup(self.group, self.consumer, {self.stream: start},
                                             count=count, block=block_ms)
        out: list[Delivery] = []
        for _stream, entries in answer or []:
            for message_id, fields in entries:
                key = message_id.decode() if isinstance(message_id, bytes) else str(message_id)
                data = (fields or {}).get(b"data", b"")  # a trimmed entry has no fields
                out.append(Delivery(key, decode(data)))
        return out

    def ack(self, ids: Sequence[str]) -> None:
        if ids:
            self.client.xack(self.stream, self.group, *ids)

    def redeliver(self) -> None:
        self._backlog = True

    def pending(self) -> int:
        """How many messages the group has delivered and not yet had acknowledged."""
        self._ensure_group()
        summary = self.client.xpending(self.stream, self.group)
        return int(summary["pending"])

    def close(self) -> None:
        self.client.close()
