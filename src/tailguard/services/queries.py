"""Read models: what lists and detail screens show, read in a fixed number of queries.

Reads go through the state cache and the ledger, never through replaying loans one by one, so
a list of a thousand loans costs the same handful of queries as a list of ten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from tailguard.infra.db import ledger_repository as ledger
from tailguard.infra.db import tables
from tailguard.ledger.flows import (
    CREDIT_BALANCE,
    FEE_RECEIVABLE,
    INTEREST_RECEIVABLE,
    PENALTY_RECEIVABLE,
    PRINCIPAL_RECEIVABLE,
    UNAPPLIED_RECEIPTS,
)

LIST_LIMIT_MAX = 1000


@dataclass(frozen=True)
class LoanFilter:
    status: str | None = None
    bucket: str | None = None
    region_prefix: str | None = None
    limit: int = 100
    offset: int = 0


def list_loans(connection: Connection, flt: LoanFilter) -> list[dict[str, Any]]:
    loans, state = tables.loans, tables.loan_state
    query = (
        select(
            loans.c.id, loans.c.product_code, loans.c.principal_fen, loans.c.annual_rate,
            loans.c.term_months, loans.c.disbursement_date, loans.c.status, loans.c.region_code,
            loans.c.borrower_id, state.c.as_of, state.c.principal_outstanding_fen, state.c.dpd,
            state.c.bucket, state.c.next_due_date, state.c.balloon_due_date,
            state.c.balloon_fen,
        )
        .join(state, state.c.loan_id == loans.c.id, isouter=True)
        .order_by(loans.c.id)
        .limit(min(max(flt.limit, 1), LIST_LIMIT_MAX))
        .offset(max(flt.offset, 0))
    )
    if flt.status:
        query = query.where(loans.c.status == flt.status)
    if flt.bucket:
        query = query.where(state.c.bucket == flt.bucket)
    if flt.region_prefix:
        query = query.where(loans.c.region_code.like(f"{flt.region_prefix}%"))
    return [dict(r) for r in connection.execute(query).mappings()]


def count_loans(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(tables.loans)).scalar_one())


@dataclass(frozen=True)
class Difference:
    loan_id: str
    account: str
    ledger_fen: int
    servicing_fen: int


def reconcile(connection: Connection) -> list[Difference]:
    """Each loan's ledger balances against its servicing state, all loans in two queries.

    principal receivable = principal outstanding; interest receivable = overdue interest plus
    interest accrued; penalty receivable = penalty outstanding; the credit balance liability =
    the credit balance; unapplied receipts = 0. Written-off loans are checked for zero
    receivables instead.
    """
    postings = tables.postings
    rows = connection.execute(
        select(postings.c.loan_id, postings.c.account_code, func.sum(postings.c.amount_fen))
        .where(postings.c.loan_id.is_not(None))
        .group_by(postings.c.loan_id, postings.c.account_code)
    ).all()
    balances: dict[str, dict[str, int]] = {}
    for loan_id, account, total in rows:
        balances.setdefault(loan_id, {})[account] = int(total or 0)
    state = tables.loan_state
    loans = tables.loans
    targets = connection.execute(
        select(state, loans.c.status).join(loans, loans.c.id == state.c.loan_id)
    ).mappings()
    differences: list[Difference] = []
    for row in targets:
        have = balances.get(row["loan_id"], {})
        written_off = row["status"] == "written-off"
        expected = {
            PRINCIPAL_RECEIVABLE: 0 if written_off else row["principal_outstanding_fen"],
            INTEREST_RECEIVABLE: 0 if written_off else (
                row["overdue_interest_fen"] + row["accrued_interest_fen"]
            ),
            PENALTY_RECEIVABLE: 0 if written_off else row["penalty_outstanding_fen"],
            FEE_RECEIVABLE: 0 if written_off else row["overdue_fee_fen"],
            CREDIT_BALANCE: -row["credit_balance_fen"],
            UNAPPLIED_RECEIPTS: 0,
        }
        for account, want in expected.items():
            got = have.get(account, 0)
            if got != want:
                differences.append(Difference(row["loan_id"], account, got, want))
    return differences


def trial_balance(connection: Connection, as_of: date) -> ledger.TrialBalance:
    return ledger.trial_balance(connection, as_of)
