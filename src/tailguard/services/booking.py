"""Booking a loan from an approved application: parties, vehicle, terms, disbursement.

Every field is checked before anything is written (ID number, phone, bank card and VIN with
maintained libraries, regions against the GB/T 2260 table, terms against the product), and all
mistakes are reported together by field. Personal data is sealed before it is stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import insert, select

from tailguard.errors import FieldError, InvalidInput, Refused
from tailguard.infra.crypto import FieldCipher
from tailguard.infra.db import tables
from tailguard.infra.db.loan_repository import LoanRecord, LoanRepository
from tailguard.infra.pii import PersonalData
from tailguard.loans.terms import LoanRequest, validate_request
from tailguard.origination import identity
from tailguard.services import contract_documents
from tailguard.services.platform import Platform
from tailguard.services.servicing import book_loan

T = TypeVar("T")


@dataclass(frozen=True)
class PartyIn:
    name: str
    id_number: str
    phone: str
    address: str | None = None
    bank_card: str | None = None
    residence_region_code: str | None = None
    employer: str | None = None


@dataclass(frozen=True)
class VehicleIn:
    vin: str
    condition: str  # new, used
    energy: str  # fuel, nev
    price_fen: int
    registration_office: str | None = None
    registration_region_code: str | None = None


@dataclass(frozen=True)
class LoanApplication:
    borrower: PartyIn
    vehicle: VehicleIn
    product_code: str
    principal_fen: int
    annual_rate: Decimal
    term_months: int
    disbursement_date: date
    dealer_id: str
    balloon_share: Decimal | None = None
    first_due_date: date | None = None
    region_code: str | None = None
    guarantor: PartyIn | None = None
    loan_id: str | None = None


def _collect(errors: list[FieldError], check: Callable[[], T], prefix: str = "") -> T | None:
    try:
        return check()
    except InvalidInput as bad:
        errors.extend(FieldError(prefix + e.field, e.code, e.message) for e in bad.errors)
        return None


def _check_party(
    errors: list[FieldError], prefix: str, party: PartyIn, day: date, maturity: date
) -> identity.ResidentId | None:
    def resident() -> identity.ResidentId:
        return identity.borrower_identity(party.id_number, application_date=day,
                                          maturity_date=maturity)

    def phone() -> str:
        return identity.mobile_phone(party.phone)

    def card() -> str:
        return identity.bank_card(party.bank_card or "")

    found = _collect(errors, resident, prefix)
    _collect(errors, phone, prefix)
    if party.bank_card:
        _collect(errors, card, prefix)
    if not party.name.strip():
        errors.append(FieldError(prefix + "name", "missing", "a name is required"))
    return found


def book_application(platform: Platform, actor: str, application: LoanApplication) -> str:
    """Validate the whole application, store parties and vehicle, then book and disburse."""
    errors: list[FieldError] = []
    day = application.disbursement_date
    with platform.uow(actor) as uow:
        repo = LoanRepository(uow.connection, platform.calendar_for)
        product = repo.latest_product(application.product_code)
        if product is None:
            errors.append(FieldError("product_code", "unknown",
                                     f"no product {application.product_code!r}"))
            raise InvalidInput(errors)
        terms = _collect(errors, lambda: validate_request(product, LoanRequest(
            principal_fen=application.principal_fen, annual_rate=application.annual_rate,
            term_months=application.term_months, disbursement_date=day,
            first_due_date=application.first_due_date, balloon_share=application.balloon_share,
            vehicle_used=application.vehicle.condition == "used",
        )))
        parties = [("borrower.", application.borrower)]
        if application.guarantor is not None:
            parties.append(("guarantor.", application.guarantor))
        checked: dict[str, identity.ResidentId | None] = {}
        maturity = terms.initial_schedule().maturity_date if terms else day
        for prefix, party in parties:
            checked[prefix] = _check_party(errors, prefix, party, day, maturity)
        vin = _collect(errors, lambda: identity.vin(application.vehicle.vin), "vehicle.")
        if application.vehicle.condition not in ("new", "used"):
            errors.append(FieldError("vehicle.condition", "unknown", "must be new or used"))
        if application.vehicle.energy not in ("fuel", "nev"):
            errors.append(FieldError("vehicle.energy", "unknown", "must be fuel or nev"))
        if application.vehicle.price_fen <= 0:
            errors.append(FieldError("vehicle.price", "not_positive", "must be positive"))
        codes = {
            "region_code": application.region_code,
            "borrower.residence_region_code": application.borrower.residence_region_code,
            "vehicle.registration_region_code": application.vehicle.registration_region_code,
        }
        known = set(uow.connection.execute(
            select(tables.regions.c.code).where(
                tables.regions.c.code.in_([c for c in codes.values() if c]))
        ).scalars())
        for field, code in codes.items():
            if code and code not in known:
                errors.append(FieldError(field, "unknown_region",
                                         f"{code} is not a GB/T 2260 region code"))
        dealer = uow.connection.execute(
            select(tables.dealers.c.id).where(tables.dealers.c.id == application.dealer_id)
        ).scalar_one_or_none()
        if dealer is None:
            errors.append(FieldError("dealer_id", "unknown",
                                     f"no dealer {application.dealer_id!r}"))
        if errors:
            raise InvalidInput(errors)
        assert terms is not None and vin is not None
        if uow.connection.execute(select(tables.vehicles.c.id).where(
                tables.vehicles.c.vin == vin)).scalar_one_or_none():
            raise Refused("VEHICLE_FINANCED", f"vehicle {vin} already secures a loan")
        pii = PersonalData(uow, FieldCipher.from_settings(platform.settings))
        party_ids: dict[str, str] = {}
        for prefix, party in parties:
            party_id = "pty-" + uuid.uuid4().hex[:16]
            resident = checked[prefix]
            assert resident is not None
            pii.insert_party(
                party_id, party.name.strip(), id_number=resident.number,
                phone=identity.mobile_phone(party.phone), address=party.address,
                bank_card=identity.bank_card(party.bank_card) if party.bank_card else None,
                birth_date=resident.birth_date,
                id_region_code=resident.region_code,
                residence_region_code=party.residence_region_code, employer=party.employer,
            )
            party_ids[prefix] = party_id
        vehicle_id = "veh-" + uuid.uuid4().hex[:16]
        v = application.vehicle
        uow.connection.execute(insert(tables.vehicles).values(
            id=vehicle_id, vin=vin, condition=v.condition, energy=v.energy,
            price_fen=v.price_fen, registration_office=v.registration_office,
            registration_region_code=v.registration_region_code, recorded_at=uow.clock.now(),
        ))
        uow.audit("party.create", "party", party_ids["borrower."], {"role": "borrower"})
        uow.commit()
    loan_id = application.loan_id or "LN" + uuid.uuid4().hex[:12].upper()
    record = LoanRecord(loan_id, party_ids["borrower."], party_ids.get("guarantor."),
                        application.dealer_id, vehicle_id, application.region_code, "active")
    booked = book_loan(platform, actor, terms, record, loan_id)
    # The contract follows in its own unit of work: see services/contract_documents.py.
    contract_documents.issue_contract(platform, actor, booked)
    return booked


def ensure_dealer(platform: Platform, dealer_id: str, name: str, region_code: str) -> None:
    with platform.uow("system") as uow:
        exists = uow.connection.execute(
            select(tables.dealers.c.id).where(tables.dealers.c.id == dealer_id)
        ).scalar_one_or_none()
        if exists is None:
            uow.connection.execute(insert(tables.dealers).values(
                id=dealer_id, name=name, region_code=region_code, recorded_at=uow.clock.now()))
            uow.commit()


def ensure_products(platform: Platform) -> None:
    """Store the standard catalogue's products (idempotent)."""
    from tailguard.loans.products import standard_catalogue

    with platform.uow("system") as uow:
        repo = LoanRepository(uow.connection, platform.calendar_for)
        for product in standard_catalogue():
            repo.save_product(product, uow.clock.now())
        uow.commit()
