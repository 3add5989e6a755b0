"""Legal steps and repossession on a case, and write-off proposals.

- A demand letter (lawyer's letter) is recorded as a legal step and counts as a contact: it
  goes through the conduct guard as a letter.
- Litigation or arbitration: the venue comes from `recovery/legal.py` (arbitration clause,
  where the vehicle is, where the mortgage was registered, the agreed court, the borrower's
  domicile); judgment and enforcement are recorded against the filing.
- Repossession: asked for only after the earlier steps (calls, a field visit, a lawyer's
  letter) and from 60 days past due; approved by a manager (a team lead other than the one who
  asked); carried out only once approved.
- A write-off goes through maker-checker (`services/approvals.py`); the end of day closes the
  case once the loan is written off.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, insert, select

from tailguard.engagement.vocabulary import Channel, Outcome, Party, Purpose
from tailguard.errors import InvalidInput, Refused
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import contact_log
from tailguard.infra.db.tables_recovery import recovery_legal, recovery_visits
from tailguard.recovery import legal as rules
from tailguard.recovery.vocabulary import LegalStep
from tailguard.services import approvals, contacts
from tailguard.services.contacts import Actor, ContactCommand
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import add_event, case_loans, case_row

MANAGER_ROLES = ("team-lead",)


def _insert(conn: Connection, case_id: int, step: LegalStep, actor: str, today: Any, now: Any,
            loan_id: str | None = None, venue: rules.Venue | None = None,
            detail: Any = None) -> int:
    return int(conn.execute(insert(recovery_legal).values(
        case_id=case_id, loan_id=loan_id, step=step.value,
        venue_kind=None if venue is None else venue.kind,
        venue=None if venue is None else venue.place,
        venue_basis=None if venue is None else venue.basis,
        detail=None if detail is None else json.dumps(detail, default=str, ensure_ascii=False),
        on_date=today, actor=actor, recorded_at=now).returning(recovery_legal.c.id)
    ).scalar_one())


def _steps(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(recovery_legal)
                                          .where(recovery_legal.c.case_id == case_id)
                                          .order_by(recovery_legal.c.id)).mappings()]


def demand_letter(platform: Platform, actor: Actor, case_id: int,
                  law_firm: str | None = None) -> dict[str, Any]:
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        row = case_row(conn, case_id, actor, for_update=True)
        if row["status"] != "open":
            raise Refused("CASE_CLOSED", f"case {case_id} is closed")
        loans = case_loans(conn, case_id)
        result = contacts.decide_in(uow, platform, actor, ContactCommand(
            Channel.LETTER, Purpose.COLLECTION, Party.DEBTOR,
            loan_id=loans[0] if loans else None,
            borrower_id=None if loans else row["borrower_id"]), Outcome.SENT)
        if not result.decision.allowed:
            uow.commit()  # the block is logged; the letter is not sent
            raise Refused("CONTACT_BLOCKED", f"the conduct guard blocks the letter: "
                                             f"{result.decision.reason.value}")
        step_id = _insert(conn, case_id, LegalStep.DEMAND_LETTER, actor.name, platform.today(),
                          uow.clock.now(), detail={"law_firm": law_firm,
                                                   "contact_id": result.contact_id})
        add_event(conn, case_id, "lawyer-letter", platform.today(), actor.name, uow.clock.now(),
                  {"legal_id": step_id, "law_firm": law_firm})
        uow.audit("recovery.legal.letter", "case", str(case_id), {"legal_id": step_id})
        uow.commit()
    return {"legal_id": step_id, "case_id": case_id, "step": LegalStep.DEMAND_LETTER.value}


def file_claim(platform: Platform, actor: Actor, case_id: int, loan_id: str,
               proceeding: str, *, arbitration_commission: str | None = None,
               agreed_court_region: str | None = None,
               vehicle_region: str | None = None) -> dict[str, Any]:
    """Litigation or arbitration, after a demand letter, at the venue the rules choose."""
    today = platform.today()
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        row = case_row(conn, case_id, actor, for_update=True)
        if row["status"] != "open":
            raise Refused("CASE_CLOSED", f"case {case_id} is closed")
        if loan_id not in case_loans(conn, case_id):
            raise InvalidInput.one("loan_id", "not_in_case", f"loan {loan_id} is not in it")
        if not any(s["step"] == LegalStep.DEMAND_LETTER.value for s in _steps(conn, case_id)):
            raise Refused("EARLIER_STEPS_MISSING", "a demand letter comes before a claim")
        places = conn.execute(
            select(tables.vehicles.c.registration_region_code,
                   tables.parties.c.residence_region_code, tables.parties.c.id_region_code)
            .select_from(tables.loans
                         .outerjoin(tables.vehicles,
                                    tables.vehicles.c.id == tables.loans.c.vehicle_id)
                         .join(tables.parties, tables.parties.c.id == tables.loans.c.borrower_id))
            .where(tables.loans.c.id == loan_id)).one()
        venue = rules.choose_venue(
            proceeding, arbitration_commission=arbitration_commission,
            agreed_court_region=agreed_court_region, vehicle_region=vehicle_region,
            registration_region=places.registration_region_code,
            borrower_domicile_region=places.residence_region_code or places.id_region_code)
        step = LegalStep.ARBITRATION if venue.kind == "arbitration" else LegalStep.LITIGATION
        step_id = _insert(conn, case_id, step, actor.name, today, uow.clock.now(), loan_id,
                          venue, {"proceeding": proceeding})
        add_event(conn, case_id, step.value, today, actor.name, uow.clock.now(),
                  {"legal_id": step_id, "venue": venue.place, "basis": venue.basis}, loan_id)
        uow.audit(f"recovery.legal.{step.value}", "case", str(case_id),
                  {"legal_id": step_id, "venue": venue.place, "basis": venue.basis})
        uow.commit()
    return {"legal_id": step_id, "case_id": case_id, "step": step.value,
            "venue_kind": venue.kind, "venue": venue.place, "basis": venue.basis}


def record_outcome(platform: Platform, actor: Actor, case_id: int, step: str,
                   detail: dict[str, Any]) -> dict[str, Any]:
    """A judgment or an enforcement, after a claim was filed."""
    if step not in (LegalStep.JUDGMENT.value, LegalStep.ENFORCEMENT.value):
        raise InvalidInput.one("step", "invalid", "judgment or enforcement")
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        case_row(conn, case_id, actor, for_update=True)
        filed = {s["step"] for s in _steps(conn, case_id)}
        if not filed & {LegalStep.LITIGATION.value, LegalStep.ARBITRATION.value}:
            raise Refused("EARLIER_STEPS_MISSING", "no claim was filed on this case")
        if step == LegalStep.ENFORCEMENT.value and LegalStep.JUDGMENT.value not in filed:
            raise Refused("EARLIER_STEPS_MISSING", "enforcement follows a judgment or award")
        step_id = _insert(conn, case_id, LegalStep(step), actor.name, platform.today(),
                          uow.clock.now(), detail=detail)
        add_event(conn, case_id, step, platform.today(), actor.name, uow.clock.now(),
                  {"legal_id": step_id, **detail})
        uow.audit(f"recovery.legal.{step}", "case", str(case_id), {"legal_id": step_id})
        uow.commit()
    return {"legal_id": step_id, "case_id": case_id, "step": step}


def _done_steps(conn: Connection, case_id: int, borrower_id: str) -> set[str]:
    """What was done on the case: calls made, visits made, letters sent."""
    done: set[str] = set()
    calls = conn.execute(select(func.count()).select_from(contact_log).where(
        contact_log.c.borrower_id == borrower_id, contact_log.c.channel == "call",
        contact_log.c.decision == "allow",
        contact_log.c.outcome.in_(("connected", "no-answer", "invalid-number", "refused")))
    ).scalar_one()
    if calls:
        done.add("call")
    visits = conn.execute(select(func.count()).select_from(recovery_visits).where(
        recovery_visits.c.case_id == case_id, recovery_visits.c.status != "planned")
    ).scalar_one()
    if visits:
        done.add("field-visit")
    if any(s["step"] == LegalStep.DEMAND_LETTER.value for s in _steps(conn, case_id)):
        done.add("lawyer-letter")
    return done


def request_repossession(platform: Platform, actor: Actor, case_id: int, loan_id: str,
                         reason: str) -> dict[str, Any]:
    """Ask to repossess the vehicle; refused before the earlier steps."""
    today = platform.today()
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        row = case_row(conn, case_id, actor, for_update=True)
        if row["status"] != "open":
            raise Refused("CASE_CLOSED", f"case {case_id} is closed")
        if loan_id not in case_loans(conn, case_id):
            raise InvalidInput.one("loan_id", "not_in_case", f"loan {loan_id} is not in it")
        dpd = conn.execute(select(tables.loan_state.c.dpd)
                           .where(tables.loan_state.c.loan_id == loan_id)).scalar_one_or_none()
        rules.check_repossession_request(_done_steps(conn, case_id, row["borrower_id"]),
                                         int(dpd or 0))
        step_id = _insert(conn, case_id, LegalStep.REPOSSESSION_REQUEST, actor.name, today,
                          uow.clock.now(), loan_id, detail={"reason": reason})
        add_event(conn, case_id, "repossession-requested", today, actor.name, uow.clock.now(),
                  {"legal_id": step_id, "reason": reason}, loan_id)
        uow.audit("recovery.repossession.request", "case", str(case_id), {"legal_id": step_id})
        uow.commit()
    return {"legal_id": step_id, "case_id": case_id, "status": "requested"}


def _pending_request(conn: Connection, case_id: int) -> dict[str, Any] | None:
    steps = _steps(conn, case_id)
    last = None
    for s in steps:
        if s["step"] in (LegalStep.REPOSSESSION_REQUEST.value,
                         LegalStep.REPOSSESSION_APPROVED.value,
                         LegalStep.REPOSSESSION_REJECTED.value, LegalStep.REPOSSESSED.value):
            last = s
    return last


def decide_repossession(platform: Platform, actor: Actor, case_id: int,
                        approve: bool) -> dict[str, Any]:
    """A manager approves or rejects the pending repossession request."""
    today = platform.today()
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        case_row(conn, case_id, actor, for_update=True)
        last = _pending_request(conn, case_id)
        if last is None or last["step"] != LegalStep.REPOSSESSION_REQUEST.value:
            raise Refused("NO_REQUEST", "no repossession request is waiting on this case")
        rules.check_approval(last["actor"], actor.name, actor.role in MANAGER_ROLES)
        step = LegalStep.REPOSSESSION_APPROVED if approve else LegalStep.REPOSSESSION_REJECTED
        step_id = _insert(conn, case_id, step, actor.name, today, uow.clock.now(),
                          last["loan_id"], detail={"request": last["id"]})
        add_event(conn, case_id, step.value, today, actor.name, uow.clock.now(),
                  {"legal_id": step_id, "request": last["id"]}, last["loan_id"])
        uow.audit(f"recovery.{step.value}", "case", str(case_id),
                  {"legal_id": step_id, "requested_by": last["actor"]})
        uow.commit()
    return {"legal_id": step_id, "case_id": case_id, "status": step.value}


def repossess(platform: Platform, actor: Actor, case_id: int, storage: str,
              partner_id: str | None = None) -> dict[str, Any]:
    """Record the vehicle taken into storage: only with an approved request."""
    if not storage or len(storage) > 200:
        raise InvalidInput.one("storage", "invalid", "where the vehicle is kept")
    today = platform.today()
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        case_row(conn, case_id, actor, for_update=True)
        last = _pending_request(conn, case_id)
        if last is None or last["step"] != LegalStep.REPOSSESSION_APPROVED.value:
            raise Refused("NOT_APPROVED",
                          "repossession needs an approved request (a manager's approval)")
        step_id = _insert(conn, case_id, LegalStep.REPOSSESSED, actor.name, today,
                          uow.clock.now(), last["loan_id"],
                          detail={"storage": storage, "partner_id": partner_id})
        add_event(conn, case_id, "repossessed", today, actor.name, uow.clock.now(),
                  {"legal_id": step_id, "storage": storage}, last["loan_id"])
        uow.audit("recovery.repossessed", "case", str(case_id), {"legal_id": step_id})
        uow.emit("VehicleRepossessed", last["loan_id"],
                 {"case_id": case_id, "loan_id": last["loan_id"], "storage": storage}, today)
        uow.commit()
    return {"legal_id": step_id, "case_id": case_id, "status": "repossessed"}


def propose_write_off(platform: Platform, actor: Actor, case_id: int, loan_id: str,
                      reason: str) -> dict[str, Any]:
    """A write-off proposal: a maker-checker approval; the checker's approval writes off."""
    if not reason or len(reason) > 200:
        raise InvalidInput.one("reason", "invalid", "say why, in at most 200 characters")
    with platform.engine.connect() as conn:
        row = case_row(conn, case_id, actor)
        if loan_id not in case_loans(conn, case_id):
            raise InvalidInput.one("loan_id", "not_in_case", f"loan {loan_id} is not in it")
    if row["status"] != "open":
        raise Refused("CASE_CLOSED", f"case {case_id} is closed")
    approval = approvals.request_approval(platform, actor.name, "write-off", loan_id,
                                          {"case_id": case_id, "reason": reason})
    with platform.uow(actor.name) as uow:
        add_event(uow.connection, case_id, "write-off-proposed", platform.today(), actor.name,
                  uow.clock.now(), {"approval_id": approval.approval_id, "reason": reason},
                  loan_id)
        uow.commit()
    return {"case_id": case_id, "approval_id": approval.approval_id, "status": approval.status}


__all__ = ["decide_repossession", "demand_letter", "file_claim", "propose_write_off",
           "record_outcome", "repossess", "request_repossession"]
