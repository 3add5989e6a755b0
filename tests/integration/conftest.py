"""Fresh, migrated databases for integration tests, on SQLite and on PostgreSQL.

`fresh_url` is parametrised over both databases and gives the URL of a database holding exactly
the schema of `tailguard.infra.db.migrate.upgrade` (no reference data); `engine` is an engine on
it. Each test gets its own database, so tests may commit freely and never clean up.

Speed: the migrations run once per session into a template: SQLite copies the template file,
PostgreSQL creates each test database with `CREATE DATABASE ... TEMPLATE`, a file copy on the
server. Names carry a random suffix, so concurrent test sessions on one server do not collide,
and every database made here is dropped again.

PostgreSQL: `TAILGUARD_TEST_POSTGRES_URL` names a maintenance database to connect to (default
postgresql://postgres@127.0.0.1/test). When the variable is set, an unreachable server is an
error; when unset, the PostgreSQL parameter is skipped only if the default server is unreachable.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tailguard.infra.db.engine import make_engine
from tailguard.infra.db.migrate import upgrade

POSTGRES_ENV = "TAILGUARD_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1/test"


def _maintenance_engine(url: str) -> Engine:
    return make_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 3},
    )


def _database_url(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


@dataclass(frozen=True)
class PostgresTemplate:
    maintenance_url: str
    name: str


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[PostgresTemplate]:
    explicit = os.environ.get(POSTGRES_ENV)
    url = explicit or DEFAULT_POSTGRES_URL
    maintenance = _maintenance_engine(url)
    try:
        with maintenance.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as exc:
        maintenance.dispose()
        if explicit:
            pytest.fail(f"{POSTGRES_ENV} is set but PostgreSQL does not answer: {exc}")
        pytest.skip(f"PostgreSQL is not reachable at {url} and {POSTGRES_ENV} is unset")
    name = f"tg_tpl_{uuid.uuid4().hex[:12]}"
    with maintenance.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        migrating = make_engine(_database_url(url, name), poolclass=NullPool)
        try:
            upgrade(migrating)
        finally:
            migrating.dispose()
        yield PostgresTemplate(url, name)
    finally:
        with maintenance.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        maintenance.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrating = make_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        upgrade(migrating)
    finally:
        # Closing the last connection folds the write-ahead log into the main file.
        migrating.dispose()
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a new database with the current schema, dropped after the test."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        target = tmp_path / "tailguard.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    pg: PostgresTemplate = request.getfixturevalue("_postgres_template")
    name = f"tg_test_{uuid.uuid4().hex[:12]}"
    maintenance = _maintenance_engine(pg.maintenance_url)
    with maintenance.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg.name}"'))
    try:
        yield _database_url(pg.maintenance_url, name)
    finally:
        with maintenance.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        maintenance.dispose()


@pytest.fixture
def engine(fresh_url: str) -> Iterator[Engine]:
    """An engine on `fresh_url`, disposed after the test."""
    made = make_engine(fresh_url)
    try:
        yield made
    finally:
        made.dispose()
