"""Benchmark: collection-strategy assignment for 100,000 delinquent loans at end of day.

Why: the issue asks that the nightly strategy assignment for 100,000 delinquent loans take less
than 10 seconds. tailguard assigns column-wise (`recovery.strategy.assign`: numpy masks per
segment, a vectorised FNV-1a/splitmix draw per borrower, `searchsorted` per path) and the end of
day reads and writes the loans in a fixed number of statements
(`services.recovery_strategies.assign_open_cases`).

Two measurements, each against a per-loan baseline in the same run:

1. the rule alone, in memory: `assign` over all loans against `assign_one` (the same rule for
   one loan in plain Python) on `--baseline-loans` loans, extrapolated; the baseline's answers
   are checked equal to the column-wise ones;
2. the end-of-day step on an SQLite file holding `--loans` delinquent loans in open cases (rows
   written straight into the tables, as the nightly run would have left them): one read,
   numpy, one bulk write, committed; against the same step done a loan at a time (one query to
   read the loan, `assign_one`, one INSERT), timed on `--baseline-loans` loans and extrapolated.

Timings are printed, never asserted.

Usage: uv run --frozen python benchmarks/bench_collections.py [--loans N] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, delete, insert, select

from tailguard.infra.db import tables
from tailguard.infra.db.tables_recovery import (
    recovery_assignments,
    recovery_case_loans,
    recovery_cases,
    recovery_scores,
)
from tailguard.loans.delinquency import bucket_for
from tailguard.recovery.strategy import DEFAULT_STRATEGY, Strategy, assign, assign_one
from tailguard.services import recovery_strategies

AS_OF = date(2026, 6, 30)
PROVINCES = ["110000", "310000", "440000", "510000", "530000", "620000", "650000"]


def build_database(path: Path, n: int, seed: int) -> str:
    """An SQLite file with `n` delinquent loans (about 1.4 per borrower) in open cases."""
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    tables.metadata.create_all(engine)
    rng = np.random.default_rng(seed)
    borrowers = max(1, int(n / 1.4))
    owner = rng.integers(0, borrowers, n)
    dpd = rng.integers(1, 240, n)
    prov_res = rng.choice(PROVINCES, borrowers)
    prov_id = np.where(rng.random(borrowers) < 0.25, rng.choice(PROVINCES, borrowers), prov_res)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(tables.parties), [
            {"id": f"pty-{b:07d}", "name": "x", "id_number_enc": b"x", "id_number_hash": "h",
             "phone_enc": b"x", "phone_hash": "h", "id_region_code": prov_id[b][:2] + "0101",
             "residence_region_code": prov_res[b][:2] + "0102", "recorded_at": now}
            for b in range(borrowers)])
        loan_rows, state_rows = [], []
        for i in range(n):
            balloon = int(rng.random() < 0.7) * 60_000_00
            due = AS_OF + timedelta(days=int(rng.integers(-60, 400)))
            loan_rows.append({
                "id": f"L{i:08d}", "borrower_id": f"pty-{owner[i]:07d}", "product_code": "p",
                "product_version": 1, "principal_fen": 200_000_00, "annual_rate": "0.05",
                "term_months": 36, "disbursement_date": date(2025, 1, 1),
                "first_due_date": date(2025, 2, 1), "contract_day": 1, "balloon_fen": balloon,
                "vehicle_used": False, "region_code": prov_res[owner[i]][:2] + "0100",
                "status": "active", "schedule_version": 1, "extended_months": 0,
                "lock_version": 0, "recorded_at": now})
            state_rows.append({
                "loan_id": f"L{i:08d}", "as_of": AS_OF, "principal_outstanding_fen": 150_000_00,
                "overdue_principal_fen": int(rng.integers(1_000_00, 50_000_00)),
                "overdue_interest_fen": 500_00, "overdue_fee_fen": 0,
                "penalty_outstanding_fen": 100_00, "settled_penalty_fen": 0,
                "settled_penalty_left_fen": 0, "accrued_interest_fen": 0,
                "credit_balance_fen": 0, "dpd": int(dpd[i]), "bucket": bucket_for(int(dpd[i])),
                "period_opening_fen": 0, "period_interest_fen": 0, "period_rate_numerator": 0,
                "period_rate_denominator": 1, "interest_due_fen": 0, "fee_due_fen": 0,
                "balloon_due_date": due if balloon else None, "balloon_fen": balloon,
                "maturity_date": date(2028, 1, 1), "paid_off": False})
        conn.execute(insert(tables.loans), loan_rows)
        conn.execute(insert(tables.loan_state), state_rows)
        conn.execute(insert(recovery_scores), [
            {"loan_id": f"L{i:08d}", "score": int(rng.integers(300, 800)), "model": "b",
             "as_of": AS_OF} for i in range(n) if rng.random() < 0.9])
        used = sorted(set(owner.tolist()))
        conn.execute(insert(recovery_cases), [
            {"id": b + 1, "borrower_id": f"pty-{b:07d}", "status": "open", "opened_on": AS_OF,
             "opened_from": "delinquency", "escalation": int(b % 7 == 0), "max_dpd": 0,
             "overdue_fen": 0, "priority": 0, "broken_promise": False, "recorded_at": now}
            for b in used])
        conn.execute(insert(recovery_case_loans), [
            {"case_id": int(owner[i]) + 1, "loan_id": f"L{i:08d}", "added_on": AS_OF}
            for i in range(n)])
    engine.dispose()
    return url


def per_loan(url: str, loan_ids: list[str], strategy: Strategy) -> float:
    """The baseline end-of-day step: read one loan, assign it, write it; one at a time."""
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        for loan_id in loan_ids:
            row = conn.execute(
                select(tables.loans.c.id, tables.loans.c.borrower_id, tables.loan_state.c.dpd,
                       tables.loan_state.c.bucket, recovery_scores.c.score,
                       tables.parties.c.residence_region_code, tables.parties.c.id_region_code,
                       tables.loans.c.region_code, tables.loan_state.c.balloon_fen,
                       tables.loan_state.c.balloon_due_date, recovery_cases.c.id,
                       recovery_cases.c.escalation, tables.loan_state.c.overdue_principal_fen)
                .select_from(tables.loans
                             .join(tables.loan_state,
                                   tables.loan_state.c.loan_id == tables.loans.c.id)
                             .join(tables.parties,
                                   tables.parties.c.id == tables.loans.c.borrower_id)
                             .join(recovery_case_loans,
                                   recovery_case_loans.c.loan_id == tables.loans.c.id)
                             .join(recovery_cases,
                                   recovery_cases.c.id == recovery_case_loans.c.case_id)
                             .outerjoin(recovery_scores,
                                        recovery_scores.c.loan_id == tables.loans.c.id))
                .where(tables.loans.c.id == loan_id)).one()
            loaded = recovery_strategies.columns_from_rows([row], AS_OF)
            seg, arm, path, step, action, nxt, days = assign_one(strategy, loaded.loans.row(0))
            conn.execute(delete(recovery_assignments)
                         .where(recovery_assignments.c.loan_id == loan_id))
            conn.execute(insert(recovery_assignments).values(
                loan_id=loan_id, case_id=int(loaded.case_id[0]), strategy_id=None,
                segment=seg, arm=arm, path=path, step=step, action=action, next_action=nxt,
                next_in_days=days, as_of=AS_OF))
    engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--baseline-loans", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="10,000 loans, 500 in the baseline")
    args = parser.parse_args()
    if args.quick:
        args.loans, args.baseline_loans = 10_000, 500
    strategy = Strategy.parse(DEFAULT_STRATEGY)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        url = build_database(Path(tmp) / "bench.db", args.loans, args.seed)
        print(f"set-up: {args.loans:,} delinquent loans in open cases, "
              f"{time.perf_counter() - t0:.1f} s")
        engine = create_engine(url)
        with engine.connect() as conn:
            loaded = recovery_strategies.load_delinquent(conn, AS_OF)
        loans = loaded.loans
        n = len(loans)
        t0 = time.perf_counter()
        result = assign(strategy, loans)
        rule_s = time.perf_counter() - t0
        sample = min(args.baseline_loans * 10, n)
        t0 = time.perf_counter()
        for i in range(sample):
            assert assign_one(strategy, loans.row(i)) == result.row(i), i
        one_s = (time.perf_counter() - t0) / sample * n
        print(f"1. rule in memory: column-wise {rule_s:.3f} s for {n:,} loans; "
              f"one by one {one_s:.2f} s (from {sample:,}, answers equal); "
              f"ratio {one_s / rule_s:.0f}x")

        t0 = time.perf_counter()
        with engine.begin() as conn:
            loaded2, _ = recovery_strategies.assign_open_cases(conn, AS_OF)
        step_s = time.perf_counter() - t0
        with engine.connect() as conn:
            written = conn.execute(select(recovery_assignments.c.loan_id)).all()
        assert len(written) == n == len(loaded2.loans)
        engine.dispose()
        ids = [str(x) for x in loans.loan_id[: args.baseline_loans]]
        base_s = per_loan(url, ids, strategy) / len(ids) * n
        verdict = "under" if step_s < 10 else "OVER"
        print(f"2. end-of-day step on SQLite (read, assign, bulk write, commit): "
              f"{step_s:.2f} s for {n:,} loans ({verdict} the 10 s target); "
              f"per loan {base_s:.1f} s (from {len(ids):,}); ratio {base_s / step_s:.1f}x")


if __name__ == "__main__":
    main()
