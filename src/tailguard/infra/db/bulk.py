"""Bulk statements straight to the driver, for the column-wise batch paths.

SQLAlchemy's per-row parameter processing costs more than the database itself when a chunk
updates tens of thousands of rows. Here the SQL is written once with `:name` placeholders and
handed to the driver's `executemany` with plain dicts (sqlite3 takes `:name`, psycopg
`%(name)s`), or, on the paths that write a row per loan per night, with tuples bound by
position (`update_values`, `insert_values`). Values must already be driver types: int, str,
date, bool, None.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection

_NAMED = re.compile(r"(?<![:\w]):(\w+)")
COPY_ROWS_MIN = 200
"""Below this many rows a plain executemany beats COPY's set-up on PostgreSQL."""


def executemany(connection: Connection, sql: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        sql = _NAMED.sub(r"%(\1)s", sql)
    connection.exec_driver_sql(sql, list(rows))


def _psycopg(connection: Connection) -> psycopg.Connection[Any]:
    """The driver connection under SQLAlchemy's, in the same transaction."""
    raw = connection.connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def update_rows(
    connection: Connection,
    table: str,
    keys: Sequence[str],
    columns: dict[str, str],
    rows: Sequence[dict[str, Any]],
) -> None:
    """UPDATE `table` SET columns FROM rows WHERE keys match, one row per dict.

    `columns` maps every column named in the rows (keys included) to its PostgreSQL type. On
    PostgreSQL the rows are COPYed into a temporary table and applied with one UPDATE … FROM,
    which is an order of magnitude faster than one statement per row; SQLite, in process,
    takes the plain executemany.
    """
    if not rows:
        return
    names = list(columns)
    settable = [c for c in names if c not in keys]
    if connection.dialect.name != "postgresql" or len(rows) < COPY_ROWS_MIN:
        executemany(
            connection,
            f"UPDATE {table} SET {', '.join(f'{c} = :{c}' for c in settable)} "
            f"WHERE {' AND '.join(f'{k} = :{k}' for k in keys)}",
            rows,
        )
        return
    _copy_update(connection, table, keys, columns,
                 [tuple(row[n] for n in names) for row in rows])


def update_values(
    connection: Connection,
    table: str,
    keys: Sequence[str],
    columns: dict[str, str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """`update_rows` with each row a tuple in the order of `columns`.

    For the nightly paths that write a row per loan: no dict per row, and SQLite binds the
    values by position (`?N`), which costs less per row than binding by name."""
    if not rows:
        return
    names = list(columns)
    if connection.dialect.name != "postgresql":
        place = {name: f"?{k + 1}" for k, name in enumerate(names)}
        connection.exec_driver_sql(
            f"UPDATE {table} SET "
            f"{', '.join(f'{c} = {place[c]}' for c in names if c not in keys)} "
            f"WHERE {' AND '.join(f'{k} = {place[k]}' for k in keys)}",
            list(rows),
        )
        return
    if len(rows) < COPY_ROWS_MIN:
        executemany(connection, f"UPDATE {table} SET "
                    f"{', '.join(f'{c} = :{c}' for c in names if c not in keys)} "
                    f"WHERE {' AND '.join(f'{k} = :{k}' for k in keys)}",
                    [dict(zip(names, row, strict=True)) for row in rows])
        return
    _copy_update(connection, table, keys, columns, rows)


def _copy_update(connection: Connection, table: str, keys: Sequence[str],
                 columns: dict[str, str], rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: COPY the rows into a temporary table, then one UPDATE … FROM."""
    names = list(columns)
    settable = [c for c in names if c not in keys]
    # One temporary table per column list: a transaction may update the same table through
    # different column lists (the nightly step, then a replayed loan's changed columns).
    temp = f"tmp_{table}_{zlib.crc32(','.join(names).encode()):08x}"
    raw = _psycopg(connection)
    with raw.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {temp} "
            f"({', '.join(f'{n} {t}' for n, t in columns.items())}) ON COMMIT DROP"
        )
        cursor.execute(f"TRUNCATE {temp}")
        with cursor.copy(f"COPY {temp} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # Statistics for the join below; without them the planner guesses a tiny table.
        cursor.execute(f"ANALYZE {temp}")
        cursor.execute(
            f"UPDATE {table} AS t SET {', '.join(f'{c} = s.{c}' for c in settable)} "
            f"FROM {temp} AS s WHERE {' AND '.join(f't.{k} = s.{k}' for k in keys)}"
        )


def insert_rows(
    connection: Connection, table: str, names: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """INSERT many rows: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    if connection.dialect.name != "postgresql" or len(rows) < COPY_ROWS_MIN:
        executemany(
            connection,
            f"INSERT INTO {table} ({', '.join(names)}) "
            f"VALUES ({', '.join(f':{n}' for n in names)})",
            rows,
        )
        return
    _copy_in(connection, table, names, (tuple(row[n] for n in names) for row in rows))


def insert_values(
    connection: Connection, table: str, names: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """`insert_rows` with each row a tuple in the order of `names` (bound by position)."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})", list(rows))
        return
    if len(rows) < COPY_ROWS_MIN:
        connection.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(names)}) "
            f"VALUES ({', '.join('%s' for _ in names)})", list(rows))
        return
    _copy_in(connection, table, names, rows)


def _copy_in(connection: Connection, table: str, names: Sequence[str],
             rows: Iterable[tuple[Any, ...]]) -> None:
    """PostgreSQL: COPY the rows (tuples in the order of `names`) into `table`."""
    raw = _psycopg(connection)
    with raw.cursor() as cursor, cursor.copy(
        f"COPY {table} ({', '.join(names)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
