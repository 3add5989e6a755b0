"""Alembic environment: runs migrations on the connection or URL tailguard hands it."""

from __future__ import annotations

from alembic import context

from tailguard.infra.db import (
    tables_contracts,  # noqa: F401  (its tables join metadata)
    tables_engagement,  # noqa: F401  (its tables join metadata)
    tables_monitoring,  # noqa: F401  (its tables join metadata)
    tables_offers,  # noqa: F401  (its tables join metadata)
    tables_origination,  # noqa: F401  (its tables join metadata)
    tables_recovery,  # noqa: F401  (its tables join metadata)
    tables_web,  # noqa: F401  (its tables join metadata)
)
from tailguard.infra.db.engine import make_engine
from tailguard.infra.db.tables import metadata

config = context.config
target_metadata = metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():  # pragma: no cover - tailguard always migrates online
    raise SystemExit("offline migrations are not supported")
run()
