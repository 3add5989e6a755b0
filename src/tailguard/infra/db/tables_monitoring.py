"""Tables of the monitoring context: signals, bank statement lines, GPS consent, early-warning
rule sets and alerts.

They share `tables.metadata`, so one Alembic history and `metadata.create_all` see them; the
migration that creates them is `0006_monitoring`.

- `signals`: every accepted signal with its attributes (JSON), where it came from, and the
  producer's id; `(source, external_id)` is unique, so a redelivered bus message or a
  re-imported statement is recognised and not evaluated twice.
- `statement_lines`: each line of an imported bank statement, matched or not; a matched line
  also becomes a `statement-line` signal.
- `gps_consents`: the borrower's separate consent to vehicle tracking for a loan; telematics
  signals are accepted only while it is granted and not revoked.
- `alert_rule_sets`: every version of the early-warning rules as written (JSON or YAML) and
  as checked (canonical JSON); the highest version is in force. Never updated, never deleted.
- `alerts`: one per rule firing for a loan, with its queue, severity and lifecycle; a repeat
  within the rule's dedupe window adds to `repeats` and `last_signal_id` of the open alert.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tailguard.infra.db.tables import metadata

signals = Table(
    "signals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("source", String(24), nullable=False),  # api, bus, statement, balloon-watch
    Column("external_id", String(120), nullable=True),
    Column("attributes", Text, nullable=False),  # JSON
    Column("actor", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("source", "external_id", name="uq_signals_source_external_id"),
    Index("ix_signals_loan", "loan_id", "occurred_at"),
)

statement_lines = Table(
    "statement_lines", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("import_id", String(40), nullable=False),
    Column("line_number", Integer, nullable=False),
    Column("value_date", Date, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("direction", String(8), nullable=False),  # credit, debit
    Column("reference", String(200), nullable=True),
    Column("counterparty", String(120), nullable=True),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=True),
    Column("match", String(16), nullable=False),  # reference, amount, ambiguous, none
    Column("signal_id", Integer, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("import_id", "line_number", name="uq_statement_lines_import_line"),
    Index("ix_statement_lines_loan", "loan_id"),
)

gps_consents = Table(
    "gps_consents", metadata,
    Column("loan_id", String(40), ForeignKey("loans.id"), primary_key=True),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("evidence", String(200), nullable=False),  # e.g. the signed clause's document id
    Column("actor", String(64), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

alert_rule_sets = Table(
    "alert_rule_sets", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("format", String(8), nullable=False),  # json, yaml
    Column("source", Text, nullable=False),  # as written
    Column("definition", Text, nullable=False),  # as checked, canonical JSON
    Column("actor", String(64), nullable=False),
    Column("note", String(200), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    Column("rule_id", String(60), nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("rule_name", String(120), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("queue", String(40), nullable=False),
    Column("status", String(12), nullable=False),  # open, acknowledged, in-progress, closed
    Column("signal_id", Integer, ForeignKey("signals.id"), nullable=True),
    Column("last_signal_id", Integer, nullable=True),
    Column("repeats", Integer, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("acknowledged_by", String(64), nullable=True),
    Column("assignee", String(64), nullable=True),
    Column("worked_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closed_by", String(64), nullable=True),
    Column("resolution", String(20), nullable=True),
    Column("note", String(500), nullable=True),
    Column("detail", Text, nullable=True),  # JSON: the signal and features that matched
    Index("ix_alerts_queue", "queue", "status", "id"),
    Index("ix_alerts_dedupe", "loan_id", "rule_id", "raised_at"),
)
