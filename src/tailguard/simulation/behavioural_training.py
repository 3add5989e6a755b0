"""Training the behavioural models on a simulated portfolio's history.

A simulator run leaves the platform's own records (loans, instalment dates, payment reversals)
plus the simulator's month-end snapshots of every loan's state, its balloon outcomes and the
vehicle signals it generated. From those this module builds the labelled rows of the two
behavioural models (`risk.behavioural`):

- `dpd30-90d`: one observation per active loan per month-end; the features read the platform's
  state at that month-end (DPD, principal outstanding) and the facts dated on or before it;
  the label is 30+ DPD (or written off) at one of the month-ends in the next 90 days. Month-ends
  are the only days whose DPD the history holds, so a loan that reaches 30 DPD and cures
  between two month-ends counts as good: the label undercounts slightly, it never leaks.
- `balloon-30d`: four observations per balloon that fell due in the run, at 120, 90, 60 and
  30 days before its due date; DPD rebuilt from the instalments at that day, principal
  outstanding from the last month-end before it; label: not settled within 30 days.

Split by time: a cutoff day; training rows are those whose label was known by the cutoff,
test rows those observed on or after it (`risk.behavioural.time_split`). The saved model is the
one fitted on the training rows, so the held-out metrics in its manifest are its own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from tailguard.calendar.months import add_months
from tailguard.infra.db import tables
from tailguard.risk import behavioural as bh
from tailguard.risk.evaluation import auc, brier, expected_calibration_error, ks
from tailguard.risk.features import prepare
from tailguard.risk.model import MEMBERS, ModelConfig, fit_credit_model
from tailguard.risk.monitoring import score_reference
from tailguard.risk.registry import save_model
from tailguard.services import behavioural_scores as service
from tailguard.services.platform import Platform
from tailguard.simulation.report import balloon_frame, monthly_states
from tailguard.simulation.runner import SimState

CONFIG = ModelConfig(weights=(0.5, 0.0, 0.0, 0.5), inner_folds=3, lr_c=0.3, linear_c=0.1)
"""Champion scorecard and the linear member, equal weights: both are plain JSON (the shipped
models stay small and need no pickle), and on the simulated history the tree members added
nothing measurable (docs/risk.md)."""


@dataclass(frozen=True)
class Labelled:
    """Feature rows with labels, observation day and the day the label became known."""

    features: pd.DataFrame
    y: np.ndarray[Any, Any]
    as_of: pd.Series
    label_day: pd.Series
    regions: np.ndarray[Any, Any]
    loan_ids: np.ndarray[Any, Any]


@dataclass(frozen=True)
class History:
    facts: service.Facts
    snapshots: pd.DataFrame
    balloons: pd.DataFrame
    balloon_terms: pd.DataFrame
    """loan_id, balloon_fen, balloon_due_date of the original schedules."""
    region: pd.Series
    """Province of each loan (index loan_id)."""


def history(platform: Platform, state: SimState) -> History:
    """The facts of every simulated loan, read from the platform, and the simulator's own
    records (snapshots, balloons, signals)."""
    with platform.engine.connect() as conn:
        facts = service.load_facts(conn)
        ln = tables.loans
        terms = pd.DataFrame(conn.execute(
            select(ln.c.id, ln.c.balloon_fen, ln.c.first_due_date, ln.c.term_months,
                   ln.c.contract_day)).all(),
            columns=["loan_id", "balloon_fen", "first_due_date", "term_months",
                     "contract_day"])
    terms["balloon_due_date"] = [
        pd.Timestamp(add_months(d, int(t) - 1, int(c))) if b > 0 else pd.NaT
        for d, t, c, b in zip(terms["first_due_date"], terms["term_months"],
                              terms["contract_day"], terms["balloon_fen"], strict=True)]
    sim_signals = pd.DataFrame(state.signals, columns=["loan_id", "day", "signal",
                                                       "before_stop"])
    signals = pd.DataFrame({"loan_id": sim_signals["loan_id"],
                            "day": pd.to_datetime(sim_signals["day"]),
                            "kind": sim_signals["signal"].map(bh.SIMULATOR_SIGNALS)})
    facts = service.Facts(facts.loans, facts.instalments, facts.bounces,
                          pd.concat([facts.signals, signals], ignore_index=True))
    region = facts.loans.set_index("loan_id")["region_code"].fillna("").astype(str)
    return History(facts, monthly_states(state), balloon_frame(state),
                   terms[["loan_id", "balloon_fen", "balloon_due_date"]],
                   region.str[:2] + "0000")


def dpd30_rows(h: History) -> Labelled:
    snaps = h.snapshots
    active = snaps[(snaps["status"] == "active") & ~snaps["paid_off"].astype(bool)]
    obs = (active.rename(columns={"month_end": "as_of"})
           [["loan_id", "as_of", "dpd", "principal_outstanding_fen"]]
           .merge(h.balloon_terms, on="loan_id", how="left")
           .sort_values(["as_of", "loan_id"], kind="stable").reset_index(drop=True))
    y = bh.dpd30_targets(obs, snaps)
    keep = y >= 0
    obs = obs[keep].reset_index(drop=True)
    features = bh.features(obs, h.facts.loans, h.facts.instalments, h.facts.bounces,
                           h.facts.signals)
    as_of = pd.to_datetime(obs["as_of"])
    return Labelled(features, y[keep], as_of, as_of + pd.Timedelta(days=bh.HORIZON_DAYS),
                    h.region.reindex(obs["loan_id"]).to_numpy(dtype=object),
                    obs["loan_id"].to_numpy(dtype=object))


def balloon_rows(h: History) -> Labelled:
    obs = bh.balloon_observations(h.balloons)
    obs = obs.merge(h.balloon_terms[["loan_id", "balloon_fen"]], on="loan_id", how="left")
    obs["balloon_due_date"] = obs["due"]
    history_ = bh.instalment_history(obs, h.facts.instalments)
    obs["dpd"] = history_.dpd
    snaps = (h.snapshots[["loan_id", "month_end", "principal_outstanding_fen"]]
             .sort_values("month_end", kind="stable"))
    left = obs.reset_index().sort_values("as_of", kind="stable")
    left["as_of"] = pd.to_datetime(left["as_of"]).astype("datetime64[ns]")
    snaps = snaps.assign(month_end=pd.to_datetime(snaps["month_end"]).astype("datetime64[ns]"))
    joined = pd.merge_asof(left, snaps, left_on="as_of", right_on="month_end", by="loan_id",
                           direction="backward")
    joined = joined.sort_values("index").set_index("index")
    principal = h.facts.loans.set_index("loan_id")["principal_fen"]
    obs["principal_outstanding_fen"] = joined["principal_outstanding_fen"].fillna(
        pd.Series(principal.reindex(obs["loan_id"]).to_numpy(), index=obs.index))
    features = bh.features(obs, h.facts.loans, h.facts.instalments, h.facts.bounces,
                           h.facts.signals)
    as_of = pd.to_datetime(obs["as_of"])
    label_day = pd.to_datetime(obs["due"]) + pd.Timedelta(days=bh.BALLOON_GRACE_DAYS)
    return Labelled(features, obs["y"].to_numpy(dtype=np.int64), as_of, label_day,
                    h.region.reindex(obs["loan_id"]).to_numpy(dtype=object),
                    obs["loan_id"].to_numpy(dtype=object))


def _metrics(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any]) -> dict[str, Any]:
    if len(set(y.tolist())) < 2:
        return {"rows": len(y), "bads": int(y.sum()), "auc": None, "ks": None}
    return {"rows": len(y), "bads": int(y.sum()), "bad_rate": round(float(y.mean()), 4),
            "auc": round(auc(y, p), 4), "ks": round(ks(y, p), 4),
            "brier": round(brier(y, p), 5),
            "calibration_error": round(expected_calibration_error(y, p), 4)}


TARGET_COLUMN = "bad"
REGION_COLUMN = "province"


def write_rows(rows: Labelled, mask: np.ndarray[Any, Any], path: Path) -> None:
    """Feature rows with loan, observation day, province and target, for `risk monitor`."""
    frame = rows.features[mask].reset_index(drop=True).copy()
    frame.insert(0, "as_of", rows.as_of[mask].dt.date.to_numpy())
    frame.insert(0, "loan_id", rows.loan_ids[mask])
    frame[REGION_COLUMN] = rows.regions[mask]
    frame[TARGET_COLUMN] = rows.y[mask]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def train_one(name: str, rows: Labelled, cutoff: date, out: Path, source: dict[str, Any],
              seed: int = 0, created: datetime | None = None,
              data_dir: Path | None = None) -> dict[str, Any]:
    """Fit on the rows labelled by `cutoff`, measure on the rows observed from it on, save
    (and, with `data_dir`, write both sets of rows as CSV for `tailguard risk monitor`)."""
    train, test = bh.time_split(rows.as_of, rows.label_day, np.datetime64(cutoff, "D"))
    if data_dir is not None:
        write_rows(rows, train, data_dir / f"{name}-train.csv.gz")
        write_rows(rows, test, data_dir / f"{name}-test.csv.gz")
    if rows.y[train].sum() < 5 or rows.y[test].sum() < 1:
        raise ValueError(f"{name}: too few bads to train or test "
                         f"({int(rows.y[train].sum())} / {int(rows.y[test].sum())}); "
                         "simulate more loans or months")
    config = ModelConfig(**{**CONFIG.__dict__, "seed": seed})
    frame = prepare(rows.features, bh.SPEC)
    fitted = fit_credit_model(frame[train].reset_index(drop=True), rows.y[train], bh.SPEC,
                              config)
    model = fitted.model
    test_pd = model.predict_pd(frame[test].reset_index(drop=True))
    held = _metrics(rows.y[test], test_pd)
    if name == bh.DPD30_MODEL:
        current = test & (rows.features["dpd"].to_numpy() == 0)
        held["current_loans"] = _metrics(rows.y[current],
                                         model.predict_pd(frame[current].reset_index(drop=True)))
    metrics = {"out_of_fold": _metrics(rows.y[train], fitted.oof_pd), "held_out": held,
               "cutoff": cutoff.isoformat(),
               "blend_weights": dict(zip(MEMBERS, model.weights, strict=True))}
    training = {
        **source, "model": name, "rows": int(train.sum()),
        "bad_rate": round(float(rows.y[train].mean()), 4),
        "observed_from": rows.as_of[train].min().date().isoformat(),
        "observed_to": rows.as_of[train].max().date().isoformat(),
        "test_rows": int(test.sum()),
        "test_observed_from": rows.as_of[test].min().date().isoformat(),
        "test_observed_to": rows.as_of[test].max().date().isoformat(),
        "target": TARGET_COLUMN, "bad_value": "1",
        "definition": ("30+ DPD at a month-end within 90 days, or written off"
                       if name == bh.DPD30_MODEL
                       else "balloon not settled within 30 days of its due date"),
        "columns": list(bh.SPEC.columns),
        "sha256": hashlib.sha256(pd.util.hash_pandas_object(
            rows.features[train], index=False).to_numpy().tobytes()).hexdigest(),
    }
    return save_model(out, model, score_reference(model.score(frame[train].reset_index(
        drop=True))), created=created or datetime.now(UTC), training=training,
        metrics=metrics, region_column=REGION_COLUMN)


def default_cutoff(rows: Labelled, test_share: float = 0.3) -> date:
    """The observation day after which about `test_share` of the rows were observed."""
    days = np.sort(rows.as_of.to_numpy(dtype="datetime64[D]"))
    day: date = pd.Timestamp(days[int(len(days) * (1 - test_share))]).date()
    return day


def train_all(platform: Platform, state: SimState, out: Path, source: dict[str, Any],
              seed: int = 0, cutoff: date | None = None) -> dict[str, dict[str, Any]]:
    """Both models into `out/<model>/`; returns their manifests."""
    h = history(platform, state)
    manifests = {}
    for name, rows in ((bh.DPD30_MODEL, dpd30_rows(h)), (bh.BALLOON_MODEL, balloon_rows(h))):
        manifests[name] = train_one(name, rows, cutoff or default_cutoff(rows),
                                    out / name, source, seed, data_dir=out / "data")
    (out / "README.txt").write_text(
        "Behavioural models trained by `tailguard risk train-behavioural` on "
        + json.dumps(source, sort_keys=True) + "\n", encoding="utf-8")
    return manifests


# -- the application scorecard on the simulated auto portfolio ------------------------------
APPLICATION_NUMERIC = ("monthly_income_yuan", "dti", "ltv", "down_payment_share",
                       "balloon_share", "term_months", "age_years")
APPLICATION_CATEGORICAL = ("region_tier", "cross_region", "vehicle", "employment")
APPLICATION_HORIZON_DAYS = 365


def application_rows(sim: Any) -> Labelled:
    """What the application showed (income, instalment-to-income, LTV, down payment, balloon
    share, term, region tier, cross-region, age, vehicle, employment) for every loan with a
    full year of history; label: 30+ DPD at a month-end within 12 months of disbursement, or
    written off by then."""
    from tailguard.simulation.export import borrowers_frame, loans_frame

    loans = loans_frame(sim)
    people = borrowers_frame(sim)
    frame = loans.merge(people, on="loan_id", how="left")
    disbursed = pd.to_datetime(frame["disbursement_date"])
    snaps = monthly_states(sim.state)
    last = pd.to_datetime(snaps["month_end"]).max()
    keep = (disbursed + pd.Timedelta(days=APPLICATION_HORIZON_DAYS) <= last).to_numpy()
    frame, disbursed = frame[keep].reset_index(drop=True), disbursed[keep].reset_index(drop=True)
    obs = pd.DataFrame({"loan_id": frame["loan_id"], "as_of": disbursed})
    y = bh.dpd30_targets(obs, snaps, APPLICATION_HORIZON_DAYS)
    y = np.maximum(y, 0)
    used = frame["vehicle_used"].to_numpy(dtype=bool)
    nev = frame["vehicle_nev"].to_numpy(dtype=bool)
    price = frame["price_fen"].to_numpy(dtype=np.float64)
    features = pd.DataFrame({
        "monthly_income_yuan": frame["monthly_income_fen"].to_numpy(dtype=np.float64) / 100,
        "dti": frame["dti"].to_numpy(dtype=np.float64),
        "ltv": frame["ltv"].to_numpy(dtype=np.float64),
        "down_payment_share": frame["down_payment_fen"].to_numpy(dtype=np.float64) / price,
        "balloon_share": frame["balloon_share_bp"].to_numpy(dtype=np.float64) / 10_000,
        "term_months": frame["term_months"].to_numpy(dtype=np.float64),
        "age_years": ((disbursed - pd.to_datetime(frame["birth_date"])).dt.days
                      / 365.25).to_numpy(dtype=np.float64),
        "region_tier": bh.region_tiers(frame["dealer_region_code"]),
        "cross_region": np.where(frame["cross_region"].to_numpy(dtype=bool), "yes", "no"),
        "vehicle": np.char.add(np.where(used, "used-", "new-"),
                               np.where(nev, "nev", "fuel")).astype(object),
        "employment": frame["employment"].astype(str).to_numpy(dtype=object),
    })
    region = frame["dealer_region_code"].astype(str).str[:2] + "0000"
    return Labelled(features, y, disbursed,
                    disbursed + pd.Timedelta(days=APPLICATION_HORIZON_DAYS),
                    region.to_numpy(dtype=object), frame["loan_id"].to_numpy(dtype=object))


def application_scorecard(sim: Any, seed: int = 0) -> dict[str, Any]:
    """Fit the application model (the full blend of `risk.model`) on the earlier 70 % of
    originations and measure it on the later 30 % (a time split: the later loans were
    booked after every training loan), plus 5 × 2 cross-validated AUC over all of them."""
    from tailguard.risk.evaluation import cross_validate, repeated_splits
    from tailguard.risk.features import FeatureSpec

    rows = application_rows(sim)
    spec = FeatureSpec(APPLICATION_NUMERIC, APPLICATION_CATEGORICAL)
    frame = prepare(rows.features, spec)
    order = np.argsort(rows.as_of.to_numpy(), kind="stable")
    cut = int(len(order) * 0.7)
    train, test = order[:cut], order[cut:]
    fitted = fit_credit_model(frame.iloc[train].reset_index(drop=True), rows.y[train], spec,
                              ModelConfig(seed=seed))
    held = _metrics(rows.y[test], fitted.model.predict_pd(frame.iloc[test]
                                                          .reset_index(drop=True)))

    def fit_predict(tr: pd.DataFrame, y: Any, te: pd.DataFrame) -> Any:
        return fit_credit_model(tr, y, spec, ModelConfig(seed=seed)).model.predict_pd(te)

    cv = cross_validate(frame, rows.y, fit_predict, repeated_splits(rows.y, seed=seed))
    return {"rows": len(rows.y), "bad_rate": round(float(rows.y.mean()), 4),
            "held_out_later_originations": held,
            "cv_5x2_auc": round(cv.mean, 4), "cv_5x2_std": round(cv.std, 4)}
