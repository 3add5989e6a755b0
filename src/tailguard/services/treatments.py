"""Treatment arms on record, and the champion/challenger read-out of a programme.

`record_arms` draws (column-wise) and stores each loan's arm the first time a programme meets
it; later calls keep the stored arm, so the population of the read-out is every loan the
programme ever considered, treated or held out, from the day it was first assigned.

`read_out(platform, programme, outcome, as_of)` compares one outcome between the arms:

- `on-time-next`: the first instalment due after the loan was assigned (and by `as_of`) was
  settled on or before its due date; loans with no such instalment yet are not counted.
- `balloon-cleared-30`: the original balloon (schedule version 1) was cleared by 30 days after
  its due date: the loan paid off by then, or the balloon refinanced or extended by then (the
  glossary's balloon clearance); loans whose balloon is not 30 days past due yet are not
  counted.

Each is two queries over the programme's loans, whatever their number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, insert, select

from tailguard.engagement.treatments import ReadOut, assign_arms, holdout_share, read_out
from tailguard.errors import InvalidInput, NotFound
from tailguard.infra.db import tables
from tailguard.infra.db.tables_offers import treatment_arms
from tailguard.services.platform import Platform

OUTCOMES = ("on-time-next", "balloon-cleared-30")
CHUNK = 1000


def record_arms_in(conn: Connection, programme: str, loan_ids: Sequence[str], day: date,
                   holdout: Decimal | float | str, now: Any) -> dict[str, str]:
    """Arms of `loan_ids` in `programme` (stored ones kept, new ones drawn and stored)."""
    holdout_share(holdout)  # a bad share is refused before anything is written
    arms: dict[str, str] = {}
    ta = treatment_arms.c
    for start in range(0, len(loan_ids), CHUNK):
        chunk = list(loan_ids[start:start + CHUNK])
        stored = dict(conn.execute(select(ta.loan_id, ta.arm).where(
            ta.programme == programme, ta.loan_id.in_(chunk))).all())
        arms.update(stored)
        new = [loan_id for loan_id in chunk if loan_id not in stored]
        if not new:
            continue
        borrowers = dict(conn.execute(select(tables.loans.c.id, tables.loans.c.borrower_id)
                                      .where(tables.loans.c.id.in_(new))).all())
        known = [loan_id for loan_id in new if loan_id in borrowers]
        drawn = assign_arms(programme, np.array([borrowers[i] for i in known], dtype=object),
                            holdout)
        rows = [{"programme": programme, "loan_id": loan_id, "borrower_id": borrowers[loan_id],
                 "arm": str(arm), "assigned_on": day, "recorded_at": now}
                for loan_id, arm in zip(known, drawn, strict=True)]
        if rows:
            conn.execute(insert(treatment_arms), rows)
        arms.update({r["loan_id"]: r["arm"] for r in rows})
    return arms


def record_arms(platform: Platform, programme: str, loan_ids: Sequence[str], day: date,
                holdout: Decimal | float | str) -> dict[str, str]:
    with platform.uow("treatments") as uow:
        arms = record_arms_in(uow.connection, programme, loan_ids, day, holdout,
                              uow.clock.now())
        uow.commit()
    return arms


def arms_of(platform: Platform, programme: str) -> dict[str, str]:
    ta = treatment_arms.c
    with platform.engine.connect() as conn:
        return dict(conn.execute(select(ta.loan_id, ta.arm).where(
            ta.programme == programme)).all())


def read_out_programme(platform: Platform, programme: str, outcome: str = "on-time-next",
                       as_of: date | None = None) -> ReadOut:
    """The outcome rate per arm with the difference and its 95 % interval."""
    if outcome not in OUTCOMES:
        raise InvalidInput.one("outcome", "unknown", f"one of {', '.join(OUTCOMES)}")
    day = as_of or platform.today()
    with platform.engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(treatment_arms).where(
                treatment_arms.c.programme == programme)).scalar_one() == 0:
            raise NotFound(f"programme {programme} has no loans assigned")
        rows = (_on_time_next(conn, programme, day) if outcome == "on-time-next"
                else _balloon_cleared(conn, programme, day))
    arms = np.array([r[0] for r in rows], dtype=object)
    success = np.array([bool(r[1]) for r in rows], dtype=bool)
    return read_out(programme, outcome, arms, success)


def _on_time_next(conn: Connection, programme: str, as_of: date) -> list[tuple[str, bool]]:
    ta, inst = treatment_arms.c, tables.installment_state.c
    first = (
        select(inst.loan_id, func.min(inst.due_date).label("due"))
        .select_from(tables.installment_state.join(
            treatment_arms, (ta.loan_id == inst.loan_id) & (ta.programme == programme)))
        .where(inst.due_date > ta.assigned_on, inst.due_date <= as_of)
        .group_by(inst.loan_id)
    ).subquery()
    rows = conn.execute(
        select(ta.loan_id, ta.arm, inst.settled_on, inst.due_date)
        .select_from(treatment_arms
                     .join(first, first.c.loan_id == ta.loan_id)
                     .join(tables.installment_state, (inst.loan_id == ta.loan_id)
                           & (inst.due_date == first.c.due)))
        .where(ta.programme == programme)
    ).all()
    by_loan: dict[str, tuple[str, bool]] = {}
    for loan_id, arm, settled_on, due in rows:
        on_time = settled_on is not None and settled_on <= due
        previous = by_loan.get(loan_id)
        by_loan[loan_id] = (arm, on_time and (previous is None or previous[1]))
    return list(by_loan.values())


def _balloon_cleared(conn: Connection, programme: str, as_of: date,
                     window_days: int = 30) -> list[tuple[str, bool]]:
    ta, inst, st = treatment_arms.c, tables.installments.c, tables.installment_state.c
    balloon = (
        select(inst.loan_id, func.max(inst.due_date).label("due"))
        .select_from(tables.installments.join(
            treatment_arms, (ta.loan_id == inst.loan_id) & (ta.programme == programme)))
        .where(inst.version == 1, inst.balloon_fen > 0)
        .group_by(inst.loan_id)
    ).subquery()
    last_settled = (
        select(st.loan_id, func.max(st.settled_on).label("settled"))
        .select_from(tables.installment_state.join(
            treatment_arms, (ta.loan_id == st.loan_id) & (ta.programme == programme)))
        .group_by(st.loan_id)
    ).subquery()
    sv = tables.schedule_versions.c
    moved = (
        select(sv.loan_id, func.min(sv.effective_date).label("moved_on"))
        .select_from(tables.schedule_versions.join(
            treatment_arms, (ta.loan_id == sv.loan_id) & (ta.programme == programme)))
        .where(sv.reason.like("balloon:%"))
        .group_by(sv.loan_id)
    ).subquery()
    rows = conn.execute(
        select(ta.arm, balloon.c.due, tables.loan_state.c.paid_off, last_settled.c.settled,
               moved.c.moved_on)
        .select_from(treatment_arms
                     .join(balloon, balloon.c.loan_id == ta.loan_id)
                     .join(tables.loan_state, tables.loan_state.c.loan_id == ta.loan_id)
                     .outerjoin(last_settled, last_settled.c.loan_id == ta.loan_id)
                     .outerjoin(moved, moved.c.loan_id == ta.loan_id))
        .where(ta.programme == programme)
    ).all()
    out: list[tuple[str, bool]] = []
    window = timedelta(days=window_days)
    for arm, due, paid_off, settled, moved_on in rows:
        if due + window > as_of:
            continue
        cleared = (bool(paid_off) and settled is not None and settled <= due + window) or (
            moved_on is not None and moved_on <= due + window)
        out.append((arm, cleared))
    return out
