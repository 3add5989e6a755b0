"""behavioural scores: each day's behavioural model outputs per loan

Revision ID: 0008_behavioural_scores
Revises: 0001
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_behavioural_scores"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "behavioural_scores",
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=40), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("pd", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=2), nullable=False),
        sa.Column("reasons", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_behavioural_scores_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", "model", "as_of", name=op.f("pk_behavioural_scores")),
    )
    op.create_index(
        "ix_behavioural_scores_model_as_of", "behavioural_scores", ["model", "as_of"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_behavioural_scores_model_as_of", table_name="behavioural_scores")
    op.drop_table("behavioural_scores")
