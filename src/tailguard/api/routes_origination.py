"""Pre-loan review over HTTP: applications, decisions, overrides with a second person, replay.

- `POST /applications` (credit officer): the application with its parties, vehicle, product,
  down payment, balloon share, incomes and documents (base64); 201 with its id, or 422 naming
  every wrong field.
- `GET /applications/{id}` (credit officer, risk, compliance): facts, masked parties,
  documents, every decision with its reasons (zh/en) and conditions, the latest override.
- `POST /applications/{id}/decide` (credit officer): third parties, regional policy, score.
- `POST /applications/{id}/override` (credit officer) proposes another outcome with a reason;
  `POST /applications/{id}/override/decision` (credit officer or risk, another person)
  approves or rejects it.
- `GET /decisions/{id}/replay` (risk, compliance, credit officer): the engine run again on
  the stored inputs; `same` says whether outcome, reasons and conditions agree.

Amounts are yuan strings, the balloon a share ("0.30"), the rate a percentage ("4.75").
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, status
from pydantic import Field

from tailguard.api.deps import PlatformDep, allow
from tailguard.api.schemas import Strict, YuanText
from tailguard.errors import FieldError, InvalidInput
from tailguard.infra.auth import Role, TokenClaims
from tailguard.money import parse_major, parse_percent
from tailguard.origination.application import ApplicationIn, DocumentIn, PartyIn, VehicleIn
from tailguard.services import origination

router = APIRouter(prefix="/api/v1", tags=["origination"])

REVIEWERS = (Role.CREDIT_OFFICER, Role.RISK, Role.COMPLIANCE)
CHECKERS = (Role.CREDIT_OFFICER, Role.RISK)
RegionCode = Annotated[str, Field(pattern=r"^\d{6}$")]
Share = Annotated[str, Field(pattern=r"^0(\.\d{1,4})?$", examples=["0.30"])]


class PartyBody(Strict):
    role: Literal["borrower", "co-borrower", "guarantor"]
    name: Annotated[str, Field(min_length=1, max_length=60)]
    id_number: Annotated[str, Field(min_length=1, max_length=40)]
    phone: Annotated[str, Field(min_length=1, max_length=40)]
    monthly_income: YuanText
    monthly_debt_payments: YuanText = "0"
    employment: Literal["employed", "self-employed", "civil-servant", "retired", "other"]
    employment_months: Annotated[int, Field(ge=0, le=720)] = 0
    employer: Annotated[str, Field(max_length=120)] | None = None
    bank_card: Annotated[str, Field(max_length=40)] | None = None
    residence_region_code: RegionCode | None = None


class VehicleBody(Strict):
    vin: Annotated[str, Field(min_length=1, max_length=40)]
    condition: Literal["new", "used"]
    energy: Literal["fuel", "nev"]
    price: YuanText
    registration_region_code: RegionCode | None = None


class DocumentBody(Strict):
    kind: Annotated[str, Field(max_length=30)]
    filename: Annotated[str, Field(min_length=1, max_length=200)]
    content_type: Annotated[str, Field(max_length=60)]
    content_base64: Annotated[str, Field(min_length=1, max_length=14_000_000)]


class ApplicationBody(Strict):
    parties: Annotated[list[PartyBody], Field(min_length=1, max_length=4)]
    vehicle: VehicleBody
    dealer_id: Annotated[str, Field(min_length=1, max_length=40)]
    product_code: Annotated[str, Field(min_length=1, max_length=60)]
    term_months: Annotated[int, Field(ge=1, le=120)]
    annual_rate_percent: Annotated[str, Field(pattern=r"^\d{1,2}(\.\d{1,4})?$")]
    down_payment: YuanText
    balloon_share: Share = "0"
    documents: Annotated[list[DocumentBody], Field(max_length=20, default_factory=list)]


class ConditionBody(Strict):
    code: Literal["MIN_DOWN_PAYMENT", "MAX_BALLOON_SHARE", "DOCUMENTS"]
    value: Annotated[str, Field(min_length=1, max_length=200)]


class OverrideBody(Strict):
    outcome: Literal["approve", "refer", "decline"]
    reason: Annotated[str, Field(min_length=5, max_length=500)]
    conditions: Annotated[list[ConditionBody], Field(max_length=10, default_factory=list)]


class OverrideDecisionBody(Strict):
    approve: bool


def _documents(body: ApplicationBody) -> tuple[DocumentIn, ...]:
    out, errors = [], []
    for index, d in enumerate(body.documents):
        try:
            data = base64.b64decode(d.content_base64, validate=True)
        except (binascii.Error, ValueError):
            errors.append(FieldError(f"documents[{index}].content_base64", "not_base64",
                                     "must be base64"))
            continue
        out.append(DocumentIn(d.kind, d.filename, d.content_type, data))
    if errors:
        raise InvalidInput(errors)
    return tuple(out)


def to_application(body: ApplicationBody) -> ApplicationIn:
    return ApplicationIn(
        parties=tuple(PartyIn(
            role=p.role, name=p.name, id_number=p.id_number, phone=p.phone,
            monthly_income_fen=parse_major(p.monthly_income), employment=p.employment,
            employment_months=p.employment_months, employer=p.employer,
            bank_card=p.bank_card, residence_region_code=p.residence_region_code,
            monthly_debt_payments_fen=parse_major(p.monthly_debt_payments),
        ) for p in body.parties),
        vehicle=VehicleIn(body.vehicle.vin, body.vehicle.condition, body.vehicle.energy,
                          parse_major(body.vehicle.price),
                          body.vehicle.registration_region_code),
        dealer_id=body.dealer_id, product_code=body.product_code,
        term_months=body.term_months, annual_rate=parse_percent(body.annual_rate_percent),
        down_payment_fen=parse_major(body.down_payment),
        balloon_share=Decimal(body.balloon_share), documents=_documents(body),
    )


@router.post("/applications", status_code=status.HTTP_201_CREATED)
def submit(
    body: ApplicationBody, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.CREDIT_OFFICER))],
) -> dict[str, Any]:
    application_id = origination.submit_application(platform, user.subject,
                                                    to_application(body))
    return {"application_id": application_id, "status": "submitted"}


@router.get("/applications/{application_id}")
def show(
    application_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*REVIEWERS))],
) -> dict[str, Any]:
    return origination.get_application(platform, application_id)


@router.post("/applications/{application_id}/decide")
def decide(
    application_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.CREDIT_OFFICER))],
) -> dict[str, Any]:
    return origination.decide_application(platform, user.subject, application_id).to_dict()


@router.post("/applications/{application_id}/override")
def request_override(
    application_id: str, body: OverrideBody, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.CREDIT_OFFICER))],
) -> dict[str, Any]:
    return origination.request_override(
        platform, user.subject, application_id, body.outcome, body.reason,
        [c.model_dump() for c in body.conditions]).to_dict()


@router.post("/applications/{application_id}/override/decision")
def decide_override(
    application_id: str, body: OverrideDecisionBody, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*CHECKERS))],
) -> dict[str, Any]:
    return origination.decide_override(platform, user.subject, application_id,
                                       body.approve).to_dict()


@router.get("/decisions/{decision_id}/replay")
def replay(
    decision_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.RISK, Role.COMPLIANCE,
                                               Role.CREDIT_OFFICER))],
) -> dict[str, Any]:
    result = origination.replay_decision(platform, decision_id)
    return {"decision_id": result.decision_id, "same": result.same,
            "rescored": result.rescored, "stored": result.stored, "replayed": result.replayed}
