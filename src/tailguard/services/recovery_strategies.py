"""Collection strategies: stored as versioned JSON the risk team edits, and assigned to every
delinquent loan of an open case at end of day, column-wise.

Saving a strategy stores a new version and makes it the active one (the previous versions stay,
so an assignment can always say which version chose it). `assign_open_cases` reads the loans of
open cases in one query, builds the columns `recovery.strategy.assign` needs (bucket, score
band, province, balloon stage, cross-region, escalation), assigns them in numpy and writes the
assignments back in bulk: a fixed number of statements however many loans there are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, case, delete, func, insert, select, update

from tailguard.errors import NotFound
from tailguard.infra.db import bulk, tables
from tailguard.infra.db.tables_recovery import (
    recovery_assignments,
    recovery_case_loans,
    recovery_cases,
    recovery_scores,
    recovery_strategies,
)
from tailguard.infra.db.uow import to_json
from tailguard.recovery.strategy import DEFAULT_STRATEGY, Assignment, Delinquent, Strategy, assign
from tailguard.recovery.uplift import uplift
from tailguard.recovery.vocabulary import BalloonStage
from tailguard.risk.behavioural_models import DPD30_MODEL
from tailguard.services import behavioural_scores
from tailguard.services.platform import Platform

BALLOON_APPROACH_DAYS = 90
"""A balloon due within this many days is `approaching`."""


@dataclass(frozen=True)
class StoredStrategy:
    id: int | None
    name: str
    version: int
    strategy: Strategy

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "version": self.version,
                "definition": self.strategy.to_dict()}


def save_strategy(platform: Platform, actor: str, definition: dict[str, Any]) -> StoredStrategy:
    """Store a new version of a strategy (checked field by field) and make it active."""
    strategy = Strategy.parse(definition)
    with platform.uow(actor) as uow:
        conn = uow.connection
        version = int(conn.execute(
            select(func.coalesce(func.max(recovery_strategies.c.version), 0))
            .where(recovery_strategies.c.name == strategy.name)).scalar_one()) + 1
        conn.execute(update(recovery_strategies).values(active=False))
        strategy_id = int(conn.execute(insert(recovery_strategies).values(
            name=strategy.name, version=version, active=True,
            definition=to_json(strategy.to_dict()), author=actor,
            recorded_at=uow.clock.now()).returning(recovery_strategies.c.id)).scalar_one())
        uow.audit("recovery.strategy.save", "strategy", str(strategy_id),
                  {"name": strategy.name, "version": version})
        uow.commit()
    return StoredStrategy(strategy_id, strategy.name, version, strategy)


def active_strategy(conn: Connection) -> StoredStrategy:
    """The active strategy, or the built-in default until one is stored."""
    row = conn.execute(select(recovery_strategies).where(recovery_strategies.c.active)
                       .order_by(recovery_strategies.c.id.desc()).limit(1)).mappings().first()
    if row is None:
        return StoredStrategy(None, DEFAULT_STRATEGY["name"], 0,
                              Strategy.parse(DEFAULT_STRATEGY))
    return StoredStrategy(row["id"], row["name"], row["version"],
                          Strategy.parse(json.loads(row["definition"])))


def list_strategies(platform: Platform) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(
            recovery_strategies.c.id, recovery_strategies.c.name, recovery_strategies.c.version,
            recovery_strategies.c.active, recovery_strategies.c.author,
            recovery_strategies.c.recorded_at).order_by(recovery_strategies.c.id)).mappings()
        versions = [dict(r) for r in rows]
        active = active_strategy(conn)
    return {"active": active.to_dict(), "versions": versions}


def get_strategy(platform: Platform, strategy_id: int) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        row = conn.execute(select(recovery_strategies)
                           .where(recovery_strategies.c.id == strategy_id)).mappings().first()
    if row is None:
        raise NotFound(f"strategy {strategy_id} does not exist")
    return {"id": row["id"], "name": row["name"], "version": row["version"],
            "active": row["active"], "definition": json.loads(row["definition"])}


def set_scores(platform: Platform, actor: str, model: str, as_of: date,
               scores: dict[str, int]) -> int:
    """Store the latest behavioural score of loans (what the strategies band)."""
    with platform.uow(actor) as uow:
        conn = uow.connection
        ids = list(scores)
        for start in range(0, len(ids), 5000):
            conn.execute(delete(recovery_scores)
                         .where(recovery_scores.c.loan_id.in_(ids[start:start + 5000])))
        bulk.insert_rows(conn, "recovery_scores", ("loan_id", "score", "model", "as_of"),
                         [{"loan_id": k, "score": int(v), "model": model, "as_of": as_of}
                          for k, v in scores.items()])
        uow.audit("recovery.scores", "model", model, {"loans": len(ids), "as_of": as_of})
        uow.commit()
    return len(scores)


# -- the end-of-day assignment ----------------------------------------------------------------
@dataclass(frozen=True)
class Loaded:
    loans: Delinquent
    case_id: np.ndarray[Any, Any]
    overdue_fen: np.ndarray[Any, Any]


def _province(codes: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """`510104` → `510000`; '' stays '' (unknown)."""
    text = codes.astype(str)
    two = text.astype("<U2")
    return np.where(np.char.str_len(text) >= 2, np.char.add(two, "0000"), "").astype(object)


def load_delinquent(conn: Connection, as_of: date) -> Loaded:
    """The delinquent loans of open cases, as the columns the assignment takes."""
    loans, state, parties = tables.loans, tables.loan_state, tables.parties
    c = recovery_cases.c
    rows = conn.execute(
        select(loans.c.id, loans.c.borrower_id, state.c.dpd, state.c.bucket,
               recovery_scores.c.score, parties.c.residence_region_code,
               parties.c.id_region_code, loans.c.region_code, state.c.balloon_fen,
               state.c.balloon_due_date, c.id, c.escalation,
               (state.c.overdue_principal_fen + state.c.overdue_interest_fen
                + state.c.overdue_fee_fen + state.c.penalty_outstanding_fen))
        .select_from(
            recovery_case_loans
            .join(recovery_cases, and_(c.id == recovery_case_loans.c.case_id, c.status == "open"))
            .join(loans, loans.c.id == recovery_case_loans.c.loan_id)
            .join(state, state.c.loan_id == loans.c.id)
            .join(parties, parties.c.id == loans.c.borrower_id)
            .outerjoin(recovery_scores, recovery_scores.c.loan_id == loans.c.id))
        .where(loans.c.status == "active", state.c.dpd > 0, state.c.paid_off.is_(False))
        .order_by(loans.c.id)
    ).all()
    loaded = columns_from_rows(rows, as_of)
    # A loan without a score set for collections gets its latest behavioural score (the
    # dpd30-90d model the end of day refreshes), so the strategies' score bands have data.
    score = loaded.loans.score
    unscored = [str(x) for x in loaded.loans.loan_id[np.isnan(score)]]
    if unscored:
        stored = behavioural_scores.latest_scores(conn, unscored, DPD30_MODEL,
                                                  on_or_before=as_of)
        for position in np.flatnonzero(np.isnan(score)):
            found = stored.get(str(loaded.loans.loan_id[position]))
            if found is not None:
                score[position] = found["score"]
    return loaded


def columns_from_rows(rows: Sequence[Any], as_of: date) -> Loaded:
    """Rows (as `load_delinquent` selects them) → numpy columns, derived ones computed."""
    n = len(rows)
    cols = list(zip(*rows, strict=True)) if n else [()] * 13

    def obj(i: int) -> np.ndarray[Any, Any]:
        return np.array(cols[i], dtype=object)

    residence = np.array([v or "" for v in cols[5]], dtype=object)
    id_region = np.array([v or "" for v in cols[6]], dtype=object)
    loan_region = np.array([v or "" for v in cols[7]], dtype=object)
    p_res, p_id, p_loan = _province(residence), _province(id_region), _province(loan_region)
    cross = np.zeros(n, dtype=bool)
    for left, right in ((p_id, p_res), (p_res, p_loan), (p_id, p_loan)):
        cross |= (left != "") & (right != "") & (left != right)
    province = np.where(p_res != "", p_res, np.where(p_id != "", p_id, p_loan))
    balloon_fen = np.array(cols[8], dtype=np.int64)
    never = np.datetime64("9999-12-31")
    balloon_due = np.array([never if d is None else np.datetime64(d, "D") for d in cols[9]],
                           dtype="datetime64[D]")
    days_to = (balloon_due - np.datetime64(as_of, "D")).astype(np.int64)
    stage = np.full(n, BalloonStage.BEFORE.value, dtype=object)
    stage[days_to <= BALLOON_APPROACH_DAYS] = BalloonStage.APPROACHING.value
    stage[days_to <= 0] = BalloonStage.DUE.value
    stage[balloon_fen <= 0] = BalloonStage.NONE.value
    score = np.array([np.nan if s is None else float(s) for s in cols[4]], dtype=np.float64)
    loans = Delinquent(obj(0), obj(1), np.array(cols[2], dtype=np.int64), obj(3), score,
                       province.astype(object), stage, cross,
                       np.array(cols[11], dtype=np.int64))
    return Loaded(loans, np.array(cols[10], dtype=np.int64),
                  np.array(cols[12], dtype=np.int64))


ASSIGNMENT_COLUMNS = ("loan_id", "case_id", "strategy_id", "segment", "arm", "path", "step",
                      "action", "next_action", "next_in_days", "as_of")


def write_assignments(conn: Connection, loaded: Loaded, result: Assignment,
                      strategy_id: int | None, as_of: date) -> None:
    """Replace the assignments with today's, in bulk."""
    conn.execute(delete(recovery_assignments))
    loans = loaded.loans
    rows = [
        {"loan_id": loan, "case_id": case, "strategy_id": strategy_id, "segment": seg,
         "arm": arm, "path": path, "step": step, "action": action, "next_action": nxt,
         "next_in_days": days, "as_of": as_of}
        for loan, case, seg, arm, path, step, action, nxt, days in zip(
            loans.loan_id.tolist(), loaded.case_id.tolist(), result.segment.tolist(),
            result.arm.tolist(), result.path.tolist(), result.step.tolist(),
            result.action.tolist(), result.next_action.tolist(), result.next_in_days.tolist(),
            strict=True)
    ]
    bulk.insert_rows(conn, "recovery_assignments", ASSIGNMENT_COLUMNS, rows)


def assign_open_cases(conn: Connection, as_of: date) -> tuple[Loaded, Assignment]:
    """Assign today's strategy to every delinquent loan of an open case and store it."""
    stored = active_strategy(conn)
    loaded = load_delinquent(conn, as_of)
    result = assign(stored.strategy, loaded.loans)
    write_assignments(conn, loaded, result, stored.id, as_of)
    return loaded, result


def uplift_table(platform: Platform) -> list[dict[str, Any]]:
    """Loans per segment and arm in today's assignment: the denominators of the champion/
    challenger comparison (outcomes come from the cures recorded on the cases)."""
    a = recovery_assignments.c
    with platform.engine.connect() as conn:
        rows = conn.execute(select(a.segment, a.arm, func.count())
                            .group_by(a.segment, a.arm).order_by(a.segment, a.arm)).all()
    return [{"segment": s, "arm": arm, "loans": int(n)} for s, arm, n in rows]


def champion_challenger(platform: Platform, segment: str | None = None) -> dict[str, Any]:
    """Cure rates by arm over the cases the strategy assigned, and the uplifts with 95%
    intervals: challenger against champion, champion against holdout. A case counts as a
    success when it closed cured or settled; open cases count as not (yet) successes."""
    c = recovery_cases.c
    success = func.coalesce(func.sum(case((c.close_reason.in_(("cure", "settlement")), 1),
                                          else_=0)), 0)
    query = (select(c.arm, func.count(), success).where(c.arm.is_not(None))
             .group_by(c.arm))
    if segment:
        query = query.where(c.segment == segment)
    with platform.engine.connect() as conn:
        counts = {arm: (int(n), int(s)) for arm, n, s in conn.execute(query).all()}

    def compare(treated: str, control: str) -> dict[str, Any]:
        tn, ts = counts.get(treated, (0, 0))
        cn, cs = counts.get(control, (0, 0))
        result = uplift(ts, tn, cs, cn)
        return {"treated": treated, "control": control, **asdict(result)}

    return {"segment": segment, "arms": {a: {"cases": n, "cured": s}
                                         for a, (n, s) in sorted(counts.items())},
            "challenger_vs_champion": compare("challenger", "champion"),
            "champion_vs_holdout": compare("champion", "holdout")}
