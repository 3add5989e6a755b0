"""The transparency log's node store in the database: a table of (level, index, hash)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, or_, select

from tailguard.contracts.tree_store import NodeKey
from tailguard.infra.db import bulk, tables


class SqlNodeStore:
    """`contracts.tree_store.NodeStore` over `log_nodes`, inside the caller's transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes | None]:
        if not keys:
            return []
        nodes = tables.log_nodes
        found: dict[tuple[int, int], bytes] = {}
        for start in range(0, len(keys), 200):
            batch = keys[start:start + 200]
            rows = self.connection.execute(
                select(nodes.c.level, nodes.c.node_index, nodes.c.hash).where(or_(*(
                    and_(nodes.c.level == level, nodes.c.node_index == index)
                    for level, index in batch
                )))
            ).all()
            found.update({(r.level, r.node_index): bytes(r.hash) for r in rows})
        return [found.get((level, index)) for level, index in keys]

    def put_nodes(self, nodes: Sequence[tuple[NodeKey, bytes]]) -> None:
        existing = self.get_nodes([key for key, _ in nodes])
        for (key, value), old in zip(nodes, existing, strict=True):
            assert old is None or old == value, f"log node {key} is write-once"
        bulk.insert_rows(
            self.connection, "log_nodes", ("level", "node_index", "hash"),
            [{"level": level, "node_index": index, "hash": value}
             for ((level, index), value), old in zip(nodes, existing, strict=True) if old is None],
        )
