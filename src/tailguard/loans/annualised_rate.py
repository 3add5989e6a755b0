"""The annualised rate a borrower really pays: the internal rate of return of their cash flows.

Chinese rules (PBoC announcement [2021] No. 3) require lenders to show an annualised rate
beside the contract rate, computed from the borrower's actual cash flows with fees included.
tailguard uses the IRR method: the monthly rate that discounts every scheduled payment back to
the amount the borrower actually received (financed amount less fees financed into it and less
fees paid up front), times 12. It is a rate, not money, so it is a `Decimal` found by bisection
to 10 significant decimal places; nothing here posts to the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tailguard.money.rounding import CONTEXT

BISECTION_STEPS_MAX = 200
RATE_TOLERANCE = Decimal("1e-14")


def _present_value(monthly: Decimal, payments_fen: Sequence[int]) -> Decimal:
    total = Decimal(0)
    factor = Decimal(1)
    step = CONTEXT.divide(Decimal(1), CONTEXT.add(Decimal(1), monthly))
    for payment in payments_fen:
        factor = CONTEXT.multiply(factor, step)
        total = CONTEXT.add(total, CONTEXT.multiply(Decimal(payment), factor))
    return total


def monthly_irr(received_fen: int, payments_fen: Sequence[int]) -> Decimal:
    """The monthly rate r with Σ payment_k / (1+r)^k = received, payments monthly from k = 1."""
    assert received_fen > 0, "the borrower must receive something"
    assert sum(payments_fen) >= received_fen, "payments below the amount received"
    low, high = Decimal(0), Decimal(1)
    while _present_value(high, payments_fen) > received_fen:
        high *= 2
    for _ in range(BISECTION_STEPS_MAX):
        mid = CONTEXT.divide(CONTEXT.add(low, high), Decimal(2))
        if _present_value(mid, payments_fen) > received_fen:
            low = mid
        else:
            high = mid
        if high - low < RATE_TOLERANCE:
            break
    return CONTEXT.divide(CONTEXT.add(low, high), Decimal(2))


def annualised_rate(received_fen: int, payments_fen: Sequence[int]) -> Decimal:
    """12 × the monthly IRR, to 10 decimal places (0.0475… for 4.75 %)."""
    return (monthly_irr(received_fen, payments_fen) * 12).quantize(Decimal("1e-10"))
