"""Benchmark the portfolio simulator (issue 5).

1. World generation: `--world-loans` loans (default 1,000,000; target under 60 s) generated
   column-wise by `tailguard.simulation.world.generate_world`, against a baseline measured in
   the same run: a straightforward per-object generator written here (one dict per loan, the
   `random` module, ID and VIN check digits per string) timed on `--baseline-loans` loans and
   scaled to the same size. Peak memory: tracemalloc of the generation and the process's
   maximum RSS.
2. The platform run: `--loans` loans (default 10,000) through `--months` months (default 24)
   on SQLite (target under 10 minutes), through the real services, timed in phases (booking
   in daily batches, payments, end of day, the rest), with payments per second. Its baseline
   is the same kind of payment posted one at a time (`post_payment`) on the same database.
   Contract PDFs are deferred by the batch booking and issued after the run by
   `contract_documents.issue_missing_contracts`; `--contracts N` (default 500) of them are
   issued and timed here, and the time for all of them is extrapolated from that.

Nothing is asserted; numbers are printed. `--quick`: 100,000 world loans, 100 loans × 6 months.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
import warnings
from datetime import date
from pathlib import Path

from stdnum.cn import ric

from tailguard.simulation.config import SimulationConfig
from tailguard.simulation.economy import load_geography
from tailguard.simulation.runner import Simulation
from tailguard.simulation.world import generate_world

START = date(2024, 1, 1)
VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def vin_value(c: str) -> int:
    if c.isdigit():
        return int(c)
    return {**dict(zip("ABCDEFGH", range(1, 9), strict=True)),
            **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
            **dict(zip("STUVWXYZ", range(2, 10), strict=True))}[c]


def naive_world(n: int, seed: int) -> list[dict[str, object]]:
    """The obvious way: one dict per loan, one random call per field."""
    rng = random.Random(seed)
    geo = load_geography()
    counties = geo.county_codes.tolist()
    weights = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
    out = []
    for i in range(n):
        county = rng.choice(counties)
        birth = date(rng.randint(1970, 2002), rng.randint(1, 12), rng.randint(1, 28))
        body = f"{county}{birth:%Y%m%d}{rng.randint(0, 999):03d}"
        id_number = body + ric.calc_check_digit(body + "0")
        vin_body = "LSV" + "".join(rng.choice(VIN_CHARS) for _ in range(5)) + "0RA" + f"{i:06d}"
        total = sum(vin_value(c) * w for c, w in zip(vin_body, weights, strict=True)) % 11
        vin = vin_body[:8] + ("X" if total == 10 else str(total)) + vin_body[9:]
        price = round(rng.lognormvariate(11.8, 0.35) / 100) * 10_000
        down = -(-price * rng.choice((20, 25, 30, 40)) // 100 // 10_000) * 10_000
        out.append({"id_number": id_number, "vin": vin, "price_fen": price,
                    "down_fen": down, "principal_fen": price - down + 150_000,
                    "term": rng.choice((12, 24, 36, 48)), "used": rng.random() < 0.2,
                    "phone": f"138{rng.randint(0, 99_999_999):08d}"})
    return out


def bench_world(n: int, baseline_n: int) -> None:
    load_geography()
    tracemalloc.start()
    began = time.perf_counter()
    world = generate_world(n, 1, START, 24)
    seconds = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    began = time.perf_counter()
    naive_world(baseline_n, 1)
    naive = (time.perf_counter() - began) * n / baseline_n
    print(f"world generation: {len(world):,} loans in {seconds:.2f} s "
          f"({len(world) / seconds:,.0f} loans/s); tracemalloc peak {peak / 2**20:,.0f} MiB")
    print(f"  baseline (per-object, {baseline_n:,} loans scaled to {n:,}): {naive:.1f} s "
          f"→ column-wise is {naive / seconds:.1f}× faster")


def bench_run(loans: int, months: int, contracts: int) -> None:
    from tailguard.services import payments as payment_service
    from tailguard.simulation import session

    folder = Path(tempfile.mkdtemp(prefix="tailguard-bench-sim-"))
    try:
        url = f"sqlite:///{folder / 'sim.db'}"
        env = {"TAILGUARD_DOCUMENT_ROOT": str(folder / "documents"),
               "TAILGUARD_NOTARY": f"folder:{folder / 'notary'}"}
        config = SimulationConfig(loans, months, 1)
        began = time.perf_counter()
        outcome = session.run(config, url, START, env=env, issue_contracts=False)
        seconds = time.perf_counter() - began
        c = outcome.simulation.state.counters
        print(f"platform run: {loans:,} loans × {months} months on SQLite in {seconds:.0f} s "
              f"({seconds / 60:.1f} min)")
        booking_rate = c.bookings / max(c.seconds_booking, 1e-9)
        print(f"  booking {c.seconds_booking:.0f} s ({booking_rate:.1f}"
              f" loans/s, daily batches, contracts deferred); payments {c.seconds_payments:.0f} s "
              f"({c.payments:,} posted, {c.payments / max(c.seconds_payments, 1e-9):.0f}/s "
              f"through post_payments); end of day {c.seconds_eod:.0f} s "
              f"({c.eod_loan_days:,} loan-days, {c.eod_loan_days / max(c.seconds_eod, 1e-9):,.0f}"
              f"/s); the rest {c.seconds_other:.0f} s")
        totals = outcome.kpis.totals
        print(f"  KPIs: 30+ DPD ratio {totals['dpd30_ratio_final']:.3%}, balloon clearance "
              f"{totals['balloon_clearance_rate']:.1%} of {totals['balloons_due']} balloons, "
              f"{totals['write_offs']} write-offs")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS of the process after the run {rss:,.0f} MiB")
        if contracts:
            from tailguard.services import contract_documents

            missing = len(contract_documents.loans_without_contract(outcome.platform))
            outcome.simulation.issue_contracts(contracts)
            per_second = c.contracts / max(c.seconds_contracts, 1e-9)
            print(f"  deferred contracts: {c.contracts:,} issued in {c.seconds_contracts:.0f} s "
                  f"({per_second:.1f}/s); all {missing:,} would take "
                  f"{missing / max(per_second, 1e-9) / 60:.1f} min more")
        # Baseline: the same kind of payments one at a time, on the same database.
        from sqlalchemy import select

        from tailguard.infra.db import tables
        from tailguard.loans.events import Channel

        platform = outcome.platform
        with platform.engine.connect() as conn:
            active = conn.execute(select(tables.loans.c.id).where(
                tables.loans.c.status == "active").limit(100)).scalars().all()
        day = platform.today()
        began = time.perf_counter()
        for k, loan in enumerate(active):
            payment_service.post_payment(platform, "bench", loan, 100_00, day,
                                         Channel.APP, f"bench-single-{k}")
        single = len(active) / (time.perf_counter() - began)
        print(f"  baseline: one payment per unit of work (post_payment) {single:.0f}/s "
              f"→ the simulator's daily batches are "
              f"{c.payments / max(c.seconds_payments, 1e-9) / single:.1f}× faster")
        bench_booking(outcome.simulation, min(100, loans))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS of the process at the end {rss:,.0f} MiB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_booking(simulation: Simulation, n: int) -> None:
    """Booking baseline, on the run's database: `n` applications of another world (seed 2)
    booked one call each with the contract at booking (the path before batch booking), then
    `n` more in one `book_applications` batch with contracts deferred."""
    from dataclasses import replace

    from tailguard.services.booking import book_application, book_applications

    platform = simulation.platform
    other = Simulation(platform, SimulationConfig(2 * n, simulation.config.months, 2), START)
    other._dealers()
    apps = [replace(other.application(i), loan_id=f"BENCH{i:06d}") for i in range(2 * n)]
    began = time.perf_counter()
    for app in apps[:n]:
        book_application(platform, "bench", app)
    single = n / (time.perf_counter() - began)
    began = time.perf_counter()
    booked = [r for r in book_applications(platform, "bench", apps[n:], issue_contracts=False)
              if isinstance(r, str)]
    batch = len(booked) / (time.perf_counter() - began)
    print(f"  booking baseline: one application per call with its contract {single:.1f}/s; "
          f"one batch of {n} with contracts deferred {batch:.0f}/s → {batch / single:.0f}× "
          f"faster")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world-loans", type=int, default=1_000_000)
    parser.add_argument("--baseline-loans", type=int, default=20_000)
    parser.add_argument("--loans", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--contracts", type=int, default=500)
    parser.add_argument("--skip-run", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.world_loans, args.baseline_loans, args.loans, args.months = 100_000, 5_000, 100, 6
        args.contracts = min(args.contracts, 50)
    warnings.simplefilter("ignore")
    bench_world(args.world_loans, args.baseline_loans)
    if not args.skip_run:
        bench_run(args.loans, args.months, args.contracts)


if __name__ == "__main__":
    main(sys.argv[1:])
