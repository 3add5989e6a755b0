"""Money as integer minor units: parsing yuan text, formatting it back, arithmetic by currency.

Amounts arrive as text from forms, files and the command line; a wrong parse silently books the
wrong amount, so every accepted and refused shape is listed here, and formatting is checked to
round-trip what parsing accepts.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tailguard.money import AmountError, Money, format_major, parse_major, yuan


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("200000", 20_000_000),
        ("200000.00", 20_000_000),
        ("200000.5", 20_000_050),
        ("0.01", 1),
        ("0", 0),
        ("12.", 1_200),
        (" 12.30 ", 1_230),
        ("+7", 700),
        ("-5", -500),
        ("-0.01", -1),
        ("1,234,567.89", 123_456_789),
        (200_000, 20_000_000),
        (Decimal("1.23"), 123),
        (Decimal("1.2300"), 123),
        ("99999999999.99", 9_999_999_999_999),
    ],
)
def test_parse_major_accepts_exact_amounts(text: str | int | Decimal, fen: int) -> None:
    assert parse_major(text) == fen


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1.234", "more than 2 decimal places"),
        ("0.001", "more than 2 decimal places"),
        (Decimal("1.005"), "more than 2 decimal places"),
        ("abc", "not an amount"),
        ("", "not an amount"),
        ("1e5", "not an amount"),
        ("1.2.3", "not an amount"),
        ("--5", "not an amount"),
        ("¥100", "not an amount"),
        (Decimal("NaN"), "not a finite amount"),
        (Decimal("Infinity"), "not a finite amount"),
        (1.5, "not floating point"),
        (True, "not floating point"),
    ],
)
def test_parse_major_refuses_what_is_not_exact_money(text: object, reason: str) -> None:
    with pytest.raises(AmountError, match=reason):
        parse_major(text)  # type: ignore[arg-type]


def test_parse_major_follows_the_currency_minor_units() -> None:
    assert parse_major("100", "JPY") == 100
    assert parse_major("1.25", "USD") == 125
    with pytest.raises(AmountError, match="more than 0 decimal places"):
        parse_major("100.5", "JPY")
    with pytest.raises(AmountError, match="unknown currency"):
        parse_major("1", "XYZ")


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (123_456, "1234.56"),
        (-5, "-0.05"),
        (-123_456, "-1234.56"),
        (20_000_000, "200000.00"),
    ],
)
def test_format_major_and_yuan_give_two_decimals(fen: int, text: str) -> None:
    assert format_major(fen) == text
    assert yuan(fen) == text
    assert parse_major(text) == fen


def test_format_major_without_minor_units() -> None:
    assert format_major(1234, "JPY") == "1234"


def test_money_adds_and_subtracts_within_one_currency() -> None:
    a, b = Money.of("100.10"), Money(5)
    assert a + b == Money(10_015)
    assert a - b == Money(10_005)
    assert -a == Money(-10_010)
    assert b - a < Money.zero()
    assert not Money.zero() and bool(b)
    assert str(a) == "100.10 CNY"
    assert Money.of("2.5", "USD").major_text() == "2.50"


def test_money_refuses_mixed_currencies_and_non_money() -> None:
    with pytest.raises(AmountError, match="currency mismatch: CNY and USD"):
        Money(100) + Money(100, "USD")
    with pytest.raises(AmountError, match="currency mismatch"):
        Money(100, "EUR") - Money(100)
    with pytest.raises(TypeError):
        Money(100) + 1  # type: ignore[operator]


@pytest.mark.parametrize("minor", [1.5, Decimal("1"), True, "1"])
def test_money_holds_only_whole_minor_units(minor: object) -> None:
    with pytest.raises(AmountError, match="whole minor units"):
        Money(minor)  # type: ignore[arg-type]


def test_money_refuses_unknown_currency() -> None:
    with pytest.raises(AmountError, match="unknown currency"):
        Money(1, "XYZ")
