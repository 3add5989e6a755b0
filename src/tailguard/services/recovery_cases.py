"""Collection cases: opened at end of day from delinquency (or from an alert), one per borrower
across their loans, closed on cure, settlement, write-off or sale, with their whole history.

`recovery_eod(platform, as_of)` is the end-of-day hook, one unit of work, a fixed number of
statements whatever the portfolio size:

1. promises to pay due before `as_of` are judged against the payments in the loan events
   (reversed payments taken out): kept, or broken, and a broken one escalates its case;
2. open cases whose loans are all current, paid off, written off or sold are closed;
3. cases are opened for borrowers with a loan 1+ days past due and no open case (one
   INSERT … SELECT), and the delinquent loans are linked to their borrower's case;
4. the active strategy is assigned to every delinquent loan of an open case (numpy), and each
   case takes its worst loan's segment, step and next step, its overdue total and priority;
5. cases are routed to teams and collectors (services/recovery_work.py);
6. cases at the strategy's agency-placement step are placed with the best-scoring agency
   covering their region with room (services/recovery_placement.py).

Every contact made from a case goes through `services.contacts` (the conduct guard), in the same
unit of work as the case's history row.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Integer,
    String,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from tailguard.engagement.vocabulary import Outcome
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.db import bulk, tables
from tailguard.infra.db.tables_engagement import contact_log
from tailguard.infra.db.tables_recovery import (
    recovery_assignments,
    recovery_case_events,
    recovery_case_loans,
    recovery_cases,
    recovery_legal,
    recovery_placements,
    recovery_promises,
    recovery_visits,
)
from tailguard.infra.db.uow import UnitOfWork, to_json
from tailguard.recovery import cases as rules
from tailguard.recovery import promises as promise_rules
from tailguard.recovery.vocabulary import CaseStatus, CloseReason, PromiseStatus
from tailguard.services import contacts, recovery_strategies
from tailguard.services.contacts import Actor, ContactCommand
from tailguard.services.platform import Platform

EOD_ACTOR = "recovery-eod"
MANUAL_CLOSE = (CloseReason.SETTLEMENT, CloseReason.SALE)
"""Cure and write-off close cases by themselves (end of day, maker-checker write-off)."""


def add_event(conn: Connection, case_id: int, kind: str, on_date: date, actor: str,
              now: datetime, detail: Any = None, loan_id: str | None = None) -> None:
    conn.execute(insert(recovery_case_events).values(
        case_id=case_id, kind=kind, loan_id=loan_id, on_date=on_date, actor=actor,
        detail=None if detail is None else to_json(detail), recorded_at=now))


def _events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(recovery_case_events), rows)


# -- visibility ------------------------------------------------------------------------------
def case_row(conn: Connection, case_id: int, actor: Actor, for_update: bool = False
             ) -> dict[str, Any]:
    """The case, or NotFound; an agency user finds only the cases placed with its agency."""
    query = select(recovery_cases).where(recovery_cases.c.id == case_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None or (actor.role == "agency" and (
            actor.agency_id is None or row["agency_id"] != actor.agency_id)):
        raise NotFound(f"case {case_id} does not exist")
    return dict(row)


def case_loans(conn: Connection, case_id: int) -> list[str]:
    return list(conn.execute(select(recovery_case_loans.c.loan_id)
                             .where(recovery_case_loans.c.case_id == case_id)
                             .order_by(recovery_case_loans.c.loan_id)).scalars())


def _require_open(row: dict[str, Any]) -> None:
    if row["status"] != CaseStatus.OPEN.value:
        raise Refused("CASE_CLOSED", f"case {row['id']} is closed ({row['close_reason']})")


# -- opening and closing -----------------------------------------------------------------------
def open_from_alert(platform: Platform, actor: str, loan_id: str, reason: str) -> int:
    """Open (or reuse) the borrower's case from an early-warning alert on one loan."""
    if not reason or len(reason) > 200:
        raise InvalidInput.one("reason", "invalid", "say why, in at most 200 characters")
    with platform.uow(actor) as uow:
        conn = uow.connection
        loan = conn.execute(select(tables.loans.c.borrower_id, tables.parties.c.id_region_code,
                                   tables.parties.c.residence_region_code)
                            .join(tables.parties,
                                  tables.parties.c.id == tables.loans.c.borrower_id)
                            .where(tables.loans.c.id == loan_id)).first()
        if loan is None:
            raise NotFound(f"loan {loan_id} does not exist")
        today, now = platform.today(), uow.clock.now()
        case_id = conn.execute(select(recovery_cases.c.id).where(
            recovery_cases.c.borrower_id == loan.borrower_id,
            recovery_cases.c.status == "open")).scalar_one_or_none()
        if case_id is None:
            case_id = int(conn.execute(insert(recovery_cases).values(
                borrower_id=loan.borrower_id, status="open", opened_on=today,
                opened_from="alert",
                region_code=loan.residence_region_code or loan.id_region_code,
                escalation=0, max_dpd=0, overdue_fen=0, priority=0, broken_promise=False,
                recorded_at=now).returning(recovery_cases.c.id)).scalar_one())
            add_event(conn, case_id, "opened", today, actor, now,
                      {"from": "alert", "reason": reason}, loan_id)
        else:
            add_event(conn, case_id, "alert", today, actor, now, {"reason": reason}, loan_id)
        linked = conn.execute(select(recovery_case_loans.c.loan_id).where(
            recovery_case_loans.c.case_id == case_id,
            recovery_case_loans.c.loan_id == loan_id)).first()
        if linked is None:
            conn.execute(insert(recovery_case_loans).values(case_id=case_id, loan_id=loan_id,
                                                            added_on=today))
        uow.audit("recovery.case.alert", "case", str(case_id), {"loan_id": loan_id})
        uow.commit()
    return int(case_id)


def _close(conn: Connection, ids: list[int], reason: str, as_of: date, actor: str,
           now: datetime) -> None:
    if not ids:
        return
    conn.execute(update(recovery_cases).where(recovery_cases.c.id.in_(ids))
                 .values(status="closed", closed_on=as_of, close_reason=reason))
    conn.execute(update(recovery_promises).where(recovery_promises.c.case_id.in_(ids),
                                                 recovery_promises.c.status == "open")
                 .values(status="cancelled", decided_on=as_of))
    conn.execute(update(recovery_placements).where(recovery_placements.c.case_id.in_(ids),
                                                   recovery_placements.c.recalled_on.is_(None))
                 .values(recalled_on=as_of, recall_reason="case closed"))
    _events(conn, [{"case_id": i, "kind": "closed", "loan_id": None, "on_date": as_of,
                    "actor": actor, "detail": to_json({"reason": reason}),
                    "recorded_at": now} for i in ids])


def close_case(platform: Platform, actor: Actor, case_id: int, reason: str,
               note: str | None = None) -> dict[str, Any]:
    """Close a case by hand: on a settlement agreed and paid, or a sale of the debt."""
    try:
        chosen = CloseReason(reason)
    except ValueError:
        chosen = None
    if chosen not in MANUAL_CLOSE:
        raise InvalidInput.one("reason", "invalid",
                               "settlement or sale (cure and write-off close by themselves)")
    assert chosen is not None
    with platform.uow(actor.name) as uow:
        row = case_row(uow.connection, case_id, actor, for_update=True)
        _require_open(row)
        _close(uow.connection, [case_id], chosen.value, platform.today(), actor.name,
               uow.clock.now())
        uow.audit("recovery.case.close", "case", str(case_id),
                  {"reason": chosen.value, "note": note})
        uow.emit("CollectionCaseClosed", str(case_id),
                 {"case_id": case_id, "reason": chosen.value}, platform.today())
        uow.commit()
    return {"case_id": case_id, "status": "closed", "close_reason": chosen.value}


# -- the end of day --------------------------------------------------------------------------
def _paid_since(p: Any) -> Any:
    """Payments on the promise's loan from the day it was made to its due day, reversed
    payments taken out (a correlated subquery: one statement for every open promise)."""
    events = tables.loan_events
    reversed_ids = (select(events.c.reference)
                    .where(events.c.loan_id == p.loan_id, events.c.kind == "reversal"))
    return (select(func.coalesce(func.sum(events.c.amount_fen), 0))
            .where(events.c.loan_id == p.loan_id, events.c.kind == "payment",
                   events.c.value_date >= p.made_on, events.c.value_date <= p.due_on,
                   events.c.reference.not_in(reversed_ids))
            .scalar_subquery())


def judge_promises(conn: Connection, as_of: date, now: datetime) -> dict[str, int]:
    """Step 1: kept or broken; a broken promise escalates its case one step."""
    p = recovery_promises.c
    rows = conn.execute(select(p.id, p.case_id, p.amount_fen, p.due_on,
                               _paid_since(p).label("paid"))
                        .where(p.status == "open")).all()
    if not rows:
        return {"kept": 0, "broken": 0}
    ids = np.array([r.id for r in rows], dtype=np.int64)
    cases = np.array([r.case_id for r in rows], dtype=np.int64)
    amount = np.array([r.amount_fen for r in rows], dtype=np.int64)
    paid = np.array([int(r.paid) for r in rows], dtype=np.int64)
    due = np.array([np.datetime64(r.due_on, "D") for r in rows], dtype="datetime64[D]")
    status = promise_rules.evaluate(amount, paid, due, as_of)
    decided = status != PromiseStatus.OPEN.value
    bulk.update_rows(conn, "recovery_promises", ("id",),
                     {"id": "integer", "status": "varchar(12)", "paid_fen": "bigint",
                      "decided_on": "date"},
                     [{"id": int(i), "status": str(s), "paid_fen": int(f), "decided_on": as_of}
                      for i, s, f in zip(ids[decided], status[decided], paid[decided],
                                         strict=True)])
    broken = status == PromiseStatus.BROKEN.value
    broken_cases, counts = np.unique(cases[broken], return_counts=True)
    if len(broken_cases):
        bulk.update_rows(conn, "recovery_cases", ("id",),
                         {"id": "integer", "escalation": "integer", "broken_promise": "boolean"},
                         [{"id": int(c), "escalation": int(e), "broken_promise": True}
                          for c, e in zip(broken_cases, _escalated(conn, broken_cases, counts),
                                          strict=True)])
    _events(conn, [
        {"case_id": int(c), "kind": f"promise-{s}", "loan_id": None, "on_date": as_of,
         "actor": EOD_ACTOR, "detail": to_json({"promise_id": int(i), "paid_fen": int(f),
                                                "amount_fen": int(a)}), "recorded_at": now}
        for i, c, s, f, a in zip(ids[decided], cases[decided], status[decided], paid[decided],
                                 amount[decided], strict=True)
    ] + [
        {"case_id": int(c), "kind": "escalated", "loan_id": None, "on_date": as_of,
         "actor": EOD_ACTOR, "detail": to_json({"by": int(k), "why": "promise broken"}),
         "recorded_at": now}
        for c, k in zip(broken_cases, counts, strict=True)
    ])
    return {"kept": int((status == PromiseStatus.KEPT.value).sum()), "broken": int(broken.sum())}


def _escalated(conn: Connection, case_ids: np.ndarray[Any, Any],
               counts: np.ndarray[Any, Any]) -> list[int]:
    current = dict(conn.execute(select(recovery_cases.c.id, recovery_cases.c.escalation)
                                .where(recovery_cases.c.id.in_(case_ids.tolist()))).all())
    return [int(current.get(int(c), 0)) + int(k) for c, k in zip(case_ids, counts, strict=True)]


def close_settled(conn: Connection, as_of: date, now: datetime) -> dict[str, int]:
    """Step 2: close open cases whose loans no longer owe anything past due."""
    loans, state, c = tables.loans, tables.loan_state, recovery_cases.c
    live = and_(loans.c.status == "active", state.c.paid_off.is_(False))

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = conn.execute(
        select(c.id, c.max_dpd, count(loans.c.status == "written-off"),
               count(loans.c.status == "sold"), count(live),
               func.coalesce(func.max(case((live, state.c.dpd), else_=0)), 0))
        .select_from(recovery_cases
                     .join(recovery_case_loans, recovery_case_loans.c.case_id == c.id)
                     .join(loans, loans.c.id == recovery_case_loans.c.loan_id)
                     .outerjoin(state, state.c.loan_id == loans.c.id))
        .where(c.status == "open")
        .group_by(c.id, c.max_dpd)
    ).all()
    if not rows:
        return {}
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    reasons = rules.close_reasons(
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=np.int64),
        np.array([r[3] for r in rows], dtype=np.int64),
        np.array([r[4] for r in rows], dtype=np.int64),
        np.array([r[5] for r in rows], dtype=np.int64))
    closed: dict[str, int] = {}
    for reason in CloseReason:
        chosen = ids[reasons == reason.value].tolist()
        _close(conn, chosen, reason.value, as_of, EOD_ACTOR, now)
        if chosen:
            closed[reason.value] = len(chosen)
    return closed


def open_delinquent(conn: Connection, as_of: date, now: datetime) -> int:
    """Step 3: one INSERT … SELECT opens the cases, one links the loans, one logs them."""
    loans, state, parties, c = tables.loans, tables.loan_state, tables.parties, recovery_cases.c
    delinquent = and_(loans.c.status == "active", state.c.dpd >= 1, state.c.paid_off.is_(False))
    no_open_case = ~exists().where(c.borrower_id == loans.c.borrower_id, c.status == "open")
    region = func.coalesce(parties.c.residence_region_code, parties.c.id_region_code)
    source = (
        select(loans.c.borrower_id, literal("open", String), literal(as_of, Date),
               literal("delinquency", String), func.min(region), literal(0, Integer),
               func.max(state.c.dpd), literal(0, Integer), literal(0, Integer),
               literal(False, Boolean), literal(now, DateTime(timezone=True)))
        .select_from(loans.join(state, state.c.loan_id == loans.c.id)
                     .join(parties, parties.c.id == loans.c.borrower_id))
        .where(delinquent, no_open_case)
        .group_by(loans.c.borrower_id)
    )
    open_count = select(func.count()).select_from(recovery_cases).where(c.status == "open")
    before = int(conn.execute(open_count).scalar_one())
    conn.execute(insert(recovery_cases).from_select(
        ["borrower_id", "status", "opened_on", "opened_from", "region_code", "escalation",
         "max_dpd", "overdue_fen", "priority", "broken_promise", "recorded_at"], source))
    opened = int(conn.execute(open_count).scalar_one()) - before  # rowcount: not on every driver
    cl = recovery_case_loans.c
    conn.execute(insert(recovery_case_loans).from_select(
        ["case_id", "loan_id", "added_on"],
        select(c.id, loans.c.id, literal(as_of, Date))
        .select_from(loans.join(state, state.c.loan_id == loans.c.id)
                     .join(recovery_cases, and_(c.borrower_id == loans.c.borrower_id,
                                                c.status == "open")))
        .where(delinquent, ~exists().where(cl.case_id == c.id, cl.loan_id == loans.c.id))))
    e = recovery_case_events.c
    conn.execute(insert(recovery_case_events).from_select(
        ["case_id", "kind", "on_date", "actor", "detail", "recorded_at"],
        select(c.id, literal("opened", String), literal(as_of, Date),
               literal(EOD_ACTOR, String), literal(to_json({"from": "delinquency"}), String),
               literal(now, DateTime(timezone=True)))
        .where(c.status == "open", c.opened_on == as_of, c.opened_from == "delinquency",
               ~exists().where(e.case_id == c.id, e.kind == "opened"))))
    return int(opened)


def summarise(conn: Connection, loaded: recovery_strategies.Loaded,
              result: Any, as_of: date) -> int:
    """Step 4: each case takes its worst loan's strategy step, its total overdue, a priority."""
    n = len(loaded.loans)
    if n == 0:
        return 0
    case_ids = loaded.case_id
    dpd = loaded.loans.dpd
    order = np.lexsort((-dpd, case_ids))
    sorted_cases = case_ids[order]
    first = np.r_[True, sorted_cases[1:] != sorted_cases[:-1]]
    worst = order[first]
    ids = case_ids[worst]
    totals = np.zeros(len(ids), dtype=np.int64)
    np.add.at(totals, np.searchsorted(ids, case_ids), loaded.overdue_fen)
    previous = {r[0]: (r[1], bool(r[2])) for r in conn.execute(
        select(recovery_cases.c.id, recovery_cases.c.max_dpd, recovery_cases.c.broken_promise)
        .where(recovery_cases.c.status == "open")).all()}
    broken = np.array([previous.get(int(i), (0, False))[1] for i in ids], dtype=bool)
    ever = np.maximum(dpd[worst], np.array([previous.get(int(i), (0, False))[0] for i in ids],
                                           dtype=np.int64))
    next_in = result.next_in_days[worst]
    priority = rules.priority(dpd[worst], totals, loaded.loans.escalation[worst], broken,
                              next_in == 0)
    start = np.datetime64(as_of, "D")
    rows = [
        {"id": int(i), "max_dpd": int(m), "overdue_fen": int(t), "segment": str(s),
         "arm": str(a), "path": str(p), "action": str(act) or None,
         "next_action": str(na) or None,
         "next_action_on": None if d < 0 else (start + int(d)).astype(date),
         "priority": int(pr)}
        for i, m, t, s, a, p, act, na, d, pr in zip(
            ids, ever, totals, result.segment[worst], result.arm[worst], result.path[worst],
            result.action[worst], result.next_action[worst], next_in, priority, strict=True)
    ]
    bulk.update_rows(conn, "recovery_cases", ("id",), {
        "id": "integer", "max_dpd": "integer", "overdue_fen": "bigint",
        "segment": "varchar(40)", "arm": "varchar(12)", "path": "varchar(40)",
        "action": "varchar(24)", "next_action": "varchar(24)", "next_action_on": "date",
        "priority": "integer"}, rows)
    return len(rows)


def recovery_eod(platform: Platform, as_of: date) -> dict[str, Any]:
    """The collections part of the end of day for `as_of` (after the nightly ageing)."""
    from tailguard.services import recovery_placement, recovery_work  # they import this module

    with platform.uow(EOD_ACTOR) as uow:
        conn = uow.connection
        now = uow.clock.now()
        promises = judge_promises(conn, as_of, now)
        closed = close_settled(conn, as_of, now)
        opened = open_delinquent(conn, as_of, now)
        loaded, result = recovery_strategies.assign_open_cases(conn, as_of)
        summarised = summarise(conn, loaded, result, as_of)
        routed = recovery_work.route_cases(conn, as_of, now)
        placed = recovery_placement.place_due_cases(conn, as_of, now)
        report = {"as_of": as_of, "opened": opened, "closed": closed, "promises": promises,
                  "loans_assigned": len(loaded.loans), "cases_updated": summarised,
                  "routed": routed, "placed": placed}
        uow.audit("recovery.eod", "eod", as_of.isoformat(), report)
        uow.emit("CollectionsDayDone", None, report, as_of)
        uow.commit()
    return report


# -- contacts and promises from a case ---------------------------------------------------------
def _loan_of_case(conn: Connection, case_id: int, loan_id: str | None) -> str:
    loans = case_loans(conn, case_id)
    if loan_id is None:
        if not loans:
            raise InvalidInput.one("loan_id", "required", "the case has no loan yet")
        return loans[0]
    if loan_id not in loans:
        raise InvalidInput.one("loan_id", "not_in_case", f"loan {loan_id} is not in this case")
    return loan_id


def contact(platform: Platform, actor: Actor, case_id: int, command: ContactCommand,
            outcome: Outcome | None = None, note: str | None = None) -> dict[str, Any]:
    """A contact about the case, decided by the conduct guard and written to the case's
    history in the same transaction; a blocked one is logged and answered, not made."""
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        row = case_row(conn, case_id, actor)
        _require_open(row)
        loan_id = _loan_of_case(conn, case_id, command.loan_id)
        command = ContactCommand(command.channel, command.purpose, command.party,
                                 loan_id=loan_id, party_ref=command.party_ref,
                                 contact_method=command.contact_method,
                                 automated=command.automated, at=command.at)
        result = contacts.decide_in(uow, platform, actor, command, outcome, note)
        add_event(conn, case_id, "contact", platform.today(), actor.name, uow.clock.now(), {
            "contact_id": result.contact_id, "channel": command.channel.value,
            "decision": "allow" if result.decision.allowed else "block",
            "reason": result.decision.reason.value,
            "outcome": None if outcome is None else outcome.value}, loan_id)
        uow.commit()
    return {"case_id": case_id, **result.to_dict()}


def record_promise(platform: Platform, actor: Actor, case_id: int, amount_fen: int,
                   due_on: date, loan_id: str | None = None,
                   contact_id: int | None = None) -> dict[str, Any]:
    """A promise to pay, made in a conversation; judged at the end of its due day."""
    today = platform.today()
    promise_rules.check_promise(amount_fen, today, due_on)
    with platform.uow(actor.name) as uow:
        conn = uow.connection
        row = case_row(conn, case_id, actor)
        _require_open(row)
        loan = _loan_of_case(conn, case_id, loan_id)
        if contact_id is not None:
            owner = conn.execute(select(contact_log.c.borrower_id)
                                 .where(contact_log.c.id == contact_id)).scalar_one_or_none()
            if owner != row["borrower_id"]:
                raise InvalidInput.one("contact_id", "unknown",
                                       "not a contact with this case's borrower")
        promise_id = int(conn.execute(insert(recovery_promises).values(
            case_id=case_id, loan_id=loan, amount_fen=amount_fen, made_on=today, due_on=due_on,
            status="open", paid_fen=0, decided_on=None, contact_id=contact_id,
            actor=actor.name, recorded_at=uow.clock.now()).returning(recovery_promises.c.id)
        ).scalar_one())
        add_event(conn, case_id, "promise", today, actor.name, uow.clock.now(),
                  {"promise_id": promise_id, "amount_fen": amount_fen, "due_on": due_on},
                  loan)
        uow.audit("recovery.promise", "case", str(case_id),
                  {"promise_id": promise_id, "amount_fen": amount_fen, "due_on": due_on})
        uow.commit()
    return {"promise_id": promise_id, "case_id": case_id, "loan_id": loan,
            "amount_fen": amount_fen, "due_on": due_on.isoformat(), "status": "open"}


def record_action(uow: UnitOfWork, case_id: int, kind: str, actor: str, today: date,
                  detail: Any = None, loan_id: str | None = None) -> None:
    """A step taken on a case by another recovery service (placement, visit, legal)."""
    add_event(uow.connection, case_id, kind, today, actor, uow.clock.now(), detail, loan_id)


# -- reading -------------------------------------------------------------------------------
def _plain(row: Any) -> dict[str, Any]:
    out = dict(row)
    if "detail" in out and isinstance(out["detail"], str):
        out["detail"] = json.loads(out["detail"])
    if "photos" in out and isinstance(out["photos"], str):
        out["photos"] = json.loads(out["photos"])
    return out


def case_detail(platform: Platform, actor: Actor, case_id: int) -> dict[str, Any]:
    """The case with its loans and complete history: actions, contacts, promises, payments,
    placements, visits and legal steps."""
    with platform.engine.connect() as conn:
        row = case_row(conn, case_id, actor)
        loan_ids = case_loans(conn, case_id)
        state, a = tables.loan_state, recovery_assignments.c
        loans = [dict(r) for r in conn.execute(
            select(tables.loans.c.id.label("loan_id"), tables.loans.c.status, state.c.dpd,
                   state.c.bucket, (state.c.overdue_principal_fen + state.c.overdue_interest_fen
                                    + state.c.overdue_fee_fen
                                    + state.c.penalty_outstanding_fen).label("overdue_fen"),
                   state.c.principal_outstanding_fen, state.c.balloon_due_date,
                   a.segment, a.arm, a.path, a.action, a.next_action)
            .select_from(tables.loans.outerjoin(state, state.c.loan_id == tables.loans.c.id)
                         .outerjoin(recovery_assignments, a.loan_id == tables.loans.c.id))
            .where(tables.loans.c.id.in_(loan_ids)).order_by(tables.loans.c.id)).mappings()]
        events = [_plain(r) for r in conn.execute(
            select(recovery_case_events).where(recovery_case_events.c.case_id == case_id)
            .order_by(recovery_case_events.c.id)).mappings()]
        cl = contact_log.c
        contact_query = (select(cl.id, cl.loan_id, cl.channel, cl.party, cl.purpose, cl.actor,
                                cl.agency_id, cl.requested_at, cl.decision, cl.reason_code,
                                cl.outcome, cl.note)
                         .where(cl.borrower_id == row["borrower_id"],
                                cl.local_date >= row["opened_on"])
                         .order_by(cl.id))
        if actor.role == "agency":
            contact_query = contact_query.where(cl.agency_id == actor.agency_id)
        contact_rows = [dict(r) for r in conn.execute(contact_query).mappings()]
        promises = [dict(r) for r in conn.execute(
            select(recovery_promises).where(recovery_promises.c.case_id == case_id)
            .order_by(recovery_promises.c.id)).mappings()]
        ev = tables.loan_events.c
        payments = [dict(r) for r in conn.execute(
            select(ev.loan_id, ev.kind, ev.reference, ev.value_date, ev.amount_fen, ev.channel)
            .where(ev.loan_id.in_(loan_ids), ev.kind.in_(("payment", "reversal")),
                   ev.value_date >= row["opened_on"]).order_by(ev.id)).mappings()]
        placements = [dict(r) for r in conn.execute(
            select(recovery_placements).where(recovery_placements.c.case_id == case_id)
            .order_by(recovery_placements.c.id)).mappings()]
        visits = [_plain(r) for r in conn.execute(
            select(recovery_visits).where(recovery_visits.c.case_id == case_id)
            .order_by(recovery_visits.c.id)).mappings()]
        legal = [_plain(r) for r in conn.execute(
            select(recovery_legal).where(recovery_legal.c.case_id == case_id)
            .order_by(recovery_legal.c.id)).mappings()]
    return {"case": row, "loans": loans, "events": events, "contacts": contact_rows,
            "promises": promises, "payments": payments, "placements": placements,
            "visits": visits, "legal": legal}


def list_cases(platform: Platform, actor: Actor, *, status: str | None = "open",
               team_id: str | None = None, collector: str | None = None,
               region_prefix: str | None = None, limit: int = 100,
               offset: int = 0) -> list[dict[str, Any]]:
    c = recovery_cases.c
    query = select(recovery_cases).order_by(c.priority.desc(), c.id)
    if status:
        query = query.where(c.status == status)
    if team_id:
        query = query.where(c.team_id == team_id)
    if collector:
        query = query.where(c.collector == collector)
    if region_prefix:
        query = query.where(c.region_code.like(f"{region_prefix}%"))
    if actor.role == "agency":
        query = query.where(c.agency_id == actor.agency_id, c.agency_id.is_not(None))
    query = query.limit(min(max(limit, 1), 1000)).offset(max(offset, 0))
    with platform.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def due_promises_for(conn: Connection, case_id: int, today: date) -> list[dict[str, Any]]:
    p = recovery_promises.c
    return [dict(r) for r in conn.execute(
        select(p.id, p.loan_id, p.amount_fen, p.due_on, p.status)
        .where(p.case_id == case_id, or_(p.status == "open", p.decided_on >= today
                                         - timedelta(days=7)))
        .order_by(p.id)).mappings()]
