"""The unit of work: one connection, one transaction, and the audit row and outbox events that
must commit with the change or not at all.

Services open one, do their reads and writes through it, and call `commit()` once. Leaving the
block without committing rolls everything back, so a refusal or a crash half-way leaves the
database exactly as it was.
"""

from __future__ import annotations

import json
from datetime import date
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, insert

from tailguard.infra.clock import Clock
from tailguard.infra.db import tables
from tailguard.infra.db.engine import WRITE_OPTION


def _json_default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_json(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=_json_default)


class UnitOfWork:
    def __init__(self, engine: Engine, clock: Clock, actor: str = "system") -> None:
        self.engine = engine
        self.clock = clock
        self.actor = actor
        self._connection: Connection | None = None
        self._committed = False

    @property
    def connection(self) -> Connection:
        assert self._connection is not None, "use the unit of work inside a with-block"
        return self._connection

    def __enter__(self) -> UnitOfWork:
        self._connection = self.engine.connect().execution_options(**{WRITE_OPTION: True})
        self._connection.begin()
        self._committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            if not self._committed:
                self._connection.rollback()
        finally:
            self._connection.close()
            self._connection = None

    def commit(self) -> None:
        self.connection.commit()
        self._committed = True

    def audit(
        self, action: str, entity_type: str, entity_id: str | None, detail: Any = None
    ) -> None:
        self.connection.execute(
            insert(tables.audit_log).values(
                actor=self.actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                detail=None if detail is None else to_json(detail),
                recorded_at=self.clock.now(),
            )
        )

    def audit_many(self, rows: list[tuple[str, str, str | None, Any]]) -> None:
        """Several audit rows (action, entity type, entity id, detail) in one statement."""
        if rows:
            now = self.clock.now()
            self.connection.execute(insert(tables.audit_log), [
                {"actor": self.actor, "action": action, "entity_type": entity_type,
                 "entity_id": entity_id, "detail": None if detail is None else to_json(detail),
                 "recorded_at": now}
                for action, entity_type, entity_id, detail in rows
            ])

    def emit_many(self, events: list[tuple[str, str | None, Any, date | None]]) -> None:
        """Several outbox events (type, aggregate id, payload, business date) at once."""
        if events:
            now = self.clock.now()
            self.connection.execute(insert(tables.outbox), [
                {"event_type": event_type, "aggregate_id": aggregate_id,
                 "payload": to_json(payload), "business_date": business_date,
                 "dedupe_key": None, "recorded_at": now}
                for event_type, aggregate_id, payload, business_date in events
            ])

    def emit(
        self,
        event_type: str,
        aggregate_id: str | None,
        payload: Any,
        business_date: date | None = None,
        dedupe_key: str | None = None,
    ) -> None:
        """Queue an event for delivery after commit (the outbox)."""
        self.connection.execute(
            insert(tables.outbox).values(
                event_type=event_type,
                aggregate_id=aggregate_id,
                payload=to_json(payload),
                business_date=business_date,
                dedupe_key=dedupe_key,
                recorded_at=self.clock.now(),
            )
        )
