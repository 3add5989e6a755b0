"""Benchmark: behavioural models and the auto application scorecard on a simulated portfolio.

Why: issue 6 asks for behavioural models trained on the simulator's history (30+ DPD within 90
days; balloon not settled within 30 days), measured on a later period than they were trained
on, and for the application scorecard trained on the simulator's auto portfolio. This runs a
simulation (or resumes one in `--work`), then prints, on the held-out later period:

- `dpd30-90d`: AUC and KS of the model beside two baselines computed on the same rows: the
  current DPD alone (what a bucket-based rule ranks by) and the months-on-book-free repayment
  history count (instalments late in the last 6 months); and the same on the loans current at
  observation, where the question is hardest;
- `balloon-30d`: the model beside the balloon watch's documented prior
  (`monitoring.balloon_watch.chance_not_settled`, fed the same features: late instalments and
  worst days late over 6 months, DPD, equity from the depreciated value);
- the application scorecard: AUC on later originations and 5 × 2 cross-validated AUC;
- monitoring between the training and test periods by province (PSI, AUC, KS, calibration).

Nothing is asserted. Usage:
    uv run --frozen python benchmarks/bench_behavioural.py [--loans 1500] [--months 30]
        [--seed 1] [--work var/bench-behavioural]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=1500)
    parser.add_argument("--months", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("var/bench-behavioural"))
    parser.add_argument("--no-application", action="store_true",
                        help="skip the application scorecard (its 5 × 2 CV is the slow part)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from tailguard.monitoring import balloon_watch as watch
    from tailguard.risk import behavioural as bh
    from tailguard.risk.evaluation import auc, ks
    from tailguard.risk.monitoring import compare_periods
    from tailguard.risk.registry import load_model
    from tailguard.simulation import behavioural_training as bt
    from tailguard.simulation import session
    from tailguard.simulation.config import SimulationConfig

    args.work.mkdir(parents=True, exist_ok=True)
    env = {"TAILGUARD_DOCUMENT_ROOT": str(args.work / "documents"),
           "TAILGUARD_NOTARY": f"folder:{args.work / 'notary'}"}
    started = time.perf_counter()
    outcome = session.run(SimulationConfig(args.loans, args.months, args.seed),
                          f"sqlite:///{args.work / 'simulation.db'}", session.DEFAULT_START,
                          env=env, issue_contracts=False)
    print(f"simulation {args.loans} loans x {args.months} months, seed {args.seed}: "
          f"{time.perf_counter() - started:.0f} s")
    h = bt.history(outcome.platform, outcome.simulation.state)
    out = Path(tempfile.mkdtemp(prefix="behavioural-"))
    for name, rows in ((bh.DPD30_MODEL, bt.dpd30_rows(h)), (bh.BALLOON_MODEL, bt.balloon_rows(h))):
        cutoff = bt.default_cutoff(rows)
        started = time.perf_counter()
        try:
            manifest = bt.train_one(name, rows, cutoff, out / name, {"bench": True})
        except ValueError as error:  # too few bads in this run (balloons: a small book)
            print(f"\n{name}: not trained: {error}")
            continue
        seconds = time.perf_counter() - started
        train, test = bh.time_split(rows.as_of, rows.label_day, np.datetime64(cutoff, "D"))
        y, f = rows.y[test], rows.features[test].reset_index(drop=True)
        model = load_model(out / name).model
        p = model.predict_pd(model.prepare(f))
        print(f"\n{name}: trained on {int(train.sum())} rows observed to {cutoff} "
              f"({int(rows.y[train].sum())} bad), {seconds:.0f} s; held out {int(test.sum())} "
              f"rows observed from {cutoff} ({int(y.sum())} bad)")
        print(f"{'':<34} {'AUC':>7} {'KS':>7}")
        lines = [("ours", p)]
        if name == bh.DPD30_MODEL:
            lines += [("baseline: current DPD", f["dpd"].to_numpy()),
                      ("baseline: late instalments 6m", f["late_6m"].to_numpy()
                       + 1e-3 * f["dpd"].to_numpy())]
        else:
            equity = np.clip(1 - f["ltv_value"].fillna(1).to_numpy(), -1, 1)
            prior = watch.chance_not_settled(f["worst_late_days_6m"].to_numpy(np.int64),
                                             f["late_6m"].to_numpy(np.int64),
                                             f["dpd"].to_numpy(np.int64), equity)
            lines.append(("baseline: balloon-watch prior", prior))
        for label, score in lines:
            if 0 < y.sum() < len(y):
                print(f"{label:<34} {auc(y, score):7.4f} {ks(y, score):7.4f}")
        if name == bh.DPD30_MODEL:
            current = f["dpd"].to_numpy() == 0
            if 0 < y[current].sum() < current.sum():
                print(f"{'ours, loans current at observation':<34} "
                      f"{auc(y[current], p[current]):7.4f} {ks(y[current], p[current]):7.4f}"
                      f"   ({int(current.sum())} rows, {int(y[current].sum())} bad)")
            report = compare_periods(
                model, model.prepare(rows.features[train].reset_index(drop=True)),
                model.prepare(f), y_reference=rows.y[train], y_current=y,
                regions_reference=rows.regions[train], regions_current=rows.regions[test],
                min_rows=300)
            o = report["overall"]
            print(f"monitoring, training vs held-out period: score PSI {o['score']['psi']} "
                  f"({o['score']['status']}); provinces with 300+ rows in both:")
            for r in report["by_region"]:
                if "score" in r:
                    c = r["current"]
                    print(f"  {r['region']}: {r['rows_current']} rows, PSI {r['score']['psi']}, "
                          f"AUC {c['auc']}, KS {c['ks']}, calibration gap {c['calibration_gap']}")
        print("manifest metrics: " + json.dumps(manifest["metrics"]["held_out"]))
    if not args.no_application:
        started = time.perf_counter()
        result = bt.application_scorecard(outcome.simulation)
        print(f"\napplication scorecard on the simulated originations "
              f"({time.perf_counter() - started:.0f} s): " + json.dumps(result))


if __name__ == "__main__":
    main()
