"""Loans over HTTP: list, detail, schedule, payments, reversals, payoff, balloon options,
approvals, ledger statements."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, status

from tailguard.api.deps import STAFF_READ, PlatformDep, allow
from tailguard.api.schemas import (
    ApprovalIn,
    BalloonOptionIn,
    DecisionIn,
    EodRunIn,
    PaymentIn,
    ReversalIn,
    SettleIn,
    UnmaskIn,
)
from tailguard.batch import eod as end_of_day
from tailguard.errors import InvalidInput, NotFound
from tailguard.infra.auth import Role, TokenClaims
from tailguard.infra.crypto import FieldCipher
from tailguard.infra.db import ledger_repository
from tailguard.infra.db.loan_repository import LoanRepository
from tailguard.infra.pii import PersonalData
from tailguard.loans.events import Channel
from tailguard.loans.maturity import (
    BalloonPlan,
    MaturityOption,
    extension_cap_months,
    plan_extension,
    plan_refinance,
)
from tailguard.loans.payoff import SettlementReason, quote_payoff
from tailguard.money import parse_major, parse_percent, yuan
from tailguard.services import approvals, queries, servicing
from tailguard.services.documents import loan_document, trial_balance_document
from tailguard.services.payment_batcher import PaymentBatcher
from tailguard.services.payments import PaymentCommand

router = APIRouter(prefix="/api/v1")

IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=8, max_length=120)]


def _visible(platform: PlatformDep, user: TokenClaims, loan_id: str) -> None:
    """A borrower sees only their own loans; anyone else gets 404 for another's."""
    if user.role is not Role.BORROWER:
        return
    with platform.uow() as uow:
        record = servicing.repository(platform, uow).record(loan_id)
    if record is None or record.borrower_id != user.borrower_id:
        raise NotFound(f"loan {loan_id} does not exist")


@router.get("/loans", tags=["loans"])
def list_loans(
    platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*STAFF_READ))],
    status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    bucket: Annotated[str | None, Query(max_length=8)] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{1,6}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        rows = queries.list_loans(conn, queries.LoanFilter(status_, bucket, region, limit,
                                                            offset))
    return {"loans": [
        {"id": r["id"], "product": r["product_code"], "status": r["status"],
         "principal": yuan(r["principal_fen"]), "region": r["region_code"],
         "principal_outstanding": yuan(r["principal_outstanding_fen"] or 0),
         "dpd": r["dpd"], "bucket": r["bucket"], "next_due_date": r["next_due_date"],
         "balloon_due_date": r["balloon_due_date"]}
        for r in rows
    ]}


@router.get("/loans/{loan_id}", tags=["loans"])
def show_loan(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*STAFF_READ, Role.BORROWER))],
) -> dict[str, Any]:
    _visible(platform, user, loan_id)
    return loan_document(platform, loan_id)


@router.get("/loans/{loan_id}/schedule", tags=["loans"])
def loan_schedule(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*STAFF_READ, Role.BORROWER))],
) -> dict[str, Any]:
    _visible(platform, user, loan_id)
    account = servicing.load_account(platform, loan_id)
    return {
        "loan_id": loan_id,
        "versions": [
            {"version": s.version, "replaces": s.replaces, "reason": s.reason,
             "effective_date": s.effective_date,
             "installments": [
                 {"number": i.number, "due_date": i.due_date, "kind": i.kind.value,
                  "payment": yuan(i.payment_fen), "principal": yuan(i.principal_fen),
                  "interest": yuan(i.interest_fen), "fee": yuan(i.fee_fen),
                  "balloon": yuan(i.balloon_fen), "balance_after": yuan(i.balance_after_fen)}
                 for i in s.installments
             ]}
            for s in account.schedules
        ],
    }


@router.post("/loans/{loan_id}/payments", status_code=status.HTTP_201_CREATED,
             tags=["payments"])
def post_payment(
    loan_id: str, body: PaymentIn, platform: PlatformDep, key: IdempotencyKey,
    request: Request, user: Annotated[TokenClaims, Depends(allow(Role.SERVICING))],
) -> dict[str, Any]:
    """Posted through the process's payment batcher (group commit); answered after commit."""
    batcher: PaymentBatcher = request.app.state.payments
    outcome = batcher.post(user.subject, PaymentCommand(
        loan_id, body.amount_fen, body.value_date or platform.today(), Channel(body.channel),
        key))
    return outcome.to_dict() | {"amount": yuan(outcome.amount_fen)}


@router.post("/loans/{loan_id}/payments/{payment_id}/reversal", tags=["payments"])
def reverse_payment(
    loan_id: str, payment_id: str, body: ReversalIn, platform: PlatformDep,
    key: IdempotencyKey,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING))],
) -> dict[str, Any]:
    return servicing.reverse_payment(platform, user.subject, loan_id, payment_id, body.reason,
                                     key).to_dict()


@router.get("/loans/{loan_id}/payoff-quote", tags=["payoff"])
def payoff_quote(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.COLLECTOR, Role.TEAM_LEAD,
                                               Role.RISK, Role.BORROWER))],
    reason: Annotated[str, Query(pattern="^(voluntary|trade-in)$")] = "voluntary",
) -> dict[str, Any]:
    _visible(platform, user, loan_id)
    quote = servicing.payoff_quote(platform, loan_id, None, SettlementReason(reason))
    return {"loan_id": loan_id, "as_of": quote.as_of, "principal": yuan(quote.principal_fen),
            "interest": yuan(quote.interest_fen), "fee": yuan(quote.fee_fen),
            "penalty": yuan(quote.penalty_fen),
            "prepayment_fee": yuan(quote.prepayment_fee_fen),
            "credit": yuan(quote.credit_fen), "total": yuan(quote.total_fen)}


@router.post("/loans/{loan_id}/payoff", status_code=status.HTTP_201_CREATED, tags=["payoff"])
def apply_payoff(
    loan_id: str, body: SettleIn, platform: PlatformDep, key: IdempotencyKey,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING))],
) -> dict[str, Any]:
    return servicing.settle_loan(platform, user.subject, loan_id, parse_major(body.amount),
                                 Channel.BANK_TRANSFER, key,
                                 SettlementReason(body.reason)).to_dict()


@router.get("/loans/{loan_id}/balloon-options", tags=["balloon"])
def balloon_options(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.COLLECTOR, Role.TEAM_LEAD,
                                               Role.RISK, Role.BORROWER))],
) -> dict[str, Any]:
    """What the borrower may choose at maturity, each with its quote or the reason it is not
    available."""
    _visible(platform, user, loan_id)
    account = servicing.load_account(platform, loan_id)
    today = platform.today()
    options: list[dict[str, Any]] = []
    settle = quote_payoff(account, min(today, account.schedule.maturity_date))
    options.append({"option": "settle", "available": True, "total": yuan(settle.total_fen)})
    policy = account.product.maturity
    def refinance() -> BalloonPlan:
        return plan_refinance(account, today, policy.refinance_term_months_max,
                              account.annual_rate)

    def extend() -> BalloonPlan:
        return plan_extension(account, today, min(12, max(1, extension_cap_months(account))))

    plans: list[tuple[str, Callable[[], BalloonPlan]]] = [
        ("refinance", refinance), ("extend", extend),
    ]
    for option, plan in plans:
        try:
            result = plan()
            new = [i for i in result.schedule.installments
                   if i.due_date > account.schedule.maturity_date]
            options.append({"option": option, "available": True,
                            "months": len(new),
                            "monthly_payment": yuan(new[0].payment_fen) if new else None})
        except Exception as exc:  # a refusal is an answer here, not an error
            options.append({"option": option, "available": False,
                            "reason": getattr(exc, "code", type(exc).__name__),
                            "message": getattr(exc, "message", str(exc))})
    options.append({"option": "trade-in", "available": True})
    options.append({"option": "return-vehicle", "available": policy.allows_vehicle_return})
    return {"loan_id": loan_id, "as_of": today,
            "balloon": yuan(account.schedule.balloon_fen),
            "balloon_due_date": (b.due_date if (b := account.schedule.balloon_installment())
                                 else None),
            "options": options}


@router.post("/loans/{loan_id}/balloon-options", tags=["balloon"])
def choose_balloon_option(
    loan_id: str, body: BalloonOptionIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.BORROWER))],
) -> dict[str, Any]:
    """Trade-in and vehicle return apply at once (servicing, with the appraisal); refinancing
    and extension become approval requests for a second person."""
    _visible(platform, user, loan_id)
    if body.option in ("refinance", "extend"):
        if body.months is None:
            raise InvalidInput.one("months", "missing", "required for refinance and extend")
        payload: dict[str, Any] = {"months": body.months,
                                   "has_guarantor": body.has_guarantor,
                                   "guarantor_consent": body.guarantor_consent}
        if body.annual_rate_percent:
            payload["annual_rate"] = str(parse_percent(body.annual_rate_percent))
        approval = approvals.request_approval(platform, user.subject, body.option, loan_id,
                                              payload)
        return {"status": "pending-approval", "approval_id": approval.approval_id}
    if user.role is Role.BORROWER:
        raise InvalidInput.one("option", "needs_appraisal",
                               "a trade-in or return is arranged with servicing after appraisal")
    if body.appraised_value is None:
        raise InvalidInput.one("appraised_value", "missing", "required for trade-in and return")
    appraisal = parse_major(body.appraised_value)
    option = MaturityOption(body.option)
    position, disposition = servicing.dispose_vehicle(
        platform, user.subject, loan_id, option, appraisal, body.shortfall_months)
    return {"status": "applied", "surplus": yuan(disposition.surplus_fen),
            "shortfall": yuan(disposition.shortfall_fen), "dpd": position.dpd,
            "paid_off": position.paid_off}


@router.post("/loans/{loan_id}/approvals", status_code=status.HTTP_201_CREATED,
             tags=["approvals"])
def request_approval(
    loan_id: str, body: ApprovalIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.TEAM_LEAD, Role.RISK))],
) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if body.action == "waive":
        if body.amount is None or body.component is None:
            raise InvalidInput.one("amount", "missing", "a waiver needs amount and component")
        payload = {"amount_fen": parse_major(body.amount), "component": body.component}
    elif body.action in ("restructure", "refinance", "extend"):
        if body.months is None:
            raise InvalidInput.one("months", "missing", f"required for {body.action}")
        payload = {"months": body.months}
        if body.annual_rate_percent:
            payload["annual_rate"] = str(parse_percent(body.annual_rate_percent))
    approval = approvals.request_approval(platform, user.subject, body.action, loan_id, payload)
    return {"approval_id": approval.approval_id, "status": approval.status}


@router.post("/approvals/{approval_id}/decision", tags=["approvals"])
def decide(
    approval_id: str, body: DecisionIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.TEAM_LEAD, Role.RISK))],
) -> dict[str, Any]:
    approval = approvals.decide(platform, user.subject, approval_id, body.approve)
    return {"approval_id": approval.approval_id, "status": approval.status,
            "maker": approval.maker, "checker": approval.checker}


@router.get("/loans/{loan_id}/ledger", tags=["ledger"])
def loan_ledger(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.COMPLIANCE, Role.RISK,
                                               Role.ADMINISTRATOR))],
) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        if LoanRepository(conn, platform.calendar_for).record(loan_id) is None:
            raise NotFound(f"loan {loan_id} does not exist")
        rows = ledger_repository.entries_for_loan(conn, loan_id)
        balances = ledger_repository.loan_balances(conn, loan_id)
    return {"loan_id": loan_id,
            "postings": [r | {"amount": yuan(int(str(r["amount_fen"])))} for r in rows],
            "balances": {k: yuan(v) for k, v in sorted(balances.items())}}


@router.get("/ledger/trial-balance", tags=["ledger"])
def trial_balance(
    platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.COMPLIANCE, Role.RISK,
                                               Role.ADMINISTRATOR))],
    as_of: date | None = None,
) -> dict[str, Any]:
    return trial_balance_document(platform, as_of or platform.today())



@router.get("/eod/status", tags=["end of day"])
def eod_status(
    platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.ADMINISTRATOR, Role.RISK))],
) -> dict[str, Any]:
    return end_of_day.status(platform)


@router.post("/eod/run", tags=["end of day"])
def eod_run(
    body: EodRunIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.ADMINISTRATOR))],
) -> dict[str, Any]:
    if body.as_of >= platform.today():
        raise InvalidInput.one("as_of", "not_past", "the end of day runs for past days only")
    report = end_of_day.run(platform, body.as_of)
    return {"as_of": body.as_of, "days": len(report.days), "loan_days": report.loans}


def _borrower_of(platform: PlatformDep, loan_id: str) -> str:
    with platform.engine.connect() as conn:
        record = LoanRepository(conn, platform.calendar_for).record(loan_id)
    if record is None:
        raise NotFound(f"loan {loan_id} does not exist")
    return record.borrower_id


@router.get("/loans/{loan_id}/borrower", tags=["personal data"])
def borrower_masked(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*STAFF_READ, Role.BORROWER))],
) -> dict[str, Any]:
    """The borrower's personal data, masked (no audit: nothing identifying is shown)."""
    _visible(platform, user, loan_id)
    party_id = _borrower_of(platform, loan_id)
    with platform.uow(user.subject) as uow:
        view = PersonalData(uow, FieldCipher.from_settings(platform.settings)).masked(party_id)
    return {"party_id": view.party_id, "name": view.name, "id_number": view.id_number,
            "phone": view.phone, "address": view.address, "bank_card": view.bank_card,
            "masked": True}


@router.post("/loans/{loan_id}/borrower/unmask", tags=["personal data"])
def borrower_unmasked(
    loan_id: str, body: UnmaskIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*STAFF_READ, Role.BORROWER))],
) -> dict[str, Any]:
    """Full values of the named fields, for roles that need them, with a reason; audited."""
    _visible(platform, user, loan_id)
    party_id = _borrower_of(platform, loan_id)
    with platform.uow(user.subject) as uow:
        values = PersonalData(uow, FieldCipher.from_settings(platform.settings)).unmasked(
            party_id, body.fields, role=user.role, reason=body.reason,
            within_scope=user.role is Role.BORROWER,
        )
        uow.commit()  # the audit row of the read
    return {"party_id": party_id, "masked": False,
            "values": {field.value: value for field, value in values.items()}}
