"""The simulator driving the real platform on SQLite: byte-identical histories for one seed,
a resumed run equal to an uninterrupted one, and the baseline KPIs in their documented ranges.

Booking renders a contract PDF per loan, and schedule changes an addendum
(services/contract_documents.py): most of a booking's time and nothing these tests look at,
so both are stubbed here to keep them fast. The CLI
and the benchmark run with it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tailguard.infra.clock import FixedClock
from tailguard.services import booking
from tailguard.simulation.config import SimulationConfig
from tailguard.simulation.export import write_exports, write_json
from tailguard.simulation.report import compare, compute_kpis
from tailguard.simulation.runner import Simulation, checkpoint_path_for
from tailguard.simulation.session import Outcome, document

from .conftest import make_platform

START = date(2024, 1, 1)


@pytest.fixture(autouse=True)
def no_contract_pdfs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("issue_contract", "issue_addendum"):
        monkeypatch.setattr(booking.contract_documents, name, lambda *args, **kwargs: None)


@pytest.fixture
def new_sqlite(sqlite_template: Path, tmp_path: Path) -> Iterator[object]:
    made = []

    def make(name: str) -> str:
        target = tmp_path / f"{name}.db"
        shutil.copyfile(sqlite_template, target)
        made.append(target)
        return f"sqlite:///{target}"

    yield make


def _run(url: str, config: SimulationConfig, stop_after_days: int | None = None) -> Simulation:
    platform = make_platform(url, FixedClock.at(START))
    sim = Simulation(platform, config, START, checkpoint_path_for(url))
    sim.run(stop_after_days=stop_after_days)
    return sim


def _digests(sim: Simulation, out: Path) -> dict[str, str]:
    digests = write_exports(sim, sim.platform, out)
    kpis = compute_kpis(sim.platform, sim.state)
    digests["kpis.json"] = write_json(document(Outcome(sim, sim.platform, kpis)),
                                      out / "kpis.json")
    return digests


def test_same_seed_same_bytes_and_a_resumed_run_equals_an_uninterrupted_one(
    new_sqlite, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    config = SimulationConfig(loans=24, months=7, seed=42)
    whole = _run(new_sqlite("whole"), config)
    again = _run(new_sqlite("again"), config)
    assert whole.state.counters.payments > 50
    first = _digests(whole, tmp_path / "whole")
    assert first == _digests(again, tmp_path / "again")

    url = new_sqlite("resumed")
    cut = _run(url, config, stop_after_days=75)  # stops mid-March, after the checkpoint
    assert not cut.finished
    cut.platform.engine.dispose()
    resumed = _run(url, config)  # a new process would do the same: state from the checkpoint
    assert resumed.finished
    assert _digests(resumed, tmp_path / "resumed") == first

    other = _run(new_sqlite("other"), SimulationConfig(loans=24, months=7, seed=43))
    assert _digests(other, tmp_path / "other")["payments.parquet"] != first["payments.parquet"]


def test_baseline_kpis_fall_in_the_documented_ranges(new_sqlite) -> None:  # type: ignore[no-untyped-def]
    config = SimulationConfig(loans=120, months=20, seed=5)
    sim = _run(new_sqlite("baseline"), config)
    kpis = compute_kpis(sim.platform, sim.state)
    totals = kpis.totals
    # Documented in src/tailguard/simulation/README.md ("Calibration").
    assert 0.0 <= totals["dpd30_ratio_final"] <= 0.10
    assert totals["balloons_due"] >= 5
    assert 0.6 <= totals["balloon_clearance_rate"] <= 1.0
    assert totals["payments_posted"] > 1000
    assert totals["reversals"] > 0
    assert sim.state.counters.service_refusals == 0
    # A challenger with no treatment effect on payers can only help: same world, same draws.
    challenger = _run(new_sqlite("challenger"), config.challenger("all"))
    diffs = {c.metric: c for c in compare(sim.state, challenger.state, draws=200)}
    assert diffs["ever_30dpd_share"].difference <= 0.0
    assert diffs["ever_30dpd_share"].low <= diffs["ever_30dpd_share"].high
