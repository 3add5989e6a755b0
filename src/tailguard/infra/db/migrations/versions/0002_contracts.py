"""contracts: contract documents and checkpoint anchors

Revision ID: 0002_contracts
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_contracts"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contract_documents",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("template", sa.String(length=60), nullable=False),
        sa.Column("reason", sa.String(length=80), nullable=False),
        sa.Column("clauses", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=400), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"],
                                name=op.f("fk_contract_documents_loan_id_loans")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_contract_documents")),
        sa.UniqueConstraint("id", name=op.f("uq_contract_documents_id")),
        sa.UniqueConstraint("loan_id", "version", name="uq_contract_documents_loan_version"),
    )
    op.create_table(
        "log_anchors",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("notary", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", "notary", name=op.f("pk_log_anchors")),
    )


def downgrade() -> None:
    op.drop_table("log_anchors")
    op.drop_table("contract_documents")
