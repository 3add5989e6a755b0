"""Tables of collections and recovery (issue 8): cases, their history, strategies and their
assignments, teams and collectors, promises to pay, partners and placements, field visits,
legal steps. Created by migration 0007_recovery.

One open case per borrower is a partial unique index, so two end-of-day passes (or an alert
and the end of day) cannot open two.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    text,
)

from tailguard.infra.db.tables import Fen, metadata

recovery_cases = Table(
    "recovery_cases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("status", String(8), nullable=False),  # open, closed
    Column("opened_on", Date, nullable=False),
    Column("opened_from", String(16), nullable=False),  # delinquency, alert
    Column("closed_on", Date, nullable=True),
    Column("close_reason", String(16), nullable=True),  # cure, settlement, write-off, sale
    Column("region_code", String(6), nullable=True),  # where the borrower lives
    Column("team_id", String(40), nullable=True),
    Column("collector", String(64), nullable=True),
    Column("agency_id", String(40), nullable=True),  # the partner it is placed with
    Column("escalation", Integer, nullable=False),
    Column("max_dpd", Integer, nullable=False),
    Column("overdue_fen", Fen, nullable=False),
    Column("segment", String(40), nullable=True),
    Column("arm", String(12), nullable=True),
    Column("path", String(40), nullable=True),
    Column("action", String(24), nullable=True),
    Column("next_action", String(24), nullable=True),
    Column("next_action_on", Date, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("broken_promise", Boolean, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("uq_recovery_cases_open_borrower", "borrower_id", unique=True,
          sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    Index("ix_recovery_cases_queue", "status", "team_id", "priority"),
)

recovery_case_loans = Table(
    "recovery_case_loans", metadata,
    Column("case_id", Integer, ForeignKey("recovery_cases.id"), primary_key=True),
    Column("loan_id", String(40), ForeignKey("loans.id"), primary_key=True),
    Column("added_on", Date, nullable=False),
    Index("ix_recovery_case_loans_loan", "loan_id"),
)

recovery_case_events = Table(
    "recovery_case_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("recovery_cases.id"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("loan_id", String(40), nullable=True),
    Column("on_date", Date, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("detail", Text, nullable=True),  # JSON
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_recovery_case_events_case", "case_id", "id"),
)
"""The case's history: opened, assigned, contact, promise, escalated, placed, visit, legal, …"""

recovery_strategies = Table(
    "recovery_strategies", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(60), nullable=False),
    Column("version", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("definition", Text, nullable=False),  # JSON of recovery.strategy.Strategy
    Column("author", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

recovery_scores = Table(
    "recovery_scores", metadata,
    Column("loan_id", String(40), ForeignKey("loans.id"), primary_key=True),
    Column("score", Integer, nullable=False),
    Column("model", String(60), nullable=False),
    Column("as_of", Date, nullable=False),
)
"""The latest behavioural score per loan, as the scoring run leaves it for the strategies."""

recovery_assignments = Table(
    "recovery_assignments", metadata,
    Column("loan_id", String(40), primary_key=True),
    Column("case_id", Integer, nullable=False),
    Column("strategy_id", Integer, nullable=True),
    Column("segment", String(40), nullable=False),
    Column("arm", String(12), nullable=False),
    Column("path", String(40), nullable=False),
    Column("step", Integer, nullable=False),
    Column("action", String(24), nullable=False),
    Column("next_action", String(24), nullable=False),
    Column("next_in_days", Integer, nullable=False),
    Column("as_of", Date, nullable=False),
)

recovery_teams = Table(
    "recovery_teams", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("region_code", String(6), nullable=False),  # province (or city) it covers
    Column("kind", String(12), nullable=False),  # phone, field, legal
    Column("capacity", Integer, nullable=False),  # open cases it can hold
    Column("skills", String(200), nullable=False),  # comma-separated actions
    Column("base_latitude", Numeric(10, 6), nullable=True),
    Column("base_longitude", Numeric(10, 6), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

recovery_collectors = Table(
    "recovery_collectors", metadata,
    Column("username", String(64), primary_key=True),
    Column("team_id", String(40), ForeignKey("recovery_teams.id"), nullable=False),
    Column("skills", String(200), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

recovery_promises = Table(
    "recovery_promises", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("recovery_cases.id"), nullable=False),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    Column("amount_fen", Fen, nullable=False),
    Column("made_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("status", String(12), nullable=False),  # open, kept, broken, cancelled
    Column("paid_fen", Fen, nullable=False),
    Column("decided_on", Date, nullable=True),
    Column("contact_id", Integer, nullable=True),
    Column("actor", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_recovery_promises_open", "status", "due_on"),
)

recovery_partners = Table(
    "recovery_partners", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("kind", String(16), nullable=False),  # agency, repossession, legal
    Column("capabilities", String(300), nullable=False),  # comma-separated
    Column("provinces", Text, nullable=False),  # comma-separated province codes
    Column("cities", Text, nullable=False),  # comma-separated city codes
    Column("rating", Numeric(4, 2), nullable=False),
    Column("complaints", Integer, nullable=False),
    Column("cases_handled", Integer, nullable=False),
    Column("recovery_rate", Numeric(6, 4), nullable=False),
    Column("cost_rate", Numeric(6, 4), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("last_assessed_on", Date, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

recovery_placements = Table(
    "recovery_placements", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("recovery_cases.id"), nullable=False),
    Column("partner_id", String(40), ForeignKey("recovery_partners.id"), nullable=False),
    Column("placed_on", Date, nullable=False),
    Column("recalled_on", Date, nullable=True),
    Column("recall_reason", String(200), nullable=True),
    Column("actor", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_recovery_placements_case", "case_id"),
)

recovery_visits = Table(
    "recovery_visits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("recovery_cases.id"), nullable=False),
    Column("team_id", String(40), nullable=False),
    Column("plan_date", Date, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("latitude", Numeric(10, 6), nullable=False),
    Column("longitude", Numeric(10, 6), nullable=False),
    Column("status", String(12), nullable=False),  # planned, visited, not-found
    Column("outcome", String(200), nullable=True),
    Column("visited_at", DateTime(timezone=True), nullable=True),
    Column("visited_latitude", Numeric(10, 6), nullable=True),
    Column("visited_longitude", Numeric(10, 6), nullable=True),
    Column("place", String(200), nullable=True),
    Column("photos", Text, nullable=True),  # JSON list of document-store keys
    Column("contact_id", Integer, nullable=True),
    Column("actor", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_recovery_visits_plan", "team_id", "plan_date", "sequence"),
)

recovery_legal = Table(
    "recovery_legal", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("recovery_cases.id"), nullable=False),
    Column("loan_id", String(40), nullable=True),
    Column("step", String(24), nullable=False),
    Column("venue_kind", String(12), nullable=True),
    Column("venue", String(120), nullable=True),
    Column("venue_basis", String(200), nullable=True),
    Column("detail", Text, nullable=True),  # JSON
    Column("on_date", Date, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_recovery_legal_case", "case_id", "id"),
)

recovery_disposals = Table(
    "recovery_disposals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("recovery_cases.id"), nullable=False),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    Column("status", String(12), nullable=False),  # stored, appraised, sold
    Column("storage_location", String(200), nullable=False),
    Column("storage_daily_fee_fen", Fen, nullable=False),
    Column("stored_on", Date, nullable=False),
    Column("appraised_value_fen", Fen, nullable=True),
    Column("appraiser", String(120), nullable=True),
    Column("appraised_on", Date, nullable=True),
    Column("appraisal_document", String(300), nullable=True),  # document-store key
    Column("buyer", String(120), nullable=True),
    Column("sale_price_fen", Fen, nullable=True),
    Column("sale_fees_fen", Fen, nullable=True),
    Column("storage_fees_fen", Fen, nullable=True),
    Column("sold_on", Date, nullable=True),
    Column("applied_fen", Fen, nullable=True),
    Column("surplus_fen", Fen, nullable=True),
    Column("shortfall_fen", Fen, nullable=True),
    Column("proceeds_id", String(80), nullable=True),
    Column("write_off_approval_id", String(40), nullable=True),
    Column("actor", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("uq_recovery_disposals_loan", "loan_id", unique=True),
    Index("ix_recovery_disposals_case", "case_id"),
)
"""A repossessed vehicle from storage to sale (migration 0010_recovery_disposal): one per loan,
so a second sale of the same vehicle cannot be recorded."""
