"""Benchmark: signals ingested per second, and alert latency p50/p99 through the bus, against
one signal per unit of work in the same run.

Why: monitoring must keep up with bursts (a bank's overnight debit file fails thousands of
debits at once, a tracker vendor flushes a backlog) and still raise a lone signal's alert in
under a second. tailguard ingests a batch in one unit of work (`services.signals.ingest`: the
loans' features, the rule set and the last alerts read once per batch with `IN` queries, one
multi-row insert of signals and of alerts, one commit), and the bus consumer hands it whatever
has arrived. The baseline is the straightforward design: each signal in its own unit of work
(the same service called with a batch of one), and a consumer that handles messages one by one.

Set-up: an SQLite database in a temporary folder with `--loans` booked loans (default 200), the
built-in rules (version 0). Signals are synthetic, drawn with a fixed seed over those loans:
failed debits with their reasons, payments, phone changes, court-list hits, contact outcomes;
about half match a rule. Every signal has its own external id, so none is a duplicate.

1. Throughput: `--signals` signals (default 20,000) in batches of `--batch` (default 500),
   against the baseline on `--baseline-signals` of them (default 1,000).
2. Latency: `--latency-signals` signals (default 2,000) published at `--rate` per second
   (default 200) on the embedded bus and, if they answer, on Redis at 127.0.0.1:6379 and on
   NATS JetStream at 127.0.0.1:4222; a consumer
   thread ingests them. Latency is from publishing to the commit that stored the signal and its
   alert. The baseline consumer reads and commits one message at a time; when the rate is more
   than it can commit, its queue grows and so does its latency.

Timings are printed, never asserted.
Usage: uv run --frozen python benchmarks/bench_signals.py [--quick] [--no-redis] [--no-nats]
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from datetime import date
from pathlib import Path
from typing import Any

from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.bus import Consumer, Delivery, EmbeddedBus, SignalBus
from tailguard.infra.clock import FixedClock
from tailguard.infra.db.engine import make_engine
from tailguard.infra.settings import load_settings
from tailguard.services import signals as signal_service
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tailguard.services.setup import initialise

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.service.factories import application, with_dealer

REDIS_URL = "redis://127.0.0.1:6379/0"
NATS_URL = "nats://127.0.0.1:4222"
START = date(2026, 1, 10)


def _platform(url: str, folder: str) -> Platform:
    settings = load_settings({"TAILGUARD_DATABASE_URL": url, "TAILGUARD_MODE": "test",
                              "TAILGUARD_DOCUMENT_ROOT": f"{folder}/documents",
                              "TAILGUARD_NOTARY": f"folder:{folder}/notary"})
    return Platform(settings, make_engine(url), FixedClock.at(START))


def build(folder: str, loans: int) -> list[str]:
    """Book the loans once into `template.db`; each measurement starts from a copy of it, so
    no run inherits another's alerts (which would dedupe its signals into cheap repeats)."""
    plat = _platform(f"sqlite:///{folder}/template.db", folder)
    initialise(plat)
    with_dealer(plat)
    ids = [book_application(plat, "bench", application(i + 1)) for i in range(loans)]
    plat.engine.dispose()
    return ids


def fresh(folder: str, name: str) -> Platform:
    shutil.copyfile(f"{folder}/template.db", f"{folder}/{name}.db")
    return _platform(f"sqlite:///{folder}/{name}.db", folder)


def synthetic(rng: random.Random, loans: list[str], n: int, tag: str) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        loan = rng.choice(loans)
        roll = rng.random()
        at = f"2026-01-10T{rng.randrange(8, 20):02d}:{rng.randrange(60):02d}:00+08:00"
        if roll < 0.35:
            reason = rng.choice(["insufficient-funds", "insufficient-funds", "account-frozen",
                                 "bank-error", "limit-exceeded", "mandate-revoked"])
            kind, attrs = "debit-failed", {"amount_fen": 441773, "reason": reason}
        elif roll < 0.65:
            kind, attrs = "payment-received", {"amount_fen": rng.randrange(1, 500_000)}
        elif roll < 0.75:
            kind, attrs = "phone-changed", {}
        elif roll < 0.80:
            kind, attrs = "court-hit", {"list": rng.choice(["enforcement", "court-case"])}
        else:
            kind, attrs = "contact-outcome", {
                "outcome": rng.choice(["connected", "no-answer", "refused", "invalid-number"]),
                "channel": "call"}
        out.append({"kind": kind, "loan_id": loan, "occurred_at": at,
                    "external_id": f"{tag}-{i}", "attributes": attrs})
    return out


def throughput(plat: Platform, raws: list[dict[str, Any]], batch: int) -> tuple[float, int]:
    start = time.perf_counter()
    alerts = 0
    for i in range(0, len(raws), batch):
        alerts += len(signal_service.ingest(plat, "bench", raws[i:i + batch],
                                            source="bus", strict=False).alerts_raised)
    elapsed = time.perf_counter() - start
    plat.engine.dispose()
    return len(raws) / elapsed, alerts


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def latency(plat: Platform, bus: SignalBus, raws: list[dict[str, Any]], rate: float,
            batch: int) -> tuple[float, float, float]:
    """Publish at `rate`; returns p50, p99 and max latency in milliseconds."""
    published: dict[str, float] = {}
    done: dict[str, float] = {}
    handle = signal_service.bus_handler(plat, "bench")

    def timed(deliveries: list[Delivery]) -> None:
        handle(deliveries)
        now = time.perf_counter()
        for d in deliveries:
            done[d.payload["external_id"]] = now

    consumer = Consumer(bus, timed, batch=batch, block_ms=50).start()
    interval = 1.0 / rate
    start = time.perf_counter()
    for i, raw in enumerate(raws):
        wait = start + i * interval - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        published[raw["external_id"]] = time.perf_counter()
        bus.publish(raw)
    deadline = time.perf_counter() + 600
    while len(done) < len(raws) and time.perf_counter() < deadline:
        time.sleep(0.01)
    consumer.stop()
    ms = [(done[k] - published[k]) * 1000 for k in published if k in done]
    return percentile(ms, 0.5), percentile(ms, 0.99), max(ms)


def redis_bus() -> SignalBus | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:
        return None
    from tailguard.infra.bus_redis import RedisStreamBus

    return RedisStreamBus(REDIS_URL, stream=f"tailguard-bench:{uuid.uuid4().hex}",
                          group="bench", consumer="b1")


def nats_bus() -> SignalBus | None:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 4222), timeout=1).close()
    except OSError:
        return None
    from tailguard.infra.bus_nats import NatsJetStreamBus

    return NatsJetStreamBus(NATS_URL, stream=f"TG_BENCH_{uuid.uuid4().hex[:12]}", group="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loans", type=int, default=200)
    parser.add_argument("--signals", type=int, default=20_000)
    parser.add_argument("--baseline-signals", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--latency-signals", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--no-nats", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.loans, args.signals, args.baseline_signals = 30, 2_000, 200
        args.latency_signals, args.rate = 300, 100.0
    warnings.simplefilter("ignore", CalendarFallbackWarning)
    rng = random.Random(7)
    print(f"python {platform.python_version()} on {platform.machine()}, SQLite")
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        loans = build(folder, args.loans)
        print(f"set-up: {args.loans} loans booked in {time.perf_counter() - t0:.1f} s")

        raws = synthetic(rng, loans, args.signals, "t")
        rate, alerts = throughput(fresh(folder, "batched"), raws, args.batch)
        base, base_alerts = throughput(fresh(folder, "one-each"),
                                       raws[:args.baseline_signals], 1)
        _, check = throughput(fresh(folder, "check"), raws[:args.baseline_signals], args.batch)
        print(f"\ningestion ({args.signals} signals, batches of {args.batch}):")
        print(f"  tailguard, batched : {rate:10,.0f} signals/s  ({alerts} alerts raised)")
        print(f"  baseline, one each : {base:10,.0f} signals/s  (first {args.baseline_signals} "
              f"signals: {base_alerts} alerts, batched: {check})")
        print(f"  ratio              : {rate / base:10.1f}x")

        buses: list[tuple[str, Any]] = [("embedded", EmbeddedBus)]
        if not args.no_redis and redis_bus() is not None:
            buses.append(("redis", redis_bus))
        if not args.no_nats and (probe := nats_bus()) is not None:
            probe.delete_stream()  # type: ignore[attr-defined]
            probe.close()
            buses.append(("nats", nats_bus))
        print(f"\nalert latency ({args.latency_signals} signals at {args.rate:.0f}/s, "
              "publish → committed alert):")
        for name, make in buses:
            rows = []
            for label, batch in (("tailguard, batched", args.batch), ("baseline, one each", 1)):
                bus = make()
                plat = fresh(folder, f"{name}-{batch}")
                raws = synthetic(random.Random(11), loans, args.latency_signals, name)
                p50, p99, worst = latency(plat, bus, raws, args.rate, batch)
                if name == "nats":
                    bus.delete_stream()  # a throwaway stream per measurement
                bus.close()
                plat.engine.dispose()
                rows.append((label, p50, p99, worst))
            for label, p50, p99, worst in rows:
                print(f"  {name:8} {label}: p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  "
                      f"max {worst:8.1f} ms")
            print(f"  {name:8} ratio p99 baseline/tailguard: {rows[1][2] / rows[0][2]:.1f}x")


if __name__ == "__main__":
    main()
