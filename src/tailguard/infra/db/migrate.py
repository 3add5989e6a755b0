"""Applying the schema: `tailguard db upgrade` and test set-up both come through here."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from tailguard.infra.db import (
    tables_contracts,  # noqa: F401  (its tables join metadata)
    tables_engagement,  # noqa: F401  (its tables join metadata)
    tables_monitoring,  # noqa: F401  (its tables join metadata)
    tables_offers,  # noqa: F401  (its tables join metadata)
    tables_origination,  # noqa: F401  (its tables join metadata)
    tables_recovery,  # noqa: F401  (its tables join metadata)
    tables_risk,  # noqa: F401  (its tables join metadata)
    tables_web,  # noqa: F401  (its tables join metadata)
)

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the database to `revision` on one connection, in one transaction.

    The default is every head: each context adds its tables in a migration of its own that
    starts from the initial schema, so contexts built side by side do not have to agree on
    one line of revisions; a merge revision joins them when they settle."""
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revisions the database is at, joined by '+' when several heads are applied."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return "+".join(sorted(heads)) if heads else None
