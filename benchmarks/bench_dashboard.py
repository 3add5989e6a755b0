"""The staff console's morning dashboard over 100,000 loans on SQLite.

Set-up: the portfolio of `bench_eod.py` (its `templates` and `load`: 1,000 template loans with
realistic histories cloned to `--loans` loans, about one in twenty delinquent), spread over the
31 provinces, with an outbox holding two other events per loan and a `LoanChangedBucket`
history (every delinquent loan moved out of C ten days ago; one current loan in ten went to M1
and back forty days ago). Then timed, best of `--repeat`:

- `services.dashboard.dashboard` (the aggregates in SQL: GROUP BY, conditional sums);
- the whole HTTP request `GET /console/dashboard` of a logged-in staff user (query, SVG charts,
  template), through FastAPI's TestClient;
- a naive baseline measured in the same run: every loan's state row and every bucket event
  loaded into Python and aggregated there;
- the alerts panel (`services.console_views.open_alerts`, one GROUP BY over the alerts of one
  loan in five, a third of them closed) next to every alert row counted in Python;
- the vintage curves (`services.vintages.vintage_curves`) next to the definition computed loan
  by loan (the naive function of tests/service/test_web_console_screens.py, run once: it is
  slow), the two results compared.

Prints ratios; asserts nothing about time.

    uv run --frozen python benchmarks/bench_dashboard.py [--loans 100000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
import warnings
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select, update

sys.path.insert(0, str(Path(__file__).parent))
from bench_eod import NOW, TODAY, load, templates

from tailguard.calendar.months import add_months
from tailguard.infra.auth import Role
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.engine import make_engine
from tailguard.infra.db.tables_monitoring import alerts
from tailguard.infra.settings import load_settings
from tailguard.infra.users import create_user
from tailguard.services import console_views, dashboard, vintages
from tailguard.services.platform import Platform

warnings.simplefilter("ignore")
PROVINCES = ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35",
             "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54",
             "61", "62", "63", "64", "65")
BATCH = 20_000


def decorate(platform: Platform) -> int:
    """Regions, and an outbox with bucket history and other events. Returns outbox rows."""
    with platform.engine.begin() as conn:
        ids = conn.execute(select(tables.loans.c.id).order_by(tables.loans.c.id)).scalars().all()
        states = dict(conn.execute(select(tables.loan_state.c.loan_id,
                                          tables.loan_state.c.bucket)).all())
    rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    moved = TODAY - timedelta(days=10)
    went, back = TODAY - timedelta(days=40), TODAY - timedelta(days=35)

    def event(kind: str, loan_id: str, day: date, payload: dict[str, Any]) -> None:
        rows.append({"event_type": kind, "aggregate_id": loan_id, "business_date": day,
                     "payload": json.dumps(payload), "dedupe_key": None, "recorded_at": NOW})

    for n, loan_id in enumerate(ids):
        updates.append({"lid": loan_id, "rc": PROVINCES[n % len(PROVINCES)] + "0100"})
        event("LoanDisbursed", loan_id, TODAY - timedelta(days=400), {"loan_id": loan_id})
        event("PaymentPosted", loan_id, TODAY - timedelta(days=20), {"loan_id": loan_id})
        bucket = states.get(loan_id, "C")
        if bucket != "C":
            event("LoanChangedBucket", loan_id, moved, {"loan_id": loan_id, "from_bucket": "C",
                                                        "to_bucket": bucket})
        elif n % 10 == 0:
            event("LoanChangedBucket", loan_id, went, {"from_bucket": "C", "to_bucket": "M1"})
            event("LoanChangedBucket", loan_id, back, {"from_bucket": "M1", "to_bucket": "C"})
    with platform.engine.begin() as conn:
        loans = tables.loans
        conn.execute(update(loans).where(loans.c.id == bindparam("lid"))
                     .values(region_code=bindparam("rc")), updates)
        for start in range(0, len(rows), BATCH):
            conn.execute(insert(tables.outbox), rows[start:start + BATCH])
    return len(rows)


def naive(platform: Platform, as_of: date) -> dict[str, Any]:
    """The same figures computed in Python from every row."""
    loans, state, outbox = tables.loans, tables.loan_state, tables.outbox
    with platform.engine.connect() as conn:
        rows = conn.execute(select(loans.c.id, loans.c.status, loans.c.region_code,
                                   loans.c.disbursement_date, state)
                            .join(state, state.c.loan_id == loans.c.id)).mappings().all()
        events = conn.execute(select(outbox.c.aggregate_id, outbox.c.id, outbox.c.payload,
                                     outbox.c.business_date)
                              .where(outbox.c.event_type == "LoanChangedBucket")).all()
    since = add_months(as_of, -1)
    first: dict[str, tuple[int, str]] = {}
    for loan_id, event_id, payload, day in events:
        if day > since and (loan_id not in first or event_id < first[loan_id][0]):
            first[loan_id] = (event_id, json.loads(payload)["from_bucket"])
    buckets: Counter[str] = Counter()
    provinces: Counter[str] = Counter()
    roll: Counter[tuple[str, str]] = Counter()
    principal = late = due = cleared = 0
    near: Counter[int] = Counter()
    for r in rows:
        if r["status"] == "active":
            buckets[r["bucket"]] += 1
            principal += r["principal_outstanding_fen"]
            late += r["principal_outstanding_fen"] if r["dpd"] >= 30 else 0
            if r["region_code"]:
                provinces[r["region_code"][:2]] += 1
            if r["disbursement_date"] <= since:
                was = first.get(r["loan_id"], (0, r["bucket"]))[1]
                roll[(was, r["bucket"])] += 1
            b = r["balloon_due_date"]
            if b is not None and not r["paid_off"] and as_of < b <= as_of + timedelta(days=120):
                near[next(d for d in dashboard.APPROACHING_DAYS
                          if b <= as_of + timedelta(days=d))] += 1
        b = r["balloon_due_date"]
        if b is not None and as_of - timedelta(days=395) < b <= as_of - timedelta(days=30):
            due += 1
            cleared += r["status"] == "closed" or bool(r["paid_off"])
    return {"active": sum(buckets.values()), "principal": principal, "late": late,
            "roll": roll, "provinces": provinces, "due": due, "cleared": cleared,
            "near": near}


ALERT_SEVERITIES = ("critical", "high", "medium", "low")
ALERT_QUEUES = ("collections", "fraud", "servicing", "risk")
ALERT_STATUSES = ("open", "acknowledged", "in-progress", "closed", "closed", "open")


def seed_alerts(platform: Platform) -> int:
    """One alert for one loan in five, spread over severities, queues and statuses."""
    with platform.engine.connect() as conn:
        ids = conn.execute(select(tables.loans.c.id).order_by(tables.loans.c.id)).scalars().all()
    rows = [{"loan_id": loan_id, "rule_id": f"rule-{n % 7}", "rule_version": 1,
             "rule_name": f"rule {n % 7}", "severity": ALERT_SEVERITIES[n % 4],
             "queue": ALERT_QUEUES[(n // 4) % 4], "status": ALERT_STATUSES[n % 6],
             "signal_id": None, "last_signal_id": None, "repeats": 1, "raised_at": NOW,
             "last_seen_at": NOW} for n, loan_id in enumerate(ids) if n % 5 == 0]
    with platform.engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            conn.execute(insert(alerts), rows[start:start + BATCH])
    return len(rows)


def naive_alerts(platform: Platform) -> Counter[tuple[str, str]]:
    """Every alert row into Python, the open ones counted by (severity, queue)."""
    with platform.engine.connect() as conn:
        rows = conn.execute(select(alerts)).mappings().all()
    return Counter((r["severity"], r["queue"]) for r in rows if r["status"] != "closed")


def naive_vintages(platform: Platform, as_of: date) -> dict[str, list[float]]:
    """The vintage definition loan by loan and month by month (as the service test's)."""
    loans, inst = tables.loans, tables.installment_state
    with platform.engine.connect() as conn:
        booked = conn.execute(select(loans.c.id, loans.c.disbursement_date)
                              .where(loans.c.status != "booked",
                                     loans.c.disbursement_date <= as_of)).all()
        rows = conn.execute(select(inst.c.loan_id, inst.c.due_date, inst.c.settled_on)).all()
    reached: dict[str, list[date]] = {}
    for loan_id, due, settled in rows:
        day = due + timedelta(days=vintages.DPD_THRESHOLD)
        if day <= as_of and (settled is None or settled >= day):
            reached.setdefault(loan_id, []).append(day)
    cohorts: dict[str, list[tuple[date, list[date]]]] = {}
    for loan_id, start in booked:
        cohorts.setdefault(f"{start.year:04d}-{start.month:02d}", []).append(
            (start, reached.get(loan_id, [])))
    out: dict[str, list[float]] = {}
    for cohort, members in sorted(cohorts.items()):
        first = date(int(cohort[:4]), int(cohort[5:]), 1)
        rates, m = [], 1
        while add_months(first, m) <= as_of and m <= vintages.MAX_MONTHS:
            late = sum(1 for start, days in members
                       if any(d < add_months(start, m + 1) for d in days))
            rates.append(late / len(members))
            m += 1
        out[cohort] = rates
    return out


def best(repeat: int, work: Any) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 loans")
    parser.add_argument("--repeat", type=int, default=3)
    args, _ = parser.parse_known_args()
    loans = 10_000 if args.quick else args.loans
    work = Path("var/bench")
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"dashboard-{uuid.uuid4().hex[:8]}.db"
    url = f"sqlite:///{db}"
    try:
        clock = FixedClock(NOW)
        platform = Platform(load_settings({"TAILGUARD_DATABASE_URL": url,
                                           "TAILGUARD_MODE": "test"}), make_engine(url), clock)
        started = time.perf_counter()
        load(platform, loans, templates(1_000))
        events = decorate(platform)
        raised = seed_alerts(platform)
        print(f"[sqlite] loaded {loans:,} loans, {events:,} outbox events and {raised:,} "
              f"alerts in {time.perf_counter() - started:.1f} s")

        def query() -> dashboard.Dashboard:
            with platform.engine.connect() as conn:
                return dashboard.dashboard(conn, TODAY)

        elapsed, board = best(args.repeat, query)
        check = naive(platform, TODAY)
        assert board.active_loans == check["active"]
        assert board.dpd30_principal_fen == check["late"]
        assert {k: v for k, v in board.roll.items() if v} == dict(check["roll"])
        assert {p.province_code: p.loans for p in board.provinces} == dict(check["provinces"])
        assert (board.balloons_due, board.balloons_cleared) == (check["due"], check["cleared"])
        print(f"[sqlite] dashboard aggregates (SQL): {elapsed * 1000:.0f} ms "
              f"(active {board.active_loans:,}, 30+ {board.dpd30_ratio or 0:.2%}, "
              f"{sum(board.roll.values()):,} loans in the roll matrix)")

        from fastapi.testclient import TestClient

        from tailguard.api.app import create_app

        with platform.uow("bench") as uow:
            create_user(uow.connection, uow.clock, "bench.ops", "bench-password-1",
                        Role.RISK)
            uow.commit()
        client = TestClient(create_app(platform))
        page = client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        client.post("/console/login", data={"username": "bench.ops",
                                            "password": "bench-password-1",
                                            "csrf": token.group(1)})

        def request() -> int:
            response = client.get("/console/dashboard")
            assert response.status_code == 200, response.status_code
            return len(response.content)

        http, size = best(args.repeat, request)
        print(f"[sqlite] GET /console/dashboard (whole request, {size:,} bytes): "
              f"{http * 1000:.0f} ms")
        baseline, _ = best(args.repeat, lambda: naive(platform, TODAY))
        print(f"[sqlite] naive baseline (every state row and bucket event into Python): "
              f"{baseline * 1000:.0f} ms; the SQL aggregates are {baseline / elapsed:.1f}x "
              f"faster, the whole request {baseline / http:.1f}x")

        def panel() -> dict[str, Any]:
            with platform.engine.connect() as conn:
                return console_views.open_alerts(conn)

        alerts_sql, board_alerts = best(args.repeat, panel)
        alerts_naive, counted = best(args.repeat, lambda: naive_alerts(platform))
        assert board_alerts["cells"] == dict(counted)
        print(f"[sqlite] alerts panel (GROUP BY, {board_alerts['total']:,} open): "
              f"{alerts_sql * 1000:.0f} ms; naive (every alert row into Python) "
              f"{alerts_naive * 1000:.0f} ms: {alerts_naive / alerts_sql:.1f}x")

        def curves() -> list[vintages.Vintage]:
            with platform.engine.connect() as conn:
                return vintages.vintage_curves(conn, TODAY)

        vintage_sql, result = best(args.repeat, curves)
        started = time.perf_counter()
        expected = naive_vintages(platform, TODAY)
        vintage_naive = time.perf_counter() - started
        assert [v.cohort for v in result] == list(expected)
        for v in result:
            assert all(abs(a - b) < 1e-12 for a, b in zip(v.rates, expected[v.cohort],
                                                           strict=True)), v.cohort
        print(f"[sqlite] vintage curves ({len(result)} cohorts, "
              f"{sum(len(v.rates) for v in result):,} points): {vintage_sql * 1000:.0f} ms; "
              f"naive (loan by loan, once) {vintage_naive * 1000:.0f} ms: "
              f"{vintage_naive / vintage_sql:.1f}x")
        platform.engine.dispose()
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
