"""Payments posted over HTTP against PostgreSQL: throughput and latency percentiles.

A PostgreSQL database gets the demo portfolio; `tailguard serve` (uvicorn, `--workers` worker
processes) serves it on 127.0.0.1; a client with `--concurrency` threads posts `--payments`
payments with fresh idempotency keys to random active loans. Printed next to a baseline measured
in the same run: the same kind of payments posted one at a time in-process through the service
(no HTTP, no concurrency). Asserts nothing about time.

    uv run --frozen python benchmarks/bench_payments_http.py [--payments 3000] [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import create_engine, select, text

from tailguard.infra.clock import SystemClock
from tailguard.infra.db import tables
from tailguard.infra.db.engine import make_engine
from tailguard.infra.settings import load_settings
from tailguard.infra.users import create_user
from tailguard.loans.events import Channel
from tailguard.services import servicing
from tailguard.services.platform import Platform
from tailguard.services.setup import initialise
from tailguard.simulation.demo import run_demo

warnings.simplefilter("ignore")
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)  # gateways call back at once
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--loans", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--port", type=int, default=8765)
    args, _ = parser.parse_known_args()
    payments = 500 if args.quick else args.payments
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = "tg_pay_" + uuid.uuid4().hex[:8]
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:
        print(f"PostgreSQL not reachable: {exc}", file=sys.stderr)
        return
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    server = None
    try:
        platform = Platform(load_settings({"TAILGUARD_DATABASE_URL": url}), make_engine(url),
                            SystemClock())
        initialise(platform)
        run_demo(platform, args.loans, seed=2026)
        with platform.uow() as uow:
            create_user(uow.connection, uow.clock, "bench.ops", "bench-password-1", "servicing")
            uow.commit()
        with platform.engine.connect() as conn:
            loans = list(conn.execute(select(tables.loans.c.id).where(
                tables.loans.c.status == "active")).scalars())
        today = platform.today()
        rng = random.Random(1)

        # Baseline: one at a time, in-process.
        sample = min(300, payments)
        started = time.perf_counter()
        for k in range(sample):
            servicing.post_payment(platform, "bench", rng.choice(loans), rng.randint(1, 500) * 100,
                                   today, Channel.APP, f"base-{k}-{uuid.uuid4().hex[:8]}")
        baseline = sample / (time.perf_counter() - started)
        print(f"baseline: {baseline:,.0f} payments/s posted one at a time in-process "
              f"({sample} payments)")

        env = os.environ | {"TAILGUARD_DATABASE_URL": url, "PYTHONWARNINGS": "ignore"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "tailguard.api.factory:app_from_env",
             "--host", "127.0.0.1", "--port", str(args.port), "--workers", str(args.workers),
             "--log-level", "warning"], env=env)
        base_url = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base_url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        token = httpx.post(f"{base_url}/api/v1/auth/token",
                           data={"username": "bench.ops", "password": "bench-password-1"}
                           ).json()["access_token"]
        local = threading.local()
        latencies: list[float] = []
        statuses: list[int] = []
        lock = threading.Lock()

        def post(k: int) -> None:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=base_url, timeout=30,
                                            headers={"Authorization": f"Bearer {token}"})
            loan = loans[(k * 7919) % len(loans)]
            t0 = time.perf_counter()
            response = local.client.post(
                f"/api/v1/loans/{loan}/payments",
                json={"amount": f"{(k % 500) + 1}.00", "channel": "app"},
                headers={"Idempotency-Key": f"http-{k}-{uuid.uuid4().hex[:10]}"})
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                statuses.append(response.status_code)

        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(post, range(payments)))
        wall = time.perf_counter() - started
        ok = sum(1 for s in statuses if s == 201)
        print(f"HTTP: {ok}/{payments} posted (201) in {wall:.1f} s = {ok / wall:,.0f} payments/s "
              f"with {args.concurrency} clients and {args.workers} workers; latency p50 "
              f"{percentile(latencies, 0.5) * 1000:.0f} ms, p99 "
              f"{percentile(latencies, 0.99) * 1000:.0f} ms, mean "
              f"{statistics.mean(latencies) * 1000:.0f} ms; "
              f"{ok / wall / baseline:.2f}x the one-at-a-time baseline")
        other = sorted({s for s in statuses if s != 201})
        if other:
            print(f"non-201 statuses: {other}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


if __name__ == "__main__":
    main()
