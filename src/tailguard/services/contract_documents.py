"""Issuing contract documents: the loan contract at booking, an addendum per schedule change.

One use case per function, one unit of work each: gather the facts (the borrower's full name
and ID number through `PersonalData.for_document`, audited with the reason), build the
content (`contracts.documents`, pure), render the PDF (`contracts.pdf`, deterministic), put
the bytes in the document store, then record the row, the audit entry and the
`ContractDocumentIssued` event, and commit.

Why a follow-up call right after booking rather than inside booking's unit of work: booking
(`booking.book_applications`) is a money command that must not wait on PDF rendering and file or
object-store I/O, and a store outage must not refuse a disbursement. The follow-up is
idempotent (a document already issued is returned as is; rendering is deterministic, so a
retry after a crash between the store write and the commit puts the very same bytes under the
same key), `tailguard contract issue LOAN` repeats it by hand, and the compliance review names
every booked loan still without a contract (`contract-missing`).

The store write happens before the commit: if the commit fails, an orphan file remains and
the retry rewrites it byte for byte; the reverse order could leave a row pointing at nothing.
The log leaf of a document is added by `transparency.integrate` (the next checkpoint), like
journal entries, so issuing never serialises on the log.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, insert, select

from tailguard.contracts.documents import (
    AddendumFacts,
    ContractDocument,
    ContractFacts,
    DisputePolicy,
    DocumentKind,
    Forum,
    Language,
    LenderFacts,
    MaturityFacts,
    PartyFacts,
    ScheduleLine,
    VehicleFacts,
    build_addendum,
    build_contract,
    choose_forum,
    document_id,
    is_cross_region,
)
from tailguard.contracts.pdf import render_pdf
from tailguard.errors import InvalidInput, NotFound
from tailguard.infra.crypto import FieldCipher
from tailguard.infra.db import tables
from tailguard.infra.db.loan_repository import LoanRepository
from tailguard.infra.db.tables_contracts import contract_documents
from tailguard.infra.db.uow import UnitOfWork
from tailguard.infra.document_store import DocumentStore, document_store_from_settings
from tailguard.infra.pii import PersonalData, PiiField
from tailguard.infra.settings import Settings, SettingsError
from tailguard.loans.account import LoanAccount
from tailguard.loans.maturity import extension_cap_months
from tailguard.loans.products import FeeKind
from tailguard.loans.schedule import Installment
from tailguard.services.platform import Platform

PDF_CONTENT_TYPE = "application/pdf"
CONTRACT_REASON = "booking"
ADDENDUM_REASONS = ("restructure", "refinance", "extend", "trade-in", "return-vehicle")
_PARTY_FIELDS = (PiiField.NAME, PiiField.ID_NUMBER, PiiField.PHONE, PiiField.ADDRESS)


@dataclass(frozen=True)
class IssuedDocument:
    document_id: str
    loan_id: str
    kind: str
    version: int
    language: str
    sha256: str
    size_bytes: int
    storage_key: str
    clauses: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.document_id, "loan_id": self.loan_id, "kind": self.kind,
                "version": self.version, "language": self.language, "sha256": self.sha256,
                "size_bytes": self.size_bytes, "storage_key": self.storage_key,
                "clauses": list(self.clauses), "reason": self.reason}


def _issued(row: Any) -> IssuedDocument:
    return IssuedDocument(row["id"], row["loan_id"], row["kind"], int(row["version"]),
                          row["language"], row["sha256"], int(row["size_bytes"]),
                          row["storage_key"], tuple(json.loads(row["clauses"])), row["reason"])


def storage_key(loan_id: str, kind: DocumentKind, version: int) -> str:
    """Where a document lives in the store: `contracts/LOAN/kind-vN.pdf`."""
    return f"contracts/{loan_id}/{kind.value}-v{version}.pdf"


def dispute_policy(settings: Settings) -> DisputePolicy:
    try:
        return DisputePolicy(Forum.parse(settings.dispute_local),
                             Forum.parse(settings.dispute_cross_region))
    except ValueError as exc:
        raise SettingsError(f"TAILGUARD_DISPUTE_LOCAL / TAILGUARD_DISPUTE_CROSS_REGION: {exc}"
                            ) from exc


def _language(settings: Settings, language: str | None) -> Language:
    text = language or settings.contract_language
    try:
        return Language(text)
    except ValueError as exc:
        raise InvalidInput.one("language", "unknown", "must be zh or en") from exc


def _region_name(conn: Connection, code: str | None) -> str:
    """`广东省深圳市` for 440300: the province, city and county names, as an address says."""
    if not code:
        return ""
    codes = [code[:2] + "0000", code[:4] + "00", code]
    names = dict(conn.execute(select(tables.regions.c.code, tables.regions.c.name)
                              .where(tables.regions.c.code.in_(codes))).all())
    parts: list[str] = []
    for c in dict.fromkeys(codes):
        name = names.get(c)
        if name and name not in parts:
            parts.append(name)
    return "".join(parts) or code


def _lender(conn: Connection, settings: Settings) -> LenderFacts:
    return LenderFacts(settings.lender_name, settings.lender_seat,
                       _region_name(conn, settings.lender_seat))


def _party(pii: PersonalData, party_id: str, reason: str, document: str) -> PartyFacts:
    values = pii.for_document(party_id, _PARTY_FIELDS, reason=reason, document=document)
    name, number, phone = (values[PiiField.NAME], values[PiiField.ID_NUMBER],
                           values[PiiField.PHONE])
    assert name is not None and number is not None and phone is not None
    return PartyFacts(name, number, phone, values[PiiField.ADDRESS])


def _lines(installments: tuple[Installment, ...] | list[Installment]) -> tuple[ScheduleLine, ...]:
    return tuple(ScheduleLine(i.number, i.due_date, i.principal_fen, i.interest_fen, i.fee_fen,
                              i.balloon_fen, i.balance_after_fen) for i in installments)


def _row(conn: Connection, table: Any, key: Any) -> Any:
    row = conn.execute(select(table).where(table.c.id == key)).mappings().one_or_none()
    if row is None:
        raise NotFound(f"{table.name} {key} does not exist")
    return row


def _existing(conn: Connection, doc_id: str) -> IssuedDocument | None:
    row = conn.execute(select(contract_documents).where(contract_documents.c.id == doc_id)
                       ).mappings().one_or_none()
    return None if row is None else _issued(row)


def _store_and_record(
    uow: UnitOfWork, store: DocumentStore, document: ContractDocument, reason: str
) -> IssuedDocument:
    pdf = render_pdf(document)
    key = storage_key(document.loan_id, document.kind, document.version)
    store.put(key, pdf, PDF_CONTENT_TYPE)
    digest = hashlib.sha256(pdf).hexdigest()
    issued = IssuedDocument(document.document_id, document.loan_id, document.kind.value,
                            document.version, document.language.value, digest, len(pdf), key,
                            document.clause_ids, reason)
    uow.connection.execute(insert(contract_documents).values(
        id=issued.document_id, loan_id=issued.loan_id, kind=issued.kind,
        version=issued.version, language=issued.language, template=document.template,
        reason=reason, clauses=json.dumps(list(issued.clauses)), sha256=digest,
        size_bytes=len(pdf), storage_key=key, recorded_at=uow.clock.now(),
    ))
    detail = {"document": issued.document_id, "sha256": digest, "kind": issued.kind,
              "version": issued.version, "reason": reason}
    uow.audit("contract.issue", "loan", issued.loan_id, detail)
    uow.emit("ContractDocumentIssued", issued.loan_id, detail | {"loan_id": issued.loan_id},
             None)
    return issued


def _account(platform: Platform, uow: UnitOfWork, loan_id: str) -> tuple[LoanAccount, Any]:
    repo = LoanRepository(uow.connection, platform.calendar_for)
    account = repo.get(loan_id)
    record = repo.record(loan_id)
    if account is None or record is None:
        raise NotFound(f"loan {loan_id} does not exist")
    return account, record


def issue_contract(
    platform: Platform, actor: str, loan_id: str, *, store: DocumentStore | None = None,
    language: str | None = None,
) -> IssuedDocument:
    """The loan contract (document version 1) of a booked loan; returns the existing one if it
    was issued before."""
    lang = _language(platform.settings, language)
    doc_id = document_id(loan_id, DocumentKind.CONTRACT, 1)
    store = store or document_store_from_settings(platform.settings)
    with platform.uow(actor) as uow:
        conn = uow.connection
        existing = _existing(conn, doc_id)
        if existing is not None:
            return existing
        account, record = _account(platform, uow, loan_id)
        pii = PersonalData(uow, FieldCipher.from_settings(platform.settings))
        reason = f"loan contract {doc_id}"
        borrower = _party(pii, record.borrower_id, reason, doc_id)
        guarantor = (_party(pii, record.guarantor_id, reason, doc_id)
                     if record.guarantor_id else None)
        borrower_row = _row(conn, tables.parties, record.borrower_id)
        vehicle = _row(conn, tables.vehicles, record.vehicle_id) if record.vehicle_id else None
        if vehicle is None:
            raise NotFound(f"loan {loan_id} has no vehicle to mortgage")
        dealer = _row(conn, tables.dealers, record.dealer_id) if record.dealer_id else None
        terms = account.terms
        product = terms.product
        schedule = account.schedules[0]
        cross = is_cross_region(platform.settings.lender_seat, [
            borrower_row["id_region_code"], borrower_row["residence_region_code"]])
        facts = ContractFacts(
            loan_id=loan_id, signing_date=terms.disbursement_date,
            lender=_lender(conn, platform.settings), borrower=borrower, guarantor=guarantor,
            dealer_name=dealer["name"] if dealer is not None else "",
            vehicle=VehicleFacts(
                vehicle["vin"], vehicle["condition"], vehicle["energy"],
                int(vehicle["price_fen"]), vehicle["registration_office"] or "",
                _region_name(conn, vehicle["registration_region_code"])),
            product_name=product.name, principal_fen=terms.principal_fen,
            financed_fees_fen=terms.financed_fees_fen, upfront_fees_fen=terms.upfront_fees_fen,
            annual_rate=terms.annual_rate, annualised_rate=terms.annualised_rate(),
            term_months=terms.term_months, day_count_days=product.day_count.year_days,
            schedule=_lines(schedule.installments),
            maturity=MaturityFacts(
                product.maturity.refinance_term_months_min,
                product.maturity.refinance_term_months_max,
                extension_cap_months(account), product.maturity.allows_vehicle_return,
                guarantor is not None),
            penalty_multiplier=product.penalty_multiplier, grace_days=product.grace_days,
            forum=choose_forum(dispute_policy(platform.settings), cross), cross_region=cross,
            gps_device=any(f.kind is FeeKind.GPS_DEVICE for f in product.fees),
        )
        issued = _store_and_record(uow, store, build_contract(facts, lang), CONTRACT_REASON)
        uow.commit()
        return issued


def loans_without_contract(platform: Platform, limit: int | None = None) -> list[str]:
    """Booked loans with no contract document yet, in loan-id order."""
    ln, docs = tables.loans, contract_documents
    query = (select(ln.c.id).where(~select(docs.c.id).where(
        docs.c.loan_id == ln.c.id, docs.c.kind == DocumentKind.CONTRACT.value).exists())
        .order_by(ln.c.id))
    if limit is not None:
        query = query.limit(limit)
    with platform.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def issue_missing_contracts(
    platform: Platform, actor: str, limit: int | None = None, *,
    store: DocumentStore | None = None,
) -> list[IssuedDocument]:
    """The deferred half of a batch booking (`booking.book_applications(...,
    issue_contracts=False)`): issue the contract of every loan still without one, each in its
    own unit of work as at booking, so a crash half-way loses nothing and the next run goes on
    where this one stopped. The contract states the booking's facts (first schedule, signing
    date, terms), so it is the one booking would have issued, unless the borrower's name,
    phone or address changed in between: the document shows them as they are on issue."""
    store = store or document_store_from_settings(platform.settings)
    return [issue_contract(platform, actor, loan_id, store=store)
            for loan_id in loans_without_contract(platform, limit)]


def issue_addendum(
    platform: Platform, actor: str, loan_id: str, reason: str, *,
    detail: tuple[tuple[str, int], ...] = (), store: DocumentStore | None = None,
    language: str | None = None,
) -> IssuedDocument:
    """A supplementary agreement for the schedule version now in force (after a restructure,
    refinance, extension, trade-in or vehicle return). A loan booked before contracts were
    issued gets its contract first, from its original terms and schedule."""
    if reason not in ADDENDUM_REASONS:
        raise InvalidInput.one("reason", "unknown", f"must be one of {', '.join(ADDENDUM_REASONS)}")
    lang = _language(platform.settings, language)
    store = store or document_store_from_settings(platform.settings)
    issue_contract(platform, actor, loan_id, store=store, language=language)
    with platform.uow(actor) as uow:
        conn = uow.connection
        account, record = _account(platform, uow, loan_id)
        versions = conn.execute(select(func.max(contract_documents.c.version)).where(
            contract_documents.c.loan_id == loan_id)).scalar_one()
        if not versions:
            raise NotFound(f"loan {loan_id} has no contract to amend (issue it first)")
        version = int(versions) + 1
        doc_id = document_id(loan_id, DocumentKind.ADDENDUM, version)
        pii = PersonalData(uow, FieldCipher.from_settings(platform.settings))
        why = f"contract addendum {doc_id}"
        borrower = _party(pii, record.borrower_id, why, doc_id)
        guarantor = _party(pii, record.guarantor_id, why, doc_id) if record.guarantor_id else None
        borrower_row = _row(conn, tables.parties, record.borrower_id)
        cross = is_cross_region(platform.settings.lender_seat, [
            borrower_row["id_region_code"], borrower_row["residence_region_code"]])
        schedule = account.schedule
        previous = account.schedules[-2] if len(account.schedules) > 1 else schedule
        effective: date | None = schedule.effective_date
        outstanding = [i for i in schedule.installments
                       if effective is None or i.due_date >= effective]
        facts = AddendumFacts(
            loan_id=loan_id, version=version,
            base_document_id=document_id(loan_id, DocumentKind.CONTRACT, 1),
            signing_date=effective or platform.today(), reason=reason,
            lender=_lender(conn, platform.settings), borrower=borrower, guarantor=guarantor,
            annual_rate=account.annual_rate, previous_balloon_fen=previous.balloon_fen,
            outstanding_schedule=_lines(outstanding or list(schedule.installments[-1:])),
            extended_months_total=account.extended_months,
            extension_cap_months=extension_cap_months(account),
            penalty_multiplier=account.product.penalty_multiplier,
            day_count_days=account.product.day_count.year_days,
            forum=choose_forum(dispute_policy(platform.settings), cross), detail=detail,
        )
        issued = _store_and_record(uow, store, build_addendum(facts, lang), reason)
        uow.commit()
        return issued


def documents_of(platform: Platform, loan_id: str) -> list[IssuedDocument]:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(contract_documents)
                            .where(contract_documents.c.loan_id == loan_id)
                            .order_by(contract_documents.c.version)).mappings().all()
    return [_issued(r) for r in rows]


def document_bytes(
    platform: Platform, actor: str, loan_id: str, version: int | None = None, *,
    store: DocumentStore | None = None,
) -> tuple[IssuedDocument, bytes]:
    """A stored document (the latest version unless one is named), read back from the store;
    the read is audited (the PDF names the borrower in full)."""
    docs = documents_of(platform, loan_id)
    chosen = [d for d in docs if version is None or d.version == version]
    if not chosen:
        raise NotFound(f"loan {loan_id} has no contract document"
                       + (f" version {version}" if version else ""))
    issued = chosen[-1]
    store = store or document_store_from_settings(platform.settings)
    data = store.get(issued.storage_key)
    with platform.uow(actor) as uow:
        uow.audit("contract.read", "loan", loan_id, {"document": issued.document_id})
        uow.commit()
    return issued, data
