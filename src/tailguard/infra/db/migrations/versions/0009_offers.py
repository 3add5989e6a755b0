"""engagement: offers, incentive programmes and awards, treatment arms

Revision ID: 0009_offers
Revises: 0001
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_offers"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("borrower_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("programme", sa.String(length=60), nullable=True),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("quoted_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("approval_id", sa.String(length=40), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_offers_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    op.create_index("ix_offers_loan", "offers", ["loan_id", "kind", "status"])
    op.create_index("ix_offers_status", "offers", ["status", "valid_until"])
    op.create_table(
        "incentive_programmes",
        sa.Column("id", sa.String(length=60), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incentive_programmes")),
    )
    op.create_table(
        "incentive_awards",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("programme_id", sa.String(length=60), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("borrower_id", sa.String(length=40), nullable=False),
        sa.Column("award_date", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"],
                                name=op.f("fk_incentive_awards_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incentive_awards")),
        sa.UniqueConstraint("programme_id", "loan_id",
                            name="uq_incentive_awards_programme_loan"),
    )
    op.create_table(
        "treatment_arms",
        sa.Column("programme", sa.String(length=60), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("borrower_id", sa.String(length=40), nullable=False),
        sa.Column("arm", sa.String(length=12), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("programme", "loan_id", name=op.f("pk_treatment_arms")),
    )


def downgrade() -> None:
    op.drop_table("treatment_arms")
    op.drop_table("incentive_awards")
    op.drop_table("incentive_programmes")
    op.drop_index("ix_offers_status", table_name="offers")
    op.drop_index("ix_offers_loan", table_name="offers")
    op.drop_table("offers")
