"""A small world for the console's work screens (TestClient and browser tests): the web
portfolio (two loans) plus a third loan, all late in March; staff of every role; collection
teams with a collector, the cases the end of day opened, a partner with a placement, a field
plan; and two decided applications (one referred for want of a score, one scored)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.auth import Role
from tailguard.infra.clock import FixedClock
from tailguard.infra.db.tables_recovery import recovery_cases
from tailguard.infra.users import create_user
from tailguard.origination.scoring import ModelScorer
from tailguard.services import origination, recovery_partners, recovery_work
from tailguard.services.booking import book_application
from tailguard.services.contacts import Actor
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import recovery_eod
from tests.service.factories import application
from tests.service.origination_fixtures import application_in, party
from tests.service.web_fixtures import PASSWORD, Portfolio, book_portfolio

DAY = date(2026, 3, 2)
"""The business day of the screens: the February instalments are 20 days late."""
USERS = {
    "collector.wang": Role.COLLECTOR, "lead.zhou": Role.TEAM_LEAD,
    "compliance.he": Role.COMPLIANCE, "admin.root": Role.ADMINISTRATOR,
    "credit.sun": Role.CREDIT_OFFICER,
}
"""Beside book_portfolio's ops.wang (servicing), risk.zhao (risk), credit.qian (credit)."""


@dataclass(frozen=True)
class ConsoleWorld:
    portfolio: Portfolio
    third: str
    case_id: int
    placed_case: int
    referred: str
    scored: str | None


def seed_console(platform: Platform, clock: FixedClock, model_dir: Path | None = None
                 ) -> ConsoleWorld:
    warnings.simplefilter("ignore", CalendarFallbackWarning)
    portfolio = book_portfolio(platform)
    third = book_application(platform, "officer", application(3, loan_id="THIRD",
                                                              residence="510104"))
    with platform.uow("test") as uow:
        for name, role in USERS.items():
            create_user(uow.connection, uow.clock, name, PASSWORD, role)
        uow.commit()
    recovery_work.save_team(platform, "admin", "HQ-PHONE", "总部电催", "000000", "phone", 50,
                            ["*"])
    recovery_work.save_team(platform, "admin", "SZ-FIELD", "深圳外访", "440300", "field", 20,
                            ["field-visit"], (Decimal("22.54"), Decimal("114.06")))
    recovery_work.save_collector(platform, "admin", "collector.wang", "HQ-PHONE", ["*"], 30)
    recovery_partners.save_partner(platform, "risk.zhao", {
        "id": "AG-SC", "name": "四川某催收公司", "kind": "agency", "capabilities": ["ai-dialler"],
        "provinces": ["510000"], "cities": [], "rating": "4.5", "complaints": 1,
        "cases_handled": 200, "recovery_rate": "0.35", "cost_rate": "0.2", "capacity": 100,
        "last_assessed_on": date(2026, 1, 5)})
    clock.current = FixedClock.at(DAY).current
    from tailguard.batch import eod

    eod.run(platform, DAY)
    recovery_eod(platform, DAY)
    with platform.engine.connect() as conn:
        cases = dict(conn.execute(select(recovery_cases.c.region_code, recovery_cases.c.id)
                                  .order_by(recovery_cases.c.id)).all())
    sichuan = next(i for r, i in cases.items() if str(r).startswith("51"))
    shenzhen = next(i for r, i in cases.items() if not str(r).startswith("51"))
    recovery_partners.place_case(platform, Actor("lead.zhou", "team-lead"), sichuan, "AG-SC")
    recovery_work.plan_field_day(platform, "lead.zhou", "SZ-FIELD", DAY, [shenzhen],
                                 {shenzhen: (22.53, 113.93)})
    referred = origination.submit_application(platform, "credit.qian", application_in())
    origination.decide_application(platform, "credit.qian", referred)
    scored = None
    if model_dir is not None:
        scored = origination.submit_application(platform, "credit.qian", application_in(
            parties=(party(sequence=124),), serial=2))
        origination.decide_application(platform, "credit.qian", scored,
                                       scorer=ModelScorer(model_dir))
    return ConsoleWorld(portfolio, third, shenzhen, sichuan, referred, scored)
