"""Servicing use cases: book, pay, reverse, settle, balloon options, waive, write off.

Each function is one use case in one unit of work: it locks the loan, loads it as an immutable
account, lets a pure rule decide, and writes the result together with its journal entries, the
refreshed state cache, the audit row and the outbox events, committing once. Money commands
carry an idempotency key; their outcome, refusals included, is stored under it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.db import idempotency
from tailguard.infra.db import ledger_repository as ledger
from tailguard.infra.db import state_repository as states
from tailguard.infra.db.loan_repository import LoanRepository
from tailguard.infra.db.uow import UnitOfWork
from tailguard.ledger.flows import (
    BORROWER_PAYABLE,
    COLLATERAL_HELD,
)
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import Channel, CreditRefunded, PaymentReceived, PaymentReversed
from tailguard.loans.maturity import MaturityOption, VehicleDisposition, plan_vehicle_disposition
from tailguard.loans.payoff import PayoffQuote, SettlementReason, quote_payoff
from tailguard.loans.position import Position
from tailguard.money import yuan
from tailguard.services import contract_documents
from tailguard.services.loan_books import (
    PaymentOutcome,
    emit_position_events,
    load,
    payment_id_for,
    post_receipt,
    replayed,
    repository,
    sync_books,
)
from tailguard.services.payments import PaymentCommand, post_payment, post_payments
from tailguard.services.platform import Platform

__all__ = [  # payments are posted in `payments`; callers of servicing find them here too
    "PaymentCommand", "PaymentOutcome", "post_payment", "post_payments", "repository",
    "sync_books",
]


# -- payments ---------------------------------------------------------------------------
def refund_credit(
    platform: Platform, actor: str, loan_id: str, amount_fen: int, idempotency_key: str,
) -> PaymentOutcome:
    """Pay part or all of a borrower's credit balance back to them, once per key.

    The refund is a fact in the loan's history (so a later reversal of the payment that made
    the credit is refused rather than leaving a refund uncovered) and the true-up books it:
    Dr borrower credit balance, Cr cash.
    """
    if amount_fen <= 0:
        raise InvalidInput.one("amount", "not_positive", "must be more than zero")
    digest = idempotency.payload_hash("refund_credit", {"loan_id": loan_id,
                                                         "amount_fen": amount_fen})
    with platform.uow(actor) as uow:
        repo = repository(platform, uow)
        account = load(repo, loan_id, for_update=True)
        stored = idempotency.lookup(uow.connection, idempotency_key, "refund_credit", digest)
        if stored is not None:
            return replayed(stored)
        today = platform.today()
        now = uow.clock.now()
        refund_id = "ref-" + payment_id_for(idempotency_key).removeprefix("pay-")
        event = CreditRefunded(refund_id, today, amount_fen)
        account = account.with_event(event)
        repo.append_event(loan_id, event, now)
        position = sync_books(uow.connection, account, today, f"{refund_id}:refund", now,
                              "CREDIT_REFUND")
        outcome = PaymentOutcome(loan_id, refund_id, "refunded", amount_fen, today,
                                 position.dpd, position.bucket, position.arrears_fen,
                                 position.credit_balance_fen)
        idempotency.save(uow.connection, idempotency_key, "refund_credit", digest, 201,
                         outcome.to_dict(), now)
        uow.audit("credit.refund", "loan", loan_id, outcome.to_dict())
        uow.emit("CreditRefunded", loan_id, outcome.to_dict(), today)
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
        account = load(repo, loan_id, for_update=True)
        stored = idempotency.lookup(uow.connection, idempotency_key, "reverse_payment", digest)
        if stored is not None:
            return replayed(stored)
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
        emit_position_events(uow, loan_id, before, position)
        uow.commit()
        return outcome


# -- reads ------------------------------------------------------------------------------
def load_account(platform: Platform, loan_id: str) -> LoanAccount:
    with platform.uow() as uow:
        return load(repository(platform, uow), loan_id, for_update=False)


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
    emit_position_events(uow, account.loan_id, before, position)
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
        account = load(repo, loan_id, for_update=True)
        stored = idempotency.lookup(uow.connection, idempotency_key, "settle", digest)
        if stored is not None:
            return replayed(stored)
        today = platform.today()
        quote = quote_payoff(account, today, reason)
        if amount_fen != quote.total_fen:
            raise Refused("AMOUNT_DIFFERS_FROM_QUOTE",
                          f"the payoff today is {yuan(quote.total_fen)}, not {yuan(amount_fen)}")
        payment_id = payment_id_for(idempotency_key)
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
    account = load(repo, loan_id, for_update=True)
    updated = change(account)
    reference = f"{loan_id}:{action}:v{updated.schedule.version}:e{len(updated.events)}"
    return _apply_new_version(platform, uow, repo, account, updated, reference, action, detail)


def dispose_vehicle(
    platform: Platform,
    actor: str,
    loan_id: str,
    option: MaturityOption,
    appraised_value_fen: int,
    shortfall_months: int | None = None,
) -> tuple[Position, VehicleDisposition]:
    """Trade in or return the vehicle against its appraisal, in one unit of work.

    The appraisal settles the debt (as vehicle proceeds); a shortfall stays owed, or becomes
    a restructure over `shortfall_months`; a surplus is booked as owed to the borrower
    (Dr collateral held, Cr payable to borrower) so it cannot be forgotten. The addendum
    follows.
    """
    today = platform.today()
    planned: list[VehicleDisposition] = []

    def change(account: LoanAccount) -> LoanAccount:
        disposition = plan_vehicle_disposition(account, today, option, appraised_value_fen,
                                               f"{loan_id}:{option.value}:{today}",
                                               shortfall_months)
        planned.append(disposition)
        return disposition.apply(account)

    with platform.uow(actor) as uow:
        position = apply_change_in(platform, uow, loan_id, change, f"loan.{option.value}",
                                   {"appraised_value": yuan(appraised_value_fen)})
        (disposition,) = planned
        if disposition.surplus_fen:
            ledger.post_entry(
                uow.connection, entry_id=f"{loan_id}:{option.value}:{today}:surplus",
                value_date=today, reason_code="VEHICLE_SURPLUS", reference_type="loan",
                reference_id=loan_id,
                legs=[ledger.Leg(COLLATERAL_HELD, disposition.surplus_fen, loan_id),
                      ledger.Leg(BORROWER_PAYABLE, -disposition.surplus_fen, loan_id)],
                recorded_at=uow.clock.now(), memo=option.value,
            )
            uow.emit("VehicleSurplusOwed", loan_id, {
                "loan_id": loan_id, "surplus_fen": disposition.surplus_fen,
                "option": option.value}, today)
        uow.commit()
    # The addendum documents the change; issued after the commit, as booking issues the
    # contract (rendering must never hold the loan's lock).
    contract_documents.issue_addendum(platform, actor, loan_id, option.value, detail=(
        ("appraised_value", appraised_value_fen), ("surplus", disposition.surplus_fen),
        ("shortfall", disposition.shortfall_fen)))
    return position, disposition


def import_history(
    platform: Platform, actor: str, loan_id: str, payments: list[PaymentReceived]
) -> Position:
    """Record a loan's past payments at once (a migration from a legacy system, the demo).

    The payments are facts with their own value dates; the replay places them, and one true-up
    books the result, exactly as if each had been posted on its day.
    """
    with platform.uow(actor) as uow:
        repo = repository(platform, uow)
        account = load(repo, loan_id, for_update=True)
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
