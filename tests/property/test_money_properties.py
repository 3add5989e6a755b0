"""Hypothesis properties of the money primitives every ledger posting depends on.

- The column form of the rounding rule is the scalar form applied to each element, in every
  mode: the batch kernels and the per-loan code must never book different fen.
- The integer form agrees with the `Decimal` form for the same exact value.
- A largest-remainder split adds up to the total exactly, and no part is a whole fen or more
  away from its exact share, whatever the weights.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tailguard.money import (
    RoundingMode,
    round_fen,
    round_ratio,
    round_ratio_array,
    split_largest_remainder,
)
from tailguard.money.rounding import CONTEXT

LIMIT = 2**62 - 1
numerators = st.integers(-LIMIT, LIMIT)
small_numerators = st.integers(-10_000, 10_000)  # dense in ties for small denominators
denominators = st.integers(1, 10**12)


@settings(max_examples=200)
@given(
    values=st.lists(numerators | small_numerators, min_size=0, max_size=40),
    denominator=denominators | st.integers(1, 12),
    mode=st.sampled_from(RoundingMode),
)
def test_round_ratio_array_is_round_ratio_elementwise(
    values: list[int], denominator: int, mode: RoundingMode
) -> None:
    column = np.array(values, dtype=np.int64)
    expected = [round_ratio(v, denominator, mode) for v in values]
    assert round_ratio_array(column, denominator, mode).tolist() == expected


@settings(max_examples=300)
@given(
    numerator=st.integers(-(10**30), 10**30) | small_numerators,
    denominator=denominators | st.integers(1, 12),
    mode=st.sampled_from(RoundingMode),
)
def test_round_ratio_is_round_fen_of_the_exact_quotient(
    numerator: int, denominator: int, mode: RoundingMode
) -> None:
    # The 50-digit quotient of numbers this size is off by less than 10^-19, while a fraction
    # with denominator d that is not itself a tie or an integer lies at least 1/(2d) ≥ 5·10^-13
    # from one: the Decimal form sees the same side of every rounding boundary.
    quotient = CONTEXT.divide(Decimal(numerator), Decimal(denominator))
    assert round_ratio(numerator, denominator, mode) == round_fen(quotient, mode)


@settings(max_examples=300)
@given(
    total=st.integers(-(10**12), 10**12),
    weights=st.lists(
        st.integers(0, 10**9)
        | st.decimals(min_value=0, max_value=10**6, places=4)
        | st.fractions(min_value=0, max_value=1000),
        min_size=1,
        max_size=30,
    ).filter(lambda ws: any(w != 0 for w in ws)),
)
def test_split_largest_remainder_sums_exactly_and_stays_within_a_fen(
    total: int, weights: list[int | Decimal | Fraction]
) -> None:
    parts = split_largest_remainder(total, weights)
    assert sum(parts) == total
    weight_sum = sum((Fraction(w) for w in weights), Fraction(0))
    for part, weight in zip(parts, weights, strict=True):
        exact_share = total * Fraction(weight) / weight_sum
        assert abs(part - exact_share) < 1
        if weight == 0:
            assert part == 0
