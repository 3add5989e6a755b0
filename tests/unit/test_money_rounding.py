"""The one rounding rule: every mode, ties on both sides of zero, and its integer forms.

The tie cases are where lenders, regulators and spreadsheets disagree, so each mode's answer for
+2.5, −2.5, +3.5 and −3.5 fen is written out, and the integer form `round_ratio` (used for
interest, where the exact value is a fraction) must agree with the `Decimal` form for the same
value.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tailguard.money import (
    DEFAULT_ROUNDING,
    RoundingMode,
    parse_percent,
    round_fen,
    round_ratio,
    round_ratio_array,
    split_evenly,
    split_largest_remainder,
)
from tailguard.money.rates import DayCount, RateError, monthly_rate
from tailguard.money.rounding import CONTEXT

HALF_UP, HALF_EVEN, DOWN, UP = (
    RoundingMode.HALF_UP,
    RoundingMode.HALF_EVEN,
    RoundingMode.DOWN,
    RoundingMode.UP,
)

# value in fen, then the expected result for HALF_UP, HALF_EVEN, DOWN, UP
TABLE = [
    ("2.5", 3, 2, 2, 3),
    ("-2.5", -3, -2, -2, -3),
    ("3.5", 4, 4, 3, 4),
    ("-3.5", -4, -4, -3, -4),
    ("2.4999", 2, 2, 2, 3),
    ("-2.4999", -2, -2, -2, -3),
    ("2.5001", 3, 3, 2, 3),
    ("-2.5001", -3, -3, -2, -3),
    ("0.5", 1, 0, 0, 1),
    ("-0.5", -1, 0, 0, -1),
    ("7", 7, 7, 7, 7),
    ("-7", -7, -7, -7, -7),
    ("0.0001", 0, 0, 0, 1),
]


@pytest.mark.parametrize(("value", "half_up", "half_even", "down", "up"), TABLE)
def test_round_fen_in_every_mode(
    value: str, half_up: int, half_even: int, down: int, up: int
) -> None:
    exact = Decimal(value)
    assert [round_fen(exact, mode) for mode in (HALF_UP, HALF_EVEN, DOWN, UP)] == [
        half_up,
        half_even,
        down,
        up,
    ]


def test_default_is_half_up_四舍五入() -> None:
    assert DEFAULT_ROUNDING is HALF_UP
    assert round_fen(Decimal("408333.3333")) == 408_333
    assert round_fen(Decimal("0.5")) == 1


def test_round_fen_leaves_integers_alone() -> None:
    assert round_fen(12_345, DOWN) == 12_345


@pytest.mark.parametrize("mode", list(RoundingMode))
@pytest.mark.parametrize(
    ("numerator", "denominator"),
    [(5, 2), (-5, 2), (7, 2), (-7, 2), (1, 3), (-1, 3), (2, 3), (-2, 3), (10, 5), (0, 7),
     (49 * 100_000_000, 12_000), (-49 * 100_000_001, 12_000), (999_999, 1_000_000)],
)
def test_round_ratio_agrees_with_round_fen(
    numerator: int, denominator: int, mode: RoundingMode
) -> None:
    exact = CONTEXT.divide(Decimal(numerator), Decimal(denominator))
    assert round_ratio(numerator, denominator, mode) == round_fen(exact, mode)


@pytest.mark.parametrize("mode", list(RoundingMode))
def test_round_ratio_array_agrees_with_round_ratio_on_ties(mode: RoundingMode) -> None:
    numerators = np.array([5, -5, 7, -7, 1, -1, 0, 4, -4, 2**61], dtype=np.int64)
    expected = [round_ratio(int(n), 2, mode) for n in numerators]
    assert round_ratio_array(numerators, 2, mode).tolist() == expected


def test_round_ratio_array_refuses_numerators_that_could_overflow() -> None:
    with pytest.raises(AssertionError, match="overflow"):
        round_ratio_array(np.array([2**62], dtype=np.int64), 3)


def test_split_evenly_gives_the_leftover_to_the_earlier_parts() -> None:
    assert split_evenly(100, 3) == [34, 33, 33]
    assert split_evenly(-100, 3) == [-34, -33, -33]
    assert split_evenly(2, 3) == [1, 1, 0]


def test_split_largest_remainder_hands_leftover_fen_by_largest_fraction() -> None:
    # Exact shares 16.6.., 33.3.., 50: floors 16, 33, 50 leave one fen for the 0.66 remainder.
    assert split_largest_remainder(100, [1, 2, 3]) == [17, 33, 50]
    assert split_largest_remainder(1, [Decimal("0.3"), Decimal("0.7")]) == [0, 1]
    assert split_largest_remainder(10, [0, 1]) == [0, 10]


@pytest.mark.parametrize(
    ("weights", "message"),
    [([], "at least one weight"), ([1, -1], "must not be negative"), ([0, 0], "all be zero")],
)
def test_split_refuses_meaningless_weights(weights: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_largest_remainder(100, weights)


def test_rates_parse_from_percent_text_and_divide_exactly() -> None:
    assert parse_percent("4.75") == Decimal("0.0475")
    assert parse_percent(" 0 ") == 0
    assert monthly_rate(Decimal("0.06")) == Decimal("0.005")
    assert DayCount.ACT_360.year_days == 360
    assert DayCount.ACT_365.year_days == 365
    for bad in ("-1", "abc", "NaN", "Infinity"):
        with pytest.raises(RateError):
            parse_percent(bad)
