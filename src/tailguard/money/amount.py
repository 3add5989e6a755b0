"""Money as whole minor units (fen) with a currency, and parsing of yuan text.

Booked money is never a float: a `Money` holds an `int` of minor units, so sums are exact and
the ledger can balance to the fen. Text such as ``"200000.00"`` is parsed with `Decimal` and
refused when it carries more decimals than the currency has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MINOR_UNITS = {"CNY": 2, "USD": 2, "HKD": 2, "EUR": 2, "JPY": 0}
DEFAULT_CURRENCY = "CNY"

_AMOUNT_TEXT = re.compile(r"^[+-]?(\d+)(\.\d*)?$")


class AmountError(ValueError):
    """An amount that cannot be money: malformed, too precise, or of a mismatched currency."""


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in minor units (fen for CNY) of one currency."""

    minor: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise AmountError(f"money must be whole minor units, got {self.minor!r}")
        if self.currency not in MINOR_UNITS:
            raise AmountError(f"unknown currency {self.currency!r}")

    @classmethod
    def of(cls, text: str | int | Decimal, currency: str = DEFAULT_CURRENCY) -> Money:
        """Parse major units (yuan): ``Money.of("200000.5")`` is 20,000,050 fen."""
        return cls(parse_major(text, currency), currency)

    @classmethod
    def zero(cls, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise AmountError(f"currency mismatch: {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __bool__(self) -> bool:
        return self.minor != 0

    def major_text(self) -> str:
        """Major units as text with the currency's decimals: ``"200000.50"``."""
        return format_major(self.minor, self.currency)

    def __str__(self) -> str:
        return f"{self.major_text()} {self.currency}"


def parse_major(text: str | int | Decimal, currency: str = DEFAULT_CURRENCY) -> int:
    """Major-unit text or number to minor units, refusing anything inexact."""
    places = MINOR_UNITS.get(currency)
    if places is None:
        raise AmountError(f"unknown currency {currency!r}")
    if isinstance(text, bool | float):
        raise AmountError("amounts must be given as text or integers, not floating point")
    if isinstance(text, int):
        minor: int = text * 10**places
        return minor
    if isinstance(text, str):
        stripped = text.strip().replace(",", "")
        if not _AMOUNT_TEXT.match(stripped):
            raise AmountError(f"{text!r} is not an amount")
        try:
            value = Decimal(stripped)
        except InvalidOperation as exc:  # pragma: no cover - the pattern already guards this
            raise AmountError(f"{text!r} is not an amount") from exc
    else:
        value = text
    if not value.is_finite():
        raise AmountError(f"{text!r} is not a finite amount")
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"{text!r} has more than {places} decimal places")
    return int(scaled.to_integral_value())


def format_major(minor: int, currency: str = DEFAULT_CURRENCY) -> str:
    """Minor units to major-unit text with exactly the currency's decimals."""
    places = MINOR_UNITS[currency]
    if places == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


def yuan(minor: int) -> str:
    """Fen to yuan text with two decimals, the form used in every JSON output."""
    return format_major(minor, "CNY")
