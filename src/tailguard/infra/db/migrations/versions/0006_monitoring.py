"""monitoring: signals, statement lines, GPS consent, alert rule sets, alerts

Revision ID: 0006_monitoring
Revises: 0001
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_monitoring"
down_revision = "0001"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _fk("signals", "loan_id", "loans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        sa.UniqueConstraint("source", "external_id", name="uq_signals_source_external_id"),
    )
    op.create_index("ix_signals_loan", "signals", ["loan_id", "occurred_at"])
    op.create_table(
        "statement_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("import_id", sa.String(length=40), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("counterparty", sa.String(length=120), nullable=True),
        sa.Column("loan_id", sa.String(length=40), nullable=True),
        sa.Column("match", sa.String(length=16), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _fk("statement_lines", "loan_id", "loans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_lines")),
        sa.UniqueConstraint("import_id", "line_number", name="uq_statement_lines_import_line"),
    )
    op.create_index("ix_statement_lines_loan", "statement_lines", ["loan_id"])
    op.create_table(
        "gps_consents",
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        _fk("gps_consents", "loan_id", "loans"),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_gps_consents")),
    )
    op.create_table(
        "alert_rule_sets",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_alert_rule_sets")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("rule_id", sa.String(length=60), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("rule_name", sa.String(length=120), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.Column("last_signal_id", sa.Integer(), nullable=True),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("worked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        _fk("alerts", "loan_id", "loans"),
        _fk("alerts", "signal_id", "signals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_queue", "alerts", ["queue", "status", "id"])
    op.create_index("ix_alerts_dedupe", "alerts", ["loan_id", "rule_id", "raised_at"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("alert_rule_sets")
    op.drop_table("gps_consents")
    op.drop_table("statement_lines")
    op.drop_table("signals")
