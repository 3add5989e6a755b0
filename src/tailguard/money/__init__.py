"""Money, rates and rounding: integer fen, `Decimal` rates, one rounding rule."""

from tailguard.money.amount import AmountError, Money, format_major, parse_major, yuan
from tailguard.money.rates import DayCount, RateError, monthly_rate, parse_percent
from tailguard.money.rounding import (
    DEFAULT_ROUNDING,
    RoundingMode,
    round_fen,
    round_ratio,
    round_ratio_array,
)
from tailguard.money.split import split_evenly, split_largest_remainder

__all__ = [
    "DEFAULT_ROUNDING",
    "AmountError",
    "DayCount",
    "Money",
    "RateError",
    "RoundingMode",
    "format_major",
    "monthly_rate",
    "parse_major",
    "parse_percent",
    "round_fen",
    "round_ratio",
    "round_ratio_array",
    "split_evenly",
    "split_largest_remainder",
    "yuan",
]
