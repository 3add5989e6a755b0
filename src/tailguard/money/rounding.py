"""The one rounding rule of tailguard, in a scalar and a column-wise form.

Every amount that is booked passes through here exactly once on its way from an exact
value (a `Decimal` or a ratio of integers) to integer fen. Chinese lenders round half-up
(四舍五入) unless the contract says otherwise, so that is the default; a product may name
another mode. The column-wise form exists because the end-of-day run and the schedule kernels
work on whole columns of loans at a time; both forms give the same answer for the same exact
value, which a property test checks.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from enum import Enum

import numpy as np
import numpy.typing as npt


class RoundingMode(Enum):
    """How an exact value becomes whole fen."""

    HALF_UP = "half-up"
    """四舍五入: ties go away from zero. The default."""
    HALF_EVEN = "half-even"
    """Banker's rounding: ties go to the even fen."""
    DOWN = "down"
    """Truncate toward zero (a lender that never charges a fraction of a fen)."""
    UP = "up"
    """Away from zero whenever there is any fraction."""

    @property
    def decimal_rounding(self) -> str:
        return _DECIMAL_ROUNDING[self]


_DECIMAL_ROUNDING = {
    RoundingMode.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingMode.DOWN: decimal.ROUND_DOWN,
    RoundingMode.UP: decimal.ROUND_UP,
}

DEFAULT_ROUNDING = RoundingMode.HALF_UP

# Enough digits that products of fen amounts (up to 10^12) and rates (up to 12 significant
# digits) are exact, and that annuity factors carry far more precision than a fen needs.
CONTEXT = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_UP, Emin=-999999, Emax=999999)

_ONE = Decimal(1)


def round_fen(value: Decimal | int, mode: RoundingMode = DEFAULT_ROUNDING) -> int:
    """Round an exact amount in fen to whole fen with the named mode."""
    if isinstance(value, int):
        return value
    return int(value.quantize(_ONE, rounding=mode.decimal_rounding, context=CONTEXT))


def round_ratio(
    numerator: int, denominator: int, mode: RoundingMode = DEFAULT_ROUNDING
) -> int:
    """Round the exact fraction numerator/denominator (fen) to whole fen; integers only."""
    assert denominator > 0, "denominator must be positive"
    quotient, remainder = divmod(abs(numerator), denominator)
    if remainder:
        if mode is RoundingMode.UP:
            quotient += 1
        elif mode is RoundingMode.HALF_UP:
            quotient += 2 * remainder >= denominator
        elif mode is RoundingMode.HALF_EVEN:
            twice = 2 * remainder
            quotient += twice > denominator or (twice == denominator and quotient % 2 == 1)
    return quotient if numerator >= 0 else -quotient


def round_ratio_array(
    numerator: npt.NDArray[np.int64],
    denominator: int,
    mode: RoundingMode = DEFAULT_ROUNDING,
) -> npt.NDArray[np.int64]:
    """Column-wise `round_ratio`: the same rule over an int64 column of numerators.

    The caller guarantees |numerator| * 2 fits in int64 (fen amounts times rate numerators do,
    with room to spare); overflow is checked, never assumed away.
    """
    assert denominator > 0, "denominator must be positive"
    assert int(np.abs(numerator).max(initial=0)) < (2**62), "numerator would overflow int64"
    magnitude = np.abs(numerator)
    quotient, remainder = np.divmod(magnitude, denominator)
    if mode is RoundingMode.UP:
        quotient += remainder > 0
    elif mode is RoundingMode.HALF_UP:
        quotient += 2 * remainder >= denominator
    elif mode is RoundingMode.HALF_EVEN:
        twice = 2 * remainder
        quotient += (twice > denominator) | ((twice == denominator) & (quotient % 2 == 1))
    return np.where(numerator >= 0, quotient, -quotient)
