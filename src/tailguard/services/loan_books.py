"""What every money use case shares: the loan repository, the books brought to the replay,
the receipt entry, and the outcome of a payment command.

`servicing` (one command at a time) and `payments` (many payments in one unit of work) both
stand on these, so a payment posted either way leaves the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from tailguard.errors import NotFound
from tailguard.infra.db import idempotency
from tailguard.infra.db import ledger_repository as ledger
from tailguard.infra.db import state_repository as states
from tailguard.infra.db.loan_repository import LoanRepository
from tailguard.infra.db.uow import UnitOfWork
from tailguard.ledger.flows import CASH, UNAPPLIED_RECEIPTS, target_flows, true_up
from tailguard.loans.account import LoanAccount
from tailguard.loans.accrual import accrued_interest_fen
from tailguard.loans.delinquency import bucket_change
from tailguard.loans.events import PaymentReceived
from tailguard.loans.position import Position
from tailguard.services.platform import Platform


@dataclass(frozen=True)
class PaymentOutcome:
    loan_id: str
    payment_id: str
    status: str  # posted, reversed, refused
    amount_fen: int
    value_date: date
    dpd: int
    bucket: str
    arrears_fen: int
    credit_balance_fen: int
    replayed: bool = False
    refusal_code: str | None = None
    refusal_message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["value_date"] = self.value_date.isoformat()
        return data


def repository(platform: Platform, uow: UnitOfWork) -> LoanRepository:
    return LoanRepository(uow.connection, platform.calendar_for, platform.products,
                          platform.schedules)


def accrued(account: LoanAccount, as_of: date) -> int:
    return accrued_interest_fen(account.schedule, account.product, account.annual_rate, as_of)


@dataclass(frozen=True)
class BooksChange:
    """One loan to bring to its replay: the account, its position on `as_of`, and the id
    and reason of the true-up entry if one is needed."""

    account: LoanAccount
    position: Position
    entry_id: str
    reason_code: str = "TRUE_UP"


def sync_books(
    connection: Connection,
    account: LoanAccount,
    as_of: date,
    entry_id: str,
    recorded_at: Any,
    reason_code: str = "TRUE_UP",
) -> Position:
    """Bring the loan's books and state cache to its replay on `as_of`; returns the position."""
    position = account.position(as_of)
    sync_books_many(connection, [BooksChange(account, position, entry_id, reason_code)],
                    recorded_at)
    return position


def sync_books_many(
    connection: Connection, changes: Sequence[BooksChange], recorded_at: Any
) -> None:
    """`sync_books` for several loans in a constant number of statements."""
    if not changes:
        return
    booked_by_loan = ledger.booked_flows_many(connection, [c.account.loan_id for c in changes])
    entries: list[ledger.Entry] = []
    flows: list[tuple[str, dict[str, int], dict[str, int]]] = []
    saved: list[tuple[LoanAccount, Position, int]] = []
    for change in changes:
        account, position = change.account, change.position
        accrued_fen = accrued(account, position.as_of)
        channels = {e.payment_id: e.channel for e in account.events
                    if isinstance(e, PaymentReceived)}
        target = target_flows(position, account.terms.principal_fen, accrued_fen, channels)
        booked = booked_by_loan[account.loan_id]
        deltas, postings = true_up(target, booked)
        if postings:
            entries.append(ledger.Entry(
                change.entry_id, position.as_of, change.reason_code, "loan", account.loan_id,
                [ledger.Leg(p.account, p.amount_fen, account.loan_id) for p in postings],
                recorded_at,
            ))
            flows.append((account.loan_id, booked, deltas))
        saved.append((account, position, accrued_fen))
    ledger.post_entries(connection, entries)
    ledger.book_flows_many(connection, flows)
    states.save_states(connection, saved)


def receipt_entry(payment: PaymentReceived, loan_id: str, recorded_at: Any) -> ledger.Entry:
    """Cash in: Dr cash, Cr unapplied receipts; the true-up then applies it to the loan."""
    return ledger.Entry(
        f"{payment.payment_id}:receipt", payment.value_date, "PAYMENT", "payment",
        payment.payment_id,
        [ledger.Leg(CASH, payment.amount_fen, loan_id),
         ledger.Leg(UNAPPLIED_RECEIPTS, -payment.amount_fen, loan_id)],
        recorded_at, memo=payment.channel.value,
    )


def post_receipt(connection: Connection, payment: PaymentReceived, loan_id: str,
                 recorded_at: Any) -> None:
    ledger.post_entries(connection, [receipt_entry(payment, loan_id, recorded_at)])


def replayed(stored: idempotency.StoredOutcome) -> PaymentOutcome:
    """The first outcome stored under a key, marked as a replay."""
    return PaymentOutcome(**(stored.outcome | {
        "value_date": date.fromisoformat(stored.outcome["value_date"]), "replayed": True,
    }))


def position_events(
    loan_id: str, before: dict[str, Any] | None, position: Position
) -> list[tuple[str, str | None, Any, date | None]]:
    """Outbox events for what changed since the cached state `before`: bucket, paid off."""
    events: list[tuple[str, str | None, Any, date | None]] = []
    previous_dpd = before["dpd"] if before else 0
    change = bucket_change(loan_id, position.as_of, previous_dpd, position.dpd)
    if change is not None:
        events.append(("LoanChangedBucket", loan_id, asdict(change), position.as_of))
    if position.paid_off and not (before and before["paid_off"]):
        events.append(("LoanPaidOff", loan_id, {"loan_id": loan_id}, position.as_of))
    return events


def emit_position_events(
    uow: UnitOfWork, loan_id: str, before: dict[str, Any] | None, position: Position
) -> None:
    uow.emit_many(position_events(loan_id, before, position))


def payment_id_for(idempotency_key: str) -> str:
    """A payment's id, derived from the key its client made, so a retry finds the same id."""
    return "pay-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def load(repo: LoanRepository, loan_id: str, for_update: bool) -> LoanAccount:
    account = repo.get(loan_id, for_update=for_update)
    if account is None:
        raise NotFound(f"loan {loan_id} does not exist")
    return account
