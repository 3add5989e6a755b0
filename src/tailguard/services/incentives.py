"""Incentive programmes: stored as data, evaluated at end of day, awards booked in the ledger.

`evaluate_incentives(platform, as_of)` runs every programme running on `as_of`: a fixed number
of queries reads the facts of the whole book (no per-loan reads), the rules of
`engagement.incentives` find who earned an award, arms are drawn and recorded
(`services.treatments`), and only treatment-arm loans are awarded.

Booking. An award is a loan event, a non-cash payment of the lender's on the channel
`incentive`, and the ordinary true-up books it (ledger/flows.py): Dr incentive expense
(6721.incentive) against what the replay applies it to, which is the borrower's credit balance
(Cr 2243.credit) when nothing is due, else the receivable due. This is the one booking
consistent with the credit-balance flows already there: a posting straight to the credit
balance that the replay did not know about would be undone by nothing, yet reconciliation would
flag it and the credit would never be applied to the next instalment or be refundable
(`servicing.refund_credit` checks the replayed credit). As an event the award is applied to the
next instalment automatically, or refunded on a closed loan, and a backdated payment or a
reversal re-shares it exactly like any other money.

Once per loan and programme: `incentive_awards` has a unique key on (programme, loan), checked
and inserted in the award's own transaction with the loan locked, so a rerun of the same day
(or of any later day) awards nothing twice. Each award writes its audit row, an
`IncentiveAwarded` outbox event and the borrower's notification (in-app and SMS, through the
dispatcher and its contact policy) in that same transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, exists, func, insert, select, update

from tailguard.engagement.incentives import (
    IncentiveKind,
    Programme,
    award_amounts,
    parse_programme,
    settled_early,
    streak_reached,
)
from tailguard.engagement.offer_messages import REASONS
from tailguard.engagement.offer_messages import render as render_message
from tailguard.engagement.treatments import HOLDOUT
from tailguard.engagement.vocabulary import Channel as MessageChannel
from tailguard.engagement.vocabulary import Purpose
from tailguard.errors import NotFound, Refused
from tailguard.infra.db import state_repository as states
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import contact_settings
from tailguard.infra.db.tables_offers import incentive_awards, incentive_programmes
from tailguard.infra.db.uow import UnitOfWork, to_json
from tailguard.loans.events import Channel, PaymentReceived
from tailguard.money import yuan
from tailguard.services.loan_books import emit_position_events, load, repository, sync_books
from tailguard.services.offers import queue_messages
from tailguard.services.platform import Platform
from tailguard.services.treatments import record_arms_in

ACTOR = "incentives"
log = logging.getLogger("tailguard.incentives")
NOTIFY_CHANNELS = (MessageChannel.IN_APP, MessageChannel.SMS)


# -- programmes as data -----------------------------------------------------------------------
def save_programme(platform: Platform, actor: str, data: Any) -> Programme:
    """Create or replace a programme from its JSON shape (validated, every field named)."""
    programme = parse_programme(data)
    with platform.uow(actor) as uow:
        table = incentive_programmes
        values = {"definition": to_json(programme.to_dict()), "active": programme.active,
                  "actor": actor, "recorded_at": uow.clock.now()}
        changed = uow.connection.execute(update(table).where(table.c.id == programme.id)
                                         .values(**values)).rowcount
        if not changed:
            uow.connection.execute(insert(table).values(id=programme.id, **values))
        uow.audit("incentive.programme", "incentive-programme", programme.id,
                  programme.to_dict())
        uow.emit("IncentiveProgrammeSaved", programme.id, programme.to_dict())
        uow.commit()
    return programme


def programmes(platform: Platform) -> list[Programme]:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(incentive_programmes.c.definition).order_by(
            incentive_programmes.c.id)).scalars().all()
    return [parse_programme(json.loads(text)) for text in rows]


def get_programme(platform: Platform, programme_id: str) -> Programme:
    for programme in programmes(platform):
        if programme.id == programme_id:
            return programme
    raise NotFound(f"incentive programme {programme_id} does not exist")


# -- evaluation ----------------------------------------------------------------------------------
@dataclass
class ProgrammeRun:
    programme: str
    considered: int = 0
    """Loans in the programme's population today (their arms are recorded)."""
    eligible: int = 0
    held_out: int = 0
    """Eligible loans in the holdout: no award, counted for the read-out."""
    awarded: int = 0
    amount_fen: int = 0
    refused: int = 0


@dataclass
class IncentiveRun:
    as_of: date
    programmes: list[ProgrammeRun] = field(default_factory=list)

    @property
    def awarded(self) -> int:
        return sum(p.awarded for p in self.programmes)

    @property
    def amount_fen(self) -> int:
        return sum(p.amount_fen for p in self.programmes)

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "awarded": self.awarded,
                "amount_fen": self.amount_fen,
                "programmes": [asdict(p) for p in self.programmes]}


def evaluate_incentives(platform: Platform, as_of: date) -> IncentiveRun:
    """Award what was earned by the end of `as_of` in every running programme.

    Safe to call again for the same day (or to catch up): awards are once per loan and
    programme. Returns counts per programme (see `ProgrammeRun`)."""
    run = IncentiveRun(as_of)
    for programme in programmes(platform):
        if not programme.running_on(as_of):
            continue
        run.programmes.append(_evaluate(platform, programme, as_of))
    return run


def _not_awarded(programme_id: str, loan_column: Any) -> Any:
    ia = incentive_awards.c
    return ~exists().where(and_(ia.programme_id == programme_id, ia.loan_id == loan_column))


def _evaluate(platform: Platform, programme: Programme, as_of: date) -> ProgrammeRun:
    result = ProgrammeRun(programme.id)
    with platform.uow(ACTOR) as uow:
        conn = uow.connection
        if programme.kind is IncentiveKind.BALLOON_EARLY_SETTLEMENT:
            population, eligible, interest = _early_settlement(conn, programme, as_of)
        else:
            population, eligible, interest = _streaks(conn, programme, as_of)
        arms = record_arms_in(conn, programme.id, population, as_of, programme.holdout,
                              uow.clock.now())
        uow.commit()
    result.considered = len(population)
    result.eligible = len(eligible)
    amounts = award_amounts(programme, np.array(interest, dtype=np.int64))
    for loan_id, amount in zip(eligible, amounts.tolist(), strict=True):
        if arms.get(loan_id) == HOLDOUT:
            result.held_out += 1
            continue
        if amount <= 0:
            continue
        try:
            done = _award(platform, programme, loan_id, int(amount), as_of)
        except Refused as refused:  # one loan's refusal (closed meanwhile…) stops no other
            log.warning("incentive %s for %s refused: %s", programme.id, loan_id, refused)
            result.refused += 1
            continue
        if done:
            result.awarded += 1
            result.amount_fen += int(amount)
    return result


def _early_settlement(conn: Connection, programme: Programme, as_of: date
                      ) -> tuple[list[str], list[str], list[int]]:
    """Population: loans with an original balloon not yet due, still running, plus those
    paid off during the programme. Eligible: paid off early enough, not by vehicle proceeds."""
    inst, st, loans = tables.installments.c, tables.installment_state.c, tables.loans.c
    balloon = (select(inst.loan_id, func.max(inst.due_date).label("due"))
               .where(inst.version == 1, inst.balloon_fen > 0)
               .group_by(inst.loan_id)).subquery()
    settled = (select(st.loan_id, func.max(st.settled_on).label("settled"),
                      func.sum(st.interest_paid_fen).label("interest"))
               .group_by(st.loan_id)).subquery()
    events = tables.loan_events.c
    by_vehicle = exists().where(and_(events.loan_id == loans.id,
                                     events.channel == Channel.VEHICLE_PROCEEDS.value))
    rows = conn.execute(
        select(loans.id, loans.status, tables.loan_state.c.paid_off, balloon.c.due,
               settled.c.settled, settled.c.interest, by_vehicle.label("by_vehicle"))
        .select_from(tables.loans.join(balloon, balloon.c.loan_id == loans.id)
                     .join(tables.loan_state, tables.loan_state.c.loan_id == loans.id)
                     .outerjoin(settled, settled.c.loan_id == loans.id))
        .where(balloon.c.due >= programme.starts_on, _not_awarded(programme.id, loans.id))
        .order_by(loans.id)
    ).all()
    population: list[str] = []
    candidates: list[tuple[str, date, date, int]] = []
    for loan_id, status, paid_off, due, settled_on, interest, by_vehicle_flag in rows:
        if status == "active" and not paid_off and due >= as_of:
            population.append(loan_id)
        elif paid_off and settled_on is not None and not by_vehicle_flag:
            population.append(loan_id)
            candidates.append((loan_id, due, settled_on, int(interest or 0)))
    if not candidates:
        return population, [], []
    mask = settled_early(np.array([c[1] for c in candidates], dtype="datetime64[D]"),
                         np.array([c[2] for c in candidates], dtype="datetime64[D]"),
                         programme.days_early, programme.starts_on, as_of)
    chosen = [c for c, ok in zip(candidates, mask.tolist(), strict=True) if ok]
    return population, [c[0] for c in chosen], [c[3] for c in chosen]


def _streaks(conn: Connection, programme: Programme, as_of: date
             ) -> tuple[list[str], list[str], list[int]]:
    """Population: active loans. Eligible: a run of `streak` on-time instalments due within
    the programme; the run's interest for a share-of-interest award."""
    st, loans = tables.installment_state.c, tables.loans.c
    rows = conn.execute(
        select(st.loan_id, st.due_date, st.settled_on, st.interest_fen)
        .select_from(tables.installment_state.join(tables.loans, loans.id == st.loan_id))
        .where(loans.status == "active", st.due_date >= programme.starts_on,
               st.due_date <= as_of, _not_awarded(programme.id, st.loan_id))
        .order_by(st.loan_id, st.due_date, st.number)
    ).all()
    population = list(conn.execute(select(loans.id).where(
        loans.status == "active", _not_awarded(programme.id, loans.id)).order_by(
        loans.id)).scalars())
    if not rows:
        return population, [], []
    ids = np.array([r[0] for r in rows], dtype=object)
    due = np.array([r[1] for r in rows], dtype="datetime64[D]")
    settled_raw = [r[2] for r in rows]
    paid = np.array([s is not None for s in settled_raw], dtype=bool)
    settled = np.array([s if s is not None else r[1] for s, r in zip(settled_raw, rows,
                                                                      strict=True)],
                       dtype="datetime64[D]")
    on_time = paid & (settled <= due)
    interest = np.array([int(r[3]) for r in rows], dtype=np.int64)
    change = np.ones(len(ids), dtype=bool)
    change[1:] = ids[1:] != ids[:-1]
    codes = np.cumsum(change) - 1
    hit_codes, run_interest = streak_reached(codes.astype(np.int64), on_time, interest,
                                             programme.streak)
    first_row = np.flatnonzero(change)
    eligible = [str(ids[first_row[c]]) for c in hit_codes.tolist()]
    return population, eligible, [int(v) for v in run_interest.tolist()]


def _payment_id(programme_id: str, loan_id: str) -> str:
    return "inc-" + hashlib.sha256(f"{programme_id}:{loan_id}".encode()).hexdigest()[:24]


def _award(platform: Platform, programme: Programme, loan_id: str, amount_fen: int,
           as_of: date) -> bool:
    """Book one award in its own transaction; False if the loan already has it."""
    with platform.uow(ACTOR) as uow:
        conn = uow.connection
        repo = repository(platform, uow)
        account = load(repo, loan_id, for_update=True)
        ia = incentive_awards.c
        if conn.execute(select(ia.id).where(ia.programme_id == programme.id,
                                            ia.loan_id == loan_id)).first() is not None:
            return False
        now = uow.clock.now()
        today = platform.today()
        payment_id = _payment_id(programme.id, loan_id)
        # Dated the day it was earned, or the day a later schedule version took effect (money
        # is never dated before the version in force; see LoanAccount.with_event).
        value_date = max(as_of, account.schedule.effective_date or as_of)
        event = PaymentReceived(payment_id, value_date, amount_fen, Channel.INCENTIVE)
        before = states.state_of(conn, loan_id)
        account = account.with_event(event)
        repo.append_event(loan_id, event, now)
        position = sync_books(conn, account, today, f"{payment_id}:incentive", now, "INCENTIVE")
        repo.set_status(loan_id, "closed" if position.paid_off else "active")
        borrower_id = conn.execute(select(tables.loans.c.borrower_id).where(
            tables.loans.c.id == loan_id)).scalar_one()
        conn.execute(insert(incentive_awards).values(
            programme_id=programme.id, loan_id=loan_id, borrower_id=borrower_id,
            award_date=as_of, amount_fen=amount_fen, payment_id=payment_id, recorded_at=now))
        detail = {"programme": programme.id, "kind": programme.kind.value,
                  "amount_fen": amount_fen, "payment_id": payment_id, "as_of": as_of,
                  "credit_balance_fen": position.credit_balance_fen}
        uow.audit("incentive.award", "loan", loan_id, detail)
        uow.emit("IncentiveAwarded", loan_id, {"loan_id": loan_id} | detail, as_of)
        emit_position_events(uow, loan_id, before, position)
        _notify(uow, platform, programme, loan_id, str(borrower_id), amount_fen,
                position.paid_off, now)
        uow.commit()
    return True


def _notify(uow: UnitOfWork, platform: Platform, programme: Programme, loan_id: str,
            borrower_id: str, amount_fen: int, closed: bool, now: Any) -> None:
    language = uow.connection.execute(select(contact_settings.c.language).where(
        contact_settings.c.borrower_id == borrower_id)).scalar_one_or_none()
    language = language if language in ("zh", "en") else "zh"
    reason_zh, reason_en = REASONS[programme.kind.value]
    rendered = render_message("incentive", language, {
        "lender": platform.settings.lender_name, "loan_id": loan_id,
        "amount": yuan(amount_fen), "reason_zh": reason_zh, "reason_en": reason_en,
        "closed": closed})
    queue_messages(uow.connection, [
        {"borrower_id": borrower_id, "loan_id": loan_id, "channel": channel.value,
         "purpose": Purpose.SERVICE.value, "template": "incentive", "language": language,
         "subject": rendered.subject[:200], "body": rendered.body, "status": "queued",
         "attempts": 0, "next_attempt_at": now, "last_error": None, "provider_id": None,
         "contact_id": None, "dedupe_key": f"incentive:{programme.id}:{loan_id}:{channel.value}",
         "actor": ACTOR, "recorded_at": now, "sent_at": None}
        for channel in NOTIFY_CHANNELS])


def awards_of(platform: Platform, loan_id: str) -> list[dict[str, Any]]:
    ia = incentive_awards.c
    with platform.engine.connect() as conn:
        rows = conn.execute(select(incentive_awards).where(ia.loan_id == loan_id)
                            .order_by(ia.id)).mappings().all()
    return [{"programme": r["programme_id"], "award_date": r["award_date"].isoformat(),
             "amount": yuan(r["amount_fen"]), "amount_fen": r["amount_fen"],
             "payment_id": r["payment_id"]} for r in rows]
