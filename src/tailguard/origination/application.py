"""An application for a balloon auto loan, checked field by field before anyone reviews it.

An application names its parties (one borrower, an optional co-borrower, any guarantors), the
vehicle, the dealer, the requested product, the down payment and the balloon share, each
party's income and employment, and the documents uploaded with it. `check_application` turns
what was typed into canonical values (ID number, E.164 phone, card and VIN through
`origination.identity`) and derived facts (financed amount, LTV, ages), or raises one
`InvalidInput` that lists every wrong field, so a dealer fixes the form in one round.

Pure: the application date and the loan's maturity date (which needs the product's schedule
rules) are arguments; nothing here reads a clock or a database.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from tailguard.errors import FieldError, InvalidInput
from tailguard.origination import identity

T = TypeVar("T")


class PartyRole(StrEnum):
    BORROWER = "borrower"
    CO_BORROWER = "co-borrower"
    """共同借款人: owes the debt with the borrower; their income counts toward affordability."""
    GUARANTOR = "guarantor"
    """担保人: owes only if the borrower does not pay; their income does not count."""


class Employment(StrEnum):
    EMPLOYED = "employed"
    SELF_EMPLOYED = "self-employed"
    CIVIL_SERVANT = "civil-servant"
    RETIRED = "retired"
    OTHER = "other"


class DocumentKind(StrEnum):
    """What a credit officer may be asked to see; the regional policy says which are required."""

    ID_CARD = "id-card"
    DRIVING_LICENCE = "driving-licence"
    INCOME_PROOF = "income-proof"
    BANK_STATEMENT = "bank-statement"
    EMPLOYMENT_PROOF = "employment-proof"
    RESIDENCE_PROOF = "residence-proof"
    VEHICLE_INVOICE = "vehicle-invoice"
    GUARANTEE_LETTER = "guarantee-letter"


DOCUMENT_BYTES_MAX = 10 * 1024 * 1024
DOCUMENT_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})
GUARANTOR_AGE = identity.AgeLimits(18, 70)
"""A guarantor may be older than a borrower: they are not the one repaying month by month."""
DEBT_SHARE = Decimal("0.0001")


@dataclass(frozen=True)
class PartyIn:
    role: PartyRole | str
    name: str
    id_number: str
    phone: str
    monthly_income_fen: int
    employment: Employment | str
    employment_months: int = 0
    employer: str | None = None
    bank_card: str | None = None
    residence_region_code: str | None = None
    monthly_debt_payments_fen: int = 0
    """Repayments on other debts the applicant declares (the bureau may show more)."""


@dataclass(frozen=True)
class VehicleIn:
    vin: str
    condition: str  # new, used
    energy: str  # fuel, nev
    price_fen: int
    registration_region_code: str | None = None


@dataclass(frozen=True)
class DocumentIn:
    kind: DocumentKind | str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ApplicationIn:
    parties: tuple[PartyIn, ...]
    vehicle: VehicleIn
    dealer_id: str
    product_code: str
    term_months: int
    annual_rate: Decimal
    down_payment_fen: int
    balloon_share: Decimal = Decimal(0)
    documents: tuple[DocumentIn, ...] = field(default=())


@dataclass(frozen=True)
class CheckedParty:
    role: PartyRole
    name: str
    identity: identity.ResidentId
    phone: str
    bank_card: str | None
    employment: Employment
    employment_months: int
    employer: str | None
    monthly_income_fen: int
    monthly_debt_payments_fen: int
    residence_region_code: str | None


@dataclass(frozen=True)
class CheckedApplication:
    """The application in canonical form, with the facts the decision reads."""

    parties: tuple[CheckedParty, ...]
    vin: str
    vehicle: VehicleIn
    dealer_id: str
    product_code: str
    term_months: int
    annual_rate: Decimal
    down_payment_fen: int
    balloon_share: Decimal
    principal_fen: int
    application_date: date
    maturity_date: date
    document_kinds: tuple[str, ...]

    @property
    def borrower(self) -> CheckedParty:
        return next(p for p in self.parties if p.role is PartyRole.BORROWER)

    @property
    def ltv(self) -> Decimal:
        """Loan to value: the financed amount over the vehicle's price, to 4 places."""
        return (Decimal(self.principal_fen) / Decimal(self.vehicle.price_fen)).quantize(DEBT_SHARE)

    @property
    def down_payment_share(self) -> Decimal:
        return (Decimal(self.down_payment_fen) / Decimal(self.vehicle.price_fen)).quantize(
            DEBT_SHARE)


def _collect(errors: list[FieldError], prefix: str, check: Callable[[], T]) -> T | None:
    try:
        return check()
    except InvalidInput as bad:
        errors.extend(FieldError(prefix + e.field, e.code, e.message) for e in bad.errors)
        return None


def _enum(errors: list[FieldError], name: str, kind: type[StrEnum], value: object) -> Any:
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        errors.append(FieldError(name, "unknown", f"must be one of {allowed}"))
        return None


def _check_party(
    errors: list[FieldError], index: int, party: PartyIn, day: date, maturity: date
) -> CheckedParty | None:
    prefix = f"parties[{index}]."
    role = _enum(errors, prefix + "role", PartyRole, party.role)
    employment = _enum(errors, prefix + "employment", Employment, party.employment)
    limits = GUARANTOR_AGE if role is PartyRole.GUARANTOR else identity.BORROWER_AGE
    resident = _collect(errors, prefix, lambda: identity.borrower_identity(
        party.id_number, application_date=day, maturity_date=maturity, limits=limits))
    phone = _collect(errors, prefix, lambda: identity.mobile_phone(party.phone))
    card = None
    if party.bank_card:
        card = _collect(errors, prefix, lambda: identity.bank_card(party.bank_card or ""))
    elif role is PartyRole.BORROWER:
        errors.append(FieldError(prefix + "bank_card", "missing",
                                 "the borrower's debit card is needed for auto-debit"))
    name = party.name.strip()
    if not name:
        errors.append(FieldError(prefix + "name", "missing", "a name is required"))
    elif len(name) > 60:
        errors.append(FieldError(prefix + "name", "too_long", "at most 60 characters"))
    if party.monthly_income_fen < 0:
        errors.append(FieldError(prefix + "monthly_income", "negative", "cannot be negative"))
    if party.monthly_debt_payments_fen < 0:
        errors.append(FieldError(prefix + "monthly_debt_payments", "negative",
                                 "cannot be negative"))
    if not 0 <= party.employment_months <= 720:
        errors.append(FieldError(prefix + "employment_months", "out_of_range",
                                 "must be 0 to 720 months"))
    if None in (role, employment, resident, phone) or (party.bank_card and card is None):
        return None
    assert resident is not None and phone is not None
    return CheckedParty(role, name, resident, phone, card, employment, party.employment_months,
                        (party.employer or "").strip() or None, party.monthly_income_fen,
                        party.monthly_debt_payments_fen, party.residence_region_code)


def check_application(
    application: ApplicationIn, *, application_date: date, maturity_date: date,
    principal_fen: int,
) -> CheckedApplication:
    """Every field checked; all mistakes reported together, each named by its field path
    (`parties[0].id_number`, `vehicle.vin`, `documents[1].content_type`)."""
    errors: list[FieldError] = []
    parties: list[CheckedParty] = []
    for index, party in enumerate(application.parties):
        checked = _check_party(errors, index, party, application_date, maturity_date)
        if checked is not None:
            parties.append(checked)
    roles = [str(p.role) for p in application.parties]
    if roles.count(PartyRole.BORROWER) != 1:
        errors.append(FieldError("parties", "borrower", "exactly one party must be the borrower"))
    if roles.count(PartyRole.CO_BORROWER) > 1:
        errors.append(FieldError("parties", "co_borrowers", "at most one co-borrower"))
    # On the typed numbers, folded as the ID check folds them, so a duplicate is reported
    # even when the party has other mistakes.
    numbers = ["".join(unicodedata.normalize("NFKC", p.id_number).split()).upper()
               for p in application.parties]
    if len(set(numbers)) != len(numbers):
        errors.append(FieldError("parties", "duplicate", "the same ID number appears twice"))
    vin = _collect(errors, "vehicle.", lambda: identity.vin(application.vehicle.vin))
    vehicle = application.vehicle
    if vehicle.condition not in ("new", "used"):
        errors.append(FieldError("vehicle.condition", "unknown", "must be new or used"))
    if vehicle.energy not in ("fuel", "nev"):
        errors.append(FieldError("vehicle.energy", "unknown", "must be fuel or nev"))
    if vehicle.price_fen <= 0:
        errors.append(FieldError("vehicle.price", "not_positive", "must be positive"))
    elif not 0 <= application.down_payment_fen < vehicle.price_fen:
        errors.append(FieldError("down_payment", "out_of_range",
                                 "must be at least zero and less than the vehicle's price"))
    if not Decimal(0) <= application.balloon_share < Decimal(1):
        errors.append(FieldError("balloon_share", "out_of_range", "must be from 0 to under 1"))
    if not application.dealer_id.strip():
        errors.append(FieldError("dealer_id", "missing", "a dealer is required"))
    kinds: list[str] = []
    for index, document in enumerate(application.documents):
        prefix = f"documents[{index}]."
        kind = _enum(errors, prefix + "kind", DocumentKind, document.kind)
        if kind is not None:
            kinds.append(kind.value)
        if document.content_type not in DOCUMENT_TYPES:
            errors.append(FieldError(prefix + "content_type", "unsupported",
                                     "must be application/pdf, image/jpeg or image/png"))
        if not 0 < len(document.data) <= DOCUMENT_BYTES_MAX:
            errors.append(FieldError(prefix + "content", "size", "must be 1 byte to 10 MiB"))
    if errors:
        raise InvalidInput(errors)
    assert vin is not None
    return CheckedApplication(
        parties=tuple(parties), vin=vin, vehicle=vehicle, dealer_id=application.dealer_id,
        product_code=application.product_code, term_months=application.term_months,
        annual_rate=application.annual_rate, down_payment_fen=application.down_payment_fen,
        balloon_share=application.balloon_share, principal_fen=principal_fen,
        application_date=application_date, maturity_date=maturity_date,
        document_kinds=tuple(sorted(set(kinds))),
    )
