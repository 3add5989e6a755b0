"""Tables of the risk context (issue 6): the behavioural scores the end of day refreshes.
Created by migration 0008_behavioural_scores.

`behavioural_scores` keeps every day's score of every loan scored that day, one row per
(loan, model, as_of): the latest row of a loan and model is what the early-warning rules, the
balloon watch and the collection strategies read, and the history is what the model
monitoring compares periods with. A rerun of the same day replaces that day's rows.
`pd` and `score` are model outputs (floats); nothing here ever posts to the ledger.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Float, ForeignKey, Index, String, Table

from tailguard.infra.db.tables import metadata

behavioural_scores = Table(
    "behavioural_scores", metadata,
    Column("loan_id", String(40), ForeignKey("loans.id"), primary_key=True),
    Column("model", String(40), primary_key=True),  # dpd30-90d, balloon-30d
    Column("as_of", Date, primary_key=True),
    Column("model_version", String(40), nullable=False),
    Column("pd", Float, nullable=False),
    Column("score", Float, nullable=False),
    Column("band", String(2), nullable=False),
    Column("reasons", String(200), nullable=False),  # feature codes joined by '|'
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_behavioural_scores_model_as_of", "model", "as_of"),
)
