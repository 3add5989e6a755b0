"""Collections reports for a period: roll and cure rates, promise-kept and right-party contact
rates, recovery and its cost by team, agency and region, balloon clearance.

Every figure is read with a fixed number of set queries (grouped in SQL or read as columns)
and computed by the pure functions of `recovery/reports.py`, whose docstring defines them; no
case or loan is loaded one at a time, so the report costs the same dozen queries for any
portfolio size.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import JSON, Connection, and_, cast, func, literal, or_, select

from tailguard.errors import InvalidInput
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import contact_log
from tailguard.infra.db.tables_recovery import (
    recovery_case_loans,
    recovery_cases,
    recovery_disposals,
    recovery_legal,
    recovery_partners,
    recovery_placements,
    recovery_promises,
)
from tailguard.recovery import reports as rules
from tailguard.recovery.partners import commission_fen
from tailguard.services.platform import Platform

MAX_DAYS = 3 * 366
NOT_RECOVERY_CHANNELS = ("restructure",)
"""Conversions move debt into a new schedule; they recover nothing."""


def _to_bucket(conn: Connection) -> Any:
    payload = tables.outbox.c.payload
    if conn.dialect.name == "postgresql":
        return func.json_extract_path_text(cast(payload, JSON), literal("to_bucket"))
    return func.json_extract(payload, literal("$.to_bucket"))


def _province(code: Any) -> str:
    return f"{code[:2]}0000" if isinstance(code, str) and len(code) == 6 else "unknown"


def _roll(conn: Connection, start: date, end: date) -> tuple[rules.RollRates, list[date]]:
    loans = conn.execute(select(tables.loans.c.id, tables.loans.c.disbursement_date)
                         .where(tables.loans.c.disbursement_date <= end)
                         .order_by(tables.loans.c.id)).all()
    loan_ids = np.array([r[0] for r in loans], dtype=str)
    booked = np.array([r[1] for r in loans], dtype="datetime64[D]")
    o = tables.outbox.c
    events = conn.execute(
        select(o.aggregate_id, o.business_date, _to_bucket(conn))
        .where(o.event_type == "LoanChangedBucket", o.business_date <= end)
        .order_by(o.aggregate_id, o.business_date, o.id)).all()
    ev_loans = np.array([str(r[0]) for r in events], dtype=str)
    ev_days = np.array([r[1] for r in events], dtype="datetime64[D]")
    ev_to = np.array([str(r[2]) for r in events], dtype=str)
    days = rules.snapshots(start, end)
    on = [rules.buckets_on(loan_ids, booked, ev_loans, ev_days, ev_to, d) for d in days]
    if len(on) < 2:
        empty = np.array([], dtype=str)
        return rules.roll_rates(empty, empty), days
    before = np.concatenate(on[:-1])
    after = np.concatenate(on[1:])
    return rules.roll_rates(before, after), days


def _recovered(conn: Connection, start: date, end: date) -> list[Any]:
    """(case, team, region, amount) for each payment on a case's loan while it was open."""
    ev, c, cl = tables.loan_events.c, recovery_cases.c, recovery_case_loans.c
    reversals = select(ev.loan_id, ev.reference).where(ev.kind == "reversal").subquery()
    return list(conn.execute(
        select(c.id, c.team_id, c.region_code, func.sum(ev.amount_fen))
        .select_from(tables.loan_events
                     .join(recovery_case_loans, cl.loan_id == ev.loan_id)
                     .join(recovery_cases, c.id == cl.case_id)
                     .outerjoin(reversals, and_(reversals.c.loan_id == ev.loan_id,
                                                reversals.c.reference == ev.reference)))
        .where(ev.kind == "payment", ev.value_date >= start, ev.value_date <= end,
               or_(ev.channel.is_(None), ev.channel.not_in(NOT_RECOVERY_CHANNELS)),
               reversals.c.reference.is_(None),
               ev.value_date >= c.opened_on,
               or_(c.closed_on.is_(None), ev.value_date <= c.closed_on))
        .group_by(c.id, c.team_id, c.region_code)).all())


def _placed_recovery(conn: Connection, start: date, end: date) -> list[Any]:
    """(case, partner, amount) recovered while the case was placed with the partner."""
    ev, cl, pl = tables.loan_events.c, recovery_case_loans.c, recovery_placements.c
    reversals = select(ev.loan_id, ev.reference).where(ev.kind == "reversal").subquery()
    return list(conn.execute(
        select(pl.case_id, pl.partner_id, func.sum(ev.amount_fen))
        .select_from(tables.loan_events
                     .join(recovery_case_loans, cl.loan_id == ev.loan_id)
                     .join(recovery_placements, pl.case_id == cl.case_id)
                     .outerjoin(reversals, and_(reversals.c.loan_id == ev.loan_id,
                                                reversals.c.reference == ev.reference)))
        .where(ev.kind == "payment", ev.value_date >= start, ev.value_date <= end,
               or_(ev.channel.is_(None), ev.channel.not_in(NOT_RECOVERY_CHANNELS)),
               reversals.c.reference.is_(None),
               ev.value_date >= pl.placed_on,
               or_(pl.recalled_on.is_(None), ev.value_date < pl.recalled_on))
        .group_by(pl.case_id, pl.partner_id)).all())


def _legal_cost(detail: Any) -> int:
    """A legal step's recorded cost (`cost_fen` in its detail), 0 when none was recorded."""
    try:
        value = json.loads(detail).get("cost_fen", 0) if detail else 0
    except (ValueError, AttributeError):
        return 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def collections_report(platform: Platform, start: date | None = None,
                       end: date | None = None) -> dict[str, Any]:
    """The collections report from `start` to `end` (inclusive; default the last 12 months
    to today)."""
    end = end or platform.today()
    start = start or end - timedelta(days=365)
    if start > end:
        raise InvalidInput.one("from", "after_to", "the period starts after it ends")
    if (end - start).days > MAX_DAYS:
        raise InvalidInput.one("from", "too_long", "at most three years at a time")
    with platform.engine.connect() as conn:
        roll, days = _roll(conn, start, end)
        p = recovery_promises.c
        promise = rules.promise_kept(np.array(list(conn.execute(
            select(p.status).where(p.decided_on >= start, p.decided_on <= end,
                                   p.status.in_(("kept", "broken")))).scalars()), dtype=str))
        cl = contact_log.c
        calls = conn.execute(select(cl.channel, cl.party, cl.outcome).where(
            cl.local_date >= start, cl.local_date <= end, cl.decision == "allow",
            cl.purpose == "collection", cl.channel == "call")).all()
        rpc = rules.right_party_contacts(np.array([r[0] for r in calls], dtype=str),
                                         np.array([r[1] for r in calls], dtype=str),
                                         np.array([r[2] or "" for r in calls], dtype=str))
        c = recovery_cases.c
        closed = np.array(list(conn.execute(select(c.close_reason).where(
            c.closed_on >= start, c.closed_on <= end)).scalars()), dtype=str)
        case_rows = conn.execute(select(c.id, c.team_id, c.region_code, c.agency_id).where(
            c.opened_on <= end, or_(c.closed_on.is_(None), c.closed_on >= start))).all()
        recovered = _recovered(conn, start, end)
        placed = _placed_recovery(conn, start, end)
        rates = {r[0]: Decimal(r[1]) for r in conn.execute(
            select(recovery_partners.c.id, recovery_partners.c.cost_rate))}
        lg = recovery_legal.c
        legal = conn.execute(select(lg.case_id, lg.detail).where(
            lg.on_date >= start, lg.on_date <= end, lg.detail.is_not(None))).all()
        d = recovery_disposals.c
        disposals = conn.execute(select(
            d.case_id, func.coalesce(d.sale_fees_fen, 0) + func.coalesce(d.storage_fees_fen, 0),
            d.applied_fen).where(d.sold_on >= start, d.sold_on <= end)).all()
        cutoff = end - timedelta(days=rules.CLEARANCE_DAYS)
        s = tables.loan_state.c
        balloons = conn.execute(
            select(tables.loans.c.status)
            .select_from(tables.loans.join(tables.loan_state,
                                           s.loan_id == tables.loans.c.id))
            .where(s.balloon_due_date >= start, s.balloon_due_date <= cutoff)).scalars().all()

    team_of = {r[0]: r[1] or "unassigned" for r in case_rows}
    region_of = {r[0]: _province(r[2]) for r in case_rows}
    for case_id, team, region, _ in recovered:
        team_of.setdefault(case_id, team or "unassigned")
        region_of.setdefault(case_id, _province(region))
    rec_cases = np.array([r[0] for r in recovered], dtype=np.int64)
    rec_amount = np.array([int(r[3] or 0) for r in recovered], dtype=np.int64)
    commission_case = np.array([r[0] for r in placed], dtype=np.int64)
    commission_partner = np.array([str(r[1]) for r in placed], dtype=str)
    commission_amount = np.array([commission_fen(int(r[2] or 0), rates.get(r[1], Decimal(0)),
                                                 0) for r in placed], dtype=np.int64)
    placed_amount = np.array([int(r[2] or 0) for r in placed], dtype=np.int64)
    legal_case = np.array([r[0] for r in legal], dtype=np.int64)
    legal_amount = np.array([_legal_cost(r[1]) for r in legal], dtype=np.int64)
    disposal_case = np.array([r[0] for r in disposals], dtype=np.int64)
    disposal_amount = np.array([int(r[1] or 0) for r in disposals], dtype=np.int64)

    def keyed(cases: Any, key: dict[int, str]) -> Any:
        return np.array([key.get(int(i), "unknown") for i in cases], dtype=str)

    tables_by: dict[str, list[dict[str, Any]]] = {}
    for name, key in (("team", team_of), ("region", region_of)):
        tables_by[name] = rules.recovery_table(
            rules.group_sum(keyed(rec_cases, key), rec_amount),
            rules.group_sum(keyed(np.array(list(key), dtype=np.int64), key),
                            np.ones(len(key), dtype=np.int64)),
            {"commissions_fen": rules.group_sum(keyed(commission_case, key),
                                                commission_amount),
             "legal_fen": rules.group_sum(keyed(legal_case, key), legal_amount),
             "disposal_fen": rules.group_sum(keyed(disposal_case, key), disposal_amount)})
    agency_cases: dict[str, set[int]] = {}
    for case_id, partner in zip(commission_case, commission_partner, strict=True):
        agency_cases.setdefault(str(partner), set()).add(int(case_id))
    for r in case_rows:
        if r[3]:
            agency_cases.setdefault(str(r[3]), set()).add(int(r[0]))
    tables_by["agency"] = rules.recovery_table(
        rules.group_sum(commission_partner, placed_amount),
        {k: len(v) for k, v in agency_cases.items()},
        {"commissions_fen": rules.group_sum(commission_partner, commission_amount)})
    total_recovered = int(rec_amount.sum())
    total_cost = int(commission_amount.sum() + legal_amount.sum() + disposal_amount.sum())
    return {
        "from": start.isoformat(), "to": end.isoformat(),
        "snapshots": [d.isoformat() for d in days],
        "roll_rates": roll.to_dict(),
        "cure_rate": {"loans": rules.rate(roll.cured_total, roll.delinquent),
                      "cases": rules.case_cures(closed)},
        "promise_kept_rate": promise,
        "right_party_contact_rate": rpc,
        "recovery": {
            "recovered_fen": total_recovered, "cost_fen": total_cost,
            "commissions_fen": int(commission_amount.sum()),
            "legal_fen": int(legal_amount.sum()), "disposal_fen": int(disposal_amount.sum()),
            "vehicle_proceeds_fen": int(sum(int(r[2] or 0) for r in disposals)),
            "net_fen": total_recovered - total_cost,
            "by_team": tables_by["team"], "by_agency": tables_by["agency"],
            "by_region": tables_by["region"],
        },
        "balloon_clearance": rules.balloon_clearance(
            np.array([status == "closed" for status in balloons], dtype=bool))
        | {"due_from": start.isoformat(), "due_until": cutoff.isoformat()},
    }


__all__ = ["collections_report"]
