"""Making a database ready: the schema, the GB/T 2260 regions and the product catalogue."""

from __future__ import annotations

from tailguard.infra.db.migrate import upgrade
from tailguard.regions.seed import load_regions
from tailguard.services.booking import ensure_products
from tailguard.services.platform import Platform


def initialise(platform: Platform) -> int:
    """Migrate, then load reference data that is missing; returns regions inserted."""
    upgrade(platform.engine)
    with platform.uow("system") as uow:
        inserted = load_regions(uow.connection)
        uow.commit()
    ensure_products(platform)
    return inserted
