"""Identity checks for an application: resident ID, mobile phone, bank card and VIN.

Each validator takes what a person typed (full-width digits from a Chinese input method, spaces,
a lower-case `x`) and returns the canonical value, or raises `InvalidInput` naming the field with
a machine-readable code. The arithmetic comes from maintained libraries (python-stdnum,
phonenumbers, vininfo) rather than being retyped here, so rule and data updates (new region codes,
new mobile prefixes) arrive with a dependency bump.

Pure: no clock, no database. Dates the rules depend on (the application date, the maturity date)
are arguments.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import phonenumbers
from stdnum import luhn, numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumValidationError
from vininfo import Vin
from vininfo.exceptions import ValidationError as VinValidationError

from tailguard.errors import InvalidInput


class Sex(StrEnum):
    """From the 17th digit of the ID number: odd for men, even for women."""

    MALE = "male"
    FEMALE = "female"


def age_on(birth_date: date, day: date) -> int:
    """Completed years (周岁) on `day`; someone born on 29 February turns a year older on
    1 March in common years."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


@dataclass(frozen=True)
class ResidentId:
    """A checked 18-digit resident identity number (居民身份证号码) and what it encodes."""

    number: str
    birth_date: date
    sex: Sex
    region_code: str
    """GB/T 2260 code of the place of household registration when the number was issued.
    It may be a code abolished since (a county merged into a city district); the regions
    context maps such codes to their province and city by pattern."""

    def age_on(self, day: date) -> int:
        return age_on(self.birth_date, day)


@dataclass(frozen=True)
class AgeLimits:
    """Youngest age on the application date and oldest age on the maturity date.

    Lenders state borrower age as "18 at application, at most 60 or 65 when the loan ends", so
    the two ends are checked on different dates.
    """

    minimum: int = 18
    maximum: int = 65

    def __post_init__(self) -> None:
        if not 0 <= self.minimum <= self.maximum:
            raise ValueError("age limits need 0 <= minimum <= maximum")


BORROWER_AGE = AgeLimits(18, 65)


def _normalise(text: str) -> str:
    """Full-width digits and letters to ASCII, then strip spaces and common separators."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-")


def region_code_possible(code: str, birth_year: int) -> bool:
    """Whether an ID number of someone born in `birth_year` can carry region `code`.

    The code is the household registration's code when the number was *issued* (from 1984
    on, or at birth registration for the young), not at birth. python-stdnum's
    `get_birth_place` demands that the code existed in the birth year, which refuses genuine
    numbers of older borrowers: someone born in 1963 in Hangzhou's Xihu district holds 330106,
    a code created in 1983. So its dated code list is read here with the rule that follows
    from issuance: the code must not have been abolished before the birth year.
    """
    results = numdb.get("cn/loc").info(code)
    info = {key: value for _, props in results for key, value in props.items()}
    counties = info.get("county")
    if not counties:
        return False
    for entry in counties.split(","):
        if not entry.startswith("["):
            return True
        period = entry[1:].split("]", 1)[0]
        _start, _, end = period.partition("-")
        if not end or int(end) >= birth_year:
            return True
    return False


def resident_id(number: str, *, field: str = "id_number", today: date | None = None) -> ResidentId:
    """Check an 18-digit ID number: length, digits, check digit (ISO 7064 MOD 11-2), a real
    birth date (not after `today` when given) and a region code still in use when the number
    could have been issued (see `region_code_possible`).

    The 15-digit first-generation numbers stopped being valid in 2013 and are refused.
    """
    text = _normalise(number).upper()
    if len(text) != 18:
        raise InvalidInput.one(field, "length", "a resident ID number has 18 characters")
    if not text[:17].isdigit() or not (text[17].isdigit() or text[17] == "X"):
        raise InvalidInput.one(
            field, "format", "a resident ID number is 17 digits and a digit or X"
        )
    if ric.calc_check_digit(text) != text[17]:
        raise InvalidInput.one(field, "checksum", "the check digit (last character) is wrong")
    try:
        birth = ric.get_birth_date(text)
    except StdnumValidationError as exc:
        raise InvalidInput.one(
            field, "birth_date", "digits 7 to 14 are not a real birth date"
        ) from exc
    if today is not None and birth > today:
        raise InvalidInput.one(field, "birth_date", "the birth date is in the future")
    if not region_code_possible(text[:6], birth.year):
        raise InvalidInput.one(
            field, "region", "the first six digits are not a region code in use since the birth"
        )
    sex = Sex.MALE if int(text[16]) % 2 else Sex.FEMALE
    return ResidentId(number=text, birth_date=birth, sex=sex, region_code=text[:6])


def check_age(
    identity: ResidentId,
    limits: AgeLimits,
    *,
    start: date,
    end: date | None = None,
    field: str = "id_number",
) -> None:
    """At least `limits.minimum` years old on `start`, at most `limits.maximum` on `end`
    (the maturity date; `start` when not given)."""
    at_start = identity.age_on(start)
    if at_start < limits.minimum:
        raise InvalidInput.one(
            field, "too_young", f"the holder is {at_start}, younger than {limits.minimum}"
        )
    last_day = start if end is None else end
    at_end = identity.age_on(last_day)
    if at_end > limits.maximum:
        raise InvalidInput.one(
            field,
            "too_old",
            f"the holder would be {at_end} on {last_day.isoformat()}, older than {limits.maximum}",
        )


def borrower_identity(
    number: str,
    *,
    application_date: date,
    maturity_date: date,
    limits: AgeLimits = BORROWER_AGE,
    field: str = "id_number",
) -> ResidentId:
    """The resident ID of a borrower: valid, and of age over the whole life of the loan."""
    identity = resident_id(number, field=field, today=application_date)
    check_age(identity, limits, start=application_date, end=maturity_date, field=field)
    return identity


_MOBILE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
)


def mobile_phone(text: str, *, field: str = "phone") -> str:
    """A mainland China mobile number in E.164 (`+8613800138000`).

    Accepts the national form, `+86`/`0086` prefixes, spaces and dashes. A landline or a Hong
    Kong or Macau number is refused: repayment reminders and OTPs go by SMS to a mainland mobile.
    """
    folded = unicodedata.normalize("NFKC", text).strip()
    try:
        parsed = phonenumbers.parse(folded, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput.one(field, "format", "not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput.one(field, "invalid", "not a valid phone number")
    if phonenumbers.region_code_for_number(parsed) != "CN":
        raise InvalidInput.one(field, "not_cn", "a mainland China (+86) number is needed")
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise InvalidInput.one(field, "not_mobile", "a mobile number is needed, not a landline")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def bank_card(text: str, *, field: str = "bank_card") -> str:
    """A debit card number for auto-debit: 16 to 19 digits passing the Luhn check.

    The Luhn check catches a mistyped or transposed digit before the first debit fails.
    """
    digits = _normalise(text)
    if not digits.isdigit():
        raise InvalidInput.one(field, "format", "a bank card number has only digits")
    if not 16 <= len(digits) <= 19:
        raise InvalidInput.one(field, "length", "a bank card number has 16 to 19 digits")
    if not luhn.is_valid(digits):
        raise InvalidInput.one(field, "checksum", "the card number fails its check digit")
    return digits


_INVALID_YEAR_CODES = frozenset("UZ0")


def vin(text: str, *, field: str = "vin") -> str:
    """A vehicle identification number as GB 16735 requires it in China: 17 characters from
    the VIN alphabet (no I, O or Q), a model-year code at position 10 that is not U, Z or 0,
    and the check digit at position 9 — mandatory in China, unlike in parts of Europe.

    A wrong VIN means the mortgage registered at the vehicle office names another car, the
    main way security is lost when a car is sold in another city.
    """
    raw = _normalise(text).upper()
    try:
        checked = Vin(raw)
    except VinValidationError as exc:
        code = "length" if len(raw) != 17 else "alphabet"
        message = (
            "a VIN has 17 characters"
            if code == "length"
            else "a VIN uses digits and letters except I, O and Q"
        )
        raise InvalidInput.one(field, code, message) from exc
    number: str = checked.num
    if number[9] in _INVALID_YEAR_CODES:
        raise InvalidInput.one(field, "model_year", "position 10 (model year) cannot be U, Z or 0")
    if not checked.verify_checksum(check_year=False):
        raise InvalidInput.one(field, "checksum", "the check digit (position 9) is wrong")
    return number
