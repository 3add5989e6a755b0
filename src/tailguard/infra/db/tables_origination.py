"""Tables of the origination context: applications, their documents, decisions and overrides.

They share `tables.metadata`; the migration that creates them is `0003_origination`.

- `applications`: the application as submitted, sealed whole (`snapshot_enc`, AES-GCM: names,
  ID numbers, phones and cards are in it), a keyed hash of the borrower's ID number for look-up,
  and the non-identifying facts in the clear (`facts`: amounts, regions, parties' roles).
- `application_documents`: uploads in the document store, by key and SHA-256.
- `credit_policies`: each policy body a decision applied, once, under its version key.
- `credit_decisions`: every decision, engine or override, with its stored inputs (no
  identifiers: ages, regions, provider answers, score and model identity), the policy key,
  outcome, reasons and conditions. A replay reads only this row and its policy.
- `decision_overrides`: an officer's proposed change of outcome (maker) and its approval or
  rejection by a second person (checker).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tailguard.infra.db.tables import metadata

applications = Table(
    "applications", metadata,
    Column("id", String(40), primary_key=True),
    Column("status", String(16), nullable=False),  # submitted, approve, refer, decline
    Column("dealer_id", String(40), ForeignKey("dealers.id"), nullable=False),
    Column("product_code", String(60), nullable=False),
    Column("application_date", Date, nullable=False),
    Column("principal_fen", BigInteger, nullable=False),
    Column("borrower_id_hash", String(64), nullable=False, index=True),
    Column("snapshot_enc", LargeBinary, nullable=False),
    Column("facts", Text, nullable=False),
    Column("submitted_by", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

application_documents = Table(
    "application_documents", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("application_id", String(40), ForeignKey("applications.id"), nullable=False,
           index=True),
    Column("kind", String(30), nullable=False),
    Column("content_type", String(60), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("storage_key", String(400), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

credit_policies = Table(
    "credit_policies", metadata,
    Column("key", String(80), primary_key=True),
    Column("body", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

credit_decisions = Table(
    "credit_decisions", metadata,
    Column("id", String(40), primary_key=True),
    Column("application_id", String(40), ForeignKey("applications.id"), nullable=False),
    Column("number", Integer, nullable=False),  # 1, 2, … within the application
    Column("kind", String(12), nullable=False),  # engine, override
    Column("outcome", String(12), nullable=False),
    Column("result", Text, nullable=False),  # JSON: reasons, conditions, limits, DTI
    Column("inputs", Text, nullable=True),  # JSON DecisionInput (engine decisions)
    Column("policy_key", String(80), ForeignKey("credit_policies.key"), nullable=True),
    Column("model_version", String(60), nullable=True),
    Column("model_sha256", String(64), nullable=True),
    Column("decided_by", String(64), nullable=False),
    Column("approved_by", String(64), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("application_id", "number", name="uq_credit_decisions_application_number"),
)

decision_overrides = Table(
    "decision_overrides", metadata,
    Column("id", String(40), primary_key=True),
    Column("application_id", String(40), ForeignKey("applications.id"), nullable=False,
           index=True),
    Column("decision_id", String(40), ForeignKey("credit_decisions.id"), nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("conditions", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("maker", String(64), nullable=False),
    Column("checker", String(64), nullable=True),
    Column("status", String(12), nullable=False),  # pending, approved, rejected
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
