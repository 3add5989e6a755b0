"""Tables of the engagement context: the contact log, standing contact instructions, contact
settings per borrower, the profile chosen for a loan, notifications and in-app messages.

They share `tables.metadata`, so one Alembic history and `metadata.create_all` see them; the
migration that creates them is `0004_engagement`.

- `contact_log` holds every decision of the contact policy, allowed or blocked, automated or
  human, by the lender's staff or an agency's user, with the reason, the rule and the profile,
  the moment in UTC and in the debtor's local time (and the debtor-local day, which the
  frequency caps count by). An allowed contact gets its outcome later (connected, no answer…).
- `contact_permissions`: opt-outs, consents, do-not-contact, a third party's refusal, an open
  dispute; revoked by setting `revoked_at`, never deleted.
- `contact_settings`: per borrower, the time zone where they actually are (when it is not
  their region's), language, e-mail and WeChat openid (sealed like other personal data), and
  the channels their reminders use.
- `messages`: every notification with its delivery state (queued, sent, retrying, failed,
  blocked), attempts, the next attempt and the last error; `in_app_messages`: the app inbox.
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
    LargeBinary,
    String,
    Table,
    Text,
)

from tailguard.infra.db.tables import metadata

contact_log = Table(
    "contact_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("party", String(16), nullable=False),  # debtor, guarantor, relative, employer, …
    Column("party_ref", String(80), nullable=True),  # which third party (a contact's id)
    Column("contact_method", String(80), nullable=True),  # which number or address
    Column("purpose", String(16), nullable=False),
    Column("automated", Boolean, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("actor_role", String(32), nullable=False),
    Column("agency_id", String(40), nullable=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),  # UTC
    Column("local_time", String(40), nullable=False),  # ISO 8601 with the debtor's offset
    Column("local_date", Date, nullable=False),  # the debtor-local day: caps count by it
    Column("time_zone", String(64), nullable=False),
    Column("decision", String(8), nullable=False),  # allow, block
    Column("reason_code", String(40), nullable=False),
    Column("rule", String(80), nullable=False),
    Column("profile", String(32), nullable=False),
    Column("retry_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(16), nullable=True),  # pending … ; None when blocked
    Column("outcome_at", DateTime(timezone=True), nullable=True),
    Column("note", String(200), nullable=True),
    Column("message_id", Integer, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_contact_log_borrower_day", "borrower_id", "local_date"),
    Index("ix_contact_log_loan_day", "loan_id", "local_date"),
)

contact_permissions = Table(
    "contact_permissions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("party", String(16), nullable=False),
    Column("party_ref", String(80), nullable=True),
    Column("kind", String(24), nullable=False),  # opt-out, consent, do-not-contact, …
    Column("channel", String(16), nullable=True),  # None: every channel
    Column("reason", String(200), nullable=True),
    Column("actor", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_contact_permissions_borrower", "borrower_id"),
)

contact_settings = Table(
    "contact_settings", metadata,
    Column("borrower_id", String(40), ForeignKey("parties.id"), primary_key=True),
    Column("time_zone", String(64), nullable=True),
    Column("language", String(8), nullable=False),
    Column("email_enc", LargeBinary, nullable=True),
    Column("wechat_openid_enc", LargeBinary, nullable=True),
    Column("reminder_channels", String(80), nullable=True),  # comma-separated channels
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

contact_profiles = Table(
    "contact_profiles", metadata,
    Column("loan_id", String(40), ForeignKey("loans.id"), primary_key=True),
    Column("profile", String(32), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
"""A loan whose contact profile is not the lender's (`TAILGUARD_CONTACT_PROFILE`)."""

messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("loan_id", String(40), ForeignKey("loans.id"), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("template", String(40), nullable=False),
    Column("language", String(8), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(12), nullable=False),  # queued, retrying, sent, failed, blocked
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("provider_id", String(120), nullable=True),
    Column("contact_id", Integer, nullable=True),  # the last policy decision
    Column("dedupe_key", String(160), nullable=True, unique=True),
    Column("actor", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Index("ix_messages_due", "status", "next_attempt_at"),
    Index("ix_messages_loan", "loan_id"),
)

in_app_messages = Table(
    "in_app_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False, unique=True),
    Column("borrower_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("loan_id", String(40), nullable=True),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=True),
    Index("ix_in_app_messages_borrower", "borrower_id", "id"),
)
