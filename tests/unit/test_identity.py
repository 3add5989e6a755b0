"""Identity validators, table-driven.

Valid ID numbers, card numbers and VINs are made here by computing their check digits in the
helpers below, written from the standards (GB 11643 / ISO 7064 MOD 11-2 for the ID number, Luhn
for cards, GB 16735 / ISO 3779 weights for the VIN) rather than with the libraries under test,
so a library and the test cannot share a mistake.
"""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn import ric

from tailguard.errors import InvalidInput
from tailguard.origination.identity import (
    AgeLimits,
    Sex,
    age_on,
    bank_card,
    borrower_identity,
    check_age,
    mobile_phone,
    resident_id,
    vin,
)


def id_check(first17: str) -> str:
    """GB 11643: weights 2^(17-i) mod 11, check value (12 - sum mod 11) mod 11, 10 is X."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def make_id(region: str, born: str, sequence: str) -> str:
    first17 = region + born + sequence
    return first17 + id_check(first17)


def luhn_complete(body: str) -> str:
    total = 0
    for i, digit in enumerate(reversed(body)):
        d = int(digit)
        if i % 2 == 0:  # doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def make_vin(with_placeholder: str) -> str:
    """Fill position 9 (the `_`) with the GB 16735 check digit."""
    assert len(with_placeholder) == 17 and with_placeholder[8] == "_"
    total = sum(
        _VIN_VALUES[c] * w for c, w in zip(with_placeholder, _VIN_WEIGHTS, strict=True) if c != "_"
    )
    check = "X" if total % 11 == 10 else str(total % 11)
    return with_placeholder[:8] + check + with_placeholder[9:]


def _x_id() -> str:
    """An ID number whose check character is X (found by walking the sequence number)."""
    for seq in range(1, 1000):
        number = make_id("110105", "19491231", f"{seq:03d}")
        if number.endswith("X"):
            return number
    raise AssertionError("no sequence gives X")


def test_helpers_agree_with_published_examples() -> None:
    # The example number in python-stdnum's documentation, and the classic test card number.
    assert id_check("36042619910101007") == "1"
    assert luhn_complete("411111111111111") == "4111111111111111"
    # A VIN published in the US NHTSA check-digit example.
    assert make_vin("1M8GDM9A_KP042788") == "1M8GDM9AXKP042788"


# --- resident ID --------------------------------------------------------------------------

VALID_IDS = [
    (make_id("110105", "19491231", "002"), date(1949, 12, 31), Sex.FEMALE, "110105"),
    (make_id("330106", "19900101", "001"), date(1990, 1, 1), Sex.MALE, "330106"),
    (make_id("429004", "20000229", "013"), date(2000, 2, 29), Sex.MALE, "429004"),
    (make_id("360426", "19910101", "007"), date(1991, 1, 1), Sex.MALE, "360426"),
]


@pytest.mark.parametrize(("number", "born", "sex", "region"), VALID_IDS)
def test_valid_resident_ids(number: str, born: date, sex: Sex, region: str) -> None:
    checked = resident_id(number)
    assert checked.number == number
    assert checked.birth_date == born
    assert checked.sex is sex
    assert checked.region_code == region


@pytest.mark.parametrize(
    "number",
    [
        make_id("330106", "19630101", "001"),  # 西湖区 code since 1983, holder born 1963
        make_id("429004", "19800101", "001"),  # 仙桃市 code since 1994
    ],
)
def test_region_code_created_after_birth_is_accepted(number: str) -> None:
    """The code is the one in force when the number was issued, which can be long after the
    birth; python-stdnum's own check refuses these genuine numbers."""
    assert not ric.is_valid(number)
    assert resident_id(number).number == number


@pytest.mark.parametrize(
    "number",
    [
        make_id("342601", "19900101", "001"),  # 巢湖市, abolished 1999, issued before
        make_id("110103", "19800101", "001"),  # 崇文区, abolished 2010, issued before
    ],
)
def test_abolished_region_code_is_accepted_for_people_born_before(number: str) -> None:
    assert resident_id(number).region_code == number[:6]


def test_resident_id_normalises_input() -> None:
    number = _x_id()
    assert resident_id(number.lower()).number == number
    assert resident_id(" " + number[:6] + " " + number[6:].lower() + " ").number == number
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert resident_id(full_width).number == number


def _wrong_check(number: str) -> str:
    replacement = "0" if number[-1] != "0" else "1"
    return number[:-1] + replacement


GOOD = make_id("330106", "19900101", "001")

INVALID_IDS = [
    ("", "length"),
    ("33010619900101001", "length"),
    ("330106900101001", "length"),  # first-generation 15-digit number
    (GOOD + "1", "length"),
    ("33010619900101A01" + "1", "format"),
    (GOOD[:17] + "Y", "format"),
    (_wrong_check(GOOD), "checksum"),
    (make_id("330106", "19900230", "001"), "birth_date"),
    (make_id("330106", "19901301", "001"), "birth_date"),
    (make_id("990000", "19900101", "001"), "region"),
    (make_id("000000", "19900101", "001"), "region"),
    (make_id("342601", "20050101", "001"), "region"),  # 巢湖市 code abolished in 1999
    (make_id("110103", "20120101", "001"), "region"),  # 崇文区 merged into 东城区 in 2010
]


@pytest.mark.parametrize(("number", "code"), INVALID_IDS)
def test_invalid_resident_ids(number: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        resident_id(number, field="borrower.id_number")
    (error,) = caught.value.errors
    assert error.field == "borrower.id_number"
    assert error.code == code


def test_birth_date_in_the_future_is_refused_given_today() -> None:
    number = make_id("330106", "20300101", "001")
    assert resident_id(number).birth_date == date(2030, 1, 1)
    with pytest.raises(InvalidInput) as caught:
        resident_id(number, today=date(2026, 1, 1))
    assert caught.value.errors[0].code == "birth_date"


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        (date(2000, 2, 29), date(2018, 2, 28), 17),
        (date(2000, 2, 29), date(2018, 3, 1), 18),
        (date(2000, 2, 29), date(2020, 2, 29), 20),
        (date(1990, 6, 15), date(2008, 6, 14), 17),
        (date(1990, 6, 15), date(2008, 6, 15), 18),
        (date(1990, 6, 15), date(1990, 6, 15), 0),
    ],
)
def test_age_on(born: date, day: date, age: int) -> None:
    assert age_on(born, day) == age


@pytest.mark.parametrize(
    ("born", "start", "end", "code"),
    [
        ("20080615", date(2026, 6, 15), date(2029, 6, 15), None),  # 18 on the day
        ("20080616", date(2026, 6, 15), date(2029, 6, 15), "too_young"),  # 18 a day later
        ("19630101", date(2026, 1, 1), date(2029, 1, 1), "too_old"),  # 66 at maturity
        ("19630102", date(2026, 1, 1), date(2029, 1, 1), None),  # 65 at maturity
        ("19600101", date(2026, 1, 1), None, "too_old"),  # 66 at the start, no maturity
        ("19610101", date(2023, 1, 1), date(2026, 1, 1), None),  # 65 on the maturity day
    ],
)
def test_age_limits(born: str, start: date, end: date | None, code: str | None) -> None:
    identity = resident_id(make_id("330106", born, "001"))
    limits = AgeLimits(18, 65)
    if code is None:
        check_age(identity, limits, start=start, end=end)
        return
    with pytest.raises(InvalidInput) as caught:
        check_age(identity, limits, start=start, end=end)
    assert caught.value.errors[0].code == code
    assert caught.value.errors[0].field == "id_number"


def test_borrower_identity_uses_application_and_maturity_dates() -> None:
    number = make_id("330106", "19700101", "001")
    ok = borrower_identity(
        number, application_date=date(2026, 1, 1), maturity_date=date(2029, 1, 1)
    )
    assert ok.age_on(date(2026, 1, 1)) == 56
    with pytest.raises(InvalidInput):
        borrower_identity(
            number,
            application_date=date(2026, 1, 1),
            maturity_date=date(2029, 1, 1),
            limits=AgeLimits(18, 58),
        )
    with pytest.raises(ValueError):
        AgeLimits(30, 20)


# --- mobile phone -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "008613800138000",
        "１３８００１３８０００",
    ],
)
def test_valid_mobile_numbers_normalise_to_e164(text: str) -> None:
    assert mobile_phone(text) == "+8613800138000"


@pytest.mark.parametrize("text", ["19912345678", "15012345678", "18600000000"])
def test_other_mobile_prefixes(text: str) -> None:
    assert mobile_phone(text) == "+86" + text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "format"),
        ("not a number", "format"),
        ("12345", "invalid"),
        ("1380013800", "invalid"),
        ("138001380001", "invalid"),
        ("010 6552 9988", "not_mobile"),
        ("+852 6123 4567", "not_cn"),
        ("+1 650 253 0000", "not_cn"),
    ],
)
def test_invalid_mobile_numbers(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        mobile_phone(text, field="contact_phone")
    (error,) = caught.value.errors
    assert (error.field, error.code) == ("contact_phone", code)


# --- bank card ----------------------------------------------------------------------------

CARD_16 = luhn_complete("622202020011223")
CARD_19 = luhn_complete("621700000012345678")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CARD_16, CARD_16),
        (CARD_19, CARD_19),
        (" ".join(CARD_19[i : i + 4] for i in range(0, 19, 4)), CARD_19),
        ("4111111111111111", "4111111111111111"),
    ],
)
def test_valid_bank_cards(text: str, expected: str) -> None:
    assert bank_card(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "format"),
        ("6222 0202 00ab 2233", "format"),
        (luhn_complete("62220202001122"), "length"),  # 15 digits
        (luhn_complete("6217000000123456789"), "length"),  # 20 digits
        (CARD_16[:-1] + str((int(CARD_16[-1]) + 1) % 10), "checksum"),
        (CARD_19[:10] + CARD_19[11] + CARD_19[10] + CARD_19[12:], "checksum"),  # transposed
    ],
)
def test_invalid_bank_cards(text: str, code: str) -> None:
    if code == "checksum":
        assert text != CARD_16 and text != CARD_19
    with pytest.raises(InvalidInput) as caught:
        bank_card(text)
    assert (caught.value.errors[0].field, caught.value.errors[0].code) == ("bank_card", code)


# --- VIN ----------------------------------------------------------------------------------


def _x_vin() -> str:
    """A VIN whose check digit is X, found by walking the serial number."""
    for serial in range(100):
        number = make_vin(f"LFV2A21K_P30{serial:05d}")
        if number[8] == "X":
            return number
    raise AssertionError("no serial gives X")


VALID_VINS = [
    make_vin("LSVAU218_N2183456"),
    make_vin("LFV2A21K_P3012345"),
    make_vin("LGBH52E0_LY123456"),
    make_vin("LRW3E7FA_PC000001"),
    _x_vin(),
]


@pytest.mark.parametrize("number", VALID_VINS)
def test_valid_vins(number: str) -> None:
    assert vin(number) == number
    assert vin(number.lower()) == number
    assert vin(f" {number} ") == number


def _wrong_vin_check(number: str) -> str:
    wrong = "1" if number[8] != "1" else "2"
    return number[:8] + wrong + number[9:]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "length"),
        (VALID_VINS[0][:16], "length"),
        (VALID_VINS[0] + "1", "length"),
        (VALID_VINS[1][:3] + "I" + VALID_VINS[1][4:], "alphabet"),
        (VALID_VINS[1][:3] + "O" + VALID_VINS[1][4:], "alphabet"),
        (VALID_VINS[1][:3] + "Q" + VALID_VINS[1][4:], "alphabet"),
        (VALID_VINS[1][:16] + "*", "alphabet"),
        (_wrong_vin_check(VALID_VINS[0]), "checksum"),
        (_wrong_vin_check(VALID_VINS[1]), "checksum"),
        (make_vin("LFV2A21K_U3012345"), "model_year"),
        (make_vin("LFV2A21K_03012345"), "model_year"),
    ],
)
def test_invalid_vins(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        vin(text, field="vehicle.vin")
    assert (caught.value.errors[0].field, caught.value.errors[0].code) == ("vehicle.vin", code)
