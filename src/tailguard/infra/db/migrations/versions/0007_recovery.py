"""recovery: cases and their history, strategies and assignments, teams, collectors, promises to
pay, partners and placements, field visits, legal steps

Revision ID: 0007_recovery
Revises: 0001
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_recovery"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = (
    "recovery_case_loans",
    "recovery_promises",
    "recovery_visits",
    "recovery_legal",
    "recovery_placements",
    "recovery_case_events",
    "recovery_assignments",
    "recovery_scores",
    "recovery_collectors",
    "recovery_partners",
    "recovery_teams",
    "recovery_strategies",
    "recovery_cases",
)
"""Dropped in this order: tables that refer to others first."""


def upgrade() -> None:
    op.create_table(
        "recovery_assignments",
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("strategy_id", sa.Integer(), nullable=True),
        sa.Column("segment", sa.String(length=40), nullable=False),
        sa.Column("arm", sa.String(length=12), nullable=False),
        sa.Column("path", sa.String(length=40), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("next_action", sa.String(length=24), nullable=False),
        sa.Column("next_in_days", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_recovery_assignments")),
    )
    op.create_table(
        "recovery_partners",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("capabilities", sa.String(length=300), nullable=False),
        sa.Column("provinces", sa.Text(), nullable=False),
        sa.Column("cities", sa.Text(), nullable=False),
        sa.Column("rating", sa.Numeric(precision=4, scale=2), nullable=False),
        sa.Column("complaints", sa.Integer(), nullable=False),
        sa.Column("cases_handled", sa.Integer(), nullable=False),
        sa.Column("recovery_rate", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("cost_rate", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("last_assessed_on", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_partners")),
    )
    op.create_table(
        "recovery_strategies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_strategies")),
    )
    op.create_table(
        "recovery_teams",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("skills", sa.String(length=200), nullable=False),
        sa.Column("base_latitude", sa.Numeric(precision=10, scale=6), nullable=True),
        sa.Column("base_longitude", sa.Numeric(precision=10, scale=6), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_teams")),
    )
    op.create_table(
        "recovery_cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("opened_from", sa.String(length=16), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.String(length=16), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("team_id", sa.String(length=40), nullable=True),
        sa.Column("collector", sa.String(length=64), nullable=True),
        sa.Column("agency_id", sa.String(length=40), nullable=True),
        sa.Column("escalation", sa.Integer(), nullable=False),
        sa.Column("max_dpd", sa.Integer(), nullable=False),
        sa.Column("overdue_fen", sa.BigInteger(), nullable=False),
        sa.Column("segment", sa.String(length=40), nullable=True),
        sa.Column("arm", sa.String(length=12), nullable=True),
        sa.Column("path", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=True),
        sa.Column("next_action", sa.String(length=24), nullable=True),
        sa.Column("next_action_on", sa.Date(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("broken_promise", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["parties.id"], name=op.f("fk_recovery_cases_borrower_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_cases")),
    )
    op.create_index(
        "ix_recovery_cases_queue", "recovery_cases", ["status", "team_id", "priority"], unique=False
    )
    op.create_index(
        "uq_recovery_cases_open_borrower",
        "recovery_cases",
        ["borrower_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "recovery_collectors",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("skills", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["recovery_teams.id"],
            name=op.f("fk_recovery_collectors_team_id_recovery_teams"),
        ),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_recovery_collectors")),
    )
    op.create_table(
        "recovery_case_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=True),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["recovery_cases.id"],
            name=op.f("fk_recovery_case_events_case_id_recovery_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_case_events")),
    )
    op.create_index(
        "ix_recovery_case_events_case", "recovery_case_events", ["case_id", "id"], unique=False
    )
    op.create_table(
        "recovery_legal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=True),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("venue_kind", sa.String(length=12), nullable=True),
        sa.Column("venue", sa.String(length=120), nullable=True),
        sa.Column("venue_basis", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["recovery_cases.id"],
            name=op.f("fk_recovery_legal_case_id_recovery_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_legal")),
    )
    op.create_index("ix_recovery_legal_case", "recovery_legal", ["case_id", "id"], unique=False)
    op.create_table(
        "recovery_placements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("placed_on", sa.Date(), nullable=False),
        sa.Column("recalled_on", sa.Date(), nullable=True),
        sa.Column("recall_reason", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["recovery_cases.id"],
            name=op.f("fk_recovery_placements_case_id_recovery_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["recovery_partners.id"],
            name=op.f("fk_recovery_placements_partner_id_recovery_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_placements")),
    )
    op.create_index("ix_recovery_placements_case", "recovery_placements", ["case_id"], unique=False)
    op.create_table(
        "recovery_visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("plan_date", sa.Date(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("latitude", sa.Numeric(precision=10, scale=6), nullable=False),
        sa.Column("longitude", sa.Numeric(precision=10, scale=6), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("visited_latitude", sa.Numeric(precision=10, scale=6), nullable=True),
        sa.Column("visited_longitude", sa.Numeric(precision=10, scale=6), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("photos", sa.Text(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["recovery_cases.id"],
            name=op.f("fk_recovery_visits_case_id_recovery_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_visits")),
    )
    op.create_index(
        "ix_recovery_visits_plan",
        "recovery_visits",
        ["team_id", "plan_date", "sequence"],
        unique=False,
    )
    op.create_table(
        "recovery_case_loans",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("added_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["recovery_cases.id"],
            name=op.f("fk_recovery_case_loans_case_id_recovery_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_recovery_case_loans_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("case_id", "loan_id", name=op.f("pk_recovery_case_loans")),
    )
    op.create_index("ix_recovery_case_loans_loan", "recovery_case_loans", ["loan_id"], unique=False)
    op.create_table(
        "recovery_promises",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["recovery_cases.id"],
            name=op.f("fk_recovery_promises_case_id_recovery_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_recovery_promises_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_promises")),
    )
    op.create_index(
        "ix_recovery_promises_open", "recovery_promises", ["status", "due_on"], unique=False
    )
    op.create_table(
        "recovery_scores",
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=60), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_recovery_scores_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_recovery_scores")),
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
