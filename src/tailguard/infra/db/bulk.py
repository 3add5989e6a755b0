"""Bulk statements straight to the driver, for the column-wise batch paths.

SQLAlchemy's per-row parameter processing costs more than the database itself when a chunk
updates tens of thousands of rows. Here the SQL is written once with `:name` placeholders and
handed to the driver's `executemany` with plain dicts (sqlite3 takes `:name`, psycopg
`%(name)s`). Values must already be driver types: int, str, date, bool, None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def executemany(connection: Connection, sql: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        sql = _NAMED.sub(r"%(\1)s", sql)
    connection.exec_driver_sql(sql, list(rows))
