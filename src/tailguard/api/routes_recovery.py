"""Collections over HTTP, under `/api/v1/collections`: cases and their history, contacts and
promises from a case, the collector's "who next", assignment, strategies (the risk team edits
them), teams, partners and placements, field plans and visit outcomes, legal steps,
repossession and write-off proposals.

Agency users see only the cases placed with their agency (404 for any other, as for a case
that does not exist); their agency comes from their token, never from the request.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from tailguard.api.deps import PlatformDep, allow
from tailguard.engagement.vocabulary import Channel, Outcome, Party, Purpose
from tailguard.errors import InvalidInput
from tailguard.infra.auth import Role, TokenClaims
from tailguard.money.amount import AmountError, parse_major
from tailguard.services import (
    recovery_cases,
    recovery_disposal,
    recovery_legal,
    recovery_next_action,
    recovery_partners,
    recovery_reports,
    recovery_strategies,
    recovery_work,
)
from tailguard.services.contacts import Actor, ContactCommand

router = APIRouter(prefix="/api/v1/collections", tags=["collections"])

R = Role
CASE_READERS = (R.COLLECTOR, R.TEAM_LEAD, R.AGENCY, R.RISK, R.COMPLIANCE, R.SERVICING,
                R.ADMINISTRATOR)
WORKERS = (R.COLLECTOR, R.TEAM_LEAD, R.AGENCY)
LEADS = (R.TEAM_LEAD,)
LEGAL = (R.TEAM_LEAD, R.SERVICING)
STRATEGY_READERS = (R.RISK, R.TEAM_LEAD, R.COMPLIANCE, R.ADMINISTRATOR)
PARTNER_READERS = (R.RISK, R.TEAM_LEAD, R.COMPLIANCE, R.ADMINISTRATOR)
PARTNER_EDITORS = (R.RISK, R.TEAM_LEAD)
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Ref = Annotated[str, Field(min_length=1, max_length=80)]
MAX_ID = 2**31 - 1
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
VisitId = Annotated[int, Path(ge=1, le=MAX_ID)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _actor(user: TokenClaims) -> Actor:
    return Actor(user.subject, user.role.value, user.agency_id)


def _fen(amount: str, field: str) -> int:
    try:
        fen = parse_major(amount)
    except AmountError as exc:
        raise InvalidInput.one(field, "invalid", "yuan with at most two decimals") from exc
    return fen


class AlertCaseIn(_Strict):
    loan_id: Ref
    reason: Text200


class CloseIn(_Strict):
    reason: Literal["settlement", "sale"]
    note: Text200 | None = None


class CaseContactIn(_Strict):
    channel: Channel
    purpose: Purpose = Purpose.COLLECTION
    party: Party = Party.DEBTOR
    loan_id: Ref | None = None
    party_ref: Ref | None = None
    contact_method: Ref | None = None
    at: datetime | None = None
    outcome: Outcome | None = None
    note: Text200 | None = None


class PromiseIn(_Strict):
    amount: Annotated[str, Field(max_length=20)]
    due_date: date
    loan_id: Ref | None = None
    contact_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class AssignIn(_Strict):
    team_id: Ref
    collector: Ref | None = None
    reason: Text200 | None = None


class PlaceIn(_Strict):
    partner_id: Ref | None = None


class RecallIn(_Strict):
    reason: Text200


class TeamIn(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str, Field(min_length=1, max_length=80)]
    region_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    kind: Literal["phone", "field", "legal"]
    capacity: Annotated[int, Field(ge=1, le=100_000)]
    skills: list[str]
    base_latitude: Decimal | None = None
    base_longitude: Decimal | None = None


class FieldPlanIn(_Strict):
    team_id: Ref
    day: date
    case_ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]],
                        Field(max_length=100)] | None = None


class PhotoIn(_Strict):
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
    data_base64: str


class VisitIn(_Strict):
    found: bool
    outcome: Text200
    visited_at: datetime
    latitude: Decimal
    longitude: Decimal
    place: Text200
    photos: Annotated[list[PhotoIn], Field(max_length=10)] = []


class ClaimIn(_Strict):
    loan_id: Ref
    proceeding: Literal["debt", "security"]
    arbitration_commission: Text200 | None = None
    agreed_court_region: Annotated[str, Field(pattern=r"^\d{6}$")] | None = None
    vehicle_region: Annotated[str, Field(pattern=r"^\d{6}$")] | None = None


class LetterIn(_Strict):
    law_firm: Text200 | None = None


class RepossessionIn(_Strict):
    loan_id: Ref
    reason: Text200


class DecisionIn(_Strict):
    approve: bool


class RepossessedIn(_Strict):
    storage: Text200
    partner_id: Ref | None = None


class WriteOffIn(_Strict):
    loan_id: Ref
    reason: Text200


class StorageIn(_Strict):
    location: Text200
    daily_fee: Annotated[str, Field(max_length=20)] = "0"


class DocumentIn(_Strict):
    content_type: Literal["application/pdf", "image/jpeg", "image/png"]
    data_base64: str


class AppraisalIn(_Strict):
    appraised_value: Annotated[str, Field(max_length=20)]
    appraiser: Annotated[str, Field(min_length=1, max_length=120)]
    appraised_on: date
    document: DocumentIn | None = None


class SaleIn(_Strict):
    buyer: Annotated[str, Field(min_length=1, max_length=120)]
    price: Annotated[str, Field(max_length=20)]
    fees: Annotated[str, Field(max_length=20)] = "0"
    propose_write_off: bool = False
    write_off_reason: Text200 | None = None


# -- cases -----------------------------------------------------------------------------------
@router.get("/cases")
def list_cases(
    platform: PlatformDep, user: Annotated[TokenClaims, Depends(allow(*CASE_READERS))],
    status_: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = "open",
    team_id: Annotated[str | None, Query(max_length=40)] = None,
    collector: Annotated[str | None, Query(max_length=64)] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{1,6}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> dict[str, Any]:
    """Cases, highest priority first; an agency user gets only those placed with it."""
    return {"cases": recovery_cases.list_cases(
        platform, _actor(user), status=status_, team_id=team_id, collector=collector,
        region_prefix=region, limit=limit, offset=offset)}


@router.post("/cases", status_code=status.HTTP_201_CREATED)
def open_case(body: AlertCaseIn, platform: PlatformDep,
              user: Annotated[TokenClaims, Depends(allow(R.RISK, R.TEAM_LEAD, R.COLLECTOR))]
              ) -> dict[str, Any]:
    """Open (or add to) the borrower's case from an early-warning alert on one loan."""
    case_id = recovery_cases.open_from_alert(platform, user.subject, body.loan_id, body.reason)
    return {"case_id": case_id}


@router.get("/cases/{case_id}")
def case_detail(case_id: CaseId, platform: PlatformDep,
                user: Annotated[TokenClaims, Depends(allow(*CASE_READERS))]) -> dict[str, Any]:
    """The case, its loans and its whole history (actions, contacts, promises, payments,
    placements, visits, legal steps)."""
    return recovery_cases.case_detail(platform, _actor(user), case_id)


@router.post("/cases/{case_id}/close")
def close_case(case_id: CaseId, body: CloseIn, platform: PlatformDep,
               user: Annotated[TokenClaims, Depends(allow(*LEADS))]) -> dict[str, Any]:
    return recovery_cases.close_case(platform, _actor(user), case_id, body.reason, body.note)


@router.post("/cases/{case_id}/contacts", status_code=status.HTTP_201_CREATED)
def case_contact(case_id: CaseId, body: CaseContactIn, platform: PlatformDep,
                 user: Annotated[TokenClaims, Depends(allow(*WORKERS))]) -> dict[str, Any]:
    """A contact about the case through the conduct guard: allowed (and logged pending, or
    with its outcome) or blocked with the rule that blocks it."""
    command = ContactCommand(body.channel, body.purpose, body.party, loan_id=body.loan_id,
                             party_ref=body.party_ref, contact_method=body.contact_method,
                             at=body.at)
    return recovery_cases.contact(platform, _actor(user), case_id, command, body.outcome,
                                  body.note)


@router.post("/cases/{case_id}/promises", status_code=status.HTTP_201_CREATED)
def promise(case_id: CaseId, body: PromiseIn, platform: PlatformDep,
            user: Annotated[TokenClaims, Depends(allow(*WORKERS))]) -> dict[str, Any]:
    return recovery_cases.record_promise(platform, _actor(user), case_id,
                                         _fen(body.amount, "amount"), body.due_date,
                                         body.loan_id, body.contact_id)


@router.post("/cases/{case_id}/assignment")
def assign(case_id: CaseId, body: AssignIn, platform: PlatformDep,
           user: Annotated[TokenClaims, Depends(allow(*LEADS))]) -> dict[str, Any]:
    return recovery_work.assign_case(platform, _actor(user), case_id, body.team_id,
                                     body.collector, body.reason)


@router.get("/next")
def next_case(platform: PlatformDep,
              user: Annotated[TokenClaims, Depends(allow(R.COLLECTOR, R.TEAM_LEAD))]
              ) -> dict[str, Any]:
    """Who to call next and why, with the contact policy's answer for calling now, and the
    case's next best action (actions allowed now ranked by expected recovery net of cost)."""
    actor = _actor(user)
    answer = recovery_work.next_case(platform, actor)
    if answer.get("case"):
        answer["next_best_action"] = recovery_next_action.for_case(
            platform, actor, int(answer["case"]["id"]))
    return answer


@router.get("/cases/{case_id}/next-action")
def next_action(case_id: CaseId, platform: PlatformDep,
                user: Annotated[TokenClaims, Depends(allow(*WORKERS, R.RISK))]
                ) -> dict[str, Any]:
    """The case's candidate actions, allowed now or not (and why), ranked by value."""
    return recovery_next_action.for_case(platform, _actor(user), case_id)


@router.get("/reports")
def reports(platform: PlatformDep,
            user: Annotated[TokenClaims, Depends(allow(R.TEAM_LEAD, R.RISK, R.COMPLIANCE,
                                                        R.ADMINISTRATOR))],
            from_: Annotated[date | None, Query(alias="from")] = None,
            to: date | None = None) -> dict[str, Any]:
    """Roll and cure rates, promise-kept and right-party contact rates, recovery and cost by
    team, agency and region, balloon clearance, for the period (default the last year)."""
    return recovery_reports.collections_report(platform, from_, to)


@router.get("/collectors/scores")
def collector_scores(platform: PlatformDep,
                     user: Annotated[TokenClaims, Depends(allow(R.TEAM_LEAD, R.COMPLIANCE,
                                                                 R.ADMINISTRATOR))]
                     ) -> dict[str, Any]:
    """Collectors scored on promises kept, cases resolved and conduct, not amounts alone."""
    return {"collectors": recovery_work.collector_scores(platform)}


# -- strategies and teams ----------------------------------------------------------------
@router.get("/strategies")
def strategies(platform: PlatformDep,
               user: Annotated[TokenClaims, Depends(allow(*STRATEGY_READERS))]
               ) -> dict[str, Any]:
    """The active strategy, its versions, today's loans per segment and arm, and the
    champion/challenger read-out (cure rates, uplift with a 95% interval)."""
    return recovery_strategies.list_strategies(platform) | {
        "assignment": recovery_strategies.uplift_table(platform),
        "champion_challenger": recovery_strategies.champion_challenger(platform)}


@router.post("/strategies", status_code=status.HTTP_201_CREATED)
def save_strategy(body: dict[str, Any], platform: PlatformDep,
                  user: Annotated[TokenClaims, Depends(allow(R.RISK))]) -> dict[str, Any]:
    """A new version of a strategy (segments → treatment paths, shares), made active."""
    return recovery_strategies.save_strategy(platform, user.subject, body).to_dict()


@router.get("/teams")
def teams(platform: PlatformDep,
          user: Annotated[TokenClaims, Depends(allow(R.TEAM_LEAD, R.ADMINISTRATOR, R.RISK))]
          ) -> dict[str, Any]:
    return {"teams": recovery_work.list_teams(platform)}


@router.post("/teams")
def save_team(body: TeamIn, platform: PlatformDep,
              user: Annotated[TokenClaims, Depends(allow(R.TEAM_LEAD, R.ADMINISTRATOR))]
              ) -> dict[str, Any]:
    base = (None if body.base_latitude is None or body.base_longitude is None
            else (body.base_latitude, body.base_longitude))
    return recovery_work.save_team(platform, user.subject, body.id, body.name,
                                   body.region_code, body.kind, body.capacity, body.skills,
                                   base)


# -- partners ----------------------------------------------------------------------------
@router.get("/partners")
def partners(platform: PlatformDep,
             user: Annotated[TokenClaims, Depends(allow(*PARTNER_READERS))]) -> dict[str, Any]:
    """The registry with each partner's score and whether its assessment is overdue."""
    return {"partners": recovery_partners.list_partners(platform)}


@router.post("/partners")
def save_partner(body: dict[str, Any], platform: PlatformDep,
                 user: Annotated[TokenClaims, Depends(allow(*PARTNER_EDITORS))]
                 ) -> dict[str, Any]:
    return recovery_partners.save_partner(platform, user.subject, body)


@router.post("/cases/{case_id}/placement")
def place(case_id: CaseId, body: PlaceIn, platform: PlatformDep,
          user: Annotated[TokenClaims, Depends(allow(*LEADS))]) -> dict[str, Any]:
    return recovery_partners.place_case(platform, _actor(user), case_id, body.partner_id)


@router.post("/cases/{case_id}/recall")
def recall(case_id: CaseId, body: RecallIn, platform: PlatformDep,
           user: Annotated[TokenClaims, Depends(allow(*LEADS))]) -> dict[str, Any]:
    return recovery_partners.recall_case(platform, _actor(user), case_id, body.reason)


# -- field visits ------------------------------------------------------------------------
@router.post("/field-plans", status_code=status.HTTP_201_CREATED)
def field_plan(body: FieldPlanIn, platform: PlatformDep,
               user: Annotated[TokenClaims, Depends(allow(*LEADS))]) -> dict[str, Any]:
    """Plan a field team's day on the shortest route (OR-Tools)."""
    return recovery_work.plan_field_day(platform, user.subject, body.team_id, body.day,
                                        body.case_ids)


@router.post("/visits/{visit_id}/outcome")
def visit_outcome(visit_id: VisitId, body: VisitIn, platform: PlatformDep,
                  user: Annotated[TokenClaims, Depends(allow(R.COLLECTOR, R.TEAM_LEAD))]
                  ) -> dict[str, Any]:
    photos: list[tuple[bytes, str]] = []
    for i, photo in enumerate(body.photos):
        try:
            photos.append((base64.b64decode(photo.data_base64, validate=True),
                           photo.content_type))
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput.one(f"photos[{i}].data_base64", "invalid", "base64") from exc
    return recovery_work.record_visit(
        platform, _actor(user), visit_id, found=body.found, outcome=body.outcome,
        visited_at=body.visited_at, latitude=body.latitude, longitude=body.longitude,
        place=body.place, photos=photos)


# -- legal, repossession, write-off ------------------------------------------------------
@router.post("/cases/{case_id}/demand-letter", status_code=status.HTTP_201_CREATED)
def demand_letter(case_id: CaseId, body: LetterIn, platform: PlatformDep,
                  user: Annotated[TokenClaims, Depends(allow(*LEGAL))]) -> dict[str, Any]:
    return recovery_legal.demand_letter(platform, _actor(user), case_id, body.law_firm)


@router.post("/cases/{case_id}/claims", status_code=status.HTTP_201_CREATED)
def claim(case_id: CaseId, body: ClaimIn, platform: PlatformDep,
          user: Annotated[TokenClaims, Depends(allow(*LEGAL))]) -> dict[str, Any]:
    """Litigation or arbitration at the venue the rules choose (answered with the basis)."""
    return recovery_legal.file_claim(
        platform, _actor(user), case_id, body.loan_id, body.proceeding,
        arbitration_commission=body.arbitration_commission,
        agreed_court_region=body.agreed_court_region, vehicle_region=body.vehicle_region)


@router.post("/cases/{case_id}/repossession", status_code=status.HTTP_201_CREATED)
def repossession_request(case_id: CaseId, body: RepossessionIn, platform: PlatformDep,
                         user: Annotated[TokenClaims, Depends(allow(*LEGAL))]
                         ) -> dict[str, Any]:
    return recovery_legal.request_repossession(platform, _actor(user), case_id, body.loan_id,
                                               body.reason)


@router.post("/cases/{case_id}/repossession/decision")
def repossession_decision(case_id: CaseId, body: DecisionIn, platform: PlatformDep,
                          user: Annotated[TokenClaims, Depends(allow(*LEADS))]
                          ) -> dict[str, Any]:
    return recovery_legal.decide_repossession(platform, _actor(user), case_id, body.approve)


@router.post("/cases/{case_id}/repossessed")
def repossessed(case_id: CaseId, body: RepossessedIn, platform: PlatformDep,
                user: Annotated[TokenClaims, Depends(allow(*LEGAL))]) -> dict[str, Any]:
    return recovery_legal.repossess(platform, _actor(user), case_id, body.storage,
                                    body.partner_id)


@router.post("/cases/{case_id}/write-off", status_code=status.HTTP_201_CREATED)
def write_off(case_id: CaseId, body: WriteOffIn, platform: PlatformDep,
              user: Annotated[TokenClaims, Depends(allow(*LEGAL))]) -> dict[str, Any]:
    """Propose a write-off; another person approves it through /approvals (maker-checker)."""
    return recovery_legal.propose_write_off(platform, _actor(user), case_id, body.loan_id,
                                            body.reason)


# -- disposal of a repossessed vehicle ---------------------------------------------------
@router.get("/cases/{case_id}/disposal")
def disposal(case_id: CaseId, platform: PlatformDep,
             user: Annotated[TokenClaims, Depends(allow(*LEGAL, R.RISK, R.COMPLIANCE))]
             ) -> dict[str, Any]:
    return recovery_disposal.describe(platform, _actor(user), case_id)


@router.post("/cases/{case_id}/disposal/storage")
def disposal_storage(case_id: CaseId, body: StorageIn, platform: PlatformDep,
                     user: Annotated[TokenClaims, Depends(allow(*LEGAL))]) -> dict[str, Any]:
    """Where the repossessed vehicle is kept and its storage fee a day (yuan)."""
    return recovery_disposal.record_storage(platform, _actor(user), case_id, body.location,
                                            _fen(body.daily_fee, "daily_fee"))


@router.post("/cases/{case_id}/disposal/appraisal")
def disposal_appraisal(case_id: CaseId, body: AppraisalIn, platform: PlatformDep,
                       user: Annotated[TokenClaims, Depends(allow(*LEGAL))]
                       ) -> dict[str, Any]:
    document = None
    if body.document is not None:
        try:
            document = (base64.b64decode(body.document.data_base64, validate=True),
                        body.document.content_type)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput.one("document.data_base64", "invalid", "base64") from exc
    return recovery_disposal.record_appraisal(
        platform, _actor(user), case_id, _fen(body.appraised_value, "appraised_value"),
        body.appraiser, body.appraised_on, document)


@router.post("/cases/{case_id}/disposal/sale", status_code=status.HTTP_201_CREATED)
def disposal_sale(case_id: CaseId, body: SaleIn, platform: PlatformDep,
                  key: Annotated[str, Header(alias="Idempotency-Key", min_length=8,
                                             max_length=120)],
                  user: Annotated[TokenClaims, Depends(allow(*LEADS))]) -> dict[str, Any]:
    """Sell the appraised vehicle once; the net proceeds settle the loan through the ledger,
    a surplus is owed to the borrower, a shortfall stays owed (or is proposed for write-off)."""
    return recovery_disposal.sell(
        platform, _actor(user), case_id, body.buyer, _fen(body.price, "price"),
        _fen(body.fees, "fees"), key, propose_write_off=body.propose_write_off,
        write_off_reason=body.write_off_reason)
