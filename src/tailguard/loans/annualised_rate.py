"""The annualised rate a borrower really pays: the internal rate of return of their cash flows.

Chinese rules (PBoC announcement [2021] No. 3) require lenders to show an annualised rate
beside the contract rate, computed from the borrower's actual cash flows with fees included.
tailguard uses the IRR method: the monthly rate that discounts every scheduled payment back to
the amount the borrower actually received (financed amount less fees financed into it and less
fees paid up front), times 12. It is a rate, not money, so it is a `Decimal` found by bisection
to 10 significant decimal places; nothing here posts to the ledger.
"""

from __future__ import annotations

import math
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


NEWTON_STEPS_MAX = 30
SHORTCUT_MARGIN = 1e-12
"""How far (in monthly rate) a bisection point must be from the float root estimate for its
side to be taken from the estimate instead of a Decimal present value. The estimate is good to
about 1e-16 and the Decimal present value to far below a fen, so a point this far off lies on
the same side either way: the bisection takes exactly the steps it would take without it."""


def _float_root(received_fen: int, payments_fen: Sequence[int]) -> float | None:
    """The monthly rate by Newton's method in floats, or None when it cannot be trusted (then
    every bisection step evaluates the Decimal present value)."""
    if not payments_fen or min(payments_fen) < 0 or sum(payments_fen) <= 0:
        return None
    flows = [float(p) for p in payments_fen]
    target = float(received_fen)

    def value_and_slope(rate: float) -> tuple[float, float]:
        step = 1.0 / (1.0 + rate)
        factor, value, slope = 1.0, 0.0, 0.0
        for k, payment in enumerate(flows, start=1):
            factor *= step
            value += payment * factor
            slope -= k * payment * factor * step
        return value - target, slope

    rate = 0.01
    for _ in range(NEWTON_STEPS_MAX):
        value, slope = value_and_slope(rate)
        if slope == 0.0 or not math.isfinite(value):
            return None
        nxt = rate - value / slope
        if not math.isfinite(nxt) or nxt <= -0.5:
            return None
        done = abs(nxt - rate) <= 1e-16
        rate = nxt
        if done:
            break
    # Trust it only if the present value changes sign across the margin.
    if not (value_and_slope(rate - SHORTCUT_MARGIN / 4)[0] > 0
            > value_and_slope(rate + SHORTCUT_MARGIN / 4)[0]):
        return None
    return rate


def monthly_irr(received_fen: int, payments_fen: Sequence[int]) -> Decimal:
    """The monthly rate r with Σ payment_k / (1+r)^k = received, payments monthly from k = 1.

    Bisection in Decimal; a float estimate of the root decides the steps far from it (most
    of them), so the Decimal present value is only computed near the root. The result is the
    one plain bisection gives, digit for digit."""
    assert received_fen > 0, "the borrower must receive something"
    assert sum(payments_fen) >= received_fen, "payments below the amount received"
    estimate = _float_root(received_fen, payments_fen)

    def above(rate: Decimal) -> bool:
        """Whether the present value at `rate` exceeds what was received (rate below root)."""
        if estimate is not None:
            gap = float(rate) - estimate
            if abs(gap) > SHORTCUT_MARGIN:
                return gap < 0
        return _present_value(rate, payments_fen) > received_fen

    low, high = Decimal(0), Decimal(1)
    while above(high):
        high *= 2
    for _ in range(BISECTION_STEPS_MAX):
        mid = CONTEXT.divide(CONTEXT.add(low, high), Decimal(2))
        if above(mid):
            low = mid
        else:
            high = mid
        if high - low < RATE_TOLERANCE:
            break
    return CONTEXT.divide(CONTEXT.add(low, high), Decimal(2))


def annualised_rate(received_fen: int, payments_fen: Sequence[int]) -> Decimal:
    """12 × the monthly IRR, to 10 decimal places (0.0475… for 4.75 %)."""
    return (monthly_irr(received_fen, payments_fen) * 12).quantize(Decimal("1e-10"))
