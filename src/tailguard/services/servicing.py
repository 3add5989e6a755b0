"""Servicing use cases: book, pay, reverse, settle, balloon options, waive, write off.

Each function is one use case in one unit of work: it locks the loan, loads it as an immutable
account, lets a pure rule decide, and writes the result together with its journal entries, the
refreshed state cache, the audit row and the outbox events, committing once. Money commands
carry an idempotency key; their outcome, refusals included, is stored under it.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.db import idempotency
from tailguard.infra.db import ledger_repository as ledger
from tailguard.infra.db import state_repository as states
from tailguard.infra.db.loan_repository import LoanRecord, LoanRepository
from tailguard.infra.db.uow import UnitOfWork
from tailguard.ledger.flows import (
    CASH,
    DISBURSEMENT_CLEARING,
    FEE_INCOME,
    UNAPPLIED_RECEIPTS,
    target_flows,
    true_up,
)
from tailguard.loans.account import LoanAccount
from tailguard.loans.accrual import accrued_interest_fen
from tailguard.loans.delinquency import bucket_change
from tailguard.loans.events import Channel, PaymentReceived, PaymentReversed
from tailguard.loans.payoff import PayoffQuote, SettlementReason, quote_payoff
from tailguard.loans.position import Position
from tailguard.loans.terms import LoanTerms
from tailguard.money import yuan
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
    return LoanRepository(uow.connection, platform.calendar_for)


def _accrued(account: LoanAccount, as_of: date) -> int:
    return accrued_interest_fen(account.schedule, account.product, account.annual_rate, as_of)


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
    accrued = _accrued(account, as_of)
    channels = {e.payment_id: e.channel for e in account.events if isinstance(e, PaymentReceived)}
    target = target_flows(position, account.terms.principal_fen, accrued, channels)
    booked = ledger.booked_flows(connection, account.loan_id)
    deltas, postings = true_up(target, booked)
    if postings:
        ledger.post_entry(
            connection,
            entry_id=entry_id,
            value_date=as_of,
            reason_code=reason_code,
            reference_type="loan",
            reference_id=account.loan_id,
            legs=[ledger.Leg(p.account, p.amount_fen, account.loan_id) for p in postings],
            recorded_at=recorded_at,
        )
        ledger.book_flows(connection, account.loan_id, booked, deltas)
    states.save_state(connection, account, position, accrued)
    return position


def post_receipt(connection: Connection, payment: PaymentReceived, loan_id: str,
                 recorded_at: Any) -> None:
    """Cash in: Dr cash, Cr unapplied receipts; the true-up then applies it to the loan."""
    ledger.post_entry(
        connection,
        entry_id=f"{payment.payment_id}:receipt",
        value_date=payment.value_date,
        reason_code="PAYMENT",
        reference_type="payment",
        reference_id=payment.payment_id,
        legs=[ledger.Leg(CASH, payment.amount_fen, loan_id),
              ledger.Leg(UNAPPLIED_RECEIPTS, -payment.amount_fen, loan_id)],
        recorded_at=recorded_at,
        memo=payment.channel.value,
    )


def _replayed(stored: idempotency.StoredOutcome) -> PaymentOutcome:
    """The first outcome stored under a key, marked as a replay."""
    return PaymentOutcome(**(stored.outcome | {
        "value_date": date.fromisoformat(stored.outcome["value_date"]), "replayed": True,
    }))


def _emit_position_events(
    uow: UnitOfWork, loan_id: str, before: dict[str, Any] | None, position: Position
) -> None:
    previous_dpd = before["dpd"] if before else 0
    change = bucket_change(loan_id, position.as_of, previous_dpd, position.dpd)
    if change is not None:
        uow.emit("LoanChangedBucket", loan_id, asdict(change), position.as_of)
    if position.paid_off and not (before and before["paid_off"]):
        uow.emit("LoanPaidOff", loan_id, {"loan_id": loan_id}, position.as_of)


# -- booking ----------------------------------------------------------------------------
def book_loan(
    platform: Platform, actor: str, terms: LoanTerms, record: LoanRecord, loan_id: str
) -> str:
    """Book and disburse a loan whose terms were validated and whose parties are stored."""
    with platform.uow(actor) as uow:
        repo = repository(platform, uow)
        if repo.record(loan_id) is not None:
            raise Refused("LOAN_EXISTS", f"loan {loan_id} is already booked")
        now = uow.clock.now()
        repo.save_product(terms.product, now)
        account = LoanAccount.open(loan_id, terms, platform.calendar_for(record.region_code))
        repo.add(account, record, now)
        day = terms.disbursement_date
        financed_fees = terms.financed_fees_fen
        ledger.post_entry(
            uow.connection,
            entry_id=f"{loan_id}:disbursement",
            value_date=day,
            reason_code="DISBURSEMENT",
            reference_type="loan",
            reference_id=loan_id,
            legs=[
                ledger.Leg(DISBURSEMENT_CLEARING, terms.principal_fen, loan_id),
                ledger.Leg(CASH, -(terms.principal_fen - financed_fees), loan_id),
                ledger.Leg(FEE_INCOME, -financed_fees, loan_id),
            ],
            recorded_at=now,
        )
        if terms.upfront_fees_fen:
            ledger.post_entry(
                uow.connection,
                entry_id=f"{loan_id}:upfront-fees",
                value_date=day,
                reason_code="UPFRONT_FEE",
                reference_type="loan",
                reference_id=loan_id,
                legs=[
                    ledger.Leg(CASH, terms.upfront_fees_fen, loan_id),
                    ledger.Leg(FEE_INCOME, -terms.upfront_fees_fen, loan_id),
                ],
                recorded_at=now,
            )
        as_of = max(day, platform.today())
        sync_books(uow.connection, account, as_of, f"{loan_id}:booking", now, "DISBURSEMENT")
        uow.audit("loan.book", "loan", loan_id, {
            "product": terms.product.key, "principal": yuan(terms.principal_fen),
            "annual_rate": str(terms.annual_rate), "term_months": terms.term_months,
        })
        uow.emit("LoanDisbursed", loan_id, {
            "loan_id": loan_id, "principal_fen": terms.principal_fen,
            "disbursement_date": day, "annualised_rate": str(terms.annualised_rate()),
        }, day)
        uow.commit()
    return loan_id


# -- payments ---------------------------------------------------------------------------
def _payment_id(idempotency_key: str) -> str:
    return "pay-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def _load(repo: LoanRepository, loan_id: str, for_update: bool) -> LoanAccount:
    account = repo.get(loan_id, for_update=for_update)
    if account is None:
        raise NotFound(f"loan {loan_id} does not exist")
    return account


def post_payment(
    platform: Platform,
    actor: str,
    loan_id: str,
    amount_fen: int,
    value_date: date,
    channel: Channel,
    idempotency_key: str,
) -> PaymentOutcome:
    """Post a payment exactly once per idempotency key.

    A replay of the same key and payload returns the first outcome (refusals included); the
    same key with another payload raises `IdempotencyConflict`. Concurrent posts to one loan
    serialise on the loan's row lock (PostgreSQL) or the write lock (SQLite).
    """
    payload = {"loan_id": loan_id, "amount_fen": amount_fen, "value_date": value_date,
               "channel": channel.value}
    digest = idempotency.payload_hash("post_payment", payload)
    for attempt in range(3):
        try:
            return _post_payment_once(platform, actor, loan_id, amount_fen, value_date,
                                      channel, idempotency_key, digest)
        except IntegrityError:
            # A concurrent request with the same key committed first: its outcome stands.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _post_payment_once(
    platform: Platform, actor: str, loan_id: str, amount_fen: int, value_date: date,
    channel: Channel, key: str, digest: str,
) -> PaymentOutcome:
    with platform.uow(actor) as uow:
        repo = repository(platform, uow)
        account = _load(repo, loan_id, for_update=True)
        stored = idempotency.lookup(uow.connection, key, "post_payment", digest)
        if stored is not None:
            return _replayed(stored)
        today = platform.today()
        payment_id = _payment_id(key)
        refusal: Refused | None = None
        record = repo.record(loan_id)
        assert record is not None
        if amount_fen <= 0:
            raise InvalidInput.one("amount", "not_positive", "must be more than zero")
        if record.status not in ("active",):
            refusal = Refused("LOAN_NOT_ACTIVE", f"loan {loan_id} is {record.status}")
        elif value_date > today:
            raise InvalidInput.one("value_date", "in_future", "cannot be after today")
        elif value_date < account.terms.disbursement_date:
            raise InvalidInput.one("value_date", "before_disbursement",
                                   "cannot be before the disbursement date")
        now = uow.clock.now()
        before = states.state_of(uow.connection, loan_id)
        if refusal is not None:
            position = account.position(today)
            outcome = PaymentOutcome(loan_id, payment_id, "refused", amount_fen, value_date,
                                     position.dpd, position.bucket, position.arrears_fen,
                                     position.credit_balance_fen, False, refusal.code,
                                     refusal.message)
            idempotency.save(uow.connection, key, "post_payment", digest, 409,
                             outcome.to_dict(), now)
            uow.audit("payment.refused", "loan", loan_id, outcome.to_dict())
            uow.commit()
            return outcome
        event = PaymentReceived(payment_id, value_date, amount_fen, channel)
        account = account.with_event(event)
        repo.append_event(loan_id, event, now)
        post_receipt(uow.connection, event, loan_id, now)
        position = sync_books(uow.connection, account, today, f"{payment_id}:allocation", now,
                              "ALLOCATION")
        if position.paid_off:
            repo.set_status(loan_id, "closed")
        outcome = PaymentOutcome(loan_id, payment_id, "posted", amount_fen, value_date,
                                 position.dpd, position.bucket, position.arrears_fen,
                                 position.credit_balance_fen)
        idempotency.save(uow.connection, key, "post_payment", digest, 201, outcome.to_dict(),
                         now)
        uow.audit("payment.post", "loan", loan_id, outcome.to_dict())
        uow.emit("PaymentPosted", loan_id, outcome.to_dict(), value_date)
        _emit_position_events(uow, loan_id, before, position)
        uow.commit()
        return outcome


def reverse_payment(
    platform: Platform, actor: str, loan_id: str, payment_id: str, reason: str,
    idempotency_key: str,
) -> PaymentOutcome:
    """Reverse a posted payment (a bounced debit): the loan is as if it had never been paid."""
    digest = idempotency.payload_hash("reverse_payment", {"loan_id": loan_id,
                                                           "payment_id": payment_id})
    with platform.uow(actor) as uow:
        repo = repository(platform, uow)
        account = _load(repo, loan_id, for_update=True)
        stored = idempotency.lookup(uow.connection, idempotency_key, "reverse_payment", digest)
        if stored is not None:
            return _replayed(stored)
        payment = next((e for e in account.events if isinstance(e, PaymentReceived)
                        and e.payment_id == payment_id), None)
        if payment is None:
            raise NotFound(f"payment {payment_id} does not exist on loan {loan_id}")
        if payment_id in account.reversed_ids():
            raise Refused("ALREADY_REVERSED", f"payment {payment_id} was already reversed")
        if not payment.channel.is_cash:
            raise Refused("NOT_A_CASH_PAYMENT", "conversions and proceeds are not reversed here")
        today = platform.today()
        now = uow.clock.now()
        before = states.state_of(uow.connection, loan_id)
        event = PaymentReversed(payment_id, today, reason)
        account = account.with_event(event)
        repo.append_event(loan_id, event, now)
        legs = ledger.entry_legs(uow.connection, f"{payment_id}:receipt")
        ledger.post_entry(
            uow.connection,
            entry_id=f"{payment_id}:reversal",
            value_date=today,
            reason_code="PAYMENT_REVERSAL",
            reference_type="payment",
            reference_id=payment_id,
            legs=[ledger.Leg(leg.account, -leg.amount_fen, leg.loan_id) for leg in legs],
            recorded_at=now,
            reverses=f"{payment_id}:receipt",
            memo=reason,
        )
        position = sync_books(uow.connection, account, today, f"{payment_id}:reallocation",
                              now, "REVERSAL_ALLOCATION")
        repo.set_status(loan_id, "closed" if position.paid_off else "active")
        outcome = PaymentOutcome(loan_id, payment_id, "reversed", payment.amount_fen,
                                 payment.value_date, position.dpd, position.bucket,
                                 position.arrears_fen, position.credit_balance_fen)
        idempotency.save(uow.connection, idempotency_key, "reverse_payment", digest, 200,
                         outcome.to_dict(), now)
        uow.audit("payment.reverse", "loan", loan_id, outcome.to_dict() | {"reason": reason})
        uow.emit("PaymentReversed", loan_id, outcome.to_dict(), today)
        _emit_position_events(uow, loan_id, before, position)
        uow.commit()
        return outcome


# -- reads ------------------------------------------------------------------------------
def load_account(platform: Platform, loan_id: str) -> LoanAccount:
    with platform.uow() as uow:
        return _load(repository(platform, uow), loan_id, for_update=False)


def payoff_quote(
    platform: Platform, loan_id: str, as_of: date | None = None,
    reason: SettlementReason = SettlementReason.VOLUNTARY,
) -> PayoffQuote:
    account = load_account(platform, loan_id)
    return quote_payoff(account, as_of or platform.today(), reason)


# -- schedule changes -------------------------------------------------------------------
def _apply_new_version(
    platform: Platform,
    uow: UnitOfWork,
    repo: LoanRepository,
    before_account: LoanAccount,
    account: LoanAccount,
    reference: str,
    action: str,
    detail: dict[str, Any],
) -> Position:
    """Store what a schedule-changing rule returned: new versions and facts, books, events."""
    now = uow.clock.now()
    today = platform.today()
    before = states.state_of(uow.connection, account.loan_id)
    for schedule in account.schedules[len(before_account.schedules):]:
        partial = LoanAccount(account.loan_id, account.terms,
                              account.schedules[: account.schedules.index(schedule) + 1],
                              account.events, account.calendar, account.extended_months,
                              account.annual_rate_override)
        repo.add_schedule(partial, now)
    for event in account.events[len(before_account.events):]:
        repo.append_event(account.loan_id, event, now)
        if isinstance(event, PaymentReceived) and event.channel.is_cash:
            post_receipt(uow.connection, event, account.loan_id, now)
    position = sync_books(uow.connection, account, today, f"{reference}:books", now,
                          action.upper().replace(".", "_"))
    repo.set_status(account.loan_id, "closed" if position.paid_off else "active")
    uow.audit(action, "loan", account.loan_id, detail)
    uow.emit("ScheduleChanged", account.loan_id, {
        "loan_id": account.loan_id, "version": account.schedule.version,
        "reason": account.schedule.reason,
    }, today)
    _emit_position_events(uow, account.loan_id, before, position)
    return position


def settle_loan(
    platform: Platform, actor: str, loan_id: str, amount_fen: int, channel: Channel,
    idempotency_key: str, reason: SettlementReason = SettlementReason.VOLUNTARY,
) -> PaymentOutcome:
    """Apply a payoff today: the settlement version and the payment that settles it."""
    digest = idempotency.payload_hash("settle", {"loan_id": loan_id, "amount_fen": amount_fen,
                                                 "reason": reason.value})
    with platform.uow(actor) as uow:
        repo = repository(platform, uow)
        account = _load(repo, loan_id, for_update=True)
        stored = idempotency.lookup(uow.connection, idempotency_key, "settle", digest)
        if stored is not None:
            return _replayed(stored)
        today = platform.today()
        quote = quote_payoff(account, today, reason)
        if amount_fen != quote.total_fen:
            raise Refused("AMOUNT_DIFFERS_FROM_QUOTE",
                          f"the payoff today is {yuan(quote.total_fen)}, not {yuan(amount_fen)}")
        payment_id = _payment_id(idempotency_key)
        updated = account.with_schedule(quote.settlement)
        if amount_fen:
            updated = updated.with_event(PaymentReceived(payment_id, today, amount_fen, channel))
        position = _apply_new_version(platform, uow, repo, account, updated, payment_id,
                                      "loan.settle", {"amount": yuan(amount_fen),
                                                      "reason": reason.value})
        outcome = PaymentOutcome(loan_id, payment_id, "posted", amount_fen, today, position.dpd,
                                 position.bucket, position.arrears_fen,
                                 position.credit_balance_fen)
        idempotency.save(uow.connection, idempotency_key, "settle", digest, 201,
                         outcome.to_dict(), uow.clock.now())
        uow.commit()
        return outcome


def apply_account_change(
    platform: Platform,
    actor: str,
    loan_id: str,
    change: Any,
    action: str,
    detail: dict[str, Any],
) -> Position:
    """Apply a pure rule's plan (`change(account) -> new account`) to a locked loan."""
    with platform.uow(actor) as uow:
        position = apply_change_in(platform, uow, loan_id, change, action, detail)
        uow.commit()
        return position


def apply_change_in(
    platform: Platform,
    uow: UnitOfWork,
    loan_id: str,
    change: Any,
    action: str,
    detail: dict[str, Any],
) -> Position:
    """`apply_account_change` inside a unit of work the caller commits."""
    repo = repository(platform, uow)
    account = _load(repo, loan_id, for_update=True)
    updated = change(account)
    reference = f"{loan_id}:{action}:v{updated.schedule.version}:e{len(updated.events)}"
    return _apply_new_version(platform, uow, repo, account, updated, reference, action, detail)


def import_history(
    platform: Platform, actor: str, loan_id: str, payments: list[PaymentReceived]
) -> Position:
    """Record a loan's past payments at once (a migration from a legacy system, the demo).

    The payments are facts with their own value dates; the replay places them, and one true-up
    books the result, exactly as if each had been posted on its day.
    """
    with platform.uow(actor) as uow:
        repo = repository(platform, uow)
        account = _load(repo, loan_id, for_update=True)
        now = uow.clock.now()
        today = platform.today()
        for payment in payments:
            if payment.value_date > today:
                raise InvalidInput.one("value_date", "in_future", "cannot be after today")
            account = account.with_event(payment)
            repo.append_event(loan_id, payment, now)
            post_receipt(uow.connection, payment, loan_id, now)
        position = sync_books(uow.connection, account, today, f"{loan_id}:import", now,
                              "ALLOCATION")
        repo.set_status(loan_id, "closed" if position.paid_off else "active")
        uow.audit("loan.import-history", "loan", loan_id, {"payments": len(payments)})
        uow.commit()
        return position
