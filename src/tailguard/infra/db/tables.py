"""The relational schema: SQLAlchemy Core tables, separate from domain values and API schemas.

Conventions: money columns are BIGINT fen named `*_fen`; rates are exact decimal text in a
NUMERIC column; every business fact has a business date (`value_date`, `as_of`) and a UTC
`recorded_at`. Personal data is stored only encrypted (`*_enc`, AES-GCM with the key id
inside the ciphertext) with a keyed hash beside it (`*_hash`) where lookups are needed.
The same tables serve SQLite and PostgreSQL; Alembic migrations are written from them.
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
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

Rate = Numeric(12, 8)
Fen = BigInteger


def _recorded() -> Column[object]:
    return Column("recorded_at", DateTime(timezone=True), nullable=False)


regions = Table(
    "regions", metadata,
    Column("code", String(6), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("level", String(12), nullable=False),  # province, city, county
    Column("parent_code", String(6), nullable=True),
    Column("province_code", String(6), nullable=False),
    Column("longitude", Numeric(10, 6), nullable=True),
    Column("latitude", Numeric(10, 6), nullable=True),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("agency_id", String(40), nullable=True),
    Column("borrower_id", String(40), nullable=True),
    _recorded(),
)

dealers = Table(
    "dealers", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("region_code", String(6), ForeignKey("regions.code"), nullable=False),
    _recorded(),
)

parties = Table(
    "parties", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("id_number_enc", LargeBinary, nullable=False),
    Column("id_number_hash", String(64), nullable=False, index=True),
    Column("phone_enc", LargeBinary, nullable=False),
    Column("phone_hash", String(64), nullable=False, index=True),
    Column("address_enc", LargeBinary, nullable=True),
    Column("bank_card_enc", LargeBinary, nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("id_region_code", String(6), nullable=True),
    Column("residence_region_code", String(6), nullable=True),
    Column("employer", String(120), nullable=True),
    _recorded(),
)

vehicles = Table(
    "vehicles", metadata,
    Column("id", String(40), primary_key=True),
    Column("vin", String(17), nullable=False, unique=True),
    Column("condition", String(8), nullable=False),  # new, used
    Column("energy", String(8), nullable=False),  # fuel, nev
    Column("price_fen", Fen, nullable=False),
    Column("registration_office", String(120), nullable=True),
    Column("registration_region_code", String(6), nullable=True),
    _recorded(),
)

products = Table(
    "products", metadata,
    Column("code", String(60), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", Text, nullable=False),  # JSON of the Product value
    _recorded(),
)

loans = Table(
    "loans", metadata,
    Column("id", String(40), primary_key=True),
    Column("borrower_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("guarantor_id", String(40), ForeignKey("parties.id"), nullable=True),
    Column("dealer_id", String(40), ForeignKey("dealers.id"), nullable=True),
    Column("vehicle_id", String(40), ForeignKey("vehicles.id"), nullable=True),
    Column("product_code", String(60), nullable=False),
    Column("product_version", Integer, nullable=False),
    Column("principal_fen", Fen, nullable=False),
    Column("annual_rate", Rate, nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("disbursement_date", Date, nullable=False),
    Column("first_due_date", Date, nullable=False),
    Column("contract_day", Integer, nullable=False),
    Column("balloon_fen", Fen, nullable=False),
    Column("vehicle_used", Boolean, nullable=False),
    Column("region_code", String(6), nullable=True),  # servicing region (branch calendar)
    Column("status", String(16), nullable=False),  # booked, active, closed, written-off
    Column("schedule_version", Integer, nullable=False),
    Column("extended_months", Integer, nullable=False, default=0),
    Column("annual_rate_override", Rate, nullable=True),
    Column("lock_version", Integer, nullable=False, default=0),
    _recorded(),
)

schedule_versions = Table(
    "schedule_versions", metadata,
    Column("loan_id", String(40), ForeignKey("loans.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("replaces", Integer, nullable=True),
    Column("effective_date", Date, nullable=True),
    Column("reason", String(80), nullable=False),
    _recorded(),
)

installments = Table(
    "installments", metadata,
    Column("loan_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("period_start", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("principal_fen", Fen, nullable=False),
    Column("interest_fen", Fen, nullable=False),
    Column("fee_fen", Fen, nullable=False),
    Column("balloon_fen", Fen, nullable=False),
    Column("balance_after_fen", Fen, nullable=False),
    Column("kind", String(12), nullable=False),
    Column("contract_rate", Rate, nullable=True),
)

loan_events = Table(
    "loan_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # payment, reversal, waiver
    Column("reference", String(80), nullable=False),  # payment id or waiver id
    Column("value_date", Date, nullable=False),
    Column("amount_fen", Fen, nullable=True),
    Column("channel", String(20), nullable=True),
    Column("component", String(12), nullable=True),
    Column("installment_number", Integer, nullable=True),
    Column("reason", String(80), nullable=True),
    _recorded(),
    Index("ix_loan_events_loan", "loan_id", "id"),
)

loan_state = Table(
    "loan_state", metadata,
    Column("loan_id", String(40), ForeignKey("loans.id"), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("principal_outstanding_fen", Fen, nullable=False),
    Column("overdue_principal_fen", Fen, nullable=False),
    Column("overdue_interest_fen", Fen, nullable=False),
    Column("overdue_fee_fen", Fen, nullable=False),
    Column("penalty_outstanding_fen", Fen, nullable=False),
    Column("settled_penalty_fen", Fen, nullable=False),
    Column("settled_penalty_left_fen", Fen, nullable=False),
    Column("accrued_interest_fen", Fen, nullable=False),
    Column("credit_balance_fen", Fen, nullable=False),
    Column("dpd", Integer, nullable=False),
    Column("bucket", String(8), nullable=False),
    Column("next_due_date", Date, nullable=True),
    Column("period_start", Date, nullable=True),
    Column("period_opening_fen", Fen, nullable=False),
    Column("period_interest_fen", Fen, nullable=False),
    Column("period_rate_numerator", Fen, nullable=False),
    Column("period_rate_denominator", Fen, nullable=False),
    Column("interest_due_fen", Fen, nullable=False),
    Column("fee_due_fen", Fen, nullable=False),
    Column("balloon_due_date", Date, nullable=True),
    Column("balloon_fen", Fen, nullable=False),
    Column("maturity_date", Date, nullable=False),
    Column("paid_off", Boolean, nullable=False),
)
"""No index on `as_of`: the nightly run rewrites it on every row, and an index on it would turn
each of those updates into an index update too (no HOT update on PostgreSQL)."""

loan_books = Table(
    "loan_books", metadata,
    Column("loan_id", String(40), primary_key=True),
    Column("flow", String(40), primary_key=True),
    Column("amount_fen", Fen, nullable=False),
)
"""What the ledger has booked so far of each cumulative flow of a loan (see ledger/flows.py)."""

installment_state = Table(
    "installment_state", metadata,
    Column("loan_id", String(40), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("period_start", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("grace_end", Date, nullable=False),
    Column("balance_after_fen", Fen, nullable=False),
    Column("rate_numerator", Fen, nullable=False),
    Column("rate_denominator", Fen, nullable=False),
    Column("principal_fen", Fen, nullable=False),
    Column("interest_fen", Fen, nullable=False),
    Column("fee_fen", Fen, nullable=False),
    Column("principal_paid_fen", Fen, nullable=False),
    Column("interest_paid_fen", Fen, nullable=False),
    Column("fee_paid_fen", Fen, nullable=False),
    Column("penalty_paid_fen", Fen, nullable=False),
    Column("penalty_waived_fen", Fen, nullable=False),
    Column("interest_waived_fen", Fen, nullable=False),
    Column("fee_waived_fen", Fen, nullable=False),
    Column("penalty_numerator", Fen, nullable=False),
    Column("penalty_denominator", Fen, nullable=False),
    Column("penalty_rate_numerator", Fen, nullable=False),
    Column("accrued_to", Date, nullable=True),
    Column("settled_on", Date, nullable=True),
    Column("forgiven", Boolean, nullable=False),
    Index("ix_installment_state_open", "loan_id", "settled_on", "due_date"),
    # The unsettled rows by due date: what the end of day and "due today" read (migration 0012).
    Index("ix_installment_state_due", "due_date", "loan_id",
          sqlite_where=text("settled_on IS NULL"), postgresql_where=text("settled_on IS NULL")),
)

accounts = Table(
    "ledger_accounts", metadata,
    Column("code", String(40), primary_key=True),
    Column("name_zh", String(60), nullable=False),
    Column("name_en", String(80), nullable=False),
    Column("kind", String(12), nullable=False),
)

journal_entries = Table(
    "journal_entries", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("value_date", Date, nullable=False),
    Column("reason_code", String(32), nullable=False),
    Column("reference_type", String(32), nullable=False),
    Column("reference_id", String(80), nullable=False),
    Column("reverses", String(64), nullable=True),
    Column("memo", String(200), nullable=True),
    _recorded(),
    Index("ix_journal_entries_value_date", "value_date"),
)

postings = Table(
    "postings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_seq", Integer, ForeignKey("journal_entries.seq"), nullable=False),
    Column("account_code", String(40), nullable=False),
    Column("loan_id", String(40), nullable=True),
    Column("amount_fen", Fen, nullable=False),  # debit positive, credit negative
    Index("ix_postings_loan", "loan_id"),  # posting order within a loan (migration 0011)
    Index("ix_postings_entry", "entry_seq"),
)

idempotency = Table(
    "idempotency_keys", metadata,
    Column("key", String(120), primary_key=True),
    Column("command", String(60), nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("outcome", Text, nullable=False),  # JSON, refusals included
    _recorded(),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_type", String(60), nullable=False),
    Column("aggregate_id", String(60), nullable=True),
    Column("payload", Text, nullable=False),
    Column("business_date", Date, nullable=True),
    Column("dedupe_key", String(160), nullable=True, unique=True),
    _recorded(),
    Column("dispatched_at", DateTime(timezone=True), nullable=True),
    Index("ix_outbox_pending", "dispatched_at", "id"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor", String(64), nullable=False),
    Column("action", String(60), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(80), nullable=True),
    Column("detail", Text, nullable=True),
    _recorded(),
    Index("ix_audit_entity", "entity_type", "entity_id"),
)

approvals = Table(
    "approvals", metadata,
    Column("id", String(40), primary_key=True),
    Column("action", String(40), nullable=False),  # waive, write-off, restructure, ...
    Column("loan_id", String(40), nullable=True),
    Column("payload", Text, nullable=False),
    Column("maker", String(64), nullable=False),
    Column("checker", String(64), nullable=True),
    Column("status", String(12), nullable=False),  # pending, approved, rejected
    Column("decided_at", DateTime(timezone=True), nullable=True),
    _recorded(),
)

eod_runs = Table(
    "eod_runs", metadata,
    Column("as_of", Date, primary_key=True),
    Column("status", String(12), nullable=False),  # running, done
    Column("chunks_total", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

eod_chunks = Table(
    "eod_chunks", metadata,
    Column("as_of", Date, primary_key=True),
    Column("chunk", Integer, primary_key=True),
    Column("loans", Integer, nullable=False),
    _recorded(),
)


log_leaves = Table(
    "log_leaves", metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(20), nullable=False),  # journal-entry, contract-document
    Column("reference_id", String(80), nullable=False, unique=True),
    Column("source_seq", BigInteger, nullable=True),  # journal_entries.seq for entries
    Column("leaf_hash", LargeBinary, nullable=False),
    _recorded(),
)
"""One leaf per logged record, in log order (the transparency log of contracts/)."""

log_nodes = Table(
    "log_nodes", metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("node_index", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)
"""Hashes of complete subtrees, written once, so proofs never recompute the tree."""

log_checkpoints = Table(
    "log_checkpoints", metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("signed_note", Text, nullable=False),
    Column("consistency_from", BigInteger, nullable=True),
    Column("consistency_proof", Text, nullable=True),  # base64 hashes, one per line
    _recorded(),
)
