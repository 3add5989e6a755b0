"""Tables of offers, incentives and treatment arms (issue 7, points 5-7).

They join `tables.metadata`, so one Alembic history and `metadata.create_all` see them; the
migration that creates them is `0009_offers`.

- `offers`: one repayment option proposed to a borrower for one loan, with the terms computed
  when it was quoted (JSON), its validity, and its life: quoted, sent, accepting (claimed by an
  acceptance in progress), accepted (waiting for a second person's approval), applied,
  declined, expired, rejected (the checker said no). `result` keeps what applying it returned,
  so a replayed acceptance answers the same.
- `incentive_programmes`: the programmes as data (JSON definition), editable without code.
- `incentive_awards`: one row per loan and programme ever awarded; the unique key is what makes
  an award happen once however often the end of day is rerun.
- `treatment_arms`: the arm (treatment or holdout) each loan drew in each programme, offer or
  incentive, and the day it was first assigned: the population of the champion/challenger
  read-out.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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

offers = Table(
    "offers", metadata,
    Column("id", String(40), primary_key=True),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    Column("borrower_id", String(40), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("status", String(12), nullable=False),
    Column("programme", String(60), nullable=True),
    Column("terms", Text, nullable=False),  # JSON: what the quote computed
    Column("quoted_on", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("language", String(2), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("approval_id", String(40), nullable=True),
    Column("result", Text, nullable=True),  # JSON: what applying it returned
    Column("actor", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_offers_loan", "loan_id", "kind", "status"),
    Index("ix_offers_status", "status", "valid_until"),
)

incentive_programmes = Table(
    "incentive_programmes", metadata,
    Column("id", String(60), primary_key=True),
    Column("definition", Text, nullable=False),  # JSON, see engagement/incentives.py
    Column("active", Boolean, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

incentive_awards = Table(
    "incentive_awards", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("programme_id", String(60), nullable=False),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    Column("borrower_id", String(40), nullable=False),
    Column("award_date", Date, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("payment_id", String(80), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("programme_id", "loan_id", name="uq_incentive_awards_programme_loan"),
)

treatment_arms = Table(
    "treatment_arms", metadata,
    Column("programme", String(60), primary_key=True),
    Column("loan_id", String(40), primary_key=True),
    Column("borrower_id", String(40), nullable=False),
    Column("arm", String(12), nullable=False),  # treatment, holdout
    Column("assigned_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
