"""Payments posted over HTTP against PostgreSQL: throughput and latency percentiles.

A PostgreSQL database gets the demo portfolio; `tailguard serve` (uvicorn, `--workers` worker
processes) serves it on 127.0.0.1; a client with `--concurrency` connections posts payments with
fresh idempotency keys to random active loans. Printed next to a baseline measured in the same
run: the same kind of payments posted one at a time in-process through the service (no HTTP,
no concurrency). Asserts nothing about time.

Two clients: `--client wrk` (the default when Debian's `wrk` is installed: `apt-get install
wrk`) drives the server for `--seconds` from C with a Lua script, so the client takes little of
the two cores the server shares with it; `--client httpx` posts `--payments` from Python
threads, which costs the machine about a core of its own and lowers what the server can show.
After a wrk run the posted payments are counted in the database, not taken from wrk's word.

    uv run --frozen python benchmarks/bench_payments_http.py [--client wrk|httpx] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
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
    parser.add_argument("--client", choices=("wrk", "httpx"),
                        default="wrk" if shutil.which("wrk") else "httpx")
    parser.add_argument("--seconds", type=int, default=20, help="wrk: how long to post")
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
        documents = tempfile.mkdtemp(prefix="tg-bench-docs-")  # this run's contracts only
        platform = Platform(load_settings({"TAILGUARD_DATABASE_URL": url,
                                           "TAILGUARD_DOCUMENT_ROOT": documents}),
                            make_engine(url), SystemClock())
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

        env = os.environ | {"TAILGUARD_DATABASE_URL": url, "TAILGUARD_DOCUMENT_ROOT": documents,
                            "PYTHONWARNINGS": "ignore"}
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
        if args.client == "wrk":
            run_wrk(args, base_url, token, loans, platform, baseline)
            return
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


WRK_SCRIPT = """
local loans = %(loans)s
local token = "%(token)s"
local run = "%(run)s"
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  counter = 0
end
function request()
  counter = counter + 1
  local loan = loans[(counter * 7919 + tid * 104729) %% #loans + 1]
  local body = '{"amount":"' .. (counter %% 500 + 1) .. '.00","channel":"app"}'
  return wrk.format("POST", "/api/v1/loans/" .. loan .. "/payments", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = run .. "-" .. tid .. "-" .. counter,
  }, body)
end
"""


def run_wrk(args: argparse.Namespace, base_url: str, token: str, loans: list[str],
            platform: Platform, baseline: float) -> None:
    """Post for `--seconds` with wrk; count the payments that landed in the database."""
    run = "wrk" + uuid.uuid4().hex[:8]
    seconds = 8 if args.quick else args.seconds
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"loans": "{" + ",".join(json.dumps(x) for x in loans) + "}",
                                   "token": token, "run": run})
    try:
        output = subprocess.run(
            ["wrk", "-t", "2", "-c", str(args.concurrency), "-d", f"{seconds}s", "--latency",
             "--timeout", "30s", "-s", script.name, base_url], capture_output=True, text=True,
            check=True).stdout
    finally:
        os.unlink(script.name)
    with platform.engine.connect() as conn:
        landed = conn.execute(select(tables.idempotency.c.key).where(
            tables.idempotency.c.key.like(f"{run}-%"), tables.idempotency.c.status == 201)
        ).all()
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    p = {q: re.search(rf"^\s+{q}%\s+(\S+)", output, re.M) for q in (50, 90, 99)}
    failed = int(errors.group(1)) if errors else 0
    rate = (requests - failed) / seconds
    print(f"HTTP (wrk, {args.concurrency} connections, {args.workers} workers, {seconds} s): "
          f"{requests - failed} payments answered 201 = {rate:,.0f} payments/s ("
          f"{len(landed)} in the database, those in flight at the end included); "
          f"latency p50 {p[50].group(1) if p[50] else '?'}, p90 {p[90].group(1) if p[90] else '?'}"
          f", p99 {p[99].group(1) if p[99] else '?'}; non-2xx {failed}"
          f"; {rate / baseline:.2f}x the one-at-a-time baseline")


if __name__ == "__main__":
    main()
