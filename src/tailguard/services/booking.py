"""Booking a loan from an approved application: parties, vehicle, terms, disbursement.

Every field is checked before anything is written (ID number, phone, bank card and VIN with
maintained libraries, regions against the GB/T 2260 table, terms against the product), and all
mistakes are reported together by field. Personal data is sealed before it is stored.

One application or many: `book_applications` books a batch in one unit of work (the
simulator's day of sales, an import, later the API), `book_application` is a batch of one.
Each loan gets its record, schedule, disbursement entries, books, state, audit row and
`LoanDisbursed` event, with the parties and vehicle in the same unit of work, so a refused
booking leaves nothing behind (and a retry after a failure is not refused as VEHICLE_FINANCED).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, insert, select

from tailguard.errors import FieldError, InvalidInput, Refused
from tailguard.infra.crypto import FieldCipher
from tailguard.infra.db import ledger_repository as ledger
from tailguard.infra.db import tables
from tailguard.infra.db.loan_repository import LoanRecord, LoanRepository
from tailguard.infra.db.uow import UnitOfWork
from tailguard.infra.pii import PersonalData
from tailguard.ledger.flows import CASH, DISBURSEMENT_CLEARING, FEE_INCOME
from tailguard.loans.account import LoanAccount
from tailguard.loans.products import Product
from tailguard.loans.terms import LoanRequest, LoanTerms, validate_request
from tailguard.money import yuan
from tailguard.origination import identity
from tailguard.services import contract_documents
from tailguard.services.loan_books import BooksChange, sync_books_many
from tailguard.services.platform import Platform

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
    """Validate the whole application, store parties and vehicle, then book and disburse; the
    contract follows. A batch of one (`book_applications`), so both paths leave the same rows."""
    (result,) = book_applications(platform, actor, [application])
    if isinstance(result, Exception):
        raise result
    return result


def book_applications(
    platform: Platform, actor: str, applications: Sequence[LoanApplication], *,
    issue_contracts: bool = True,
) -> list[str | InvalidInput | Refused]:
    """Book many applications in one unit of work; one answer per application, in order.

    Why a batch: a booking's own work is a schedule and a few rows, but each unit of work pays
    for its round of lookups and a commit. Here the products, regions, dealers, VINs and loan
    ids of the whole batch are looked up once, and parties, vehicles, journal entries, books,
    audit rows and events are written with one statement per kind, committed once. A bad
    application gets its `InvalidInput` (every mistake, by field) or `Refused` (vehicle already
    financed, loan id taken) without failing the others.

    `issue_contracts=False` leaves the contracts to `contract_documents.issue_missing_contracts`
    (a background or batch step: a bulk load, the simulator); the compliance review names
    every loan still without one until then.
    """
    results: list[str | InvalidInput | Refused | None] = [None] * len(applications)
    booked: list[str] = []
    with platform.uow(actor) as uow:
        conn = uow.connection
        repo = LoanRepository(conn, platform.calendar_for, platform.products)
        checked = _validate_all(conn, repo, applications, results)
        if checked:
            booked = _write_all(platform, uow, repo, checked)
            for (k, _, _, _), loan_id in zip(checked, booked, strict=True):
                results[k] = loan_id
            uow.commit()
    if issue_contracts:
        # Each contract in its own unit of work after the money is booked: see
        # services/contract_documents.py for why booking never waits on a PDF.
        for loan_id in booked:
            contract_documents.issue_contract(platform, actor, loan_id)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


_Checked = tuple[int, LoanApplication, LoanTerms, dict[str, identity.ResidentId]]


def _validate_all(
    conn: Connection, repo: LoanRepository, applications: Sequence[LoanApplication],
    results: list[str | InvalidInput | Refused | None],
) -> list[_Checked]:
    """Check every application; set the answer of each bad one; return the good ones."""
    products: dict[str, Product | None] = {}
    for a in applications:
        if a.product_code not in products:
            products[a.product_code] = repo.latest_product(a.product_code)
    codes = {c for a in applications for c in (
        a.region_code, a.borrower.residence_region_code, a.vehicle.registration_region_code) if c}
    known_regions = set(conn.execute(select(tables.regions.c.code).where(
        tables.regions.c.code.in_(sorted(codes)))).scalars()) if codes else set()
    dealers = set(conn.execute(select(tables.dealers.c.id).where(tables.dealers.c.id.in_(
        sorted({a.dealer_id for a in applications})))).scalars())
    good: list[tuple[int, LoanApplication, LoanTerms, dict[str, identity.ResidentId], str]] = []
    for k, application in enumerate(applications):
        product = products[application.product_code]
        if product is None:
            results[k] = InvalidInput([FieldError("product_code", "unknown",
                                                  f"no product {application.product_code!r}")])
            continue
        errors: list[FieldError] = []
        terms, parties, vin = _check_application(errors, product, application)
        region_fields = {
            "region_code": application.region_code,
            "borrower.residence_region_code": application.borrower.residence_region_code,
            "vehicle.registration_region_code": application.vehicle.registration_region_code,
        }
        for field, code in region_fields.items():
            if code and code not in known_regions:
                errors.append(FieldError(field, "unknown_region",
                                         f"{code} is not a GB/T 2260 region code"))
        if application.dealer_id not in dealers:
            errors.append(FieldError("dealer_id", "unknown",
                                     f"no dealer {application.dealer_id!r}"))
        if errors:
            results[k] = InvalidInput(errors)
            continue
        assert terms is not None and vin is not None and parties is not None
        good.append((k, application, terms, parties, vin))
    if not good:
        return []
    vins = [g[4] for g in good]
    financed = set(conn.execute(select(tables.vehicles.c.vin).where(
        tables.vehicles.c.vin.in_(vins))).scalars())
    wanted = [g[1].loan_id for g in good if g[1].loan_id]
    taken = set(conn.execute(select(tables.loans.c.id).where(
        tables.loans.c.id.in_(wanted))).scalars()) if wanted else set()
    checked: list[_Checked] = []
    for k, application, terms, parties, vin in good:
        if vin in financed:
            results[k] = Refused("VEHICLE_FINANCED", f"vehicle {vin} already secures a loan")
            continue
        if application.loan_id and application.loan_id in taken:
            results[k] = Refused("LOAN_EXISTS", f"loan {application.loan_id} is already booked")
            continue
        financed.add(vin)  # a second application for the same car in this batch is refused
        if application.loan_id:
            taken.add(application.loan_id)
        checked.append((k, replace(application, vehicle=replace(application.vehicle, vin=vin)),
                        terms, parties))
    return checked


def _check_application(
    errors: list[FieldError], product: Product, application: LoanApplication
) -> tuple[LoanTerms | None, dict[str, identity.ResidentId] | None, str | None]:
    """The checks that need no database: terms against the product, parties, vehicle."""
    day = application.disbursement_date
    terms = _collect(errors, lambda: validate_request(product, LoanRequest(
        principal_fen=application.principal_fen, annual_rate=application.annual_rate,
        term_months=application.term_months, disbursement_date=day,
        first_due_date=application.first_due_date, balloon_share=application.balloon_share,
        vehicle_used=application.vehicle.condition == "used",
    )))
    maturity = terms.initial_schedule().maturity_date if terms else day
    parties: dict[str, identity.ResidentId] = {}
    complete = True
    for prefix, party in _parties(application):
        resident = _check_party(errors, prefix, party, day, maturity)
        if resident is None:
            complete = False
        else:
            parties[prefix] = resident
    vin = _collect(errors, lambda: identity.vin(application.vehicle.vin), "vehicle.")
    if application.vehicle.condition not in ("new", "used"):
        errors.append(FieldError("vehicle.condition", "unknown", "must be new or used"))
    if application.vehicle.energy not in ("fuel", "nev"):
        errors.append(FieldError("vehicle.energy", "unknown", "must be fuel or nev"))
    if application.vehicle.price_fen <= 0:
        errors.append(FieldError("vehicle.price", "not_positive", "must be positive"))
    return terms, parties if complete else None, vin


def _new_id(loan_id: str | None, role: str, length: int) -> str:
    """A random id, or, when the caller chose the loan id (the simulator, an import), one
    derived from it and the record's role: booking the same loan again elsewhere (two runs of
    one simulated world) then gives its parties and vehicle the same ids, so whatever is keyed
    on a party (champion/challenger arms, holdouts) falls the same way in both."""
    if loan_id is None:
        return uuid.uuid4().hex[:length]
    return hashlib.sha256(f"{loan_id}\x1f{role}".encode()).hexdigest()[:length]


def _parties(application: LoanApplication) -> list[tuple[str, PartyIn]]:
    parties = [("borrower.", application.borrower)]
    if application.guarantor is not None:
        parties.append(("guarantor.", application.guarantor))
    return parties


def _write_all(
    platform: Platform, uow: UnitOfWork, repo: LoanRepository, checked: list[_Checked]
) -> list[str]:
    """Parties, vehicles, loans, disbursement entries, books and state for the checked
    applications, one statement per kind of row (bar the loans' own rows), in batch order."""
    conn = uow.connection
    now = uow.clock.now()
    pii = PersonalData(uow, FieldCipher.from_settings(platform.settings))
    party_rows: list[dict[str, Any]] = []
    vehicle_rows: list[dict[str, Any]] = []
    entries: list[ledger.Entry] = []
    changes: list[BooksChange] = []
    audits: list[tuple[str, str, str | None, Any]] = []
    events: list[tuple[str, str | None, Any, date | None]] = []
    saved_products: set[str] = set()
    loan_ids: list[str] = []
    records: list[LoanRecord] = []
    for _, application, terms, residents in checked:
        party_ids: dict[str, str] = {}
        for prefix, party in _parties(application):
            party_id = "pty-" + _new_id(application.loan_id, prefix, 16)
            resident = residents[prefix]
            party_rows.append({
                "id": party_id, "name": party.name.strip(), "birth_date": resident.birth_date,
                "id_region_code": resident.region_code,
                "residence_region_code": party.residence_region_code,
                "employer": party.employer, "recorded_at": now,
                **pii.seal(id_number=resident.number, phone=identity.mobile_phone(party.phone),
                           address=party.address,
                           bank_card=identity.bank_card(party.bank_card)
                           if party.bank_card else None),
            })
            party_ids[prefix] = party_id
        vehicle_id = "veh-" + _new_id(application.loan_id, "vehicle", 16)
        v = application.vehicle
        vehicle_rows.append({
            "id": vehicle_id, "vin": v.vin, "condition": v.condition, "energy": v.energy,
            "price_fen": v.price_fen, "registration_office": v.registration_office,
            "registration_region_code": v.registration_region_code, "recorded_at": now})
        audits.append(("party.create", "party", party_ids["borrower."], {"role": "borrower"}))
        loan_id = application.loan_id or "LN" + uuid.uuid4().hex[:12].upper()
        record = LoanRecord(loan_id, party_ids["borrower."], party_ids.get("guarantor."),
                            application.dealer_id, vehicle_id, application.region_code, "active")
        if terms.product.key not in saved_products:
            repo.save_product(terms.product, now)
            saved_products.add(terms.product.key)
        account = LoanAccount.open(loan_id, terms, platform.calendar_for(record.region_code))
        loan_ids.append(loan_id)
        changes.append(BooksChange(account, account.position(max(
            terms.disbursement_date, platform.today())), f"{loan_id}:booking", "DISBURSEMENT"))
        entries.extend(disbursement_entries(loan_id, terms, now))
        audits.append(("loan.book", "loan", loan_id, {
            "product": terms.product.key, "principal": yuan(terms.principal_fen),
            "annual_rate": str(terms.annual_rate), "term_months": terms.term_months}))
        events.append(("LoanDisbursed", loan_id, {
            "loan_id": loan_id, "principal_fen": terms.principal_fen,
            "disbursement_date": terms.disbursement_date,
            "annualised_rate": str(terms.annualised_rate())}, terms.disbursement_date))
        records.append(record)
    conn.execute(insert(tables.parties), party_rows)
    conn.execute(insert(tables.vehicles), vehicle_rows)
    for change, record in zip(changes, records, strict=True):
        repo.add(change.account, record, now)
    ledger.post_entries(conn, entries)
    sync_books_many(conn, changes, now)
    uow.audit_many(audits)
    uow.emit_many(events)
    return loan_ids


def disbursement_entries(loan_id: str, terms: LoanTerms, recorded_at: Any) -> list[ledger.Entry]:
    """Cash out to the dealer (less fees financed), fees financed and fees paid up front."""
    day = terms.disbursement_date
    financed_fees = terms.financed_fees_fen
    entries = [ledger.Entry(f"{loan_id}:disbursement", day, "DISBURSEMENT", "loan", loan_id, [
        ledger.Leg(DISBURSEMENT_CLEARING, terms.principal_fen, loan_id),
        ledger.Leg(CASH, -(terms.principal_fen - financed_fees), loan_id),
        ledger.Leg(FEE_INCOME, -financed_fees, loan_id),
    ], recorded_at)]
    if terms.upfront_fees_fen:
        entries.append(ledger.Entry(f"{loan_id}:upfront-fees", day, "UPFRONT_FEE", "loan",
                                    loan_id, [
                                        ledger.Leg(CASH, terms.upfront_fees_fen, loan_id),
                                        ledger.Leg(FEE_INCOME, -terms.upfront_fees_fen, loan_id),
                                    ], recorded_at))
    return entries


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
