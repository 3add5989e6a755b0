"""Posting payments, one or many per unit of work, exactly once per idempotency key.

Why batches: a payment's own work is small (a replay of one loan), but each unit of work pays
for a round of statements and a commit. Posting many payments in one unit of work (a group
commit) shares that cost: loans are locked and loaded in four queries, every kind of row is
written with one statement, and the transaction commits once. The API gathers the payments
that arrive within a few milliseconds into one batch (`api/payment_batcher.py`); the simulator
and imports call `post_payments` directly. `post_payment` is a batch of one, so both paths
leave the same rows.

Each command still gets its own outcome: a refusal (loan not active) is stored under its key
like a posting; bad input or an unknown loan is returned as the exception for that command
alone, never failing the others. Loans are locked in id order, so two batches sharing loans
queue instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError

from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.db import idempotency
from tailguard.infra.db import ledger_repository as ledger
from tailguard.infra.db import state_repository as states
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import Channel, LoanEvent, PaymentReceived
from tailguard.loans.position import Position
from tailguard.services.loan_books import (
    BooksChange,
    PaymentOutcome,
    payment_id_for,
    position_events,
    receipt_entry,
    replayed,
    repository,
    sync_books_many,
)
from tailguard.services.platform import Platform

COMMAND = "post_payment"
BATCH_MAX = 500
"""The most payments in one unit of work: a bound on the transaction's size and lock time."""


@dataclass(frozen=True)
class PaymentCommand:
    loan_id: str
    amount_fen: int
    value_date: date
    channel: Channel
    idempotency_key: str

    @property
    def digest(self) -> str:
        return idempotency.payload_hash(COMMAND, {
            "loan_id": self.loan_id, "amount_fen": self.amount_fen,
            "value_date": self.value_date, "channel": self.channel.value,
        })


Result = PaymentOutcome | Exception
"""An outcome, or the exception (InvalidInput, NotFound, Refused, IdempotencyConflict) that
answers this command alone."""


def post_payment(
    platform: Platform,
    actor: str,
    loan_id: str,
    amount_fen: int,
    value_date: date,
    channel: Channel,
    idempotency_key: str,
) -> PaymentOutcome:
    """Post one payment exactly once per idempotency key.

    A replay of the same key and payload returns the first outcome (refusals included); the
    same key with another payload raises `IdempotencyConflict`. Concurrent posts to one loan
    serialise on the loan's row lock (PostgreSQL) or the write lock (SQLite).
    """
    command = PaymentCommand(loan_id, amount_fen, value_date, channel, idempotency_key)
    (result,) = post_payments(platform, actor, [command])
    if isinstance(result, Exception):
        raise result
    return result


def post_payments(
    platform: Platform, actor: str, commands: Sequence[PaymentCommand]
) -> list[Result]:
    """Post many payments, in order, in as few units of work as `BATCH_MAX` allows."""
    results: list[Result] = []
    for start in range(0, len(commands), BATCH_MAX):
        results.extend(_post_batch(platform, actor, commands[start:start + BATCH_MAX]))
    return results


def _post_batch(platform: Platform, actor: str, commands: Sequence[PaymentCommand]) -> list[Result]:
    for attempt in range(3):
        try:
            return _post_batch_once(platform, actor, commands)
        except IntegrityError:
            # A concurrent request with one of these keys committed first: its outcome stands,
            # and the next attempt finds it stored.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _check(command: PaymentCommand, account: LoanAccount | None, today: date) -> None:
    if command.amount_fen <= 0:
        raise InvalidInput.one("amount", "not_positive", "must be more than zero")
    if account is None:
        raise NotFound(f"loan {command.loan_id} does not exist")
    if command.value_date > today:
        raise InvalidInput.one("value_date", "in_future", "cannot be after today")
    if command.value_date < account.terms.disbursement_date:
        raise InvalidInput.one("value_date", "before_disbursement",
                               "cannot be before the disbursement date")


def _outcome(command: PaymentCommand, payment_id: str, status: str, position: Position,
             refusal: Refused | None = None) -> PaymentOutcome:
    return PaymentOutcome(
        command.loan_id, payment_id, status, command.amount_fen, command.value_date,
        position.dpd, position.bucket, position.arrears_fen, position.credit_balance_fen,
        False, refusal.code if refusal else None, refusal.message if refusal else None,
    )


def _post_batch_once(
    platform: Platform, actor: str, commands: Sequence[PaymentCommand]
) -> list[Result]:
    with platform.uow(actor) as uow:
        repo = repository(platform, uow)
        conn = uow.connection
        accounts = repo.get_many([c.loan_id for c in commands], for_update=True)
        stored = idempotency.lookup_many(
            conn, [(c.idempotency_key, COMMAND, c.digest) for c in commands])
        before = states.states_of(conn, list(accounts))
        today = platform.today()
        now = uow.clock.now()

        results: list[Result | None] = [None] * len(commands)
        first_of_key: dict[str, int] = {}
        touched: dict[str, list[int]] = {}  # loan id → indexes of its postings, in order
        repeats: list[int] = []
        new_events: list[tuple[str, LoanEvent]] = []
        for i, command in enumerate(commands):
            key = command.idempotency_key
            earlier = stored.get(key)
            if isinstance(earlier, Exception):
                results[i] = earlier
                continue
            if earlier is not None:
                results[i] = replayed(earlier)
                continue
            if key in first_of_key:  # the same key twice in this batch: answered below
                repeats.append(i)
                continue
            account = accounts.get(command.loan_id)
            try:
                _check(command, account, today)
                assert account is not None
                record = repo.record(command.loan_id)
                assert record is not None
                if record.status != "active":
                    refusal = Refused("LOAN_NOT_ACTIVE", f"loan {command.loan_id} is "
                                                         f"{record.status}")
                    results[i] = _outcome(command, payment_id_for(key), "refused",
                                          account.position(today), refusal)
                    first_of_key[key] = i
                    continue
                event = PaymentReceived(payment_id_for(key), command.value_date,
                                        command.amount_fen, command.channel)
                accounts[command.loan_id] = account.with_event(event)
            except (InvalidInput, NotFound, Refused) as answer:
                results[i] = answer
                continue
            first_of_key[key] = i
            new_events.append((command.loan_id, event))
            touched.setdefault(command.loan_id, []).append(i)

        changes: list[BooksChange] = []
        outbox: list[tuple[str, str | None, Any, date | None]] = []
        for loan_id, indexes in touched.items():
            account = accounts[loan_id]
            position = account.position(today)
            last_payment = payment_id_for(commands[indexes[-1]].idempotency_key)
            changes.append(BooksChange(account, position, f"{last_payment}:allocation",
                                       "ALLOCATION"))
            for n, i in enumerate(indexes):
                # Each outcome states the loan just after its payment; only a loan paid more
                # than once in the batch needs the extra replays.
                after = position if n == len(indexes) - 1 else _position_after(
                    account, payment_id_for(commands[indexes[n + 1]].idempotency_key), today)
                results[i] = _outcome(commands[i], payment_id_for(commands[i].idempotency_key),
                                      "posted", after)
            if position.paid_off:
                repo.set_status(loan_id, "closed")
            outbox.extend(position_events(loan_id, before.get(loan_id), position))

        for i in repeats:
            first = first_of_key[commands[i].idempotency_key]
            results[i] = _repeat(commands[first], commands[i], results[first])
        repo.append_events(new_events, now)
        ledger.post_entries(conn, [receipt_entry(event, loan_id, now)
                                   for loan_id, event in new_events
                                   if isinstance(event, PaymentReceived)])
        sync_books_many(conn, changes, now)
        saved: list[dict[str, Any]] = []
        audits: list[tuple[str, str, str | None, Any]] = []
        posted: list[tuple[str, str | None, Any, date | None]] = []
        for i, command in enumerate(commands):
            result = results[i]
            if not isinstance(result, PaymentOutcome) or result.replayed \
                    or first_of_key.get(command.idempotency_key) != i:
                continue
            detail = result.to_dict()
            refused = result.status == "refused"
            saved.append({"key": command.idempotency_key, "command": COMMAND,
                          "digest": command.digest, "status": 409 if refused else 201,
                          "outcome": detail, "recorded_at": now})
            audits.append(("payment.refused" if refused else "payment.post", "loan",
                           command.loan_id, detail))
            if not refused:
                posted.append(("PaymentPosted", command.loan_id, detail, command.value_date))
        idempotency.save_many(conn, saved)
        uow.audit_many(audits)
        uow.emit_many(posted + outbox)
        uow.commit()
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _position_after(account: LoanAccount, next_payment_id: str, today: date) -> Position:
    """The loan's position with its facts up to (not including) `next_payment_id`."""
    cut = next(k for k, e in enumerate(account.events)
               if isinstance(e, PaymentReceived) and e.payment_id == next_payment_id)
    return LoanAccount(account.loan_id, account.terms, account.schedules,
                       account.events[:cut], account.calendar, account.extended_months,
                       account.annual_rate_override).position(today)


def _repeat(first: PaymentCommand, again: PaymentCommand, answer: Result | None) -> Result:
    """A key sent twice in one batch: the same payload replays the first answer."""
    if first.digest != again.digest:
        return idempotency.IdempotencyConflict(again.idempotency_key)
    assert answer is not None
    if isinstance(answer, PaymentOutcome):
        return replace(answer, replayed=True)
    return answer
