"""Disposal of a repossessed vehicle: storage, appraisal and sale, with the proceeds booked.

The rules (order of the steps, the sale's arithmetic, how the proceeds settle the loan) are in
`recovery/disposal.py`. This module writes them:

- storage is recorded against the loan whose repossession was carried out (`recovery_legal`
  step `repossessed`), so there is no storage, appraisal or sale of a vehicle that was not
  taken back with a manager's approval;
- the appraisal keeps its report in the document store (write-once, under
  `recovery/disposals/{id}/…`);
- the sale is a money command with an idempotency key. In one unit of work it applies the
  net proceeds to the loan through the servicing waterfall (`servicing.apply_change_in`: the
  proceeds flows of `ledger/flows.py` move the debt from the receivables to "collateral
  held"), then books the cash: Dr cash (net proceeds), Cr collateral held (what settled the
  debt), Cr payable to borrower (the surplus). Collateral held is back to zero for the loan
  and the entry balances by construction. A shortfall stays owed, due at once; on request a
  write-off of it is proposed to maker-checker (`recovery_legal.propose_write_off`) after the
  sale has committed.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.db import idempotency, tables
from tailguard.infra.db import ledger_repository as ledger
from tailguard.infra.db.tables_recovery import recovery_disposals, recovery_legal
from tailguard.infra.document_store import DocumentStore, document_store_from_settings
from tailguard.ledger.flows import BORROWER_PAYABLE, CASH, COLLATERAL_HELD
from tailguard.loans.account import LoanAccount
from tailguard.money import yuan
from tailguard.recovery import disposal as rules
from tailguard.recovery.vocabulary import LegalStep
from tailguard.services import recovery_legal as legal_service
from tailguard.services.contacts import Actor
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import add_event, case_row
from tailguard.services.servicing import apply_change_in

DOCUMENT_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
SALE_COMMAND = "vehicle_sale"


def _repossessed_loan(conn: Connection, case_id: int) -> str:
    """The loan whose vehicle was repossessed on this case, or NOT_REPOSSESSED."""
    lg = recovery_legal.c
    loan_id = conn.execute(select(lg.loan_id).where(
        lg.case_id == case_id, lg.step == LegalStep.REPOSSESSED.value)
        .order_by(lg.id.desc()).limit(1)).scalar_one_or_none()
    if loan_id is None:
        raise Refused("NOT_REPOSSESSED", "no repossession was recorded on this case")
    return str(loan_id)


def _disposal(conn: Connection, case_id: int, for_update: bool = False) -> dict[str, Any] | None:
    query = select(recovery_disposals).where(recovery_disposals.c.case_id == case_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query.order_by(recovery_disposals.c.id.desc())).mappings().first()
    return None if row is None else dict(row)


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) and k != "recorded_at" else v)
            for k, v in row.items() if k != "recorded_at"}


def record_storage(platform: Platform, actor: Actor, case_id: int, location: str,
                   daily_fee_fen: int = 0) -> dict[str, Any]:
    """Where the repossessed vehicle is kept and what storage costs a day; a move updates it
    (the fee then applies from the day the vehicle came in)."""
    rules.check_storage(location, daily_fee_fen)
    today = platform.today()
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        case_row(conn, case_id, actor, for_update=True)
        loan_id = _repossessed_loan(conn, case_id)
        row = _disposal(conn, case_id, for_update=True)
        now = uow.clock.now()
        if row is None:
            stored_on = conn.execute(select(recovery_legal.c.on_date).where(
                recovery_legal.c.case_id == case_id,
                recovery_legal.c.step == LegalStep.REPOSSESSED.value)
                .order_by(recovery_legal.c.id.desc()).limit(1)).scalar_one()
            disposal_id = int(conn.execute(insert(recovery_disposals).values(
                case_id=case_id, loan_id=loan_id, status=rules.STORED,
                storage_location=location, storage_daily_fee_fen=daily_fee_fen,
                stored_on=stored_on, actor=actor.name, recorded_at=now)
                .returning(recovery_disposals.c.id)).scalar_one())
        else:
            if row["status"] == rules.SOLD:
                raise Refused("ALREADY_SOLD", "the vehicle is sold")
            disposal_id = int(row["id"])
            conn.execute(update(recovery_disposals).where(recovery_disposals.c.id == disposal_id)
                         .values(storage_location=location,
                                 storage_daily_fee_fen=daily_fee_fen))
        add_event(conn, case_id, "vehicle-stored", today, actor.name, now,
                  {"disposal_id": disposal_id, "location": location,
                   "daily_fee_fen": daily_fee_fen}, loan_id)
        uow.audit("recovery.vehicle.storage", "case", str(case_id),
                  {"disposal_id": disposal_id, "location": location,
                   "daily_fee_fen": daily_fee_fen})
        uow.commit()
    return describe(platform, actor, case_id)


def record_appraisal(platform: Platform, actor: Actor, case_id: int, value_fen: int,
                     appraiser: str, appraised_on: date,
                     document: tuple[bytes, str] | None = None,
                     store: DocumentStore | None = None) -> dict[str, Any]:
    """The appraised value, by whom and when, with the report kept in the document store."""
    if document is not None:
        data, content_type = document
        if content_type not in DOCUMENT_TYPES:
            raise InvalidInput.one("document", "type", "a PDF, JPEG or PNG file")
        if not data or len(data) > MAX_DOCUMENT_BYTES:
            raise InvalidInput.one("document", "size", "1 byte to 10 MB")
    today = platform.today()
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        case_row(conn, case_id, actor, for_update=True)
        row = _disposal(conn, case_id, for_update=True)
        if row is None:
            raise Refused("NOT_STORED", "record the repossessed vehicle's storage first")
        rules.check_appraisal(row["status"], value_fen, appraiser, appraised_on,
                              row["stored_on"], today)
        key = None
        if document is not None:
            data, content_type = document
            digest = hashlib.sha256(data).hexdigest()[:16]
            key = (f"recovery/disposals/{row['id']}/appraisal-{digest}."
                   f"{DOCUMENT_TYPES[content_type]}")
            (store or document_store_from_settings(platform.settings)).put(
                key, data, content_type)
        conn.execute(update(recovery_disposals).where(recovery_disposals.c.id == row["id"])
                     .values(status=rules.APPRAISED, appraised_value_fen=value_fen,
                             appraiser=appraiser, appraised_on=appraised_on,
                             appraisal_document=key))
        detail = {"disposal_id": row["id"], "appraised_value_fen": value_fen,
                  "appraiser": appraiser, "appraised_on": appraised_on, "document": key}
        add_event(conn, case_id, "vehicle-appraised", today, actor.name, uow.clock.now(),
                  detail, row["loan_id"])
        uow.audit("recovery.vehicle.appraisal", "case", str(case_id), detail)
        uow.commit()
    return describe(platform, actor, case_id)


def sell(platform: Platform, actor: Actor, case_id: int, buyer: str, price_fen: int,
         fees_fen: int, idempotency_key: str, *, propose_write_off: bool = False,
         write_off_reason: str | None = None) -> dict[str, Any]:
    """Sell the appraised vehicle once and apply the net proceeds through the ledger."""
    if not buyer or len(buyer) > 120:
        raise InvalidInput.one("buyer", "invalid", "who bought it, 1-120 characters")
    if not idempotency_key or len(idempotency_key) > 120:
        raise InvalidInput.one("idempotency_key", "invalid", "1 to 120 characters")
    digest = idempotency.payload_hash(SALE_COMMAND, {
        "case_id": case_id, "buyer": buyer, "price_fen": price_fen, "fees_fen": fees_fen})
    today = platform.today()
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        case_row(conn, case_id, actor, for_update=True)
        stored = idempotency.lookup(conn, idempotency_key, SALE_COMMAND, digest)
        if stored is not None:
            return stored.outcome | {"replayed": True}
        row = _disposal(conn, case_id, for_update=True)
        if row is None:
            _repossessed_loan(conn, case_id)  # NOT_REPOSSESSED when there was none
        rules.check_sale_order(None if row is None else row["status"])
        assert row is not None
        loan_id = str(row["loan_id"])
        status = conn.execute(select(tables.loans.c.status)
                              .where(tables.loans.c.id == loan_id)).scalar_one()
        if status == "written-off":
            # Its receivables were moved to the write-off expense: proceeds now are a
            # recovery of a written-off debt, which this flow does not book.
            raise Refused("LOAN_WRITTEN_OFF", f"loan {loan_id} is written off")
        storage = rules.storage_fees_fen(int(row["storage_daily_fee_fen"]), row["stored_on"],
                                         today)
        proceeds_id = f"sale-{row['id']}"
        planned: list[rules.SalePlan] = []

        def change(account: LoanAccount) -> LoanAccount:
            plan = rules.plan_sale(account, today, price_fen, fees_fen, storage, proceeds_id)
            planned.append(plan)
            return plan.account

        position = apply_change_in(platform, uow, loan_id, change, "loan.vehicle-sale", {
            "case_id": case_id, "buyer": buyer, "price": yuan(price_fen)})
        (plan,) = planned
        figures = plan.figures
        now = uow.clock.now()
        if figures.net_fen:
            legs = [ledger.Leg(CASH, figures.net_fen, loan_id)]
            if figures.applied_fen:
                legs.append(ledger.Leg(COLLATERAL_HELD, -figures.applied_fen, loan_id))
            if figures.surplus_fen:
                legs.append(ledger.Leg(BORROWER_PAYABLE, -figures.surplus_fen, loan_id))
            ledger.post_entry(
                conn, entry_id=f"{loan_id}:{proceeds_id}:cash", value_date=today,
                reason_code="VEHICLE_SALE", reference_type="loan", reference_id=loan_id,
                legs=legs, recorded_at=now,
                memo=f"price {yuan(price_fen)}, fees {yuan(fees_fen)}, storage {yuan(storage)}")
        conn.execute(update(recovery_disposals).where(recovery_disposals.c.id == row["id"])
                     .values(status=rules.SOLD, buyer=buyer, sale_price_fen=price_fen,
                             sale_fees_fen=fees_fen, storage_fees_fen=storage, sold_on=today,
                             applied_fen=figures.applied_fen, surplus_fen=figures.surplus_fen,
                             shortfall_fen=figures.shortfall_fen,
                             proceeds_id=proceeds_id if plan.proceeds else None))
        outcome = {
            "case_id": case_id, "loan_id": loan_id, "disposal_id": row["id"], "buyer": buyer,
            "sold_on": today.isoformat(), "price_fen": price_fen, "fees_fen": fees_fen,
            "storage_fees_fen": storage, "net_fen": figures.net_fen,
            "owed_fen": figures.owed_fen, "applied_fen": figures.applied_fen,
            "applied": rules.applied_split(position, proceeds_id),
            "surplus_fen": figures.surplus_fen, "shortfall_fen": figures.shortfall_fen,
            "paid_off": position.paid_off, "dpd": position.dpd,
            "appraised_value_fen": row["appraised_value_fen"],
        }
        add_event(conn, case_id, "vehicle-sold", today, actor.name, now, outcome, loan_id)
        idempotency.save(conn, idempotency_key, SALE_COMMAND, digest, 201, outcome, now)
        uow.audit("recovery.vehicle.sale", "case", str(case_id), outcome)
        uow.emit("VehicleSold", loan_id, outcome, today)
        if figures.surplus_fen:
            uow.emit("VehicleSurplusOwed", loan_id, {
                "loan_id": loan_id, "surplus_fen": figures.surplus_fen, "option": "sale"}, today)
        uow.commit()
    if propose_write_off and figures.shortfall_fen:
        proposal = legal_service.propose_write_off(
            platform, actor, case_id, loan_id,
            write_off_reason or f"shortfall {yuan(figures.shortfall_fen)} after the sale")
        with platform.uow(actor.name) as uow:
            uow.connection.execute(update(recovery_disposals)
                                   .where(recovery_disposals.c.id == row["id"])
                                   .values(write_off_approval_id=proposal["approval_id"]))
            uow.commit()
        outcome = outcome | {"write_off_approval_id": proposal["approval_id"]}
    return outcome


def describe(platform: Platform, actor: Actor, case_id: int) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        case_row(conn, case_id, actor)
        row = _disposal(conn, case_id)
    if row is None:
        raise NotFound(f"no vehicle disposal on case {case_id}")
    return _view(row)


__all__ = ["describe", "record_appraisal", "record_storage", "sell"]
