"""Storing journal entries and reading balances, column-wise where it matters.

Entries are appended and never updated: a correction is a new entry that reverses an old one.
An entry is refused unless its postings sum to zero. Balances and the trial balance are sums
over postings computed by the database (one GROUP BY), never by loading entries one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, func, insert, select

from tailguard.infra.db import bulk, tables


@dataclass(frozen=True)
class Leg:
    account: str
    amount_fen: int
    loan_id: str | None = None


class UnbalancedEntry(AssertionError):
    """An entry whose postings do not sum to zero: a bug, never stored."""


def post_entry(
    connection: Connection,
    *,
    entry_id: str,
    value_date: date,
    reason_code: str,
    reference_type: str,
    reference_id: str,
    legs: Sequence[Leg],
    recorded_at: datetime,
    reverses: str | None = None,
    memo: str | None = None,
) -> None:
    legs = [leg for leg in legs if leg.amount_fen]
    if not legs:
        return
    if sum(leg.amount_fen for leg in legs) != 0:
        raise UnbalancedEntry(f"entry {entry_id} does not balance")
    assert len(legs) >= 2, "an entry has at least two postings"
    seq = connection.execute(
        insert(tables.journal_entries)
        .values(
            id=entry_id, value_date=value_date, reason_code=reason_code,
            reference_type=reference_type, reference_id=reference_id, reverses=reverses,
            memo=memo, recorded_at=recorded_at,
        )
        .returning(tables.journal_entries.c.seq)
    ).scalar_one()
    bulk.insert_rows(
        connection,
        "postings",
        ("entry_seq", "account_code", "loan_id", "amount_fen"),
        [
            {"entry_seq": seq, "account_code": leg.account, "loan_id": leg.loan_id,
             "amount_fen": leg.amount_fen}
            for leg in legs
        ],
    )


def entry_legs(connection: Connection, entry_id: str) -> list[Leg]:
    rows = connection.execute(
        select(tables.postings.c.account_code, tables.postings.c.amount_fen,
               tables.postings.c.loan_id)
        .join(tables.journal_entries,
              tables.journal_entries.c.seq == tables.postings.c.entry_seq)
        .where(tables.journal_entries.c.id == entry_id)
        .order_by(tables.postings.c.id)
    ).all()
    return [Leg(r.account_code, r.amount_fen, r.loan_id) for r in rows]


def booked_flows(connection: Connection, loan_id: str) -> dict[str, int]:
    rows = connection.execute(
        select(tables.loan_books.c.flow, tables.loan_books.c.amount_fen).where(
            tables.loan_books.c.loan_id == loan_id
        )
    ).all()
    return {r.flow: r.amount_fen for r in rows}


def book_flows(
    connection: Connection, loan_id: str, booked: dict[str, int], deltas: dict[str, int]
) -> None:
    """Add `deltas` to the loan's booked flows (`booked` is what was read before)."""
    updates = [{"loan_id": loan_id, "flow": f, "amount_fen": booked[f] + d}
               for f, d in deltas.items() if f in booked]
    inserts = [{"loan_id": loan_id, "flow": f, "amount_fen": d}
               for f, d in deltas.items() if f not in booked]
    bulk.update_rows(connection, "loan_books", ("loan_id", "flow"),
                     {"loan_id": "varchar", "flow": "varchar", "amount_fen": "bigint"}, updates)
    bulk.insert_rows(connection, "loan_books", ("loan_id", "flow", "amount_fen"), inserts)


def loan_balances(connection: Connection, loan_id: str) -> dict[str, int]:
    rows = connection.execute(
        select(tables.postings.c.account_code, func.sum(tables.postings.c.amount_fen))
        .where(tables.postings.c.loan_id == loan_id)
        .group_by(tables.postings.c.account_code)
    ).all()
    return {account: int(total) for account, total in rows if total}


@dataclass(frozen=True)
class TrialBalanceRow:
    account: str
    debits_fen: int
    credits_fen: int

    @property
    def balance_fen(self) -> int:
        return self.debits_fen - self.credits_fen


@dataclass(frozen=True)
class TrialBalance:
    as_of: date
    rows: tuple[TrialBalanceRow, ...]

    @property
    def debits_fen(self) -> int:
        return sum(r.debits_fen for r in self.rows)

    @property
    def credits_fen(self) -> int:
        return sum(r.credits_fen for r in self.rows)

    @property
    def balanced(self) -> bool:
        return self.debits_fen == self.credits_fen


def trial_balance(connection: Connection, as_of: date) -> TrialBalance:
    """Debits and credits per account of every entry with a value date up to `as_of`."""
    amount = tables.postings.c.amount_fen
    # |a| + a is twice a debit and 0 for a credit; |a| - a the reverse: integer sums only.
    rows = connection.execute(
        select(
            tables.postings.c.account_code,
            func.sum(func.abs(amount) + amount).label("twice_debits"),
            func.sum(func.abs(amount) - amount).label("twice_credits"),
        )
        .join(tables.journal_entries,
              tables.journal_entries.c.seq == tables.postings.c.entry_seq)
        .where(tables.journal_entries.c.value_date <= as_of)
        .group_by(tables.postings.c.account_code)
        .order_by(tables.postings.c.account_code)
    ).all()
    return TrialBalance(
        as_of,
        tuple(
            TrialBalanceRow(r.account_code, int(r.twice_debits) // 2, int(r.twice_credits) // 2)
            for r in rows
        ),
    )


def entries_for_loan(connection: Connection, loan_id: str) -> Iterable[dict[str, object]]:
    """The loan's postings with their entries, oldest first, for statements."""
    rows = connection.execute(
        select(
            tables.journal_entries.c.id, tables.journal_entries.c.value_date,
            tables.journal_entries.c.reason_code, tables.journal_entries.c.reverses,
            tables.postings.c.account_code, tables.postings.c.amount_fen,
        )
        .join(tables.postings, tables.postings.c.entry_seq == tables.journal_entries.c.seq)
        .where(tables.postings.c.loan_id == loan_id)
        .order_by(tables.journal_entries.c.seq, tables.postings.c.id)
    ).mappings()
    return [dict(r) for r in rows]
