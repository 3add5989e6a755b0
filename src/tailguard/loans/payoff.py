"""Settling a loan early: the payoff quote and the settlement schedule version behind it.

A payoff is modelled as a new schedule version in which everything not yet due falls due today
in one settlement instalment: the remaining principal, the interest accrued in the current
period, and the product's prepayment fee on the principal that is paid before its time. The
quote is then simply what that version says is owed today, replayed with the loan's facts, so
quote and application can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum

from tailguard.calendar import add_months
from tailguard.errors import Refused
from tailguard.loans.account import LoanAccount
from tailguard.loans.accrual import accrued_interest_fen, current_period
from tailguard.loans.position import Position, evaluate
from tailguard.loans.schedule import Installment, InstallmentKind, Schedule
from tailguard.money import round_fen
from tailguard.money.rounding import CONTEXT


class SettlementReason(Enum):
    VOLUNTARY = "voluntary"
    TRADE_IN = "trade-in"
    VEHICLE_RETURN = "vehicle-return"


@dataclass(frozen=True)
class PayoffQuote:
    """What settles the loan on `as_of`, by component, and the version that books it."""

    as_of: date
    principal_fen: int
    interest_fen: int
    fee_fen: int
    penalty_fen: int
    credit_fen: int
    prepayment_fee_fen: int
    settlement: Schedule

    @property
    def total_fen(self) -> int:
        return max(
            0, self.principal_fen + self.interest_fen + self.fee_fen + self.penalty_fen
            - self.credit_fen,
        )


def loan_age_months(start: date, as_of: date) -> int:
    """Whole months from disbursement to `as_of` (a month counts once its day is reached)."""
    months = (as_of.year - start.year) * 12 + (as_of.month - start.month)
    if add_months(start, months) > as_of:
        months -= 1
    return max(0, months)


def prepayment_fee_fen(
    account: LoanAccount, principal_fen: int, as_of: date, reason: SettlementReason
) -> int:
    """The product's fee on `principal_fen` paid before its time, waived where policy says."""
    product = account.product
    if reason is SettlementReason.TRADE_IN and product.maturity.waive_prepayment_fee_on_trade_in:
        return 0
    if reason is SettlementReason.VEHICLE_RETURN:
        return 0
    rate = product.prepayment_fee_rate(loan_age_months(account.terms.disbursement_date, as_of))
    return round_fen(CONTEXT.multiply(Decimal(principal_fen), rate), product.rounding)


def settlement_version(
    account: LoanAccount, as_of: date, reason: SettlementReason
) -> tuple[Schedule, int]:
    """The version in which all that is not yet due falls due on `as_of`; and its fee."""
    schedule = account.schedule
    if as_of < account.terms.disbursement_date:
        raise Refused("BEFORE_DISBURSEMENT", "a loan cannot be settled before it is disbursed")
    if as_of > schedule.maturity_date:
        raise Refused(
            "AFTER_MATURITY", "every instalment is already due: the arrears are the payoff"
        )
    today = [i for i in schedule.installments if i.due_date == as_of]
    later = [i for i in schedule.installments if i.due_date > as_of]
    prepaid_principal = sum(i.principal_fen for i in later)
    fee = prepayment_fee_fen(account, prepaid_principal, as_of, reason)
    accrued = (
        accrued_interest_fen(schedule, account.product, account.annual_rate, as_of)
        if current_period(schedule, as_of) is not None
        else 0
    )
    period = current_period(schedule, as_of)
    settlement = Installment(
        number=0,
        period_start=period.period_start if period else as_of,
        due_date=as_of,
        principal_fen=prepaid_principal,
        interest_fen=accrued,
        fee_fen=fee,
        balance_after_fen=0,
        kind=InstallmentKind.SETTLEMENT,
    )
    future = [*today, settlement] if prepaid_principal or accrued or fee else today
    return schedule.supersede(future, as_of, f"settlement:{reason.value}"), fee


def quote_payoff(
    account: LoanAccount, as_of: date, reason: SettlementReason = SettlementReason.VOLUNTARY
) -> PayoffQuote:
    """What the borrower must pay on `as_of` to owe nothing more."""
    version, fee = settlement_version(account, as_of, reason)
    position = evaluate(
        account.product, account.annual_rate, version, account.events, as_of, account.calendar
    )
    return _quote_from(position, version, fee)


def _quote_from(position: Position, version: Schedule, fee: int) -> PayoffQuote:
    due = position.due()
    return PayoffQuote(
        as_of=position.as_of,
        principal_fen=sum(s.principal_outstanding_fen for s in due),
        interest_fen=sum(s.interest_outstanding_fen for s in due),
        fee_fen=sum(s.fee_outstanding_fen for s in due),
        penalty_fen=sum(s.penalty_outstanding_fen for s in due),
        credit_fen=position.credit_balance_fen,
        prepayment_fee_fen=fee,
        settlement=version,
    )
