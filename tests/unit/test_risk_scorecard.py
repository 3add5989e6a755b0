"""The champion scorecard's arithmetic: binning, WoE, PDO scaling, points, reasons, JSON.

Small and synthetic where the arithmetic is the point (values chosen so the answer is known),
German credit where the result has to agree with optbinning itself.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tailguard.errors import InvalidInput
from tailguard.risk.binning import MISSING, UNSEEN, Binning, fit_binning
from tailguard.risk.datasets import german_credit
from tailguard.risk.features import FeatureSpec, encode_target, infer_features, prepare
from tailguard.risk.scorecard import Platt, Scaling, Scorecard, fit_scorecard_regression


@pytest.fixture(scope="module")
def german_binning() -> tuple[Binning, pd.DataFrame, np.ndarray, FeatureSpec]:
    data = german_credit()
    return fit_binning(data.frame, data.y, data.spec), data.frame, data.y, data.spec


def test_scaling_puts_base_score_at_base_odds_and_pdo_doubles_the_odds() -> None:
    scaling = Scaling(base_score=600, base_odds=50, pdo=20)
    pd_at_base = 1 / 51  # good:bad odds of 50:1
    assert scaling.score_from_pd([pd_at_base])[0] == pytest.approx(600.0)
    pd_double = 1 / 101  # odds 100:1
    assert scaling.score_from_pd([pd_double])[0] == pytest.approx(620.0)
    assert scaling.pd_from_score([580.0])[0] == pytest.approx(1 / 26)
    other = Scaling(base_score=500, base_odds=20, pdo=40)
    assert other.score_from_pd([1 / 21])[0] == pytest.approx(500.0)


def test_woe_equals_optbinning_transform(german_binning: tuple) -> None:
    from optbinning import BinningProcess

    binning, frame, y, spec = german_binning
    process = BinningProcess(
        list(spec.columns), categorical_variables=list(spec.categorical), min_bin_size=0.05,
        binning_fit_params={c: {"monotonic_trend": "auto_asc_desc"} for c in spec.numeric},
    ).fit(frame, y)
    expected = process.transform(frame, metric="woe").to_numpy()
    np.testing.assert_allclose(binning.woe_matrix(frame), expected, atol=1e-12)


def test_numeric_bins_are_monotonic_in_bad_rate(german_binning: tuple) -> None:
    binning, *_ = german_binning
    for variable in binning.variables:
        if variable.kind != "numeric":
            continue
        rates = np.array([b.bad_rate for b in variable.bins])
        steps = np.diff(rates)
        assert (steps >= 0).all() or (steps <= 0).all(), variable.name
    duration = binning.variable("duration_in_month")
    assert duration.trend == 1  # longer loans go bad more often
    assert binning.variable("age_in_years").trend == -1


def test_missing_and_unseen_values_get_their_own_bins(german_binning: tuple) -> None:
    binning, *_ = german_binning
    purpose = binning.variable("purpose")
    index = purpose.bin_index(np.array([None, "a purpose never seen", "education"], dtype=object))
    assert index[0] == MISSING and index[1] == UNSEEN and index[2] >= 0
    np.testing.assert_array_equal(purpose.woe_of_index(index[:2]), [0.0, 0.0])
    duration = binning.variable("duration_in_month")
    split = duration.splits[0]
    assert duration.bin_index([split - 1e-9, split, np.nan]).tolist() == [0, 1, MISSING]


def test_points_add_up_to_the_score_and_the_score_to_the_calibrated_pd(
    german_binning: tuple,
) -> None:
    binning, frame, y, _ = german_binning
    woe = binning.woe_matrix(frame)
    coefficients, intercept = fit_scorecard_regression(
        woe, y, np.array([v.iv for v in binning.variables]))
    card = Scorecard(binning, coefficients, intercept, Platt(0.1, 0.9), Scaling())
    total = card.base_points + card.points(frame).sum(axis=1)
    np.testing.assert_allclose(card.score(frame), total)
    np.testing.assert_allclose(card.scaling.pd_from_score(card.score(frame)),
                               card.predict_pd(frame), rtol=1e-9)
    # every kept variable has a negative coefficient: a better (higher-WoE) bin earns points
    assert all(c <= 0 for c in coefficients)
    assert sum(c != 0 for c in coefficients) >= 8
    table = pd.DataFrame(card.points_table())
    checking = table[table["variable"] == "status_of_existing_checking_account"]
    worst_bin = checking.loc[checking["bad_rate"].idxmax()]
    assert worst_bin["points"] == checking["points"].min()


def test_reasons_are_the_largest_shortfalls_in_order_with_chinese_and_english(
    german_binning: tuple,
) -> None:
    binning, frame, y, _ = german_binning
    coefficients, intercept = fit_scorecard_regression(
        binning.woe_matrix(frame), y, np.array([v.iv for v in binning.variables]))
    card = Scorecard(binning, coefficients, intercept, Platt(), Scaling())
    shortfall = card.best_points()[None, :] - card.points(frame)
    reasons = card.reasons(frame, top=3)
    for row, row_reasons in zip(shortfall[:50], reasons[:50], strict=True):
        expected = [binning.names[j] for j in np.argsort(-row, kind="stable")[:3] if row[j] > 0.5]
        assert [r.code for r in row_reasons] == expected
        values = [r.points_below_best for r in row_reasons]
        assert values == sorted(values, reverse=True)
    best_row = int(np.argmin(shortfall.sum(axis=1)))
    worst_row = int(np.argmax(shortfall.sum(axis=1)))
    assert len(reasons[worst_row]) == 3
    assert len(reasons[best_row]) <= len(reasons[worst_row])
    first = reasons[worst_row][0]
    assert first.zh != first.code and "分" in first.text_zh and "points" in first.text_en


def test_scorecard_round_trips_through_json(german_binning: tuple) -> None:
    binning, frame, y, _ = german_binning
    coefficients, intercept = fit_scorecard_regression(
        binning.woe_matrix(frame), y, np.array([v.iv for v in binning.variables]))
    card = Scorecard(binning, coefficients, intercept, Platt(0.2, 1.1), Scaling(650, 30, 40))
    again = Scorecard.from_json(card.to_json())
    np.testing.assert_array_equal(again.score(frame), card.score(frame))


def test_target_encoding_and_missing_columns() -> None:
    assert encode_target(pd.Series(["good", "bad", "good", "bad"])).tolist() == [0, 1, 0, 1]
    assert encode_target(pd.Series([0, 1, 1, 0, 0])).tolist() == [0, 1, 1, 0, 0]
    assert encode_target(pd.Series(["N", "Y", "Y", "N"]), "Y").tolist() == [0, 1, 1, 0]
    with pytest.raises(InvalidInput, match="cannot tell"):
        encode_target(pd.Series(["N", "Y", "Y", "N"]))
    with pytest.raises(InvalidInput, match="does not occur"):
        encode_target(pd.Series(["N", "Y", "Y", "N"]), "bad")
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None], "c": [3.5, None]})
    spec = infer_features(frame)
    assert spec == FeatureSpec(("a", "c"), ("b",))
    with pytest.raises(InvalidInput) as error:
        prepare(frame.drop(columns=["a", "b"]), spec)
    assert "a, b" in str(error.value)
    prepared = prepare(frame, spec)
    assert prepared["b"].tolist() == ["x", None]
    assert math.isnan(prepared["c"].iloc[1])
