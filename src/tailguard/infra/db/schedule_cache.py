"""Committed schedule versions kept in memory, so that posting a payment does not read and
decode its loan's instalments again.

Why it is safe: a schedule version is written once and never changed (a restructure, a
refinance or an extension adds a version), so a version that has been committed stays what
it is. What a transaction reads is held apart and kept only when that transaction commits;
a version the transaction wrote itself and then rolled back never reaches the cache. One cache
per platform, that is per database, bounded: the least recently used versions go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, event

from tailguard.loans.schedule import Schedule

Key = tuple[str, int]
"""(loan id, schedule version)."""


class ScheduleCache:
    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._kept: OrderedDict[Key, Schedule] = OrderedDict()
        self._pending: dict[int, list[tuple[Key, Schedule]]] = {}
        """What each open transaction read, by the id of its connection."""
        self._lock = threading.Lock()

    def watch(self, engine: Engine) -> None:
        """Keep what a connection of `engine` read when its transaction commits."""
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def get(self, key: Key) -> Schedule | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def offer(self, connection: Connection, read: Iterable[tuple[Key, Schedule]]) -> None:
        """Versions `connection` read in its transaction: kept if it commits."""
        with self._lock:
            self._pending.setdefault(id(connection), []).extend(read)

    def __len__(self) -> int:
        return len(self._kept)

    def _commit(self, connection: Any) -> None:
        with self._lock:
            for key, schedule in self._pending.pop(id(connection), ()):
                self._kept[key] = schedule
                self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def _rollback(self, connection: Any) -> None:
        with self._lock:
            self._pending.pop(id(connection), None)
