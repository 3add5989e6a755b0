"""Offers, incentive programmes and treatment read-outs over HTTP.

- `POST /loans/{id}/offers`: quote an offer (409 with the rule's code when the loan is not
  eligible, a cap is exceeded or it is unaffordable); `GET /loans/{id}/offers`: the loan's
  offers; `GET /offers/{id}`.
- `POST /offers/{id}/send`, `/accept`, `/decline`: the offer's life. Acceptance applies it
  through servicing; kinds that change what is owed wait for a second person
  (`POST /offers/{id}/approval`, the checker). A borrower may accept or decline their own
  offers in the app, except a settlement (they pay the payoff in the app) and a trade-in or
  return (servicing applies those with the appraisal).
- `GET|PUT /incentive-programmes`, `GET /loans/{id}/incentives`: programmes as data, awards.
- `GET /treatments/{programme}/read-out`: champion/challenger rates with the 95 % interval.

Amounts in and out are yuan strings, like the rest of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from tailguard.api.deps import STAFF_READ, PlatformDep, allow
from tailguard.engagement.offers import BORROWER_MAY_ACCEPT as BORROWER_KINDS
from tailguard.engagement.offers import OfferKind
from tailguard.engagement.vocabulary import Channel as MessageChannel
from tailguard.errors import InvalidInput, NotFound
from tailguard.infra.auth import Role, TokenClaims
from tailguard.loans.events import Channel
from tailguard.money import AmountError, parse_major, parse_percent, yuan
from tailguard.money.rates import RateError
from tailguard.services import contacts, incentives, offers, treatments

router = APIRouter(prefix="/api/v1")

QUOTERS = (Role.SERVICING, Role.COLLECTOR, Role.TEAM_LEAD)
CHECKERS = (Role.SERVICING, Role.TEAM_LEAD, Role.RISK)
PROGRAMME_READERS = (Role.RISK, Role.COMPLIANCE, Role.ADMINISTRATOR, Role.TEAM_LEAD)
BORROWER_MAY_ACCEPT = {k.value for k in BORROWER_KINDS}  # the rule: engagement.offers
Money = Annotated[str, Field(min_length=1, max_length=20)]
T = TypeVar("T")


def _parsed(parse: Callable[[str], T], text: str, field: str) -> T:
    """An amount or a percentage the body gave as text, or a 422 naming its field."""
    try:
        return parse(text)
    except (AmountError, RateError) as exc:
        raise InvalidInput.one(field, "invalid", str(exc)) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuoteIn(_Strict):
    kind: Literal["due-date-change", "deferral", "arrears-plan", "balloon-settle",
                  "balloon-refinance", "balloon-extend", "balloon-trade-in", "balloon-return"]
    months: Annotated[int, Field(ge=1, le=60)] | None = None
    new_day: Annotated[int, Field(ge=1, le=28)] | None = None
    annual_rate_percent: Annotated[str, Field(max_length=12)] | None = None
    monthly_income: Money | None = None
    """The borrower's stated monthly income, for the affordability check."""
    guarantor_consent: bool = False


SendChannel = Literal["in-app", "sms", "email", "wechat"]


def _default_channels() -> list[SendChannel]:
    return ["in-app", "sms"]


class SendIn(_Strict):
    channels: list[SendChannel] = Field(default_factory=_default_channels, min_length=1,
                                        max_length=4)


class AcceptIn(_Strict):
    appraised_value: Money | None = None
    shortfall_months: Annotated[int, Field(ge=1, le=60)] | None = None
    channel: Literal["bank-transfer", "app", "counter", "auto-debit"] = "bank-transfer"
    """How the payoff was paid, for a settlement."""
    guarantor_consent: bool = False


class ApprovalIn(_Strict):
    approve: bool


class ProgrammeIn(_Strict):
    definition: dict[str, Any]


def _own_loan(platform: PlatformDep, user: TokenClaims, loan_id: str) -> None:
    borrower = contacts.borrower_of_loan(platform, loan_id)  # 404 for an unknown loan
    if user.role is Role.BORROWER and borrower != user.borrower_id:
        raise NotFound(f"loan {loan_id} does not exist")


def _own_offer(platform: PlatformDep, user: TokenClaims, offer_id: str) -> None:
    borrower = offers.borrower_of_offer(platform, offer_id)  # 404 for an unknown offer
    if user.role is Role.BORROWER and borrower != user.borrower_id:
        raise NotFound(f"offer {offer_id} does not exist")


def _out(offer: dict[str, Any]) -> dict[str, Any]:
    """Fen in the stored terms shown as yuan too (`*_fen` kept for programs)."""
    terms = dict(offer["terms"])
    for key, value in list(terms.items()):
        if key.endswith("_fen") and isinstance(value, int):
            terms[key.removesuffix("_fen")] = yuan(value)
    return offer | {"terms": terms}


@router.post("/loans/{loan_id}/offers", status_code=status.HTTP_201_CREATED, tags=["offers"])
def quote_offer(
    loan_id: str, body: QuoteIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*QUOTERS))],
) -> dict[str, Any]:
    """Quote an offer; 409 names the rule (eligibility, cap, range, affordability) it fails."""
    rate = (_parsed(parse_percent, body.annual_rate_percent, "annual_rate_percent")
            if body.annual_rate_percent else None)
    income = (_parsed(parse_major, body.monthly_income, "monthly_income")
              if body.monthly_income else None)
    return _out(offers.quote_offer(
        platform, user.subject, loan_id, OfferKind(body.kind), months=body.months,
        new_day=body.new_day, annual_rate=rate, monthly_income_fen=income,
        guarantor_consent=body.guarantor_consent))


@router.get("/loans/{loan_id}/offers", tags=["offers"])
def loan_offers(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*STAFF_READ, Role.BORROWER))],
) -> dict[str, Any]:
    _own_loan(platform, user, loan_id)
    return {"loan_id": loan_id, "offers": [_out(o) for o in offers.offers_of(platform, loan_id)]}


@router.get("/offers/{offer_id}", tags=["offers"])
def get_offer(
    offer_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*STAFF_READ, Role.BORROWER))],
) -> dict[str, Any]:
    _own_offer(platform, user, offer_id)
    return _out(offers.get_offer(platform, offer_id))


@router.post("/offers/{offer_id}/send", tags=["offers"])
def send_offer(
    offer_id: str, body: SendIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*QUOTERS))],
) -> dict[str, Any]:
    """Queue the offer to the borrower; the dispatcher sends it once the contact policy
    allows."""
    channels = [MessageChannel(c) for c in dict.fromkeys(body.channels)]
    return _out(offers.send_offer(platform, user.subject, offer_id, channels))


@router.post("/offers/{offer_id}/accept", tags=["offers"])
def accept_offer(
    offer_id: str, body: AcceptIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.SERVICING, Role.BORROWER))],
) -> dict[str, Any]:
    """Accept and apply through servicing (or request the checker's approval). A replay of an
    accepted offer returns it with `replayed: true` and changes nothing."""
    _own_offer(platform, user, offer_id)
    borrower = user.borrower_id if user.role is Role.BORROWER else None
    if borrower is not None:
        kind = offers.get_offer(platform, offer_id)["kind"]
        if kind not in BORROWER_MAY_ACCEPT:
            raise InvalidInput.one("offer", "servicing_only",
                                   "pay the payoff in the app, or arrange the appraisal with "
                                   "servicing")
    appraisal = (_parsed(parse_major, body.appraised_value, "appraised_value")
                 if body.appraised_value else None)
    return _out(offers.accept_offer(
        platform, user.subject if borrower is None else f"borrower:{borrower}", offer_id,
        appraised_value_fen=appraisal, shortfall_months=body.shortfall_months,
        channel=Channel(body.channel), guarantor_consent=body.guarantor_consent,
        borrower_id=borrower))


@router.post("/offers/{offer_id}/decline", tags=["offers"])
def decline_offer(
    offer_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*QUOTERS, Role.BORROWER))],
) -> dict[str, Any]:
    _own_offer(platform, user, offer_id)
    borrower = user.borrower_id if user.role is Role.BORROWER else None
    return _out(offers.decline_offer(platform, user.subject, offer_id, borrower_id=borrower))


@router.post("/offers/{offer_id}/approval", tags=["offers"])
def approve_offer(
    offer_id: str, body: ApprovalIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*CHECKERS))],
) -> dict[str, Any]:
    """The checker's decision on an accepted offer; the maker cannot be the checker."""
    return _out(offers.approve_offer(platform, user.subject, offer_id, body.approve))


@router.get("/incentive-programmes", tags=["incentives"])
def list_programmes(
    platform: PlatformDep, user: Annotated[TokenClaims, Depends(allow(*PROGRAMME_READERS))],
) -> dict[str, Any]:
    return {"programmes": [p.to_dict() for p in incentives.programmes(platform)]}


@router.put("/incentive-programmes", tags=["incentives"])
def save_programme(
    body: ProgrammeIn, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.RISK))],
) -> dict[str, Any]:
    """Create or replace a programme (422 names every bad field)."""
    return incentives.save_programme(platform, user.subject, body.definition).to_dict()


@router.get("/loans/{loan_id}/incentives", tags=["incentives"])
def loan_incentives(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*STAFF_READ, Role.BORROWER))],
) -> dict[str, Any]:
    _own_loan(platform, user, loan_id)
    return {"loan_id": loan_id, "awards": incentives.awards_of(platform, loan_id)}


@router.get("/treatments/{programme_id}/read-out", tags=["incentives"])
def read_out(
    programme_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*PROGRAMME_READERS))],
    outcome: Annotated[Literal["on-time-next", "balloon-cleared-30"],
                       Query()] = "on-time-next",
    as_of: Annotated[date | None, Query()] = None,
) -> dict[str, Any]:
    """Outcome rate per arm (treatment, holdout), the difference and its 95 % interval."""
    return treatments.read_out_programme(platform, programme_id, outcome, as_of).to_dict()
