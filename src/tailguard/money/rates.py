"""Interest rates as exact `Decimal` fractions, and the named day-count conventions.

A rate is stored as a fraction (0.0475 for 4.75 % a year). Instalment arithmetic uses the
monthly rate annual / 12; accrual and penalty interest use a daily rate annual / 360 or
annual / 365, as the product names it. Keeping the convention a type rather than a string
means a wrong basis cannot slip in unnoticed.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import Enum
from fractions import Fraction

from tailguard.money.rounding import CONTEXT

MONTHS_PER_YEAR = 12
PERCENT = Decimal(100)


class RateError(ValueError):
    """A rate that cannot be used: malformed, negative or out of a product's range."""


class DayCount(Enum):
    """Day-count basis for daily accrual: actual days over a fixed year length.

    ACT_360: actual days / 360 (common in Chinese bank lending, 日利率 = 年利率 / 360).
    ACT_365: actual days / 365 (used by some finance companies and for penalty interest).
    """

    ACT_360 = "act/360"
    ACT_365 = "act/365"

    @property
    def year_days(self) -> int:
        return 360 if self is DayCount.ACT_360 else 365


def parse_percent(text: str | Decimal) -> Decimal:
    """Percent text (``"4.75"``) to a rate fraction (``Decimal("0.0475")``)."""
    try:
        value = Decimal(text.strip()) if isinstance(text, str) else Decimal(text)
    except (InvalidOperation, AttributeError) as exc:
        raise RateError(f"{text!r} is not a percentage") from exc
    if not value.is_finite():
        raise RateError(f"{text!r} is not a finite percentage")
    if value < 0:
        raise RateError(f"{text!r} is negative")
    return CONTEXT.divide(value, PERCENT)


def monthly_rate(annual: Decimal) -> Decimal:
    """The instalment rate: annual / 12, exact to the context's precision."""
    return CONTEXT.divide(annual, Decimal(MONTHS_PER_YEAR))


def monthly_fraction(annual: Decimal) -> Fraction:
    """annual / 12 as an exact fraction, for integer column arithmetic."""
    return Fraction(annual) / MONTHS_PER_YEAR


def daily_fraction(annual: Decimal, day_count: DayCount) -> Fraction:
    """annual / year length as an exact fraction."""
    return Fraction(annual) / day_count.year_days


def percent_text(rate: Decimal, places: int = 4) -> str:
    """A rate fraction as percent text with `places` decimals, trailing zeros kept."""
    return f"{(rate * PERCENT).quantize(Decimal(1).scaleb(-places), context=CONTEXT)}"
