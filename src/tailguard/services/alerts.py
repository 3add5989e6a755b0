"""Alert use cases: the queues (list, acknowledge, work, close), the early-warning rules (read,
replace with a new version) and the balloon watch.

Transitions follow `monitoring.lifecycle`; each is one unit of work with an audit row, and the
update is conditional on the status read, so two people acting on the same alert at once get
one success and one refusal, never a lost update. Replacing the rules stores a new version and
never edits an old one: every alert names the version that raised it.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import case, func, insert, select, update

from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.clock import SHANGHAI
from tailguard.infra.db import tables
from tailguard.infra.db.tables_monitoring import alert_rule_sets, alerts
from tailguard.infra.db.uow import to_json
from tailguard.monitoring import balloon_watch as watch
from tailguard.monitoring.lifecycle import AlertAction, AlertStatus, Resolution, next_status
from tailguard.monitoring.rules import load_rules_text, parse_rules
from tailguard.monitoring.signals import SignalKind
from tailguard.risk.behavioural_models import BALLOON_MODEL
from tailguard.services import behavioural_scores
from tailguard.services import signals as signal_service
from tailguard.services.platform import Platform

MAX_RULES_TEXT = 200_000


def _alert_dict(r: Any) -> dict[str, Any]:
    def moment(value: datetime | None) -> str | None:
        return None if value is None else signal_service._aware(value).isoformat()

    return {"alert_id": r["id"], "loan_id": r["loan_id"], "rule_id": r["rule_id"],
            "rule_version": r["rule_version"], "rule_name": r["rule_name"],
            "severity": r["severity"], "queue": r["queue"], "status": r["status"],
            "signal_id": r["signal_id"], "last_signal_id": r["last_signal_id"],
            "repeats": r["repeats"], "raised_at": moment(r["raised_at"]),
            "last_seen_at": moment(r["last_seen_at"]),
            "acknowledged_at": moment(r["acknowledged_at"]),
            "acknowledged_by": r["acknowledged_by"], "assignee": r["assignee"],
            "worked_at": moment(r["worked_at"]), "closed_at": moment(r["closed_at"]),
            "closed_by": r["closed_by"], "resolution": r["resolution"], "note": r["note"],
            "detail": None if r["detail"] is None else json.loads(r["detail"])}


_SEVERITY_ORDER = case({"critical": 0, "high": 1, "medium": 2, "low": 3}, value=alerts.c.severity,
                       else_=4)


def list_alerts(platform: Platform, *, queue: str | None = None,
                status: tuple[AlertStatus, ...] | None = None, loan_id: str | None = None,
                limit: int = 200) -> list[dict[str, Any]]:
    """A queue's work list: most severe first, then oldest first."""
    if not 1 <= limit <= 1000:
        raise InvalidInput.one("limit", "out_of_range", "1 to 1000")
    query = select(alerts)
    if queue is not None:
        query = query.where(alerts.c.queue == queue)
    if status:
        query = query.where(alerts.c.status.in_([s.value for s in status]))
    if loan_id is not None:
        query = query.where(alerts.c.loan_id == loan_id)
    query = query.order_by(_SEVERITY_ORDER, alerts.c.id).limit(limit)
    with platform.engine.connect() as conn:
        return [_alert_dict(r) for r in conn.execute(query).mappings().all()]


def queue_summary(platform: Platform) -> list[dict[str, Any]]:
    """Alerts not closed, per queue and status."""
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(alerts.c.queue, alerts.c.status, func.count())
            .where(alerts.c.status != AlertStatus.CLOSED.value)
            .group_by(alerts.c.queue, alerts.c.status).order_by(alerts.c.queue)
        ).all()
    return [{"queue": q, "status": s, "count": int(n)} for q, s, n in rows]


def act(platform: Platform, actor: str, alert_id: int, action: AlertAction, *,
        resolution: Resolution | None = None, note: str | None = None,
        assignee: str | None = None) -> dict[str, Any]:
    """Acknowledge, start work on, or close an alert."""
    if note is not None and len(note) > 500:
        raise InvalidInput.one("note", "too_long", "at most 500 characters")
    if action is AlertAction.CLOSE and resolution is None:
        raise InvalidInput.one("resolution", "required",
                               f"one of {', '.join(r.value for r in Resolution)}")
    with platform.uow(actor) as uow:
        conn = uow.connection
        row = conn.execute(select(alerts.c.status, alerts.c.loan_id)
                           .where(alerts.c.id == alert_id)).first()
        if row is None:
            raise NotFound(f"alert {alert_id} does not exist")
        current = AlertStatus(row.status)
        after = next_status(current, action)
        now = uow.clock.now()
        values: dict[str, Any] = {"status": after.value}
        if action in (AlertAction.ACKNOWLEDGE, AlertAction.WORK) \
                and current is AlertStatus.OPEN:
            values |= {"acknowledged_at": now, "acknowledged_by": actor}
        if action is AlertAction.WORK:
            values |= {"worked_at": now, "assignee": assignee or actor}
        if action is AlertAction.CLOSE:
            assert resolution is not None
            values |= {"closed_at": now, "closed_by": actor, "resolution": resolution.value}
        if note is not None:
            values["note"] = note
        done = conn.execute(update(alerts).where(alerts.c.id == alert_id,
                                                 alerts.c.status == current.value)
                            .values(**values)).rowcount
        if done != 1:
            raise Refused("alert_state", f"alert {alert_id} changed meanwhile; read it again")
        uow.audit(f"alert.{action.value}", "loan", row.loan_id,
                  {"alert_id": alert_id, "from": current.value, "to": after.value,
                   "resolution": None if resolution is None else resolution.value,
                   "note": note})
        uow.emit("AlertChanged", row.loan_id, {"alert_id": alert_id, "status": after.value})
        uow.commit()
        fresh = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one()
    return _alert_dict(fresh)


# -- the rules -----------------------------------------------------------------------------
def read_rules(platform: Platform) -> dict[str, Any]:
    """The rule set in force: its version, as written (source and format) and as checked."""
    with platform.engine.connect() as conn:
        row = conn.execute(select(alert_rule_sets).order_by(
            alert_rule_sets.c.version.desc()).limit(1)).mappings().first()
        rules = signal_service.current_rules(conn, signal_service.engine_key(platform))
    if row is None:
        return {"version": 0, "format": "json", "source": None, "built_in": True,
                "rules": rules.to_data()["rules"]}
    return {"version": row["version"], "format": row["format"], "source": row["source"],
            "built_in": False, "actor": row["actor"], "note": row["note"],
            "recorded_at": signal_service._aware(row["recorded_at"]).isoformat(),
            "rules": rules.to_data()["rules"]}


def replace_rules(platform: Platform, actor: str, definition: Any, *, fmt: str = "json",
                  note: str | None = None, expected_version: int | None = None
                  ) -> dict[str, Any]:
    """Check and store a new version of the rules; it is in force from the commit.

    `definition` is text (JSON or YAML, kept as written) or already-parsed data.
    `expected_version`, when given, refuses the change if someone else replaced the rules
    since the caller read them."""
    if isinstance(definition, str):
        if len(definition) > MAX_RULES_TEXT:
            raise InvalidInput.one("definition", "too_long", f"at most {MAX_RULES_TEXT} chars")
        checked = load_rules_text(definition, fmt)
        source = definition
    else:
        checked = parse_rules(definition)
        source = json.dumps(definition, ensure_ascii=False, indent=2)
        fmt = "json"
    if note is not None and len(note) > 200:
        raise InvalidInput.one("note", "too_long", "at most 200 characters")
    canonical = to_json(checked.to_data())
    with platform.uow(actor) as uow:
        conn = uow.connection
        latest = int(conn.execute(select(func.coalesce(func.max(alert_rule_sets.c.version), 0))
                                  ).scalar_one())
        if expected_version is not None and expected_version != latest:
            raise Refused("rules_changed", f"the rules are at version {latest}, not "
                                           f"{expected_version}; read them again")
        version = latest + 1
        conn.execute(insert(alert_rule_sets).values(
            version=version, format=fmt, source=source, definition=canonical, actor=actor,
            note=note, recorded_at=uow.clock.now()))
        uow.audit("alert.rules.replace", "alert_rules", str(version),
                  {"rules": [r.id for r in checked.rules], "note": note})
        uow.emit("AlertRulesReplaced", None, {"version": version})
        uow.commit()
    return {"version": version, "rules": len(checked.rules)}


# -- the balloon watch ---------------------------------------------------------------------
def balloon_watch(platform: Platform, as_of: date | None = None, *, stage: int | None = None,
                  limit: int = 1000) -> list[dict[str, Any]]:
    """Loans with a balloon due within 120 days, most likely not to be settled first
    (`monitoring.balloon_watch`); `stage` keeps one stage (120, 90, 60 or 30)."""
    if stage is not None and stage not in watch.STAGES:
        raise InvalidInput.one("stage", "invalid", "120, 90, 60 or 30")
    day = as_of or platform.today()
    loans, state, inst = tables.loans, tables.loan_state, tables.installment_state
    vehicles = tables.vehicles
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(loans.c.id, loans.c.borrower_id, loans.c.disbursement_date,
                   loans.c.region_code, state.c.dpd, state.c.balloon_due_date,
                   state.c.balloon_fen, state.c.principal_outstanding_fen,
                   state.c.overdue_interest_fen, state.c.overdue_fee_fen,
                   state.c.penalty_outstanding_fen, vehicles.c.price_fen)
            .select_from(loans.join(state, state.c.loan_id == loans.c.id)
                         .outerjoin(vehicles, vehicles.c.id == loans.c.vehicle_id))
            .where(state.c.paid_off.is_(False), state.c.balloon_fen > 0,
                   state.c.balloon_due_date >= day,
                   state.c.balloon_due_date <= date.fromordinal(day.toordinal()
                                                                + watch.STAGES[0]))
        ).all()
        ids = [r.id for r in rows]
        history: dict[str, tuple[int, int]] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            if platform.engine.dialect.name == "sqlite":
                days_expr: Any = (func.julianday(func.coalesce(inst.c.settled_on, day))
                                  - func.julianday(inst.c.grace_end))
            else:
                days_expr = func.coalesce(inst.c.settled_on, day) - inst.c.grace_end
            late = func.max(case((days_expr > 0, days_expr), else_=0))
            count = func.sum(case((days_expr > 0, 1), else_=0))
            for loan_id, worst, n in conn.execute(
                select(inst.c.loan_id, late, count)
                .where(inst.c.loan_id.in_(chunk), inst.c.due_date <= day)
                .group_by(inst.c.loan_id)
            ).all():
                history[loan_id] = (int(worst or 0), int(n or 0))
    if not rows:
        return []
    n = len(rows)
    days_left = np.fromiter(((r.balloon_due_date - day).days for r in rows), np.int64, n)
    price = np.fromiter((r.price_fen or 0 for r in rows), np.int64, n)
    age = np.fromiter(((day - r.disbursement_date).days for r in rows), np.int64, n)
    owed = np.fromiter((r.principal_outstanding_fen + r.overdue_interest_fen
                        + r.overdue_fee_fen + r.penalty_outstanding_fen for r in rows),
                       np.int64, n)
    dpd = np.fromiter((r.dpd for r in rows), np.int64, n)
    worst = np.fromiter((history.get(r.id, (0, 0))[0] for r in rows), np.int64, n)
    late_count = np.fromiter((history.get(r.id, (0, 0))[1] for r in rows), np.int64, n)
    equity = watch.equity_share(watch.vehicle_value_fen(price, age), owed)
    with platform.engine.connect() as conn:  # the fitted balloon model, where it has scored
        stored = behavioural_scores.latest_scores(conn, ids, BALLOON_MODEL, on_or_before=day)
    fitted = np.fromiter((stored[r.id]["pd"] if r.id in stored else np.nan for r in rows),
                         np.float64, n)
    chance = watch.chance_not_settled(worst, late_count, dpd, equity, fitted)
    stages = watch.stage_of(days_left)
    out: list[dict[str, Any]] = []
    for position in watch.rank(chance, days_left).positions:
        if stage is not None and stages[position] != stage:
            continue
        r = rows[int(position)]
        out.append({"rank": len(out) + 1, "loan_id": r.id, "borrower_id": r.borrower_id,
                    "stage": int(stages[position]), "days_left": int(days_left[position]),
                    "balloon_due_date": r.balloon_due_date.isoformat(),
                    "balloon_fen": int(r.balloon_fen), "dpd": int(dpd[position]),
                    "worst_days_late": int(worst[position]),
                    "late_instalments": int(late_count[position]),
                    "equity_share": round(float(equity[position]), 4),
                    "chance_not_settled": round(float(chance[position]), 4),
                    "model": (f"{BALLOON_MODEL}:{stored[r.id]['model_version']}"
                              if r.id in stored else "balloon-watch-prior")})
        if len(out) >= limit:
            break
    return out


def raise_balloon_watch(platform: Platform, actor: str = "balloon-watch",
                        as_of: date | None = None) -> signal_service.IngestResult:
    """Turn the watch into `balloon-window` signals, one per loan and stage (the external id
    says which, so a stage is signalled once), for the rules to act on."""
    day = as_of or platform.today()
    listed = balloon_watch(platform, day, limit=1_000_000)
    result = signal_service.IngestResult()
    if not listed:
        return result
    moment = datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI)
    raws = [{"kind": SignalKind.BALLOON_WINDOW.value, "loan_id": item["loan_id"],
             "occurred_at": moment.isoformat(),
             "external_id": f"{item['loan_id']}:{item['balloon_due_date']}:{item['stage']}",
             "attributes": {"days_left": item["days_left"], "stage": item["stage"],
                            "chance_not_settled": item["chance_not_settled"]}}
            for item in listed]
    for start in range(0, len(raws), signal_service.MAX_BATCH):
        part = signal_service.ingest(platform, actor, raws[start:start
                                                           + signal_service.MAX_BATCH],
                                     source="balloon-watch", internal=True)
        result.accepted += part.accepted
        result.duplicates += part.duplicates
        result.alerts_raised += part.alerts_raised
    return result
