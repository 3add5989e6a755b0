"""Splitting an amount into parts that add up exactly (largest-remainder method).

Used wherever one amount is shared out by weights: fees over instalments, a recovery over
several loans, a commission over agencies. Rounding each part independently would lose or
invent fen; largest remainder gives each part its floor and hands the leftover fen, one each,
to the parts with the largest fractional remainders (ties to the earlier part).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction


def split_largest_remainder(total: int, weights: Sequence[int | Decimal | Fraction]) -> list[int]:
    """Share `total` (fen, may be negative) in proportion to non-negative `weights`."""
    if not weights:
        raise ValueError("at least one weight is needed")
    exact = [Fraction(w) for w in weights]
    if any(w < 0 for w in exact):
        raise ValueError("weights must not be negative")
    weight_sum = sum(exact, Fraction(0))
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    shares = [magnitude * w / weight_sum for w in exact]
    floors = [s.numerator // s.denominator for s in shares]
    leftover = magnitude - sum(floors)
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:leftover]:
        floors[i] += 1
    result = [sign * part for part in floors]
    assert sum(result) == total
    return result


def split_evenly(total: int, parts: int) -> list[int]:
    """Share `total` over `parts` equal weights; earlier parts take the leftover fen."""
    return split_largest_remainder(total, [1] * parts)
