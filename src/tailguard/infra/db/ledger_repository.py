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


@dataclass(frozen=True)
class Entry:
    """A journal entry to append: its postings (legs) sum to zero."""

    entry_id: str
    value_date: date
    reason_code: str
    reference_type: str
    reference_id: str
    legs: Sequence[Leg]
    recorded_at: datetime
    reverses: str | None = None
    memo: str | None = None


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
    post_entries(connection, [Entry(entry_id, value_date, reason_code, reference_type,
                                    reference_id, legs, recorded_at, reverses, memo)])


def post_entries(connection: Connection, entries: Sequence[Entry]) -> None:
    """Append entries (empty ones are skipped) in two statements whatever their number."""
    kept: list[tuple[Entry, list[Leg]]] = []
    for entry in entries:
        legs = [leg for leg in entry.legs if leg.amount_fen]
        if legs:
            _check_balanced(entry.entry_id, [leg.amount_fen for leg in legs])
            kept.append((entry, legs))
    if not kept:
        return
    seqs = _insert_heads(connection, [entry for entry, _ in kept])
    bulk.insert_values(
        connection, "postings", POSTING_COLUMNS,
        [(seq, leg.account, leg.loan_id, leg.amount_fen)
         for seq, (_, legs) in zip(seqs, kept, strict=True) for leg in legs])


POSTING_COLUMNS = ("entry_seq", "account_code", "loan_id", "amount_fen")


def _check_balanced(entry_id: str, amounts: Sequence[int]) -> None:
    """An entry's non-zero postings: they sum to zero, and there are at least two."""
    if sum(amounts) != 0:
        raise UnbalancedEntry(f"entry {entry_id} does not balance")
    assert len(amounts) >= 2, "an entry has at least two postings"


def _insert_heads(connection: Connection, entries: Sequence[Entry]) -> list[int]:
    """Insert the entries' journal rows; their sequence numbers, in the same order.

    Several rows go in as one executemany, and their numbers are read back by id: an INSERT
    … RETURNING that must keep the rows' order runs one statement per row on SQLite."""
    rows = [{"id": e.entry_id, "value_date": e.value_date, "reason_code": e.reason_code,
             "reference_type": e.reference_type, "reference_id": e.reference_id,
             "reverses": e.reverses, "memo": e.memo, "recorded_at": e.recorded_at}
            for e in entries]
    je = tables.journal_entries
    if len(rows) == 1:
        return [connection.execute(insert(je).returning(je.c.seq), rows[0]).scalar_one()]
    connection.execute(insert(je), rows)
    ids = [e.entry_id for e in entries]
    seq_of: dict[str, int] = {}
    for start in range(0, len(ids), ID_LIST_MAX):
        seq_of.update(connection.execute(select(je.c.id, je.c.seq).where(
            je.c.id.in_(ids[start:start + ID_LIST_MAX]))).tuples().all())
    return [seq_of[entry_id] for entry_id in ids]


ID_LIST_MAX = 500
"""Entry ids per IN list when reading sequence numbers back."""


def post_entry_columns(
    connection: Connection, head: Entry, accounts: Sequence[str], amounts: Sequence[int],
    loan_ids: Sequence[str | None],
) -> None:
    """Append one entry whose postings come as columns (`head.legs` is ignored).

    For the nightly accrual, one entry with two postings per loan of a chunk: building a
    `Leg` per posting would cost more than writing it. Zero amounts are dropped; the rest
    must sum to zero."""
    rows = [(account, amount, loan_id) for account, amount, loan_id
            in zip(accounts, amounts, loan_ids, strict=True) if amount]
    if not rows:
        return
    _check_balanced(head.entry_id, [amount for _, amount, _ in rows])
    (seq,) = _insert_heads(connection, [head])
    bulk.insert_values(connection, "postings", POSTING_COLUMNS,
                       [(seq, account, loan_id, amount) for account, amount, loan_id in rows])


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


def booked_flows_many(connection: Connection, loan_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Booked flows of several loans in one query; a loan with none maps to {}."""
    found: dict[str, dict[str, int]] = {loan_id: {} for loan_id in loan_ids}
    if loan_ids:
        rows = connection.execute(
            select(tables.loan_books.c.loan_id, tables.loan_books.c.flow,
                   tables.loan_books.c.amount_fen)
            .where(tables.loan_books.c.loan_id.in_(list(loan_ids)))
        ).all()
        for r in rows:
            found[r.loan_id][r.flow] = r.amount_fen
    return found


def book_flows(
    connection: Connection, loan_id: str, booked: dict[str, int], deltas: dict[str, int]
) -> None:
    """Add `deltas` to the loan's booked flows (`booked` is what was read before)."""
    book_flows_many(connection, [(loan_id, booked, deltas)])


def book_flows_many(
    connection: Connection, items: Sequence[tuple[str, dict[str, int], dict[str, int]]]
) -> None:
    """`book_flows` for several loans: (loan id, booked before, deltas) each."""
    updates = [{"loan_id": loan_id, "flow": f, "amount_fen": booked[f] + d}
               for loan_id, booked, deltas in items for f, d in deltas.items() if f in booked]
    inserts = [{"loan_id": loan_id, "flow": f, "amount_fen": d}
               for loan_id, booked, deltas in items for f, d in deltas.items()
               if f not in booked]
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
