"""Maker-checker: sensitive actions take effect only when a second person approves them.

Waivers, write-offs, restructures and balloon refinancing or extension change what a borrower
owes. One person proposes (the maker); a different person approves (the checker), and only then
does the action run, in the checker's transaction, with both names in the audit trail.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from tailguard.engagement.offers import plan_arrears, plan_deferral
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.db import ledger_repository as ledger
from tailguard.infra.db import tables
from tailguard.infra.db.uow import UnitOfWork, to_json
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import ChargeWaived, Component
from tailguard.loans.maturity import plan_extension, plan_refinance
from tailguard.loans.restructure import apply_restructure, plan_restructure
from tailguard.services import contract_documents
from tailguard.services.platform import Platform
from tailguard.services.servicing import apply_change_in, repository

WRITE_OFF_EXPENSE = "6701.write-off"
ACTIONS = ("waive", "write-off", "restructure", "refinance", "extend", "defer", "arrears-plan")
"""`defer` and `arrears-plan` apply the offer rules of engagement/offers.py (a deferral, the
arrears spread over the instalments ahead with the balloon kept) once a checker approves."""
ADDENDUM_REASON = {"defer": "extend", "arrears-plan": "restructure"}


@dataclass(frozen=True)
class Approval:
    approval_id: str
    action: str
    loan_id: str
    payload: dict[str, Any]
    maker: str
    checker: str | None
    status: str


def _validate(action: str, payload: dict[str, Any]) -> None:
    if action not in ACTIONS:
        raise InvalidInput.one("action", "unknown", f"must be one of {', '.join(ACTIONS)}")
    if action == "waive":
        if payload.get("component") not in ("penalty", "interest", "fee"):
            raise InvalidInput.one("component", "unknown", "must be penalty, interest or fee")
        if not isinstance(payload.get("amount_fen"), int) or payload["amount_fen"] <= 0:
            raise InvalidInput.one("amount", "not_positive", "must be more than zero")
    if action in ("restructure", "refinance", "extend", "defer"):
        months = payload.get("months")
        if not isinstance(months, int) or months < 1:
            raise InvalidInput.one("months", "not_positive", "must be a whole number of months")


def request_approval(
    platform: Platform, maker: str, action: str, loan_id: str, payload: dict[str, Any]
) -> Approval:
    """Propose an action. The same maker proposing the same action with the same payload for
    the same loan while the first proposal is still pending gets that proposal back (a
    double-click or a retried request must not give the checker two to approve, which could
    apply a waiver twice)."""
    _validate(action, payload)
    with platform.uow(maker) as uow:
        if repository(platform, uow).record(loan_id) is None:
            raise NotFound(f"loan {loan_id} does not exist")
        pending = uow.connection.execute(
            select(tables.approvals.c.id).where(
                tables.approvals.c.loan_id == loan_id, tables.approvals.c.action == action,
                tables.approvals.c.maker == maker, tables.approvals.c.status == "pending",
                tables.approvals.c.payload == to_json(payload))
            .order_by(tables.approvals.c.recorded_at).limit(1)).scalar_one_or_none()
        if pending is not None:
            return Approval(str(pending), action, loan_id, payload, maker, None, "pending")
        approval_id = "apr-" + uuid.uuid4().hex[:20]
        uow.connection.execute(insert(tables.approvals).values(
            id=approval_id, action=action, loan_id=loan_id, payload=to_json(payload),
            maker=maker, checker=None, status="pending", recorded_at=uow.clock.now(),
        ))
        uow.audit("approval.request", "loan", loan_id, {"approval": approval_id,
                                                         "action": action} | payload)
        uow.commit()
    return Approval(approval_id, action, loan_id, payload, maker, None, "pending")


def get_approval(platform: Platform, approval_id: str) -> Approval:
    with platform.uow() as uow:
        row = uow.connection.execute(
            select(tables.approvals).where(tables.approvals.c.id == approval_id)
        ).mappings().one_or_none()
    if row is None:
        raise NotFound(f"approval {approval_id} does not exist")
    return Approval(row["id"], row["action"], row["loan_id"], json.loads(row["payload"]),
                    row["maker"], row["checker"], row["status"])


def _change(action: str, payload: dict[str, Any], today: date, approval_id: str) -> Any:
    def waive(account: LoanAccount) -> LoanAccount:
        return account.with_event(ChargeWaived(
            approval_id, today, payload["amount_fen"], Component(payload["component"]),
            payload.get("installment_number"),
        ))

    def restructure(account: LoanAccount) -> LoanAccount:
        rate = Decimal(payload["annual_rate"]) if payload.get("annual_rate") else None
        plan = plan_restructure(account, today, payload["months"], approval_id, rate)
        return apply_restructure(account, plan)

    def refinance(account: LoanAccount) -> LoanAccount:
        rate = Decimal(payload.get("annual_rate") or account.annual_rate)
        return plan_refinance(account, today, payload["months"], rate, approval_id).apply(account)

    def extend(account: LoanAccount) -> LoanAccount:
        return plan_extension(
            account, today, payload["months"], bool(payload.get("has_guarantor")),
            bool(payload.get("guarantor_consent")), approval_id,
        ).apply(account)

    def defer(account: LoanAccount) -> LoanAccount:
        return plan_deferral(account, today, payload["months"],
                             max(payload["months"], 1)).apply(account)

    def arrears_plan(account: LoanAccount) -> LoanAccount:
        return apply_restructure(account, plan_arrears(account, today, payload.get("months"),
                                                       approval_id))

    return {"waive": waive, "restructure": restructure, "refinance": refinance,
            "extend": extend, "defer": defer, "arrears-plan": arrears_plan}[action]


def decide(platform: Platform, checker: str, approval_id: str, approve: bool) -> Approval:
    approval = get_approval(platform, approval_id)
    if approval.status != "pending":
        raise Refused("NOT_PENDING", f"approval {approval_id} is already {approval.status}")
    if approval.maker == checker:
        raise Refused("SAME_PERSON", "the checker must be another person than the maker")
    status = "approved" if approve else "rejected"
    with platform.uow(checker) as uow:
        changed = uow.connection.execute(
            update(tables.approvals)
            .where(tables.approvals.c.id == approval_id, tables.approvals.c.status == "pending")
            .values(status=status, checker=checker, decided_at=uow.clock.now())
        ).rowcount
        if changed != 1:
            raise Refused("NOT_PENDING", f"approval {approval_id} was decided meanwhile")
        if approve and approval.action == "write-off":
            _write_off(platform, uow, approval)
        elif approve:
            apply_change_in(
                platform, uow, approval.loan_id,
                _change(approval.action, approval.payload, platform.today(), approval_id),
                f"loan.{approval.action}",
                {"approval": approval_id, "maker": approval.maker, "checker": checker}
                | approval.payload,
            )
        uow.audit(f"approval.{status}", "loan", approval.loan_id,
                  {"approval": approval_id, "action": approval.action,
                   "maker": approval.maker})
        uow.commit()
    if approve and approval.action in ("restructure", "refinance", "extend", *ADDENDUM_REASON):
        # The addendum documents the committed change (services/contract_documents.py).
        contract_documents.issue_addendum(platform, checker, approval.loan_id,
                                          ADDENDUM_REASON.get(approval.action, approval.action))
    return Approval(approval.approval_id, approval.action, approval.loan_id, approval.payload,
                    approval.maker, checker, status)


def _write_off(platform: Platform, uow: UnitOfWork, approval: Approval) -> None:
    """Move every receivable of the loan to the write-off expense; the debt stays owed."""
    repo = repository(platform, uow)
    if repo.get(approval.loan_id, for_update=True) is None:
        raise NotFound(f"loan {approval.loan_id} does not exist")
    balances = ledger.loan_balances(uow.connection, approval.loan_id)
    receivables = {a: v for a, v in balances.items() if a.startswith("130") and v}
    if not receivables:
        raise Refused("NOTHING_TO_WRITE_OFF", "the loan has no receivable left")
    legs = [ledger.Leg(a, -v, approval.loan_id) for a, v in receivables.items()]
    legs.append(ledger.Leg(WRITE_OFF_EXPENSE, sum(receivables.values()), approval.loan_id))
    ledger.post_entry(
        uow.connection, entry_id=f"{approval.approval_id}:write-off",
        value_date=platform.today(), reason_code="WRITE_OFF", reference_type="loan",
        reference_id=approval.loan_id, legs=legs, recorded_at=uow.clock.now(),
    )
    repo.set_status(approval.loan_id, "written-off")
    uow.audit("loan.write-off", "loan", approval.loan_id,
              {"approval": approval.approval_id, "maker": approval.maker, "amounts": receivables})
    uow.emit("LoanWrittenOff", approval.loan_id, {"loan_id": approval.loan_id},
             platform.today())


__all__ = ["Approval", "decide", "get_approval", "request_approval"]
