"""Service tests run on SQLite and on PostgreSQL, each test on a fresh, fully set-up database.

A template is initialised once per session for each database (schema, regions, products):
SQLite copies the template file, PostgreSQL creates the test database `TEMPLATE` it, so a test
costs milliseconds of set-up instead of a migration. The PostgreSQL tier is skipped only when no
server answers; `.ci/run` starts one and fails if this tier was skipped.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.clock import FixedClock
from tailguard.infra.db.engine import make_engine
from tailguard.infra.settings import load_settings
from tailguard.services.platform import Platform
from tailguard.services.setup import initialise

POSTGRES_URL = os.environ.get(
    "TAILGUARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TEMPLATE_DB = f"tailguard_test_template_{os.getpid()}"
"""Per test process, so that concurrent runs (helpers, xdist) do not drop each other's template."""
START = date(2026, 1, 10)
FILES_ROOT = tempfile.mkdtemp(prefix="tailguard-test-files-")
"""Document stores and notary folders of this session's platforms, removed at exit."""
atexit.register(shutil.rmtree, FILES_ROOT, ignore_errors=True)


def _postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def make_platform(url: str, clock: FixedClock) -> Platform:
    files = tempfile.mkdtemp(prefix="files-", dir=FILES_ROOT)  # contracts, notary: not in var/
    settings = load_settings({"TAILGUARD_DATABASE_URL": url, "TAILGUARD_MODE": "test",
                              "TAILGUARD_DOCUMENT_ROOT": f"{files}/documents",
                              "TAILGUARD_NOTARY": f"folder:{files}/notary"})
    return Platform(settings, make_engine(url), clock)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarFallbackWarning)
        platform = make_platform(f"sqlite:///{path}", FixedClock.at(START))
        initialise(platform)
        platform.engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> str:
    if not _postgres_available():
        if os.environ.get("TAILGUARD_TEST_POSTGRES_URL"):
            pytest.fail("TAILGUARD_TEST_POSTGRES_URL is set but PostgreSQL does not answer")
        pytest.skip("PostgreSQL is not reachable")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    base = POSTGRES_URL.rsplit("/", 1)[0]
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {TEMPLATE_DB}"))
    platform = make_platform(f"{base}/{TEMPLATE_DB}", FixedClock.at(START))
    initialise(platform)
    platform.engine.dispose()
    atexit.register(_drop_template, admin)
    return base


def _drop_template(admin: Engine) -> None:
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], str]]:
    """A factory of fresh, set-up databases of this test's kind (most tests need one)."""
    created: list[str] = []
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")

        def new_sqlite() -> str:
            target = tmp_path / f"test{len(created)}.db"
            shutil.copyfile(template, target)
            created.append(str(target))
            return f"sqlite:///{target}"

        yield new_sqlite
        return
    base: str = request.getfixturevalue("postgres_template")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")

    def new_postgres() -> str:
        name = "tg_" + uuid.uuid4().hex[:12]
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
        created.append(name)
        return f"{base}/{name}"

    try:
        yield new_postgres
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def database_url(new_database: Callable[[], str]) -> str:
    return new_database()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock.at(START)


@pytest.fixture
def platform(database_url: str, clock: FixedClock) -> Iterator[Platform]:
    plat = make_platform(database_url, clock)
    try:
        yield plat
    finally:
        plat.engine.dispose()
