"""Training the national model, regional calibration, monitoring and the model directory.

The full 5 × 2 cross-validation on German credit and Lending Club is the benchmark's job
(`benchmarks/bench_scorecards.py`); here the folds are few and the models small, and the point
is what must never change: test rows never reach training, refits are reproducible, regional
pooling behaves as stated, a tampered model is refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold

from tailguard.errors import InvalidInput, NotFound
from tailguard.risk.datasets import CreditData, german_credit, lending_club
from tailguard.risk.evaluation import (
    auc,
    chance_group_calibration_error,
    cross_validate,
    group_calibration_error,
    ks,
    repeated_splits,
)
from tailguard.risk.model import MEMBERS, ModelConfig, fit_credit_model
from tailguard.risk.monitoring import monitoring_report, psi, score_reference
from tailguard.risk.regional import fit_regional_calibration
from tailguard.risk.registry import load_model, save_model
from tailguard.risk.scorecard import logit, sigmoid

SMALL = ModelConfig(weights=(1.0,) * len(MEMBERS), gbm_trees=150, gbm_learning_rate=0.04,
                    forest_trees=60, onehot_forest_trees=60)
"""Every member, equal weights, fewer trees: the structure of the real model at a fraction of
its cost."""


@pytest.fixture(scope="module")
def german() -> CreditData:
    return german_credit()


def _poison(data: CreditData, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The same data with `rows` wrecked: numbers ×1000, categories replaced, outcomes flipped."""
    frame = data.frame.copy()
    for name in data.spec.numeric:
        frame.loc[rows, name] = frame.loc[rows, name] * 1000 + 7
    for name in data.spec.categorical:
        frame.loc[rows, name] = "POISON"
    y = data.y.copy()
    y[rows] = 1 - y[rows]
    return frame, y


def test_training_never_reads_the_test_rows(german: CreditData) -> None:
    """Poisoning the test rows of a fold leaves the model fitted on that fold unchanged (its
    predictions on every row, to the last bit); poisoning one training row changes it, so the
    comparison can fail."""
    train, test = repeated_splits(german.y, n_splits=2, n_repeats=1, seed=3)[0]
    probe = german.frame
    predictions: list[np.ndarray] = []

    def fit_predict(frame: pd.DataFrame, y: np.ndarray, test_frame: pd.DataFrame) -> np.ndarray:
        model = fit_credit_model(frame, y, german.spec, SMALL).model
        predictions.append(model.predict_pd(probe))
        return model.predict_pd(test_frame)

    cross_validate(german.frame, german.y, fit_predict, [(train, test)])
    poisoned_frame, poisoned_y = _poison(german, test)
    cross_validate(poisoned_frame, poisoned_y, fit_predict, [(train, test)])
    np.testing.assert_array_equal(predictions[0], predictions[1])

    one_training_row = train[:1]
    frame, y = _poison(german, one_training_row)
    cross_validate(frame, y, fit_predict, [(train, test)])
    assert not np.array_equal(predictions[0], predictions[2])


def test_fit_is_reproducible_and_discriminates(german: CreditData) -> None:
    train, test = next(StratifiedKFold(2, shuffle=True, random_state=11)
                       .split(german.frame, german.y))
    frame = german.frame.iloc[train].reset_index(drop=True)
    held = german.frame.iloc[test].reset_index(drop=True)
    first = fit_credit_model(frame, german.y[train], german.spec, SMALL)
    second = fit_credit_model(frame, german.y[train], german.spec, SMALL)
    pd_ = first.model.predict_pd(held)
    np.testing.assert_array_equal(pd_, second.model.predict_pd(held))
    # one 2-fold split of 1,000 rows: loose floors; the benchmark measures 5 × 2
    assert auc(german.y[test], pd_) > 0.75
    assert ks(german.y[test], pd_) > 0.35
    members = first.model.member_pds(held)
    assert set(members) == set(MEMBERS)
    for member_pd in members.values():
        assert auc(german.y[test], member_pd) > 0.70
    # calibrated: mean PD on held-out rows near the observed bad rate (30 %)
    assert abs(pd_.mean() - german.y[test].mean()) < 0.04
    assert abs(first.oof_pd.mean() - german.y[train].mean()) < 0.02


def test_challenger_respects_the_binning_trends(german: CreditData) -> None:
    """Raising the loan duration (bad rate rises with it) never lowers the challenger's PD."""
    model = fit_credit_model(german.frame, german.y, german.spec, SMALL).model
    rows = german.frame.iloc[:40].copy()
    before = model.member_pds(rows)["challenger"]
    rows["duration_in_month"] = rows["duration_in_month"] + 24
    after = model.member_pds(rows)["challenger"]
    assert (after >= before - 1e-12).all() and (after > before).any()


def _synthetic_regions(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Provinces and cities with true logit effects, a national PD that ignores them."""
    rng = np.random.default_rng(seed)
    provinces, cities, effects = [], [], []
    for p in range(8):
        province_effect = rng.normal(0, 0.5)
        for c in range(4):
            size = int(rng.choice([15, 60, 300, 1200]))
            effect = province_effect + rng.normal(0, 0.3)
            provinces += [f"P{p}"] * size
            cities += [f"P{p}C{c}"] * size
            effects += [effect] * size
    national = sigmoid(rng.normal(-2.2, 0.8, len(effects)))
    y = (rng.random(len(effects)) < sigmoid(logit(national) + np.array(effects))).astype(int)
    return national, y, np.array(provinces, dtype=object), np.array(cities, dtype=object)


def test_partial_pooling_recovers_regional_levels_on_synthetic_provinces_and_cities() -> None:
    """Eight provinces of four cities (15 to 1,200 borrowers each) with known logit effects, and
    a national PD that ignores them. Measured against the truth, city by city (each city
    counting once): the national model is off by 0.0305 on average, the pooled calibration by
    0.0165, recalibrating each city to what it observed (no pooling) by 0.0265, the province
    level alone by 0.0198. On a fresh outcome draw, the row-weighted mean |observed − predicted|
    by city falls from 0.038 to 0.014."""
    national, y, province, city = _synthetic_regions(1)
    true_pd = sigmoid(logit(national) + _true_effects(1, city))
    regions = [province, city]
    pooled = fit_regional_calibration(national, y, regions, ["province", "city"])
    unpooled = fit_regional_calibration(national, y, regions, prior_strength=0.0)
    province_only = fit_regional_calibration(national, y, [province])

    def error_by_city(predicted: np.ndarray) -> float:
        table = pd.DataFrame({"true": true_pd, "predicted": predicted, "city": city})
        means = table.groupby("city")[["true", "predicted"]].mean()
        return float((means["true"] - means["predicted"]).abs().mean())

    national_error = error_by_city(national)
    pooled_error = error_by_city(pooled.adjust(national, regions))
    assert national_error == pytest.approx(0.0305, abs=0.001)
    assert pooled_error == pytest.approx(0.0165, abs=0.001)
    assert pooled_error < error_by_city(unpooled.adjust(national, regions)) - 0.005
    assert pooled_error < error_by_city(province_only.adjust(national, [province])) - 0.002

    y_new = (np.random.default_rng(99).random(len(y)) < true_pd).astype(int)
    assert group_calibration_error(y_new, national, city) == pytest.approx(0.038, abs=0.001)
    assert group_calibration_error(y_new, pooled.adjust(national, regions), city) == (
        pytest.approx(0.014, abs=0.001))

    # a small city is pulled toward its province more than a large one
    small = [r for r in pooled.levels[1].regions if r.rows == 15]
    large = [r for r in pooled.levels[1].regions if r.rows == 1200]
    gap = lambda rs: np.mean([abs(r.pooled_bad_rate - r.bads / r.rows) for r in rs])  # noqa: E731
    assert gap(small) > gap(large)
    # unknown regions fall back to their parent, then to the nation
    offsets = pooled.logit_offsets([np.array(["P0", "nowhere"], dtype=object),
                                    np.array(["P0C9", "X"], dtype=object)])
    assert offsets[0] == pooled.levels[0].offsets()["P0"] and offsets[1] == 0.0


def _true_effects(seed: int, cities: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    table: dict[str, float] = {}
    for p in range(8):
        province_effect = rng.normal(0, 0.5)
        for c in range(4):
            rng.choice([15, 60, 300, 1200])
            table[f"P{p}C{c}"] = province_effect + rng.normal(0, 0.3)
    return np.array([table[c] for c in cities])


@pytest.mark.slow
def test_lending_club_states_regional_calibration_against_the_national_model() -> None:
    """Held-out Lending Club, half for training and half for measuring, by state.

    Measured: the states' bad rates differ no more than chance allows given the national
    model (the beta-binomial prior strength is estimated at 4,467 pseudo-rows, against 30–700
    rows per state), so the pooled offsets stay small and the state-weighted calibration error
    is 0.0149 against the national model's 0.0145 (no improvement: there is no regional signal
    in this sample to recover). Recalibrating each state to what it observed, without pooling,
    makes it 0.0238: partial pooling is what keeps regional calibration from hurting.

    Why nothing can improve here: if the national model were exactly right in every state,
    binomial noise alone would leave an error of 0.0153 ± 0.0019 with these state sizes; the
    national model's 0.0145 is already at that level (over split seeds 0–4: national 0.0147,
    pooled 0.0148; state unemployment, income and rent indicators as the prior's centre
    0.0152; docs/risk.md). The last assertions hold the national model within that band and
    would fail if the states carried a level the model missed.
    """
    data = lending_club()
    assert data.region is not None
    train, test = next(StratifiedKFold(2, shuffle=True, random_state=0)
                       .split(data.frame, data.y))
    config = ModelConfig(weights=(1.0, 0.0, 0.0, 1.0))
    fitted = fit_credit_model(data.frame.iloc[train].reset_index(drop=True), data.y[train],
                              data.spec, config)
    pd_ = fitted.model.predict_pd(data.frame.iloc[test].reset_index(drop=True))
    states_train, states_test, y_test = data.region[train], data.region[test], data.y[test]
    pooled = fit_regional_calibration(fitted.oof_pd, data.y[train], [states_train], ["state"])
    unpooled = fit_regional_calibration(fitted.oof_pd, data.y[train], [states_train],
                                        prior_strength=0.0)
    national_error = group_calibration_error(y_test, pd_, states_test)
    pooled_error = group_calibration_error(y_test, pooled.adjust(pd_, [states_test]),
                                           states_test)
    unpooled_error = group_calibration_error(y_test, unpooled.adjust(pd_, [states_test]),
                                             states_test)
    assert pooled.levels[0].prior_strength > 1000
    assert pooled_error <= national_error + 0.001
    assert unpooled_error >= pooled_error + 0.005
    chance, spread = chance_group_calibration_error(pd_, states_test, draws=500)
    assert chance == pytest.approx(0.0153, abs=0.001)
    assert national_error <= chance + spread
    # The metric's power at these sizes: a model 50 % too high in the four largest states
    # measures 0.0190, under two standard deviations above chance; twice too high, 0.0291.
    large = np.isin(states_test, ["CA", "TX", "NY", "FL"])
    assert group_calibration_error(y_test, np.where(large, pd_ * 1.5, pd_), states_test) \
        == pytest.approx(0.0190, abs=0.0005)
    assert group_calibration_error(y_test, np.where(large, pd_ * 2, pd_), states_test) \
        > chance + 4 * spread


def test_psi_flags_a_shifted_population(german: CreditData) -> None:
    model = fit_credit_model(german.frame, german.y, german.spec,
                             ModelConfig(weights=(1.0, 0.0, 0.0, 0.0))).model
    reference = score_reference(model.score(german.frame))
    same = monitoring_report(model, reference, german.frame, german.y)
    assert same["score"]["psi"] < 0.01
    assert all(v["status"] == "stable" for v in same["variables"])
    shifted = german.frame.copy()
    long_loans = shifted["duration_in_month"] >= 24
    shifted = pd.concat([shifted, shifted[long_loans], shifted[long_loans]], ignore_index=True)
    report = monitoring_report(model, reference, shifted)
    by_name = {v["variable"]: v for v in report["variables"]}
    assert by_name["duration_in_month"]["psi"] > 0.1
    assert by_name["duration_in_month"]["psi"] > by_name["housing"]["psi"]
    assert report["score"]["psi"] > same["score"]["psi"]
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.4 * np.log(1.8) - 0.4 * np.log(0.2))


def test_model_directory_round_trip_and_tamper_check(german: CreditData, tmp_path: Path) -> None:
    fitted = fit_credit_model(german.frame, german.y, german.spec, SMALL)
    model = fitted.model
    created = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    manifest = save_model(
        tmp_path / "m", model, score_reference(model.score(german.frame)), created=created,
        training={"rows": 1000, "bad_rate": 0.3, "target": "creditability"},
        metrics={"auc": round(auc(german.y, fitted.oof_pd), 4)},
    )
    assert manifest["version"].startswith("20261129080000-")
    assert set(manifest["files"]) == {"model.json", "points_table.csv", "challenger.txt",
                                      "forest.joblib", "onehot_forest.joblib"}
    assert {"numpy", "scikit-learn", "lightgbm", "optbinning"} <= set(manifest["libraries"])
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.model.predict_pd(german.frame),
                                  model.predict_pd(german.frame))
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["created"] == (
        "2026-11-29T08:00:00+00:00")
    with (tmp_path / "m" / "forest.joblib").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(InvalidInput, match=r"forest\.joblib"):
        load_model(tmp_path / "m")
    with pytest.raises(NotFound):
        load_model(tmp_path / "nothing")
