"""Behavioural features and targets (risk.behavioural): a feature at day d reads nothing dated
after d; targets read only what comes after; the scorer keeps the input order; the time split
keeps test-period outcomes out of training; the shipped models load and score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailguard.risk import behavioural as bh
from tailguard.risk.registry import load_model

SHIPPED = Path(bh.__file__).parent / "data" / "behavioural"


def loans() -> pd.DataFrame:
    return pd.DataFrame({
        "loan_id": ["A", "B", "C"],
        "disbursement_date": pd.to_datetime(["2024-01-10", "2024-02-15", "2024-03-01"]),
        "term_months": [24, 36, 12],
        "principal_fen": [200_000_00, 150_000_00, 80_000_00],
        "price_fen": [250_000_00, 180_000_00, 100_000_00],
        "vehicle_used": [False, True, False],
        "vehicle_nev": [True, False, False],
        "region_code": ["440300", "510100", "110105"],
        "residence_region_code": ["440305", "440305", None],
        "id_region_code": ["440305", "510104", "110105"],
        "birth_date": pd.to_datetime(["1985-03-15", "1999-07-01", None]),
    })


def monthly(loan: str, first: str, n: int) -> pd.DataFrame:
    due = pd.date_range(first, periods=n, freq="MS") + pd.Timedelta(days=9)
    return pd.DataFrame({"loan_id": loan, "due_date": due, "grace_end": due + pd.Timedelta(days=3),
                         "settled_on": due})


def instalments() -> pd.DataFrame:
    a = monthly("A", "2024-02-01", 24)
    a.loc[3, "settled_on"] = a.loc[3, "due_date"] + pd.Timedelta(days=20)  # late, then paid
    a.loc[6:, "settled_on"] = pd.NaT  # stops paying from the seventh instalment
    b = monthly("B", "2024-03-01", 36)
    c = monthly("C", "2024-04-01", 12)
    return pd.concat([a, b, c], ignore_index=True)


def bounces() -> pd.DataFrame:
    return pd.DataFrame({"loan_id": ["A", "A", "B"],
                         "value_date": pd.to_datetime(["2024-04-12", "2024-08-12", "2024-05-12"])})


def signals() -> pd.DataFrame:
    return pd.DataFrame({"loan_id": ["A", "A", "B"],
                         "day": pd.to_datetime(["2024-08-01", "2024-08-20", "2024-04-01"]),
                         "kind": ["gps-offline", "phone-changed", "outside-province"]})


def observations(as_of: str) -> pd.DataFrame:
    return pd.DataFrame({
        "loan_id": ["C", "A", "B"], "as_of": pd.to_datetime([as_of] * 3),
        "dpd": [0, 12, 0], "principal_outstanding_fen": [60_000_00, 170_000_00, 140_000_00],
        "balloon_fen": [0, 60_000_00, 45_000_00],
        "balloon_due_date": pd.to_datetime([None, "2026-01-10", "2027-02-15"]),
    })


def build(as_of: str, inst: pd.DataFrame | None = None, bnc: pd.DataFrame | None = None,
          sig: pd.DataFrame | None = None) -> pd.DataFrame:
    return bh.features(observations(as_of), loans(), instalments() if inst is None else inst,
                       bounces() if bnc is None else bnc, signals() if sig is None else sig)


def test_features_are_in_the_observations_order_with_the_spec_columns() -> None:
    frame = build("2024-08-25")
    assert list(frame.columns) == list(bh.SPEC.columns) and len(frame) == 3
    c, a, b = (frame.iloc[i] for i in range(3))
    # A: instalments 4 (late 20 days, paid) and 7 (open since 2024-08-10) are late
    assert a["late_6m"] == 2 and a["unpaid_due"] == 1 and a["worst_late_days_6m"] == 20
    assert a["bounces_3m"] == 1 and a["bounces_6m"] == 2
    assert a["telematics_90d"] == 1  # the phone change is not a vehicle signal
    assert a["balloon_share"] == pytest.approx(0.3) and a["cross_region"] == "no"
    assert b["cross_region"] == "yes" and b["vehicle"] == "used-fuel"
    assert b["telematics_90d"] == 0  # its signal is older than 90 days
    assert np.isnan(c["days_to_balloon"]) and np.isnan(c["age_years"])
    assert a["vehicle"] == "new-nev" and a["ltv_value"] > a["ltv_now"]


def test_a_feature_at_d_never_reads_an_event_after_d() -> None:
    d = "2024-08-25"
    before = build(d)
    inst = instalments()
    # after d: A pays its open instalments (late), new bounces and signals arrive
    open_a = (inst["loan_id"] == "A") & inst["settled_on"].isna()
    inst.loc[open_a, "settled_on"] = pd.Timestamp("2024-09-30")
    more_bounces = pd.concat([bounces(), pd.DataFrame({
        "loan_id": ["A", "B", "C"], "value_date": pd.to_datetime(["2024-08-26"] * 3)})])
    more_signals = pd.concat([signals(), pd.DataFrame({
        "loan_id": ["A", "B", "C"], "day": pd.to_datetime(["2024-09-01"] * 3),
        "kind": ["device-tampering"] * 3})])
    after = build(d, inst, more_bounces, more_signals)
    pd.testing.assert_frame_equal(before, after)
    # ... while the same events on or before d do change them
    moved = more_bounces.assign(value_date=pd.Timestamp(d))
    assert not build(d, inst, moved, more_signals)["bounces_3m"].equals(before["bounces_3m"])


def test_dpd_is_rebuilt_from_the_instalments_like_the_platform() -> None:
    obs = observations("2024-08-12")  # A's 7th instalment due 08-10, grace to 08-13
    assert bh.instalment_history(obs, instalments()).dpd.tolist() == [0, 0, 0]
    obs = observations("2024-08-14")
    assert bh.instalment_history(obs, instalments()).dpd.tolist() == [0, 4, 0]


def test_targets_read_only_later_snapshots_and_mark_unlabelled_rows() -> None:
    snaps = pd.DataFrame({
        "loan_id": ["A", "A", "A", "B", "B"],
        "month_end": pd.to_datetime(["2024-08-31", "2024-09-30", "2024-12-31", "2024-08-31",
                                     "2024-12-31"]),
        "dpd": [40, 0, 0, 0, 0], "status": ["active"] * 4 + ["written-off"]})
    obs = pd.DataFrame({"loan_id": ["A", "A", "B", "B"],
                        "as_of": pd.to_datetime(["2024-08-31", "2024-07-31", "2024-08-31",
                                                 "2024-10-31"])})
    # A at 08-31: its own 40 DPD that day is not "within the next 90 days"; at 07-31 it is
    assert bh.dpd30_targets(obs, snaps).tolist() == [0, 1, 0, -1]
    assert bh.dpd30_targets(obs.iloc[[2]], snaps, horizon_days=122).tolist() == [1]


def test_balloon_observations_and_the_time_split() -> None:
    balloons = pd.DataFrame({"loan_id": ["A", "B"],
                             "due": pd.to_datetime(["2025-01-10", "2025-06-10"]),
                             "cleared": [True, False]})
    obs = bh.balloon_observations(balloons)
    assert len(obs) == 8 and sorted(set(obs["stage"])) == [30, 60, 90, 120]
    assert obs.loc[obs["loan_id"] == "B", "y"].tolist() == [1, 1, 1, 1]
    label_day = obs["due"] + pd.Timedelta(days=bh.BALLOON_GRACE_DAYS)
    cutoff = np.datetime64("2025-03-01", "D")
    train, test = bh.time_split(obs["as_of"], label_day, cutoff)
    assert set(obs.loc[train, "loan_id"]) == {"A"}
    assert (pd.to_datetime(label_day[train]) <= pd.Timestamp("2025-03-01")).all()
    assert (obs.loc[test, "as_of"] >= pd.Timestamp("2025-03-01")).all()
    assert not (train & test).any()


def test_bands() -> None:
    assert bh.band_of([700, 650, 620, 560, 510, 300]).tolist() == ["A", "A", "B", "C", "D", "E"]


@pytest.mark.parametrize("model", bh.MODELS)
def test_the_shipped_models_score_rows_in_input_order(model: str) -> None:
    registered = load_model(SHIPPED / model)
    assert registered.manifest["training"]["model"] == model
    rows = build("2024-08-25")
    scored = bh.score_rows(registered.model, rows)
    reversed_rows = rows.iloc[::-1].reset_index(drop=True)
    again = bh.score_rows(registered.model, reversed_rows)
    assert np.allclose(again.pd, scored.pd[::-1]) and again.reasons == scored.reasons[::-1]
    assert ((scored.pd > 0) & (scored.pd < 1)).all()
    # the loan that stopped paying (A) is riskier than the one paying on time (B)
    assert scored.pd[1] > scored.pd[2]
    held = registered.manifest["metrics"]["held_out"]
    assert held["auc"] is not None and held["rows"] > 0


def synthetic_rows(n: int, rng: np.random.Generator, late_rate: float) -> pd.DataFrame:
    late = rng.binomial(3, late_rate, n).astype(float)
    return pd.DataFrame({
        "dpd": np.where(late > 0, rng.integers(0, 40, n), 0).astype(float),
        "months_on_book": rng.uniform(1, 30, n), "late_3m": late, "late_6m": late * 1.5,
        "worst_late_days_6m": late * 10, "unpaid_due": np.minimum(late, 1),
        "bounces_3m": np.zeros(n), "bounces_6m": np.zeros(n), "telematics_90d": np.zeros(n),
        "ltv_now": rng.uniform(0.2, 0.8, n), "ltv_value": rng.uniform(0.3, 1.0, n),
        "balance_share": rng.uniform(0.2, 1.0, n), "balloon_share": rng.choice([0, 0.2, 0.3], n),
        "days_to_balloon": rng.uniform(0, 900, n), "term_months": rng.choice([24, 36], n),
        "age_years": rng.uniform(22, 60, n),
        "cross_region": rng.choice(["yes", "no"], n), "region_tier": rng.choice(["1", "2"], n),
        "vehicle": rng.choice(["new-fuel", "new-nev"], n)})


def test_monitoring_between_periods_by_region() -> None:
    from tailguard.risk.monitoring import compare_periods

    model = load_model(SHIPPED / bh.DPD30_MODEL).model
    rng = np.random.default_rng(3)
    reference = pd.concat([synthetic_rows(400, rng, 0.05), synthetic_rows(400, rng, 0.05)],
                          ignore_index=True)
    current = pd.concat([synthetic_rows(400, rng, 0.05), synthetic_rows(400, rng, 0.4)],
                        ignore_index=True)  # the second province's borrowers fell behind
    regions = np.array(["440000"] * 400 + ["510000"] * 400, dtype=object)
    y_ref = (rng.uniform(size=800) < model.predict_pd(model.prepare(reference))).astype(int)
    y_cur = (rng.uniform(size=800) < model.predict_pd(model.prepare(current))).astype(int)
    report = compare_periods(model, model.prepare(reference), model.prepare(current),
                             y_reference=y_ref, y_current=y_cur,
                             regions_reference=np.r_[regions, []].astype(object),
                             regions_current=regions, min_rows=30)
    by_region = {r["region"]: r for r in report["by_region"]}
    assert by_region["440000"]["score"]["status"] == "stable"
    assert by_region["510000"]["score"]["status"] == "shifted"
    assert report["regions_shifted"] == ["510000"]
    assert by_region["510000"]["variables"][0]["psi"] > 0.25  # a repayment-history variable
    current_perf = by_region["440000"]["current"]
    assert 0.5 < current_perf["auc"] <= 1 and current_perf["ks"] > 0
    assert abs(current_perf["calibration_gap"]) < 0.1
    assert report["overall"]["rows_current"] == 800 and "reference" in report["overall"]
    # a region too small is listed with its counts only
    small = compare_periods(model, model.prepare(reference), model.prepare(current),
                            regions_reference=regions, regions_current=regions, min_rows=500)
    assert all("score" not in r for r in small["by_region"])
