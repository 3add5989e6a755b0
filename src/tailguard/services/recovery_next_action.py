"""The next best action on a case, from its facts, the conduct guard and the measured effects.

Gathers what `recovery/next_action.py` ranks: the case's loans (days past due, overdue and
outstanding amounts, the vehicle's price), its behavioural score band (the active strategy's
bands over `recovery_scores`), the steps already taken, whether it is placed, the commission
rate of the agency allocation would choose, the strategy path's actions, and the segment's
champion-over-holdout read-out as the measured effect of the case's current step. Whether each
contact channel is allowed now is asked of the conduct guard inside a transaction that is
rolled back, so asking never counts as a contact (as for "who next").
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from tailguard.engagement.vocabulary import Channel, Party, Purpose
from tailguard.infra.db import tables
from tailguard.infra.db.tables_recovery import recovery_legal, recovery_scores
from tailguard.recovery import next_action as rules
from tailguard.recovery import partners as partner_rules
from tailguard.recovery.vocabulary import Action, LegalStep, PartnerKind
from tailguard.services import contacts, recovery_strategies
from tailguard.services.contacts import Actor, ContactCommand
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import case_loans, case_row

CHANNELS = {"sms": Channel.SMS, "call": Channel.CALL, "field-visit": Channel.FIELD_VISIT,
            "letter": Channel.LETTER}
LEGAL_DONE = {LegalStep.DEMAND_LETTER.value: Action.LAWYER_LETTER.value,
              LegalStep.LITIGATION.value: Action.LEGAL_ACTION.value,
              LegalStep.ARBITRATION.value: Action.LEGAL_ACTION.value,
              LegalStep.REPOSSESSED.value: Action.REPOSSESSION.value}


def _band(score: int | None, bands: Any) -> str:
    if score is None:
        return "U"
    for band in bands:  # highest first
        if score >= band.min_score:
            return str(band.band)
    return "U"


def for_case(platform: Platform, actor: Actor, case_id: int,
             at: datetime | None = None) -> dict[str, Any]:
    """The ranked candidates for the case and the best allowed one."""
    from tailguard.services.recovery_legal import _done_steps  # what the gate itself counts
    from tailguard.services.recovery_partners import _partners

    with platform.uow(actor.name) as uow:  # never committed: the guard is asked dry
        conn = uow.connection
        row = case_row(conn, case_id, actor)
        loans = case_loans(conn, case_id)
        s, v = tables.loan_state.c, tables.vehicles.c
        state = conn.execute(
            select(func.coalesce(func.max(s.dpd), 0),
                   func.coalesce(func.sum(s.overdue_principal_fen + s.overdue_interest_fen
                                          + s.overdue_fee_fen + s.penalty_outstanding_fen), 0),
                   func.coalesce(func.sum(s.principal_outstanding_fen
                                          + s.overdue_interest_fen + s.overdue_fee_fen
                                          + s.penalty_outstanding_fen), 0),
                   func.max(v.price_fen))
            .select_from(tables.loans.join(tables.loan_state,
                                           s.loan_id == tables.loans.c.id)
                         .outerjoin(tables.vehicles, v.id == tables.loans.c.vehicle_id))
            .where(tables.loans.c.id.in_(loans))).one()
        score = conn.execute(select(func.max(recovery_scores.c.score))
                             .where(recovery_scores.c.loan_id.in_(loans))).scalar_one_or_none()
        strategy = recovery_strategies.active_strategy(conn).strategy
        done = set(_done_steps(conn, case_id, row["borrower_id"]))
        done |= {LEGAL_DONE[step] for step in conn.execute(
            select(recovery_legal.c.step).where(recovery_legal.c.case_id == case_id)).scalars()
            if step in LEGAL_DONE}
        partners = _partners(conn)
        chosen = row["agency_id"] or partner_rules.allocate(
            [partner_rules.CaseToPlace(case_id, row["region_code"])], partners,
            PartnerKind.AGENCY.value, platform.today()).get(case_id)
        partner_rate = next((p.cost_rate for p in partners if p.id == chosen), None)
        allowed: dict[str, bool] = {}
        for name, channel in CHANNELS.items():
            command = ContactCommand(channel, Purpose.COLLECTION, Party.DEBTOR,
                                     loan_id=loans[0] if loans else None,
                                     borrower_id=None if loans else row["borrower_id"], at=at)
            with conn.begin_nested() as savepoint:
                allowed[name] = contacts.decide_in(uow, platform, actor, command
                                                   ).decision.allowed
                savepoint.rollback()
    measured: dict[str, rules.Measured] = {}
    if row["segment"] and row["action"]:
        read = recovery_strategies.champion_challenger(platform, row["segment"])[
            "champion_vs_holdout"]
        measured[row["action"]] = rules.Measured(read["difference"], read["low"], read["high"],
                                                 read["n_treated"], read["n_control"])
    path = strategy.paths.get(row["path"] or strategy.default_path, ())
    facts = rules.CaseFacts(
        dpd=int(state[0]), overdue_fen=int(state[1]), outstanding_fen=int(state[2]),
        score_band=_band(None if score is None else int(score), strategy.score_bands),
        vehicle_value_fen=None if state[3] is None else int(state[3]),
        done=frozenset(done), placed=bool(row["agency_id"]), contact_allowed=allowed,
        commission_rate=float(partner_rate if partner_rate is not None else Decimal("0.2")),
        path_actions=tuple(str(step.action) for step in path))
    ranked = rules.rank(facts, measured)
    return {"case_id": case_id, "best": rules.best(ranked).to_dict(),
            "candidates": [c.to_dict() for c in ranked],
            "facts": {"dpd": facts.dpd, "overdue_fen": facts.overdue_fen,
                      "outstanding_fen": facts.outstanding_fen,
                      "score_band": facts.score_band, "done": sorted(facts.done),
                      "placed": facts.placed, "contact_allowed": allowed}}


__all__ = ["for_case"]
