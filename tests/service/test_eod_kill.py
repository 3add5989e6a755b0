"""An end-of-day run killed with SIGKILL and rerun leaves the same ledger, row for row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.services import queries
from tests.service.conftest import make_platform
from tests.service.test_eod import _eod_ledger, portfolio

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)
TARGET = date(2026, 3, 31)
TAILGUARD = [sys.executable, "-m", "tailguard.cli"]


def run_cli(url: str, *args: str) -> subprocess.Popen[bytes]:
    env = os.environ | {"TAILGUARD_DATABASE_URL": url, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([*TAILGUARD, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def test_a_killed_end_of_day_rerun_gives_the_same_ledger(
    new_database: Callable[[], str], clock: FixedClock
) -> None:
    ledgers = []
    for kill in (False, True):
        url = new_database()
        platform = make_platform(url, FixedClock(clock.current))
        portfolio(platform, platform.clock)  # type: ignore[arg-type]
        args = ("eod", "--as-of", TARGET.isoformat(), "--chunk-size", "1")
        if kill:
            process = run_cli(url, *args)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with platform.engine.connect() as conn:
                    chunks = conn.execute(
                        select(func.count()).select_from(tables.eod_chunks)).scalar_one()
                if chunks >= 40:
                    break
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            assert process.returncode == -signal.SIGKILL
            with platform.engine.connect() as conn:
                done_days = conn.execute(select(func.count()).select_from(tables.eod_runs)
                                         .where(tables.eod_runs.c.status == "done")
                                         ).scalar_one()
            assert done_days < (TARGET - date(2026, 1, 10)).days, "killed before the end"
        finished = run_cli(url, *args)
        _, stderr = finished.communicate(timeout=300)
        assert finished.returncode == 0, stderr.decode()
        ledgers.append(_eod_ledger(platform))
        with platform.engine.connect() as conn:
            assert queries.reconcile(conn) == []
            assert queries.trial_balance(conn, date.max).balanced
        platform.engine.dispose()
    assert ledgers[0] and ledgers[0] == ledgers[1]


def test_module_entry_point_exists() -> None:
    assert (Path(__file__).parents[2] / "src/tailguard/cli/__main__.py").exists()
