"""Tables of the web entry points: borrower one-time login codes, payment orders sent to the
payment gateway, and documents borrowers upload.

They share `tables.metadata`, so one Alembic history and `metadata.create_all` see them; the
migration that creates them is `0005_web`. No personal data in clear: a login code row holds
the phone's keyed lookup hash (the same `phone_hash` as `parties`) and an HMAC of the code.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from tailguard.infra.db.tables import metadata

login_codes = Table(
    "login_codes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone_hash", String(64), nullable=False),
    Column("code_hash", String(64), nullable=False),  # HMAC-SHA256 of phone hash and code
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("consumed_at", DateTime(timezone=True), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_login_codes_phone", "phone_hash", "recorded_at"),
)
"""One row per code sent; the latest unconsumed, unexpired row of a phone is the live one."""

payment_orders = Table(
    "payment_orders", metadata,
    Column("id", String(40), primary_key=True),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    Column("party_id", String(40), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("purpose", String(20), nullable=False),  # instalment, settle
    Column("status", String(12), nullable=False),  # pending, paid, failed
    Column("gateway", String(20), nullable=False),
    Column("gateway_txn_id", String(80), nullable=True, unique=True),
    Column("payment_id", String(40), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Index("ix_payment_orders_loan", "loan_id"),
)
"""A payment a borrower started in the app; the gateway's signed callback completes it."""

borrower_uploads = Table(
    "borrower_uploads", metadata,
    Column("id", String(40), primary_key=True),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=False),
    Column("party_id", String(40), nullable=False),
    Column("kind", String(24), nullable=False),  # income, id-card, vehicle, other
    Column("filename", String(200), nullable=False),
    Column("content_type", String(60), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(400), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_borrower_uploads_loan", "loan_id"),
)
