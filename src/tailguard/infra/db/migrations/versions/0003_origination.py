"""origination: applications, documents, credit policies, decisions and overrides

Revision ID: 0003_origination
Revises: 0001
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_origination"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dealer_id", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=60), nullable=False),
        sa.Column("application_date", sa.Date(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("borrower_id_hash", sa.String(length=64), nullable=False),
        sa.Column("snapshot_enc", sa.LargeBinary(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealers.id"],
                                name=op.f("fk_applications_dealer_id_dealers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
    )
    op.create_index(op.f("ix_applications_borrower_id_hash"), "applications",
                    ["borrower_id_hash"], unique=False)
    op.create_table(
        "application_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("content_type", sa.String(length=60), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=400), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_application_documents_application_id_applications")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_documents")),
    )
    op.create_index(op.f("ix_application_documents_application_id"), "application_documents",
                    ["application_id"], unique=False)
    op.create_table(
        "credit_policies",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_credit_policies")),
    )
    op.create_table(
        "credit_decisions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("application_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=True),
        sa.Column("policy_key", sa.String(length=80), nullable=True),
        sa.Column("model_version", sa.String(length=60), nullable=True),
        sa.Column("model_sha256", sa.String(length=64), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_credit_decisions_application_id_applications")),
        sa.ForeignKeyConstraint(["policy_key"], ["credit_policies.key"],
                                name=op.f("fk_credit_decisions_policy_key_credit_policies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_decisions")),
        sa.UniqueConstraint("application_id", "number",
                            name="uq_credit_decisions_application_number"),
    )
    op.create_table(
        "decision_overrides",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("application_id", sa.String(length=40), nullable=False),
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("maker", sa.String(length=64), nullable=False),
        sa.Column("checker", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_decision_overrides_application_id_applications")),
        sa.ForeignKeyConstraint(["decision_id"], ["credit_decisions.id"],
                                name=op.f("fk_decision_overrides_decision_id_credit_decisions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_overrides")),
    )
    op.create_index(op.f("ix_decision_overrides_application_id"), "decision_overrides",
                    ["application_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_decision_overrides_application_id"), table_name="decision_overrides")
    op.drop_table("decision_overrides")
    op.drop_table("credit_decisions")
    op.drop_table("credit_policies")
    op.drop_index(op.f("ix_application_documents_application_id"),
                  table_name="application_documents")
    op.drop_table("application_documents")
    op.drop_index(op.f("ix_applications_borrower_id_hash"), table_name="applications")
    op.drop_table("applications")
