"""One simulation end to end: platform, run (resumable), KPIs, exports; and a comparison.

Entry points (`tailguard simulate`, `tailguard demo`) call these; they only translate options.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import event

from tailguard.infra.clock import FixedClock
from tailguard.infra.db.engine import is_sqlite
from tailguard.infra.settings import load_settings
from tailguard.services.platform import Platform, bootstrap
from tailguard.services.setup import initialise
from tailguard.simulation.config import SimulationConfig
from tailguard.simulation.report import Comparison, Kpis, compare, compute_kpis
from tailguard.simulation.runner import Simulation, checkpoint_path_for
from tailguard.simulation.world import World

DEFAULT_START = date(2024, 1, 1)


@dataclass
class Outcome:
    simulation: Simulation
    platform: Platform
    kpis: Kpis


def platform_for(database_url: str, start: date, env: dict[str, str] | None = None
                 ) -> Platform:
    """A platform on `database_url` whose clock the simulator moves; `env` overrides the
    process environment (e.g. where contract documents go)."""
    values = {**os.environ, **(env or {}), "TAILGUARD_DATABASE_URL": database_url}
    platform = bootstrap(load_settings(values), FixedClock.at(start))
    if is_sqlite(platform.engine):
        event.listen(platform.engine, "connect", _simulation_pragmas)
        platform.engine.dispose()  # connections already pooled get the settings when reopened
    initialise(platform)
    return platform


def _simulation_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """A simulation's SQLite file is scratch that the same seed rebuilds, and a run
    interrupted resumes from its checkpoint: it need not reach the disk at each commit
    (`synchronous=OFF`: a process crash loses nothing; after a power cut that damaged the
    file, delete it and its checkpoint and run again), and a larger page cache (256 MiB)
    keeps the tables of a 10,000-loan book in memory. Everything else
    (WAL, foreign keys, the write lock) stays as the platform sets it."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA cache_size=-262144")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def run(config: SimulationConfig, database_url: str, start: date = DEFAULT_START,
        world: World | None = None, progress: Callable[[date], None] | None = None,
        stop_after_days: int | None = None, env: dict[str, str] | None = None,
        issue_contracts: bool = True) -> Outcome:
    """Run (or resume, when a checkpoint is next to the database) one configuration.

    Loans are booked in daily batches without their contract PDFs; a finished run then issues
    them in one batch step (`issue_contracts=False` leaves them to `tailguard contract issue`
    or a later `Simulation.issue_contracts`). Nothing in the figures depends on the PDFs."""
    platform = platform_for(database_url, start, env)
    simulation = Simulation(platform, config, start, checkpoint_path_for(database_url), world)
    simulation.run(stop_after_days=stop_after_days, progress=progress)
    if issue_contracts and simulation.finished:
        simulation.issue_contracts()
    return Outcome(simulation, platform, compute_kpis(platform, simulation.state))


def comparison(champion: Outcome, challenger: Outcome, draws: int = 1000,
               since_month: int = 0) -> list[Comparison]:
    """Challenger against champion over the months from `since_month` (the warm-up before
    it is left out), recoveries and losses included."""
    return compare(champion.simulation.state, challenger.simulation.state, draws,
                   seed=champion.simulation.config.seed,
                   since=window_start(champion, since_month),
                   platforms=(champion.platform, challenger.platform))


def window_start(outcome: Outcome, since_month: int) -> date:
    from tailguard.calendar import add_months

    return add_months(outcome.simulation.start, since_month)


def document(outcome: Outcome, compared: list[Comparison] | None = None,
             challenger: Outcome | None = None, since_month: int = 0,
             draws: int = 1000) -> dict[str, Any]:
    sim = outcome.simulation
    doc: dict[str, Any] = {
        "config": {"name": sim.config.name, "loans": sim.config.loans,
                   "months": sim.config.months, "seed": sim.config.seed,
                   "start": sim.start.isoformat(), "end": sim.end.isoformat()},
        "kpis": outcome.kpis.to_dict(),
    }
    treated = sim.state.treatments
    if treated is not None:
        doc["treatments"] = sim.config.to_dict()["treatments"] | treated.summary()
    if challenger is not None:
        doc["challenger"] = {"name": challenger.simulation.config.name,
                             "kpis": challenger.kpis.to_dict()}
        other = challenger.simulation.state.treatments
        if other is not None:
            doc["challenger"]["treatments"] = (
                challenger.simulation.config.to_dict()["treatments"] | other.summary())
    if compared is not None:
        doc["comparison"] = {
            "method": "paired bootstrap over loans (same world, common random numbers), "
                      f"{draws} draws, 95 % percentile interval of challenger minus champion",
            "window": f"{window_start(outcome, since_month).isoformat()} to "
                      f"{sim.end.isoformat()}",
            "metrics": [c.to_dict() for c in compared],
        }
    return doc


def sibling_url(database_url: str, suffix: str) -> str:
    """The challenger's database next to the champion's (SQLite only)."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError("a challenger run needs a SQLite --database (or none)")
    path = Path(database_url[len(prefix):])
    return prefix + str(path.with_name(f"{path.stem}-{suffix}{path.suffix}"))
