"""End of day for 100,000 active loans, on SQLite and on PostgreSQL.

Set-up: 1,000 template loans get realistic histories through the pure replay (on time, late,
stopped paying, overpaid), and each is cloned under new loan ids, rows and all, until the
portfolio holds `--loans` loans; about one in twenty is delinquent. Then one business day of the
column-wise end of day is timed, with peak memory, next to a naive baseline measured in the same
run: the same day done one loan at a time (load the loan, replay it, true up its books and
state), timed on a sample and extrapolated. Prints ratios; asserts nothing about time.

    uv run --frozen python benchmarks/bench_eod.py [--loans 100000] [--quick] [--no-postgres]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from tailguard.batch import eod
from tailguard.calendar import WeekendCalendar
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import state_repository as states
from tailguard.infra.db import tables
from tailguard.infra.db.engine import make_engine
from tailguard.infra.db.loan_repository import LoanRepository
from tailguard.infra.db.migrate import upgrade
from tailguard.infra.settings import load_settings
from tailguard.ledger.flows import target_flows
from tailguard.loans.account import LoanAccount
from tailguard.loans.accrual import accrued_interest_fen
from tailguard.loans.events import PaymentReceived
from tailguard.loans.products import standard_catalogue
from tailguard.loans.terms import LoanRequest, validate_request
from tailguard.services.platform import Platform
from tailguard.services.servicing import sync_books

warnings.simplefilter("ignore")
TODAY = date(2026, 6, 30)
NOW = datetime(2026, 6, 30, 16, tzinfo=UTC)
BATCH = 20_000


@dataclass
class Template:
    account: LoanAccount
    state: dict[str, Any]
    rows: list[dict[str, Any]]
    flows: dict[str, int]


def templates(count: int, seed: int = 7) -> list[Template]:
    rng = random.Random(seed)
    product = standard_catalogue()[0]
    out = []
    for k in range(count):
        start = TODAY - timedelta(days=rng.randint(20, 900))
        terms = validate_request(product, LoanRequest(
            rng.randint(80, 300) * 1_000_00, Decimal(rng.choice(("0.0399", "0.0475", "0.0599"))),
            rng.choice((24, 36, 48)), start, balloon_share=Decimal(rng.choice(("0.2", "0.3")))))
        account = LoanAccount.open(f"T{k:05d}", terms, WeekendCalendar())
        behaviour = rng.random()
        for inst in account.schedule.installments:
            if inst.due_date >= TODAY:
                break
            if behaviour < 0.05 and inst.number > 3:  # stopped paying: delinquent
                break
            account = account.with_event(
                PaymentReceived(f"T{k}-{inst.number}", inst.due_date, inst.payment_fen))
        position = account.position(TODAY - timedelta(days=1))
        accrued = accrued_interest_fen(account.schedule, account.product, account.annual_rate,
                                       position.as_of)
        out.append(Template(
            account, states.loan_state_row(account, position, accrued),
            states.installment_rows(account, position),
            target_flows(position, terms.principal_fen, accrued, {}),
        ))
    return out


def load(platform: Platform, loans: int, tmpl: list[Template]) -> None:
    upgrade(platform.engine)
    with platform.engine.begin() as conn:
        LoanRepository(conn, platform.calendar_for).save_product(tmpl[0].account.product, NOW)
        conn.execute(insert(tables.parties).values(
            id="P0", name="bench", id_number_enc=b"x", id_number_hash="x", phone_enc=b"x",
            phone_hash="x", recorded_at=NOW))
    pending: dict[str, list[dict[str, Any]]] = {"loans": [], "loan_state": [],
                                                 "installment_state": [], "loan_books": []}

    def flush() -> None:
        with platform.engine.begin() as conn:
            for name, rows in pending.items():
                if rows:
                    conn.execute(insert(tables.metadata.tables[name]), rows)
                    rows.clear()

    for n in range(loans):
        t = tmpl[n % len(tmpl)]
        loan_id = f"L{n:07d}"
        terms = t.account.terms
        pending["loans"].append({
            "id": loan_id, "borrower_id": "P0", "product_code": terms.product.code,
            "product_version": terms.product.version, "principal_fen": terms.principal_fen,
            "annual_rate": terms.annual_rate, "term_months": terms.term_months,
            "disbursement_date": terms.disbursement_date, "first_due_date": terms.first_due_date,
            "contract_day": terms.contract_day, "balloon_fen": terms.balloon_fen,
            "vehicle_used": False, "region_code": None, "status": "active",
            "schedule_version": 1, "extended_months": 0, "lock_version": 0, "recorded_at": NOW,
        })
        pending["loan_state"].append(t.state | {"loan_id": loan_id})
        pending["installment_state"].extend(r | {"loan_id": loan_id} for r in t.rows)
        pending["loan_books"].extend(
            {"loan_id": loan_id, "flow": f, "amount_fen": a} for f, a in t.flows.items() if a)
        if len(pending["loans"]) >= BATCH:
            flush()
    flush()
    # Full schedules and facts for the loans the naive baseline will load one at a time.
    with platform.engine.begin() as conn:
        repo = LoanRepository(conn, platform.calendar_for)
        for n in range(min(loans, 500)):
            t = tmpl[n % len(tmpl)]
            clone = LoanAccount(f"L{n:07d}", t.account.terms, t.account.schedules, (),
                                t.account.calendar)
            for schedule in clone.schedules:
                repo._insert_schedule(clone.loan_id, schedule, NOW)
            for event in t.account.events:
                repo.append_event(clone.loan_id, event, NOW)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(label: str, url: str, loans: int, tmpl: list[Template], sample: int) -> None:
    clock = FixedClock(NOW)
    platform = Platform(load_settings({"TAILGUARD_DATABASE_URL": url}), make_engine(url), clock)
    started = time.perf_counter()
    load(platform, loans, tmpl)
    print(f"[{label}] loaded {loans:,} loans in {time.perf_counter() - started:.1f} s")
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    report = eod.run_day(platform, TODAY)
    elapsed = time.perf_counter() - started
    print(f"[{label}] end of day: {report.loans:,} loans in {elapsed:.2f} s "
          f"({report.loans / elapsed:,.0f} loans/s; {report.chunks} chunks, "
          f"{report.bucket_changes} bucket changes, {report.balloon_warnings} balloon warnings); "
          f"process peak RSS {peak_rss_mb():.0f} MiB (before the run {rss_before:.0f} MiB)")
    # Baseline: the next day, one loan at a time through the replay, on a sample.
    next_day = TODAY + timedelta(days=1)
    started = time.perf_counter()
    with platform.engine.begin() as conn:
        repo = LoanRepository(conn, platform.calendar_for)
        for n in range(sample):
            account = repo.get(f"L{n:07d}", for_update=False)
            assert account is not None
            sync_books(conn, account, next_day, f"naive:{n}", NOW)
    naive = (time.perf_counter() - started) / sample
    print(f"[{label}] naive baseline (load + replay + true-up, one loan at a time): "
          f"{1 / naive:,.0f} loans/s on {sample} loans -> {naive * report.loans:.1f} s "
          f"extrapolated for {report.loans:,}; column-wise is "
          f"{naive * report.loans / elapsed:.1f}x faster")
    platform.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 loans")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--postgres-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args, _ = parser.parse_known_args()
    loans = 10_000 if args.quick else args.loans
    tmpl = templates(1_000)
    work = Path("var/bench")
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"eod-{uuid.uuid4().hex[:8]}.db"
    try:
        if not args.no_sqlite:
            bench("sqlite", f"sqlite:///{db}", loans, tmpl, sample=200)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    if args.no_postgres:
        return
    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    name = "tg_bench_" + uuid.uuid4().hex[:8]
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # no server: say so and stop
        print(f"[postgres] skipped: {exc}", file=sys.stderr)
        return
    try:
        bench("postgres", f"{args.postgres_url.rsplit('/', 1)[0]}/{name}", loans, tmpl,
              sample=200)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


if __name__ == "__main__":
    main()
