"""recovery: disposal of repossessed vehicles (storage, appraisal, sale)

Revision ID: 0010_recovery_disposal
Revises: 0007_recovery
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_recovery_disposal"
down_revision = "0007_recovery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recovery_disposals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("storage_location", sa.String(length=200), nullable=False),
        sa.Column("storage_daily_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("stored_on", sa.Date(), nullable=False),
        sa.Column("appraised_value_fen", sa.BigInteger(), nullable=True),
        sa.Column("appraiser", sa.String(length=120), nullable=True),
        sa.Column("appraised_on", sa.Date(), nullable=True),
        sa.Column("appraisal_document", sa.String(length=300), nullable=True),
        sa.Column("buyer", sa.String(length=120), nullable=True),
        sa.Column("sale_price_fen", sa.BigInteger(), nullable=True),
        sa.Column("sale_fees_fen", sa.BigInteger(), nullable=True),
        sa.Column("storage_fees_fen", sa.BigInteger(), nullable=True),
        sa.Column("sold_on", sa.Date(), nullable=True),
        sa.Column("applied_fen", sa.BigInteger(), nullable=True),
        sa.Column("surplus_fen", sa.BigInteger(), nullable=True),
        sa.Column("shortfall_fen", sa.BigInteger(), nullable=True),
        sa.Column("proceeds_id", sa.String(length=80), nullable=True),
        sa.Column("write_off_approval_id", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["recovery_cases.id"],
            name=op.f("fk_recovery_disposals_case_id_recovery_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_recovery_disposals_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_disposals")),
    )
    op.create_index("uq_recovery_disposals_loan", "recovery_disposals", ["loan_id"],
                    unique=True)
    op.create_index("ix_recovery_disposals_case", "recovery_disposals", ["case_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_recovery_disposals_case", table_name="recovery_disposals")
    op.drop_index("uq_recovery_disposals_loan", table_name="recovery_disposals")
    op.drop_table("recovery_disposals")
