"""The demo portfolio: a few hundred loans simulated through the platform up to today.

`tailguard demo` fills an empty database with a portfolio
a risk manager would recognise: loans disbursed over the last two and a half years, so that
some are new, most pay, some are late or in M1–M6+, some were repossessed and written off,
some prepaid, and balloons have fallen due (settled, refinanced, extended, traded in, returned
or defaulted) while others approach. The run is the simulator's baseline, ending yesterday.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from tailguard.calendar import add_months
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.services import behavioural_scores
from tailguard.services.platform import Platform
from tailguard.simulation.config import SimulationConfig, WorldSpec
from tailguard.simulation.runner import Simulation, checkpoint_path_for

DEMO_MONTHS = 30
DEMO_WORLD = replace(WorldSpec(), origination_share=0.9, dealers_min=12)


def demo_config(loans: int, seed: int) -> SimulationConfig:
    return SimulationConfig(loans, DEMO_MONTHS, seed, world=DEMO_WORLD, name="demo")


def run_demo(platform: Platform, loans: int, seed: int) -> tuple[int, int, bool]:
    """(loans booked, payments posted, skipped); does nothing when loans exist."""
    checkpoint = checkpoint_path_for(platform.settings.database_url)
    with platform.engine.connect() as conn:
        has_loans = bool(conn.execute(select(func.count()).select_from(tables.loans))
                         .scalar_one())
    if has_loans and (checkpoint is None or not checkpoint.exists()):
        return 0, 0, True
    today = platform.today()
    start = add_months(today, -DEMO_MONTHS)
    clocked = Platform(platform.settings, platform.engine, FixedClock.at(start),
                       platform.national_calendar, platform.regional_holidays,
                       platform.products)
    try:
        simulation = Simulation(clocked, demo_config(loans, seed), start, checkpoint)
    except ValueError:  # the checkpoint of an earlier day's demo: that demo is in place
        if has_loans:
            return 0, 0, True
        raise
    if simulation.finished:
        return 0, 0, True
    state = simulation.run()
    simulation.issue_contracts()  # every demo loan shows its contract, as if issued at booking
    # what serve's nightly run leaves after each end of day: the loans' behavioural scores
    behavioural_scores.refresh_scores(platform, today - timedelta(days=1))
    return state.counters.bookings, state.counters.payments, False
