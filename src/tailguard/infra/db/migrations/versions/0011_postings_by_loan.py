"""ledger: index postings by loan alone, in posting order

Revision ID: 0011_postings_by_loan
Revises: 0001
Create Date: 2026-12-04 19:00:00

`ix_postings_loan` was on (loan_id, account_code): the end of day's accrual entry puts two
legs per loan on two accounts, so every night dirtied two index pages per active loan, one in
each account's run. On (loan_id) alone a loan's postings sit in posting order and a night's
legs of one loan land on one page. Every reader of the index selects by loan first
(statements, loan balances, reconciliation) and sums by account afterwards.
Measured on a 10,000-loan, 24-month simulated book on SQLite (10.5 million postings): a night's
accrual writes and commit 217 ms → 147 ms.
"""

from __future__ import annotations

from alembic import op

revision = "0011_postings_by_loan"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_postings_loan", table_name="postings")
    op.create_index("ix_postings_loan", "postings", ["loan_id"])


def downgrade() -> None:
    op.drop_index("ix_postings_loan", table_name="postings")
    op.create_index("ix_postings_loan", "postings", ["loan_id", "account_code"])
