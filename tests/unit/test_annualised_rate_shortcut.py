"""The float shortcut in `monthly_irr` must not change a digit of the plain Decimal bisection."""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal

import pytest

from tailguard.loans.annualised_rate import (
    BISECTION_STEPS_MAX,
    RATE_TOLERANCE,
    _present_value,
    monthly_irr,
)
from tailguard.money.rounding import CONTEXT


def plain_bisection(received_fen: int, payments_fen: Sequence[int]) -> Decimal:
    """The bisection without any shortcut: every step evaluates the Decimal present value."""
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


def cases() -> list[tuple[int, list[int]]]:
    rng = random.Random(20261204)
    found: list[tuple[int, list[int]]] = [
        (100_00, [100_00]),  # zero rate
        (100_00, [50_00, 50_00]),
        (98_000_00, [8_600_00] * 12),
        (1_00, [1_000_000_00]),  # a rate far above 100 % a month: `high` doubles
        (200_000_00, [0] * 11 + [230_000_00]),  # a bullet
    ]
    while len(found) < 60:
        n = rng.choice((3, 12, 24, 36, 60))
        principal = rng.randint(10_000_00, 500_000_00)
        rate = rng.uniform(0.0, 0.04)
        payment = int(principal * rate / (1 - (1 + rate) ** -n)) + 1 if rate else principal // n + 1
        flows = [payment] * n
        if rng.random() < 0.5:
            flows[-1] += rng.randint(0, principal // 2)  # a balloon
        if rng.random() < 0.2:
            flows[rng.randrange(n)] = 0  # a payment holiday
        received = principal - rng.randint(0, principal // 40)
        if sum(flows) >= received:
            found.append((received, flows))
    return found


@pytest.mark.parametrize(("received", "flows"), cases())
def test_monthly_irr_equals_the_plain_bisection_digit_for_digit(
    received: int, flows: list[int]
) -> None:
    ours = monthly_irr(received, flows)
    plain = plain_bisection(received, flows)
    assert ours == plain
    assert str(ours) == str(plain)
