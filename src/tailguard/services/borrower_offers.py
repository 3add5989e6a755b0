"""The borrower app's view of offers and incentives: the offers sent to the borrower for a loan,
accepting or declining one, the awards earned and the programmes the loan could still earn.

Nothing here decides anything new. Ownership is the portal's rule
(`borrower_portal.require_own_loan`: the same person, any of their party rows), checked before
anything is read, and an offer answers `NotFound` unless it belongs to that loan and was sent:
an id typed into the address or a form reveals nothing. Which kinds a borrower may accept is
`engagement.offers.BORROWER_MAY_ACCEPT`, the rule the API applies; acceptance and decline go
through `services.offers`, which applies the offer through servicing or asks for the checker's
approval. The programmes are `services.incentives`' data, read with the rules of
`engagement.incentives` (what earns an award) and `engagement.treatments` (a borrower in a
programme's holdout gets nothing from it, so the app does not advertise it to them either).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from tailguard.engagement.incentives import IncentiveKind
from tailguard.engagement.offers import BORROWER_MAY_ACCEPT, OfferKind, OfferStatus
from tailguard.engagement.treatments import HOLDOUT, arm_of
from tailguard.errors import InvalidInput, NotFound
from tailguard.infra.db import tables
from tailguard.services import incentives, offers
from tailguard.services.borrower_portal import require_own_loan
from tailguard.services.platform import Platform

SHOWN = frozenset(s.value for s in OfferStatus) - {OfferStatus.QUOTED.value}
"""A quoted offer is a staff draft until it is sent; the borrower sees the rest of its life."""


def may_accept(offer: dict[str, Any], today: date) -> bool:
    """The borrower may act on it now: a kind they may accept, sent and still valid."""
    return (OfferKind(offer["kind"]) in BORROWER_MAY_ACCEPT
            and offer["status"] == OfferStatus.SENT.value
            and date.fromisoformat(offer["valid_until"]) >= today)


def offers_for(platform: Platform, party_id: str, loan_id: str) -> list[dict[str, Any]]:
    """The offers sent for the borrower's loan, newest first, each with `may_accept`."""
    require_own_loan(platform, party_id, loan_id)
    today = platform.today()
    return [offer | {"may_accept": may_accept(offer, today)}
            for offer in offers.offers_of(platform, loan_id) if offer["status"] in SHOWN]


def _own_offer(platform: Platform, party_id: str, loan_id: str, offer_id: str
               ) -> dict[str, Any]:
    require_own_loan(platform, party_id, loan_id)
    offer = offers.get_offer(platform, offer_id)
    if offer["loan_id"] != loan_id or offer["status"] not in SHOWN:
        raise NotFound(f"offer {offer_id} does not exist")
    if OfferKind(offer["kind"]) not in BORROWER_MAY_ACCEPT:
        raise InvalidInput.one("offer", "servicing_only",
                               "pay the payoff in the app, or arrange the appraisal with "
                               "servicing")
    return offer


def accept(platform: Platform, party_id: str, loan_id: str, offer_id: str) -> dict[str, Any]:
    """Accept through `services.offers.accept_offer`: `applied` at once, or `accepted` and
    waiting for the checker (kinds that change what is owed)."""
    _own_offer(platform, party_id, loan_id, offer_id)
    owner = offers.borrower_of_offer(platform, offer_id)  # the party row it was sent to
    return offers.accept_offer(platform, f"borrower:{party_id}", offer_id, borrower_id=owner)


def decline(platform: Platform, party_id: str, loan_id: str, offer_id: str) -> dict[str, Any]:
    _own_offer(platform, party_id, loan_id, offer_id)
    owner = offers.borrower_of_offer(platform, offer_id)
    return offers.decline_offer(platform, f"borrower:{party_id}", offer_id, borrower_id=owner)


# -- incentives ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class IncentiveChance:
    """A running programme this loan has not earned yet, in the borrower's terms."""

    programme: str
    kind: str
    amount_fen: int | None
    """A fixed award; otherwise `share_percent` of the interest, capped at `max_fen`."""
    share_percent: str | None
    max_fen: int | None
    settle_by: date | None = None
    """Early settlement: paid off on or before this day (the balloon's due date less
    `days_early`)."""
    days_early: int = 0
    streak: int = 0


def _original_balloon_due(platform: Platform, loan_id: str) -> date | None:
    """The balloon's due date in the loan's first schedule: what early settlement counts
    from (services/incentives.py uses the same, so a restructuring does not move it)."""
    inst = tables.installments.c
    with platform.engine.connect() as conn:
        due: date | None = conn.execute(select(func.max(inst.due_date)).where(
            inst.loan_id == loan_id, inst.version == 1, inst.balloon_fen > 0)).scalar()
    return due


def awards_for(platform: Platform, party_id: str, loan_id: str) -> list[dict[str, Any]]:
    require_own_loan(platform, party_id, loan_id)
    return incentives.awards_of(platform, loan_id)


def chances_for(platform: Platform, party_id: str, loan_id: str) -> list[IncentiveChance]:
    """Programmes running today that this loan can still earn, for an active loan whose
    borrower is in the programme's treatment arm."""
    require_own_loan(platform, party_id, loan_id)
    today = platform.today()
    with platform.engine.connect() as conn:
        loan = conn.execute(select(tables.loans.c.status, tables.loans.c.borrower_id).where(
            tables.loans.c.id == loan_id)).one()
    if loan.status != "active":
        return []
    earned = {a["programme"] for a in incentives.awards_of(platform, loan_id)}
    balloon_due: date | None = None
    out: list[IncentiveChance] = []
    for programme in incentives.programmes(platform):
        if (not programme.running_on(today) or programme.id in earned
                or arm_of(programme.id, str(loan.borrower_id), programme.holdout) == HOLDOUT):
            continue
        share = (str(programme.share_of_interest * 100).rstrip("0").rstrip(".")
                 if programme.share_of_interest is not None else None)
        base = IncentiveChance(programme.id, programme.kind.value, programme.amount_fen,
                               share, programme.max_fen)
        if programme.kind is IncentiveKind.BALLOON_EARLY_SETTLEMENT:
            balloon_due = balloon_due or _original_balloon_due(platform, loan_id)
            if balloon_due is None or balloon_due < programme.starts_on:
                continue
            settle_by = balloon_due - timedelta(days=programme.days_early)
            if programme.ends_on is not None:
                settle_by = min(settle_by, programme.ends_on)
            if settle_by < today:
                continue
            out.append(replace(base, settle_by=settle_by, days_early=programme.days_early))
        else:
            out.append(replace(base, streak=programme.streak))
    return out
