"""Partial prepayment: pay part of the principal early, then shorten the term, lower the
instalment or shrink the balloon, as the borrower chooses.

The amount first clears whatever is due (arrears, penalty and today's instalment), then the
interest accrued in the current period and the prepayment fee; the rest reduces principal. A
new schedule version records it: a prepayment instalment due today (accrued interest, fee and
prepaid principal) and the remaining instalments rebuilt on the lower balance from today, so the
next instalment earns interest only from today on what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tailguard.errors import Refused
from tailguard.loans.account import LoanAccount
from tailguard.loans.accrual import accrued_interest_fen, current_period
from tailguard.loans.payoff import SettlementReason, loan_age_months
from tailguard.loans.products import PrepaymentMode, RepaymentMethod
from tailguard.loans.schedule import (
    Installment,
    InstallmentKind,
    Schedule,
    balloon_for_payment_fen,
    build_schedule,
    level_payment_fen,
)
from tailguard.money import round_fen
from tailguard.money.rounding import CONTEXT


@dataclass(frozen=True)
class PrepaymentPlan:
    as_of: date
    amount_fen: int
    arrears_fen: int
    accrued_interest_fen: int
    fee_fen: int
    principal_fen: int
    unused_fen: int
    """The fen that could not be used without overshooting; they wait as credit."""
    schedule: Schedule


def plan_partial_prepayment(
    account: LoanAccount,
    as_of: date,
    amount_fen: int,
    mode: PrepaymentMode,
    reason: SettlementReason = SettlementReason.VOLUNTARY,
) -> PrepaymentPlan:
    """How `amount_fen` paid on `as_of` reduces the loan under `mode`; refused if it cannot."""
    if amount_fen <= 0:
        raise Refused("AMOUNT_NOT_POSITIVE", "a prepayment must be a positive amount")
    schedule = account.schedule
    product = account.product
    method = product.method
    if mode is PrepaymentMode.REDUCE_BALLOON and method is not RepaymentMethod.BALLOON:
        raise Refused("NO_BALLOON", "only a balloon loan can reduce its balloon")
    later = [i for i in schedule.installments if i.due_date > as_of]
    if not later:
        raise Refused("NOTHING_TO_PREPAY", "every instalment is already due")

    position = account.position(as_of)
    arrears = position.arrears_fen
    accrued = (
        accrued_interest_fen(schedule, product, account.annual_rate, as_of)
        if current_period(schedule, as_of)
        else 0
    )
    available = amount_fen - arrears - accrued
    remaining_principal = sum(i.principal_fen for i in later)
    rate = product.prepayment_fee_rate(
        loan_age_months(account.terms.disbursement_date, as_of)
    )
    if reason is SettlementReason.TRADE_IN and product.maturity.waive_prepayment_fee_on_trade_in:
        rate = Decimal(0)
    # Largest principal x with x + fee(x) <= available, fee rounded by the product's mode.
    principal = int(CONTEXT.divide(Decimal(max(available, 0)), 1 + rate)) if available > 0 else 0
    fee = round_fen(CONTEXT.multiply(Decimal(principal), rate), product.rounding)
    while principal > 0 and principal + fee > available:
        principal -= 1
        fee = round_fen(CONTEXT.multiply(Decimal(principal), rate), product.rounding)
    if principal <= 0:
        raise Refused(
            "PREPAYMENT_TOO_SMALL",
            f"the amount does not go beyond what is due ({arrears + accrued} fen)",
        )
    if principal >= remaining_principal:
        raise Refused("SETTLES_LOAN", "the amount settles the whole loan: quote a payoff")

    balance = remaining_principal - principal
    count = len(later)
    first_due = later[0].due_date
    contract_day = account.terms.contract_day
    balloon = min(schedule.balloon_fen if method is RepaymentMethod.BALLOON else 0, balance)
    regular = next(i for i in later if i.kind is InstallmentKind.REGULAR) if count > 1 else None
    current_payment = regular.payment_fen if regular else later[-1].payment_fen
    payment: int | None = None

    if mode is PrepaymentMode.SHORTEN_TERM and method in (
        RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.BALLOON,
    ):
        while count > 1 and level_payment_fen(
            balance, balloon, account.annual_rate, count - 1, product.rounding
        ) <= current_payment:
            count -= 1
    elif mode is PrepaymentMode.SHORTEN_TERM and method is RepaymentMethod.EQUAL_PRINCIPAL:
        part = later[0].principal_fen
        count = max(1, -(-balance // part))
    elif mode is PrepaymentMode.REDUCE_BALLOON:
        payment = current_payment
        balloon = balloon_for_payment_fen(
            balance, payment, account.annual_rate, count, product.rounding
        )
        if balloon < 0:
            raise Refused(
                "BALLOON_WOULD_BE_NEGATIVE",
                "the prepayment exceeds the balloon: choose to lower the instalment instead",
            )

    rebuilt = build_schedule(
        principal_fen=balance,
        annual_rate=account.annual_rate,
        method=method,
        term_months=count,
        start=as_of,
        first_due_date=first_due,
        contract_day=contract_day,
        balloon_fen=balloon,
        day_count=product.day_count,
        rounding=product.rounding,
        residual_to=product.residual_to,
        payment_fen=payment,
    )
    period = current_period(schedule, as_of)
    prepayment = Installment(
        number=0,
        period_start=period.period_start if period else as_of,
        due_date=as_of,
        principal_fen=principal,
        interest_fen=accrued,
        fee_fen=fee,
        balance_after_fen=balance,
        kind=InstallmentKind.PREPAYMENT,
    )
    today = [i for i in schedule.installments if i.due_date == as_of]
    version = schedule.supersede(
        [*today, prepayment, *rebuilt], as_of, f"prepayment:{mode.value}"
    )
    used = arrears + accrued + principal + fee
    return PrepaymentPlan(
        as_of=as_of,
        amount_fen=amount_fen,
        arrears_fen=arrears,
        accrued_interest_fen=accrued,
        fee_fen=fee,
        principal_fen=principal,
        unused_fen=amount_fen - used,
        schedule=version,
    )
