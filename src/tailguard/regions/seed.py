"""Fill the `regions` table from the installed division list.

Dealers, parties and vehicles refer to regions by code, so the table must be filled before the
first dealer is written; `tailguard db upgrade`, the demo loader and tests call this. It inserts
in one executemany (one round trip per batch for the driver, not one statement per row) and
is idempotent: a second call inserts nothing, and a table holding some rows (a test that wrote
a single region) only receives the missing ones.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, insert, select

from tailguard.infra.db import tables
from tailguard.regions.divisions import Division, Divisions, load_divisions

_COORDINATE = Decimal("0.000001")


def _coordinate(value: float | None) -> Decimal | None:
    # repr() of the float read from the CSV gives back its short decimal text exactly.
    return None if value is None else Decimal(repr(value)).quantize(_COORDINATE)


def _row(division: Division) -> dict[str, object]:
    return {
        "code": division.code,
        "name": division.name,
        "level": division.level.value,
        "parent_code": division.parent_code,
        "province_code": division.province_code,
        "longitude": _coordinate(division.longitude),
        "latitude": _coordinate(division.latitude),
    }


def load_regions(connection: Connection, divisions: Divisions | None = None) -> int:
    """Insert every division not yet in `regions`; return how many were inserted.

    Runs inside the caller's transaction and does not commit.
    """
    source = load_divisions() if divisions is None else divisions
    present = set(connection.execute(select(tables.regions.c.code)).scalars())
    rows = [_row(d) for d in source if d.code not in present]
    if rows:
        connection.execute(insert(tables.regions), rows)
    return len(rows)
