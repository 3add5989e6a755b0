"""Interest earned but not yet due: the current period's interest, accrued day by day.

The ledger recognises interest daily and payoff quotes charge interest to the settlement day,
both from this one rule: the opening scheduled balance of the period times the contract rate on
the product's day count for the days elapsed, rounded once and capped at the period's scheduled
interest (a 31-day month on act/360 would otherwise earn more than the schedule asks).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tailguard.loans.products import Product
from tailguard.loans.schedule import Installment, Schedule, day_interest_fen


def current_period(schedule: Schedule, as_of: date) -> Installment | None:
    """The instalment whose period contains `as_of` (started, not yet due)."""
    inst = schedule.first_due_after(as_of)
    if inst is None or as_of < inst.period_start:
        return None
    return inst


def accrued_interest_fen(
    schedule: Schedule, product: Product, annual_rate: Decimal, as_of: date
) -> int:
    """Contract interest accrued in the current period up to the end of `as_of`, not yet due."""
    inst = current_period(schedule, as_of)
    if inst is None:
        return 0
    days = (as_of - inst.period_start).days
    opening_fen = inst.balance_after_fen + inst.principal_fen
    rate = inst.contract_rate if inst.contract_rate is not None else annual_rate
    earned = day_interest_fen(opening_fen, rate, days, product.day_count, product.rounding)
    return min(inst.interest_fen, earned)
