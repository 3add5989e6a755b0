"""Automatic agency placement at end of day, on SQLite and PostgreSQL: cases at the strategy's
agency-placement step go to the best-scoring eligible agency covering their region with room;
a rerun changes nothing; a case a team lead recalled is not placed again by the night."""

from __future__ import annotations

import warnings
from datetime import date

import pytest
from sqlalchemy import func, select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_recovery import recovery_cases, recovery_placements
from tailguard.services import recovery_partners, recovery_strategies
from tailguard.services.booking import book_application
from tailguard.services.contacts import Actor
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import recovery_eod
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

DAY = date(2026, 3, 2)
LEAD = Actor("lead.zhou", "team-lead")
PLACE_AT_ONCE = {
    "name": "place-at-once", "salt": "s", "default_path": "fast", "holdout_path": "fast",
    "challenger_share": "0", "holdout_share": "0",
    "score_bands": [{"band": "A", "min_score": 0}],
    "paths": {"fast": [{"action": "agency-placement", "at_dpd": 1}]},
    "segments": [],
}


def _partner(platform: Platform, partner_id: str, provinces: list[str], rating: str,
             capacity: int, assessed: date | None = date(2026, 1, 5)) -> None:
    recovery_partners.save_partner(platform, "risk", {
        "id": partner_id, "name": partner_id, "kind": "agency", "provinces": provinces,
        "rating": rating, "recovery_rate": "0.3", "cost_rate": "0.2", "capacity": capacity,
        "last_assessed_on": assessed})


def _holders(platform: Platform) -> dict[str, str | None]:
    with platform.engine.connect() as conn:
        return {str(b): a for b, a in conn.execute(
            select(tables.loans.c.id, recovery_cases.c.agency_id)
            .join(recovery_cases, recovery_cases.c.borrower_id == tables.loans.c.borrower_id))}


def test_cases_at_the_placement_step_go_to_the_best_agency_with_room(
        platform: Platform, clock: FixedClock) -> None:
    with_dealer(platform)
    sz1 = book_application(platform, "officer", application(1, residence="440305"))
    sz2 = book_application(platform, "officer", application(2, residence="440305",
                                                            principal_fen=300_000_00))
    cd = book_application(platform, "officer", application(3, residence="510104"))
    recovery_strategies.save_strategy(platform, "risk", PLACE_AT_ONCE)
    _partner(platform, "AG-BEST", ["440000"], "5", capacity=1)
    _partner(platform, "AG-NEXT", ["440000"], "3", capacity=5)
    _partner(platform, "AG-STALE", ["440000", "510000"], "5", capacity=5,
             assessed=date(2024, 12, 1))  # overdue for its yearly assessment
    clock.current = FixedClock.at(DAY).current
    from tailguard.batch import eod

    eod.run(platform, DAY)
    report = recovery_eod(platform, DAY)
    assert report["placed"] == {"due": 3, "placed": 2}
    holders = _holders(platform)
    # the larger arrears come first: the best agency's only place goes to sz2
    assert (holders[sz2], holders[sz1], holders[cd]) == ("AG-BEST", "AG-NEXT", None)
    again = recovery_eod(platform, DAY)
    assert again["placed"] == {"due": 1, "placed": 0}
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(recovery_placements)
                            ).scalar_one() == 2
    with platform.engine.connect() as conn:
        case_sz1 = conn.execute(select(recovery_cases.c.id).where(
            recovery_cases.c.agency_id == "AG-NEXT")).scalar_one()
    recovery_partners.recall_case(platform, LEAD, int(case_sz1), "conduct complaint")
    recovery_eod(platform, DAY)
    assert _holders(platform)[sz1] is None
