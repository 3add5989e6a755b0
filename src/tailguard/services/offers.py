"""Offers as use cases: quote, send, accept, decline, expire; and balloon offers in bulk.

The rules (eligibility, caps, terms, affordability) are `engagement.offers`; this module reads
the facts, stores the offer and its life, and applies an accepted offer through the existing
servicing use cases, never around them:

- due-date change: `servicing.apply_change_in`, in the offer's own transaction;
- balloon settlement: `servicing.settle_loan` (the payoff payment, keyed by the offer id);
- trade-in or return: `servicing.dispose_vehicle`, with the appraisal given at acceptance;
- deferral, arrears plan, balloon refinancing and extension change what is owed, so, as
  servicing requires, they become a maker-checker request (`services.approvals`): the offer is
  `accepted` until a second person approves (`applied`) or rejects (`rejected`) it;
  `sync_approvals` (run at end of day, and after `approve_offer`) carries the decision over.

Acceptance is idempotent: the first acceptance claims the offer (`accepting`) in one
transaction, applies it, then records the result; a replay of an accepted or applied offer
returns the stored result and applies nothing. A crash between the claim and the record leaves
`accepting`, and the replay applies again through paths that are themselves idempotent (the
settlement's key is the offer id; an existing approval request for the offer is reused). If
applying is refused (the loan changed since the quote), the claim is released and the
refusal returned.

Offers expire at the end of the day their validity ends (`expire_offers`, from the end of day).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from tailguard.engagement.offer_messages import KIND_NAMES
from tailguard.engagement.offer_messages import render as render_message
from tailguard.engagement.offers import (
    APPROVAL_ACTION,
    BALLOON_KINDS,
    DEFAULT_POLICY,
    OPEN_STATUSES,
    OfferFacts,
    OfferKind,
    OfferPolicy,
    OfferRequest,
    OfferStatus,
    months_between,
    plan_due_date_change,
)
from tailguard.engagement.offers import quote as quote_rules
from tailguard.engagement.treatments import HOLDOUT
from tailguard.engagement.vocabulary import Channel as MessageChannel
from tailguard.engagement.vocabulary import Purpose
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import contact_settings, messages
from tailguard.infra.db.tables_offers import offers as offers_table
from tailguard.infra.db.uow import UnitOfWork, to_json
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import Channel
from tailguard.loans.maturity import MaturityOption
from tailguard.money import yuan
from tailguard.services import approvals, servicing
from tailguard.services.loan_books import load, repository
from tailguard.services.platform import Platform
from tailguard.services.treatments import record_arms

SEND_CHANNELS = (MessageChannel.IN_APP, MessageChannel.SMS)
FINAL = (OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.REJECTED)


# -- reads -------------------------------------------------------------------------------------
def _view(row: Any, approval_status: str | None = None) -> dict[str, Any]:
    return {
        "offer_id": row["id"], "loan_id": row["loan_id"], "kind": row["kind"],
        "status": row["status"], "programme": row["programme"],
        "terms": json.loads(row["terms"]), "quoted_on": row["quoted_on"].isoformat(),
        "valid_until": row["valid_until"].isoformat(), "language": row["language"],
        "approval_id": row["approval_id"], "approval_status": approval_status,
        "result": json.loads(row["result"]) if row["result"] else None,
    }


def _select() -> Any:
    a = tables.approvals
    return (select(offers_table, a.c.status.label("approval_status"))
            .select_from(offers_table.outerjoin(a, a.c.id == offers_table.c.approval_id)))


def get_offer(platform: Platform, offer_id: str) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        row = conn.execute(_select().where(offers_table.c.id == offer_id)).mappings().first()
    if row is None:
        raise NotFound(f"offer {offer_id} does not exist")
    return _view(row, row["approval_status"])


def offers_of(platform: Platform, loan_id: str) -> list[dict[str, Any]]:
    """The loan's offers, newest first (404 for an unknown loan)."""
    with platform.engine.connect() as conn:
        if conn.execute(select(tables.loans.c.id).where(tables.loans.c.id == loan_id)
                        ).first() is None:
            raise NotFound(f"loan {loan_id} does not exist")
        rows = conn.execute(_select().where(offers_table.c.loan_id == loan_id).order_by(
            offers_table.c.recorded_at.desc(), offers_table.c.id)).mappings().all()
    return [_view(r, r["approval_status"]) for r in rows]


def borrower_of_offer(platform: Platform, offer_id: str) -> str:
    with platform.engine.connect() as conn:
        borrower = conn.execute(select(offers_table.c.borrower_id).where(
            offers_table.c.id == offer_id)).scalar_one_or_none()
    if borrower is None:
        raise NotFound(f"offer {offer_id} does not exist")
    return str(borrower)


# -- facts -----------------------------------------------------------------------------------
def _facts(conn: Connection, account: LoanAccount, as_of: date,
           monthly_income_fen: int | None, guarantor_consent: bool) -> tuple[OfferFacts, str]:
    loans = tables.loans.c
    record = conn.execute(
        select(loans.borrower_id, loans.status, loans.disbursement_date, loans.guarantor_id)
        .where(loans.id == account.loan_id)).mappings().one()
    o = offers_table.c
    rows = conn.execute(select(o.kind, o.status).where(o.loan_id == account.loan_id)).all()
    open_values = {s.value for s in OPEN_STATUSES}
    open_kinds = frozenset(kind for kind, status in rows if status in open_values)
    taken = [kind for kind, status in rows if status in ("accepted", "applied")]
    position = account.position(as_of)  # today's, not the state cache of the last night
    facts = OfferFacts(
        as_of=as_of,
        active=record["status"] == "active" and not position.paid_off,
        dpd=position.dpd,
        months_on_book=months_between(record["disbursement_date"], as_of),
        open_kinds=open_kinds,
        previous_deferrals=taken.count(OfferKind.DEFERRAL.value),
        previous_due_date_changes=taken.count(OfferKind.DUE_DATE_CHANGE.value),
        monthly_income_fen=monthly_income_fen,
        has_guarantor=record["guarantor_id"] is not None,
        guarantor_consent=guarantor_consent,
    )
    return facts, str(record["borrower_id"])


def _language(conn: Connection, borrower_id: str) -> str:
    language = conn.execute(select(contact_settings.c.language).where(
        contact_settings.c.borrower_id == borrower_id)).scalar_one_or_none()
    return str(language) if language in ("zh", "en") else "zh"


# -- quote --------------------------------------------------------------------------------------
def quote_offer(
    platform: Platform, actor: str, loan_id: str, kind: OfferKind, *,
    months: int | None = None, new_day: int | None = None, annual_rate: Decimal | None = None,
    monthly_income_fen: int | None = None, guarantor_consent: bool = False,
    programme: str | None = None, policy: OfferPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """Quote one offer for a loan today and store it as `quoted`; `Refused` names the rule it
    fails (eligibility, cap, term range, affordability)."""
    if monthly_income_fen is not None and monthly_income_fen <= 0:
        raise InvalidInput.one("monthly_income", "not_positive", "must be more than zero")
    with platform.uow(actor) as uow:
        account = load(repository(platform, uow), loan_id, for_update=True)
        today = platform.today()
        facts, borrower_id = _facts(uow.connection, account, today, monthly_income_fen,
                                    guarantor_consent)
        quoted = quote_rules(account, facts, OfferRequest(kind, months, new_day, annual_rate),
                             policy)
        row = _insert_offer(uow, loan_id, borrower_id, kind, quoted.terms, today,
                            quoted.valid_until, _language(uow.connection, borrower_id),
                            programme, actor)
        uow.commit()
    return _view(row)


def _insert_offer(uow: UnitOfWork, loan_id: str, borrower_id: str, kind: OfferKind,
                  terms: dict[str, Any], today: date, valid_until: date, language: str,
                  programme: str | None, actor: str) -> dict[str, Any]:
    values = {
        "id": "off-" + uuid.uuid4().hex[:20], "loan_id": loan_id, "borrower_id": borrower_id,
        "kind": kind.value, "status": OfferStatus.QUOTED.value, "programme": programme,
        "terms": to_json(terms), "quoted_on": today, "valid_until": valid_until,
        "language": language, "sent_at": None, "decided_at": None, "decided_by": None,
        "approval_id": None, "result": None, "actor": actor, "recorded_at": uow.clock.now(),
    }
    uow.connection.execute(insert(offers_table).values(**values))
    detail = {"offer_id": values["id"], "kind": kind.value, "terms": terms,
              "valid_until": valid_until, "programme": programme}
    uow.audit("offer.quote", "loan", loan_id, detail)
    uow.emit("OfferQuoted", loan_id, detail, today)
    return values


# -- send ----------------------------------------------------------------------------------------
def _lock(conn: Connection, offer_id: str) -> Any:
    query = select(offers_table).where(offers_table.c.id == offer_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"offer {offer_id} does not exist")
    return row


def _message_rows(row: Any, lender: str, actor: str, now: Any,
                  channels: Sequence[MessageChannel]) -> list[dict[str, Any]]:
    terms = json.loads(row["terms"])
    language = row["language"]
    context = {
        "lender": lender, "loan_id": row["loan_id"],
        "kind_name": KIND_NAMES[language][row["kind"]],
        "monthly": yuan(terms["monthly_payment_fen"]) if "monthly_payment_fen" in terms else "",
        "payoff": yuan(terms["payoff_fen"]) if "payoff_fen" in terms else "",
        "months": terms.get("months", ""), "valid_until": row["valid_until"].isoformat(),
    }
    rendered = render_message("offer", language, context)
    return [{"borrower_id": row["borrower_id"], "loan_id": row["loan_id"],
             "channel": channel.value, "purpose": Purpose.SERVICE.value, "template": "offer",
             "language": language, "subject": rendered.subject[:200], "body": rendered.body,
             "status": "queued", "attempts": 0, "next_attempt_at": now, "last_error": None,
             "provider_id": None, "contact_id": None,
             "dedupe_key": f"offer:{row['id']}:{channel.value}", "actor": actor,
             "recorded_at": now, "sent_at": None}
            for channel in channels]


def queue_messages(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert messages for the dispatcher (services.notifications.deliver_due, which applies
    the contact policy before each send); a dedupe key already queued is skipped."""
    if not rows:
        return 0
    keys = [r["dedupe_key"] for r in rows]
    existing = set(conn.execute(select(messages.c.dedupe_key).where(
        messages.c.dedupe_key.in_(keys))).scalars())
    new = [r for r in rows if r["dedupe_key"] not in existing]
    if new:
        conn.execute(insert(messages), new)
    return len(new)


def send_offer(platform: Platform, actor: str, offer_id: str,
               channels: Sequence[MessageChannel] = SEND_CHANNELS) -> dict[str, Any]:
    """Queue the offer to the borrower (in-app and SMS by default) and mark it `sent`.

    The messages go out through the dispatcher, which checks the contact policy first; sending
    an offer already sent queues nothing again."""
    with platform.uow(actor) as uow:
        row = _lock(uow.connection, offer_id)
        status = OfferStatus(row["status"])
        if status not in (OfferStatus.QUOTED, OfferStatus.SENT):
            raise Refused("OFFER_NOT_OPEN", f"offer {offer_id} is {status.value}")
        today = platform.today()
        if today > row["valid_until"]:
            raise Refused("OFFER_EXPIRED", f"offer {offer_id} lapsed on {row['valid_until']}")
        now = uow.clock.now()
        queued = queue_messages(uow.connection, _message_rows(
            row, platform.settings.lender_name, actor, now, channels))
        if status is OfferStatus.QUOTED:
            uow.connection.execute(update(offers_table).where(offers_table.c.id == offer_id)
                                   .values(status=OfferStatus.SENT.value, sent_at=now))
            detail = {"offer_id": offer_id, "kind": row["kind"],
                      "channels": [c.value for c in channels], "messages": queued}
            uow.audit("offer.send", "loan", row["loan_id"], detail)
            uow.emit("OfferSent", row["loan_id"], detail, today)
        uow.commit()
    return get_offer(platform, offer_id)


# -- accept, decline ----------------------------------------------------------------------------
def accept_offer(
    platform: Platform, actor: str, offer_id: str, *,
    appraised_value_fen: int | None = None, shortfall_months: int | None = None,
    channel: Channel = Channel.BANK_TRANSFER, guarantor_consent: bool = False,
    borrower_id: str | None = None,
) -> dict[str, Any]:
    """Accept a sent offer and apply it through servicing (see the module docstring).

    `borrower_id`, when given (the borrower's own app), must own the offer: another's is
    reported as not existing. A replay of an accepted offer returns it unchanged, marked
    `replayed`."""
    kind: OfferKind
    with platform.uow(actor) as uow:
        row = _lock(uow.connection, offer_id)
        if borrower_id is not None and row["borrower_id"] != borrower_id:
            raise NotFound(f"offer {offer_id} does not exist")
        status = OfferStatus(row["status"])
        kind = OfferKind(row["kind"])
        if status in (OfferStatus.ACCEPTED, OfferStatus.APPLIED):
            return get_offer(platform, offer_id) | {"replayed": True}
        if status in FINAL:
            raise Refused(f"OFFER_{status.name}", f"offer {offer_id} is {status.value}")
        if status is OfferStatus.QUOTED:
            raise Refused("OFFER_NOT_SENT", "an offer is accepted after it was sent")
        if kind in (OfferKind.TRADE_IN, OfferKind.RETURN_VEHICLE) and (
                appraised_value_fen is None or appraised_value_fen <= 0):
            raise InvalidInput.one("appraised_value", "missing",
                                   "a trade-in or return needs the vehicle's appraised value")
        if status is OfferStatus.SENT:
            if platform.today() > row["valid_until"]:
                raise Refused("OFFER_EXPIRED", f"offer {offer_id} lapsed on {row['valid_until']}")
            claimed = uow.connection.execute(update(offers_table).where(
                offers_table.c.id == offer_id, offers_table.c.status == OfferStatus.SENT.value,
            ).values(status=OfferStatus.ACCEPTING.value)).rowcount
            if claimed != 1:  # another acceptance claimed it meanwhile (SQLite: no row lock)
                raise Refused("OFFER_BEING_ACCEPTED", f"offer {offer_id} is being accepted")
            uow.audit("offer.accepting", "loan", row["loan_id"], {"offer_id": offer_id})
            uow.commit()
        terms = json.loads(row["terms"])
        loan_id = str(row["loan_id"])
    try:
        new_status, approval_id, result = _apply(
            platform, actor, offer_id, loan_id, kind, terms, appraised_value_fen,
            shortfall_months, channel, guarantor_consent)
    except (Refused, InvalidInput):
        with platform.uow(actor) as uow:  # release the claim: the offer stays acceptable
            uow.connection.execute(update(offers_table).where(
                offers_table.c.id == offer_id,
                offers_table.c.status == OfferStatus.ACCEPTING.value,
            ).values(status=OfferStatus.SENT.value))
            uow.audit("offer.accept-refused", "loan", loan_id, {"offer_id": offer_id})
            uow.commit()
        raise
    with platform.uow(actor) as uow:
        now = uow.clock.now()
        uow.connection.execute(update(offers_table).where(
            offers_table.c.id == offer_id, offers_table.c.status == OfferStatus.ACCEPTING.value,
        ).values(status=new_status.value, approval_id=approval_id, result=to_json(result),
                 decided_at=now, decided_by=actor))
        detail = {"offer_id": offer_id, "kind": kind.value, "status": new_status.value,
                  "approval_id": approval_id, "result": result}
        uow.audit("offer.accept", "loan", loan_id, detail)
        uow.emit("OfferAccepted", loan_id, detail, platform.today())
        if new_status is OfferStatus.APPLIED:
            uow.emit("OfferApplied", loan_id, detail, platform.today())
        uow.commit()
    return get_offer(platform, offer_id)


def _apply(platform: Platform, actor: str, offer_id: str, loan_id: str, kind: OfferKind,
           terms: dict[str, Any], appraised_value_fen: int | None,
           shortfall_months: int | None, channel: Channel, guarantor_consent: bool,
           ) -> tuple[OfferStatus, str | None, dict[str, Any]]:
    today = platform.today()
    if kind is OfferKind.DUE_DATE_CHANGE:
        new_day = int(terms["new_day"])
        position = servicing.apply_account_change(
            platform, actor, loan_id,
            lambda account: plan_due_date_change(account, today, new_day).apply(account),
            "loan.due-date-change", {"offer_id": offer_id, "new_day": new_day})
        return OfferStatus.APPLIED, None, {"dpd": position.dpd,
                                            "next_due_date": _iso(position)}
    if kind is OfferKind.SETTLE:
        quote = servicing.payoff_quote(platform, loan_id)
        outcome = servicing.settle_loan(platform, actor, loan_id, quote.total_fen, channel,
                                        f"offer:{offer_id}")
        return OfferStatus.APPLIED, None, {"payment_id": outcome.payment_id,
                                            "amount_fen": outcome.amount_fen,
                                            "dpd": outcome.dpd}
    if kind in (OfferKind.TRADE_IN, OfferKind.RETURN_VEHICLE):
        assert appraised_value_fen is not None
        option = (MaturityOption.TRADE_IN if kind is OfferKind.TRADE_IN
                  else MaturityOption.RETURN_VEHICLE)
        position, disposition = servicing.dispose_vehicle(
            platform, actor, loan_id, option, appraised_value_fen, shortfall_months)
        return OfferStatus.APPLIED, None, {"appraised_value_fen": appraised_value_fen,
                                            "surplus_fen": disposition.surplus_fen,
                                            "shortfall_fen": disposition.shortfall_fen,
                                            "paid_off": position.paid_off}
    action = APPROVAL_ACTION[kind]
    existing = _approval_for(platform, loan_id, offer_id)
    if existing is None:
        payload: dict[str, Any] = {"offer_id": offer_id, "requested_in": "offer"}
        if "months" in terms:
            payload["months"] = int(terms["months"])
        if kind is OfferKind.REFINANCE:
            payload["annual_rate"] = terms["annual_rate"]
        if kind is OfferKind.EXTEND:
            with platform.engine.connect() as conn:
                guarantor = conn.execute(select(tables.loans.c.guarantor_id).where(
                    tables.loans.c.id == loan_id)).scalar_one()
            payload["has_guarantor"] = guarantor is not None
            payload["guarantor_consent"] = guarantor_consent
        existing = approvals.request_approval(platform, actor, action, loan_id,
                                              payload).approval_id
    return OfferStatus.ACCEPTED, existing, {"approval_id": existing, "action": action}


def _iso(position: Any) -> str | None:
    due = getattr(position, "next_due_date", None)
    return due.isoformat() if due is not None else None


def _approval_for(platform: Platform, loan_id: str, offer_id: str) -> str | None:
    a = tables.approvals.c
    with platform.engine.connect() as conn:
        rows = conn.execute(select(a.id, a.payload).where(a.loan_id == loan_id)).all()
    for approval_id, payload in rows:
        if json.loads(payload).get("offer_id") == offer_id:
            return str(approval_id)
    return None


def decline_offer(platform: Platform, actor: str, offer_id: str,
                  borrower_id: str | None = None) -> dict[str, Any]:
    with platform.uow(actor) as uow:
        row = _lock(uow.connection, offer_id)
        if borrower_id is not None and row["borrower_id"] != borrower_id:
            raise NotFound(f"offer {offer_id} does not exist")
        status = OfferStatus(row["status"])
        if status is OfferStatus.DECLINED:
            return get_offer(platform, offer_id) | {"replayed": True}
        if status not in (OfferStatus.QUOTED, OfferStatus.SENT):
            raise Refused("OFFER_NOT_OPEN", f"offer {offer_id} is {status.value}")
        uow.connection.execute(update(offers_table).where(offers_table.c.id == offer_id).values(
            status=OfferStatus.DECLINED.value, decided_at=uow.clock.now(), decided_by=actor))
        detail = {"offer_id": offer_id, "kind": row["kind"]}
        uow.audit("offer.decline", "loan", row["loan_id"], detail)
        uow.emit("OfferDeclined", row["loan_id"], detail, platform.today())
        uow.commit()
    return get_offer(platform, offer_id)


def approve_offer(platform: Platform, checker: str, offer_id: str,
                  approve: bool = True) -> dict[str, Any]:
    """The checker's decision on an accepted offer (`approvals.decide`), carried over."""
    offer = get_offer(platform, offer_id)
    if offer["approval_id"] is None:
        raise Refused("NO_APPROVAL", f"offer {offer_id} is not waiting for an approval")
    approvals.decide(platform, checker, offer["approval_id"], approve)
    sync_approvals(platform)
    return get_offer(platform, offer_id)


# -- end of day -----------------------------------------------------------------------------------
def expire_offers(platform: Platform, as_of: date) -> int:
    """At the end of `as_of`, offers still quoted or sent whose validity ended lapse. One
    query for the lot; a rerun for the day finds nothing left to expire."""
    o = offers_table.c
    open_now = and_(o.status.in_((OfferStatus.QUOTED.value, OfferStatus.SENT.value)),
                    o.valid_until <= as_of)
    with platform.uow("offers") as uow:
        rows = uow.connection.execute(select(o.id, o.loan_id, o.kind).where(open_now)).all()
        if not rows:
            return 0
        uow.connection.execute(update(offers_table).where(
            o.id.in_([r.id for r in rows]), open_now).values(status=OfferStatus.EXPIRED.value))
        uow.audit_many([("offer.expire", "loan", r.loan_id, {"offer_id": r.id, "as_of": as_of})
                        for r in rows])
        uow.emit_many([("OfferExpired", r.loan_id, {"offer_id": r.id, "kind": r.kind}, as_of)
                       for r in rows])
        uow.commit()
    return len(rows)


def sync_approvals(platform: Platform) -> int:
    """Accepted offers whose approval was decided become `applied` or `rejected`."""
    o, a = offers_table.c, tables.approvals.c
    with platform.uow("offers") as uow:
        rows = uow.connection.execute(
            select(o.id, o.loan_id, a.status).select_from(
                offers_table.join(tables.approvals, a.id == o.approval_id))
            .where(o.status == OfferStatus.ACCEPTED.value,
                   a.status.in_(("approved", "rejected")))).all()
        for offer_id, loan_id, approval_status in rows:
            status = (OfferStatus.APPLIED if approval_status == "approved"
                      else OfferStatus.REJECTED)
            uow.connection.execute(update(offers_table).where(o.id == offer_id).values(
                status=status.value))
            uow.audit(f"offer.{status.value}", "loan", loan_id, {"offer_id": offer_id})
            uow.emit("OfferApplied" if status is OfferStatus.APPLIED else "OfferRejected",
                     loan_id, {"offer_id": offer_id}, platform.today())
        uow.commit()
    return len(rows)


def offers_end_of_day(platform: Platform, as_of: date) -> dict[str, int]:
    """The end-of-day step of offers: carry approvals over, then expire what lapsed."""
    synced = sync_approvals(platform)
    return {"synced": synced, "expired": expire_offers(platform, as_of)}


# -- in bulk (the simulator, campaigns) --------------------------------------------------------
@dataclass(frozen=True)
class OfferRun:
    """What `offer_balloon_options` did: loans considered, their arms, offers quoted and sent,
    and loans where no balloon option was open (with the most common reason)."""

    loans: int
    treatment: int
    holdout: int
    quoted: int
    sent: int
    ineligible: int
    reasons: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def offer_balloon_options(
    platform: Platform, loan_ids: Iterable[str], as_of: date | None = None, *,
    programme: str = "balloon-options", holdout: Decimal | float = Decimal("0.1"),
    kinds: Sequence[OfferKind] = (OfferKind.REFINANCE, OfferKind.EXTEND, OfferKind.SETTLE),
    send: bool = True, actor: str = "offers", policy: OfferPolicy = DEFAULT_POLICY,
) -> OfferRun:
    """Offer the balloon options to each loan in the treatment arm of `programme`.

    Simple to call from the simulator: give the loans whose balloon is near (any others are
    counted as ineligible), the day, and the holdout share. Each borrower draws an arm from a
    stable hash of the programme and the borrower id (`services.treatments`; the same every
    day); holdout loans get nothing and are recorded so the read-out can compare. Treatment
    loans get one offer per open kind in `kinds`, quoted and (with `send`) sent. A loan that
    already has an open offer of a kind is skipped for that kind, so a daily call is safe.
    """
    ids = list(dict.fromkeys(loan_ids))
    day = as_of or platform.today()
    arms = record_arms(platform, programme, ids, day, holdout)
    quoted = sent = ineligible = 0
    reasons: dict[str, int] = {}
    for loan_id in ids:
        if arms.get(loan_id) == HOLDOUT:
            continue
        made = 0
        for kind in kinds:
            try:
                offer = quote_offer(platform, actor, loan_id, kind, programme=programme,
                                    policy=policy)
            except Refused as refused:
                reasons[refused.code] = reasons.get(refused.code, 0) + 1
                continue
            made += 1
            quoted += 1
            if send:
                send_offer(platform, actor, offer["offer_id"])
                sent += 1
        if not made:
            ineligible += 1
    held = sum(1 for arm in arms.values() if arm == HOLDOUT)
    return OfferRun(len(ids), len(arms) - held, held, quoted, sent, ineligible, reasons)


BALLOON_OFFER_KINDS = BALLOON_KINDS
__all__ = [
    "BALLOON_OFFER_KINDS", "OfferRun", "accept_offer", "approve_offer", "borrower_of_offer",
    "decline_offer", "expire_offers", "get_offer", "offer_balloon_options", "offers_end_of_day",
    "offers_of", "quote_offer", "send_offer", "sync_approvals",
]
