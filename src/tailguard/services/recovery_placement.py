"""Automatic agency placement at end of day: the cases whose strategy step has reached
"agency placement" go to the best-scoring eligible agency covering their region with room.

Part of `recovery_cases.recovery_eod`, in its transaction, after the strategy was assigned and
the cases routed. It is set-wise and idempotent for a night:

- candidates are read with one query: open cases at the `agency-placement` step, not placed,
  and never placed before (a case a team lead recalled stays with the lender until a person
  places it again: the recall was a decision, the night does not undo it);
- the allocation is `recovery.partners.allocate` (score order, coverage by city or province,
  capacity counting the cases each agency already holds, yearly assessment required), highest
  priority cases first;
- placements, the cases' new holder and the history rows are written in bulk.

A second run the same night finds no candidate (they are placed), so it changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, exists, insert, select

from tailguard.infra.db import bulk
from tailguard.infra.db.tables_recovery import (
    recovery_case_events,
    recovery_cases,
    recovery_placements,
)
from tailguard.infra.db.uow import to_json
from tailguard.recovery import partners as rules
from tailguard.recovery.vocabulary import Action, PartnerKind
from tailguard.services.recovery_partners import _partners

ACTOR = "recovery-eod"
WHY = "strategy step agency-placement: best-scoring eligible agency covering the region"


def place_due_cases(conn: Connection, as_of: date, now: datetime) -> dict[str, int]:
    """Place every case due for agency placement that an agency can take."""
    c, pl = recovery_cases.c, recovery_placements.c
    due = conn.execute(
        select(c.id, c.region_code)
        .where(c.status == "open", c.action == Action.AGENCY_PLACEMENT.value,
               c.agency_id.is_(None), ~exists().where(pl.case_id == c.id))
        .order_by(c.priority.desc(), c.id)).all()
    if not due:
        return {"due": 0, "placed": 0}
    placed = rules.allocate([rules.CaseToPlace(int(i), r) for i, r in due], _partners(conn),
                            PartnerKind.AGENCY.value, as_of)
    if placed:
        conn.execute(insert(recovery_placements), [
            {"case_id": case_id, "partner_id": partner, "placed_on": as_of,
             "recalled_on": None, "recall_reason": None, "actor": ACTOR, "recorded_at": now}
            for case_id, partner in placed.items()])
        bulk.update_rows(conn, "recovery_cases", ("id",), {
            "id": "integer", "agency_id": "varchar(40)", "collector": "varchar(64)"},
            [{"id": case_id, "agency_id": partner, "collector": None}
             for case_id, partner in placed.items()])
        events: list[dict[str, Any]] = [
            {"case_id": case_id, "kind": "placed", "loan_id": None, "on_date": as_of,
             "actor": ACTOR, "detail": to_json({"partner_id": partner, "why": WHY}),
             "recorded_at": now} for case_id, partner in placed.items()]
        conn.execute(insert(recovery_case_events), events)
    return {"due": len(due), "placed": len(placed)}


__all__ = ["place_due_cases"]
