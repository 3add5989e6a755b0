"""servicing: index the open instalments by due date

Revision ID: 0012_open_instalments_by_due
Revises: 0001
Create Date: 2026-12-07 21:00:00

The questions asked every night are about instalments not yet settled that fall due by a day:
which rows of a chunk the end of day accrues penalty on, which loans have an instalment due
today. `ix_installment_state_open` is ordered by loan, so each answer scanned every instalment
of every loan in range. A partial index on (due_date, loan_id) of the unsettled rows holds
only what those questions read: rows leave it when they are settled.
Measured on a 1,000-loan, 12-month simulated book on SQLite: the chunk's open rows 2.98 ms →
0.30 ms, the loans due today 1.61 ms → 0.02 ms.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_open_instalments_by_due"
down_revision = "0001"
branch_labels = None
depends_on = None

UNSETTLED = sa.text("settled_on IS NULL")


def upgrade() -> None:
    op.create_index("ix_installment_state_due", "installment_state", ["due_date", "loan_id"],
                    sqlite_where=UNSETTLED, postgresql_where=UNSETTLED)


def downgrade() -> None:
    op.drop_index("ix_installment_state_due", table_name="installment_state")
