"""Tables of the contracts context: issued contract documents and checkpoint anchors.

They share `tables.metadata`, so one Alembic history and `metadata.create_all` see them; the
migration that creates them is `0002_contracts`. The PDF itself lives in the document store;
a row holds what identifies it (loan, kind, version), where it is, its SHA-256 and the clause
ids it was generated with (for the compliance review), never personal data.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tailguard.infra.db.tables import metadata

contract_documents = Table(
    "contract_documents", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(80), nullable=False, unique=True),  # LOAN/kind/vN, the leaf identifier
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # contract, addendum
    Column("version", Integer, nullable=False),
    Column("language", String(8), nullable=False),
    Column("template", String(60), nullable=False),
    Column("reason", String(80), nullable=False),  # booking, loan.extend, …
    Column("clauses", Text, nullable=False),  # JSON list of clause ids, in document order
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("storage_key", String(400), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("loan_id", "version", name="uq_contract_documents_loan_version"),
)
"""One row per issued document; `seq` is the order in which they enter the log."""

log_anchors = Table(
    "log_anchors", metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("notary", String(40), primary_key=True),
    Column("reference", String(300), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
"""Which signed checkpoint was handed to which notary, and the notary's reference."""
