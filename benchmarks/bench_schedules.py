"""Benchmark: 36-month balloon schedules, column-wise kernel against a per-loan Decimal loop.

Why: the end-of-day run and portfolio projections rebuild schedules for every loan, so the cost
per schedule decides how a night scales. The issue asks for 100,000 36-month balloon schedules
with the batch kernel (`tailguard.loans.schedule_batch`), reported as schedules per second next
to a straightforward per-loan `Decimal` loop measured in the same run on the same machine, and
the ratio of the two. The loop is written here on purpose, the way one would write it without
tailguard (yuan as `Decimal`, quantize each period), so the ratio measures the approach, not a
tuned competitor. It is timed on a subsample because it is slow; both results are checked
against each other on that subsample, and the count of disagreeing loans is printed.

The portfolio: financed amounts of whole yuan from 30,000 to 500,000 drawn uniformly (so the
kernel's per-amount cache of level payments gets almost no hits), balloons of 0–50 % in whole
percent, eight catalogue rates, disbursement on every day of 2025–2026 (the 29th–31st
included), regular first periods. Timings are printed, never asserted.

Usage: uv run --frozen python benchmarks/bench_schedules.py [--quick] [--loans N]
"""

from __future__ import annotations

import argparse
import calendar
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from tailguard.loans.schedule_batch import ScheduleBatch, build_schedule_batch
from tailguard.money import round_ratio

TERM_MONTHS = 36
RATES = tuple(
    Decimal(text)
    for text in ("0.0299", "0.0388", "0.0475", "0.0599", "0.0725", "0.0888", "0.0999", "0.1288")
)
CENT = Decimal("0.01")
T = TypeVar("T")
Period = tuple[date, Decimal, Decimal, Decimal]
"""Due date, principal, interest and balance after, in yuan."""


@dataclass(frozen=True)
class Portfolio:
    """Columns of a synthetic balloon portfolio (see the module docstring)."""

    principal_fen: npt.NDArray[np.int64]
    balloon_fen: npt.NDArray[np.int64]
    annual_rate: list[Decimal]
    term_months: npt.NDArray[np.int64]
    start: npt.NDArray[np.datetime64]

    def build(self) -> ScheduleBatch:
        return build_schedule_batch(
            principal_fen=self.principal_fen,
            balloon_fen=self.balloon_fen,
            annual_rate=self.annual_rate,
            term_months=self.term_months,
            start=self.start,
        )


def portfolio(loans: int, seed: int) -> Portfolio:
    rng = np.random.default_rng(seed)
    principal_fen = rng.integers(30_000, 500_001, loans, dtype=np.int64) * 100
    balloon_percent = rng.integers(0, 51, loans, dtype=np.int64).tolist()
    balloon_fen = np.array(
        [round_ratio(p * s, 100) for p, s in zip(principal_fen.tolist(), balloon_percent,
                                                  strict=True)],
        dtype=np.int64,
    )
    return Portfolio(
        principal_fen=principal_fen,
        balloon_fen=balloon_fen,
        annual_rate=[RATES[i] for i in rng.integers(0, len(RATES), loans).tolist()],
        term_months=np.full(loans, TERM_MONTHS, dtype=np.int64),
        start=np.datetime64("2025-01-01") + rng.integers(0, 730, loans),
    )


def decimal_loop_schedule(
    principal_fen: int, balloon_fen: int, annual_rate: Decimal, term: int, start: date
) -> list[Period]:
    """The baseline: one loan at a time in yuan `Decimal`, each period quantized to the fen."""
    principal = Decimal(principal_fen) / 100
    balloon = Decimal(balloon_fen) / 100
    monthly = annual_rate / 12
    if monthly:
        growth = (1 + monthly) ** term
        payment = (monthly * (principal * growth - balloon) / (growth - 1)).quantize(
            CENT, ROUND_HALF_UP
        )
    else:
        payment = ((principal - balloon) / term).quantize(CENT, ROUND_HALF_UP)
    rows = []
    balance = principal
    for k in range(1, term + 1):
        month_index = start.year * 12 + start.month - 1 + k
        year, month = divmod(month_index, 12)
        last_day = calendar.monthrange(year, month + 1)[1]
        due = date(year, month + 1, min(start.day, last_day))
        interest = (balance * annual_rate / 12).quantize(CENT, ROUND_HALF_UP)
        last = k == term
        part = balance if last else max(Decimal(0), min(balance - balloon, payment - interest))
        balance -= part
        rows.append((due, part, interest, balance))
    return rows


def best_of(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    """Shortest wall time of `repeat` runs, and the last result."""
    best = float("inf")
    result: T | None = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - began)
    assert result is not None
    return best, result


def disagreements(batch: ScheduleBatch, sample: range, baseline: list[list[Period]]) -> int:
    """Loans of the subsample where the Decimal loop and the kernel differ in any cell."""
    count = 0
    for row, expected in zip(sample, baseline, strict=True):
        due = batch.due_date[row].astype(object).tolist()
        got = list(zip(
            due,
            batch.principal_fen[row].tolist(),
            batch.interest_fen[row].tolist(),
            batch.balance_after_fen[row].tolist(),
            strict=True,
        ))
        wanted = [(d, int(p * 100), int(i * 100), int(b * 100)) for d, p, i, b in expected]
        count += got != wanted
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=100_000, help="loans in the batch")
    parser.add_argument("--baseline-loans", type=int, default=2_000,
                        help="subsample timed with the Decimal loop")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is kept")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--quick", action="store_true",
                        help="small run for CI and smoke tests (5,000 loans, 200 in the loop)")
    args = parser.parse_args(argv)
    if args.quick:
        args.loans, args.baseline_loans, args.repeat = 5_000, 200, 1
    sample_size = min(args.baseline_loans, args.loans)

    loans = portfolio(args.loans, args.seed)
    batch_seconds, batch = best_of(args.repeat, loans.build)

    sample = range(sample_size)
    principal = loans.principal_fen.tolist()
    balloon = loans.balloon_fen.tolist()
    starts = loans.start.astype(object).tolist()

    def loop() -> list[list[Period]]:
        return [
            decimal_loop_schedule(
                principal[i], balloon[i], loans.annual_rate[i], TERM_MONTHS, starts[i]
            )
            for i in sample
        ]

    loop_seconds, baseline = best_of(args.repeat, loop)
    differing = disagreements(batch, sample, baseline)

    del batch
    tracemalloc.start()
    loans.build()
    _, traced_peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    batch_rate = args.loans / batch_seconds
    loop_rate = sample_size / loop_seconds
    print(f"bench_schedules: {TERM_MONTHS}-month balloon schedules "
          f"(python {platform.python_version()}, numpy {np.__version__}, {platform.machine()})")
    print(f"  batch kernel   {args.loans:>9,} loans  {batch_seconds:8.3f} s  "
          f"{batch_rate:>12,.0f} schedules/s  (best of {args.repeat})")
    print(f"  Decimal loop   {sample_size:>9,} loans  {loop_seconds:8.3f} s  "
          f"{loop_rate:>12,.0f} schedules/s  (best of {args.repeat})")
    print(f"  ratio          {batch_rate / loop_rate:8.1f}x faster with the batch kernel")
    print(f"  peak memory    {traced_peak_bytes / 2**20:8.1f} MiB traced in one kernel run; "
          f"process max RSS {max_rss_kib / 1024:.1f} MiB")
    print(f"  agreement      {sample_size - differing:,} of {sample_size:,} sampled loans "
          f"identical to the fen and the day")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
