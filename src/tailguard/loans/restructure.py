"""Restructuring: everything owed turned into a new schedule at new terms.

Used for ordinary restructures of a struggling loan and for balloon options taken after the
balloon has already fallen due. The arrears (penalty included) are converted, not forgiven: a
non-cash conversion on the restructure day settles the old instalments, and the new principal is
the converted arrears plus the principal not yet due plus the interest accrued in the current
period (which falls due that day in a capitalisation instalment, so it is settled by the
conversion like the arrears). Instalments due before that day are kept as they were, so
history never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tailguard.calendar import add_months
from tailguard.errors import Refused
from tailguard.loans.account import LoanAccount
from tailguard.loans.accrual import accrued_interest_fen, current_period
from tailguard.loans.events import Channel, PaymentReceived
from tailguard.loans.products import RepaymentMethod
from tailguard.loans.schedule import Installment, InstallmentKind, Schedule, build_schedule


@dataclass(frozen=True)
class RestructurePlan:
    as_of: date
    converted_arrears_fen: int
    """Arrears, penalty included, plus the interest accrued in the current period."""
    principal_fen: int
    annual_rate: Decimal
    conversion: PaymentReceived | None
    schedule: Schedule
    maturity_moved_months: int
    """How many months the final due date moved beyond the one it replaces."""


def next_contract_date(after: date, contract_day: int) -> date:
    """The first date strictly after `after` that falls on the contract day (clamped)."""
    candidate = add_months(after, 0, contract_day)
    return candidate if candidate > after else add_months(after, 1, contract_day)


def plan_restructure(
    account: LoanAccount,
    as_of: date,
    term_months: int,
    conversion_id: str,
    annual_rate: Decimal | None = None,
    method: RepaymentMethod = RepaymentMethod.EQUAL_INSTALLMENT,
    balloon_fen: int = 0,
    reason: str = "restructure",
) -> RestructurePlan:
    """Re-amortise all that is owed on `as_of` over `term_months` at `annual_rate`."""
    if term_months < 1:
        raise Refused("TERM_NOT_POSITIVE", "a restructure needs at least one instalment")
    rate = account.annual_rate if annual_rate is None else annual_rate
    schedule = account.schedule
    product = account.product
    position = account.position(as_of)
    arrears = position.arrears_fen
    later = [i for i in schedule.installments if i.due_date > as_of]
    principal_later = sum(i.principal_fen for i in later)
    accrued = (
        accrued_interest_fen(schedule, product, account.annual_rate, as_of)
        if current_period(schedule, as_of)
        else 0
    )
    principal = arrears + principal_later + accrued
    if principal <= 0:
        raise Refused("NOTHING_OWED", "the loan owes nothing to restructure")
    if balloon_fen and method is not RepaymentMethod.BALLOON:
        raise Refused("NO_BALLOON", "only a balloon schedule can carry a balloon")
    first_due = later[0].due_date if later else next_contract_date(
        as_of, account.terms.contract_day
    )
    if first_due <= as_of:  # pragma: no cover - `later` are all due after as_of
        first_due = next_contract_date(as_of, account.terms.contract_day)
    # The interest accrued in the current period falls due today in its own instalment, so
    # the conversion settles it like the rest of the arrears and the books see it earned.
    period = current_period(schedule, as_of)
    today = [i for i in schedule.installments if i.due_date == as_of]
    capitalised = [
        Installment(
            number=0,
            period_start=period.period_start if period else as_of,
            due_date=as_of,
            principal_fen=0,
            interest_fen=accrued,
            balance_after_fen=principal_later,
            kind=InstallmentKind.CAPITALISATION,
        )
    ] if accrued else []
    future = build_schedule(
        principal_fen=principal,
        annual_rate=rate,
        method=method,
        term_months=term_months,
        start=as_of,
        first_due_date=first_due,
        contract_day=account.terms.contract_day,
        balloon_fen=balloon_fen,
        day_count=product.day_count,
        rounding=product.rounding,
        residual_to=product.residual_to,
    )
    version = schedule.supersede([*today, *capitalised, *future], as_of, reason)
    converted = arrears + accrued
    conversion = (
        PaymentReceived(conversion_id, as_of, converted, Channel.RESTRUCTURE)
        if converted
        else None
    )
    old_maturity = schedule.maturity_date
    new_maturity = version.maturity_date
    moved = max(
        0,
        (new_maturity.year - old_maturity.year) * 12 + new_maturity.month - old_maturity.month,
    )
    return RestructurePlan(
        as_of=as_of,
        converted_arrears_fen=converted,
        principal_fen=principal,
        annual_rate=rate,
        conversion=conversion,
        schedule=version,
        maturity_moved_months=moved,
    )


def apply_restructure(account: LoanAccount, plan: RestructurePlan) -> LoanAccount:
    """The account with the plan's conversion recorded and its version in force."""
    updated = account if plan.conversion is None else account.with_event(plan.conversion)
    return updated.with_schedule(plan.schedule, annual_rate=plan.annual_rate)
