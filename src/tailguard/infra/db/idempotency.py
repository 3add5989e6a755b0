"""Idempotency keys: a money command's outcome, refusals included, stored under its key.

The client makes the key before it sends the command and sends it again on a retry. The first
outcome is stored in the same transaction as the command's effects, so either both exist or
neither does; a replay returns the stored outcome; the same key with a different payload is an
error, never a second posting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from tailguard.errors import Conflict
from tailguard.infra.db import tables


class IdempotencyConflict(Conflict):
    """The key was used before for a different command or payload."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was used with a different request")
        self.key = key


@dataclass(frozen=True)
class StoredOutcome:
    status: int
    outcome: dict[str, Any]


def payload_hash(command: str, payload: dict[str, Any]) -> str:
    text = json.dumps({"command": command, "payload": payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def lookup(
    connection: Connection, key: str, command: str, digest: str
) -> StoredOutcome | None:
    row = connection.execute(
        select(tables.idempotency).where(tables.idempotency.c.key == key)
    ).mappings().one_or_none()
    if row is None:
        return None
    if row["command"] != command or row["payload_hash"] != digest:
        raise IdempotencyConflict(key)
    return StoredOutcome(row["status"], json.loads(row["outcome"]))


def lookup_many(
    connection: Connection, requests: Sequence[tuple[str, str, str]]
) -> dict[str, StoredOutcome | IdempotencyConflict]:
    """`lookup` for many (key, command, digest) at once: key → stored outcome or conflict."""
    if not requests:
        return {}
    wanted = {key: (command, digest) for key, command, digest in requests}
    rows = connection.execute(
        select(tables.idempotency).where(tables.idempotency.c.key.in_(list(wanted)))
    ).mappings().all()
    found: dict[str, StoredOutcome | IdempotencyConflict] = {}
    for row in rows:
        command, digest = wanted[row["key"]]
        found[row["key"]] = (
            IdempotencyConflict(row["key"])
            if row["command"] != command or row["payload_hash"] != digest
            else StoredOutcome(row["status"], json.loads(row["outcome"]))
        )
    return found


def save_many(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store several outcomes: dicts with key, command, digest, status, outcome, recorded_at."""
    if rows:
        connection.execute(insert(tables.idempotency), [
            {"key": r["key"], "command": r["command"], "payload_hash": r["digest"],
             "status": r["status"],
             "outcome": json.dumps(r["outcome"], sort_keys=True, default=str),
             "recorded_at": r["recorded_at"]}
            for r in rows
        ])


def save(
    connection: Connection,
    key: str,
    command: str,
    digest: str,
    status: int,
    outcome: dict[str, Any],
    recorded_at: datetime,
) -> None:
    connection.execute(
        insert(tables.idempotency).values(
            key=key, command=command, payload_hash=digest, status=status,
            outcome=json.dumps(outcome, sort_keys=True, default=str), recorded_at=recorded_at,
        )
    )
