"""Measures of a PD model and the cross-validation that keeps test rows out of training.

`cross_validate` is the one place folds are made: the `fit_predict` it is given receives the
training rows of a fold (frame and target) and the test rows' features only, never their
target, and is called with copies so nothing it does to them can reach another fold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
FitPredict = Callable[[pd.DataFrame, IntArray, pd.DataFrame], FloatArray]


def auc(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(y), np.asarray(p)))


def ks(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Kolmogorov–Smirnov: the largest gap between the cumulative shares of bads and goods
    ranked by predicted PD."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(y), np.asarray(p))
    return float(np.max(tpr - fpr))


def brier(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    return float(np.mean((np.asarray(p, np.float64) - np.asarray(y, np.float64)) ** 2))


def expected_calibration_error(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> float:
    """Row-weighted mean |observed bad rate − mean PD| over `bins` equal-count PD bins."""
    y_ = np.asarray(y, np.float64)
    p_ = np.asarray(p, np.float64)
    order = np.argsort(p_, kind="stable")
    total = 0.0
    for part in np.array_split(order, bins):
        if len(part):
            total += len(part) * abs(y_[part].mean() - p_[part].mean())
    return total / len(y_)


def group_calibration_error(
    y: npt.ArrayLike, p: npt.ArrayLike, groups: npt.ArrayLike
) -> float:
    """Row-weighted mean over groups of |observed bad rate − mean PD|: how far the model's
    level is off region by region."""
    frame = pd.DataFrame({"y": np.asarray(y, np.float64), "p": np.asarray(p, np.float64),
                          "g": np.asarray(groups, dtype=object)})
    per = frame.groupby("g", sort=True).agg(n=("y", "size"), y=("y", "mean"), p=("p", "mean"))
    return float((per["n"] * (per["y"] - per["p"]).abs()).sum() / per["n"].sum())


def chance_group_calibration_error(
    p: npt.ArrayLike, groups: npt.ArrayLike, draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Mean and standard deviation of `group_calibration_error` when the outcomes are drawn
    from `p` itself, i.e. when the model is exactly right in every group.

    A measured error at or below this level is what binomial noise alone leaves in groups of
    these sizes: no regional recalibration can be shown to improve on it with these rows.
    Column-wise: one bincount per draw over all groups."""
    p_ = np.asarray(p, np.float64)
    _, inverse = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    rows = np.bincount(inverse).astype(np.float64)
    expected = np.bincount(inverse, p_) / rows
    rng = np.random.default_rng(seed)
    errors = np.empty(draws)
    for k in range(draws):
        observed = np.bincount(inverse, rng.random(len(p_)) < p_, minlength=len(rows)) / rows
        errors[k] = float((rows * np.abs(observed - expected)).sum() / rows.sum())
    return float(errors.mean()), float(errors.std())


def calibration_by_group(
    y: npt.ArrayLike, p: npt.ArrayLike, groups: npt.ArrayLike
) -> list[dict[str, object]]:
    frame = pd.DataFrame({"y": np.asarray(y, np.float64), "p": np.asarray(p, np.float64),
                          "g": np.asarray(groups, dtype=object)})
    per = frame.groupby("g", sort=True).agg(n=("y", "size"), y=("y", "mean"), p=("p", "mean"))
    return [{"group": str(g), "rows": int(r.n), "observed_bad_rate": round(float(r.y), 4),
             "mean_pd": round(float(r.p), 4)} for g, r in per.iterrows()]


def repeated_splits(
    y: npt.ArrayLike, n_splits: int = 2, n_repeats: int = 5, seed: int = 0
) -> list[tuple[IntArray, IntArray]]:
    """Repeated stratified k-fold (Lessmann et al.'s 5 × 2 by default), fixed by `seed`."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    y_ = np.asarray(y)
    folds = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    return [(np.asarray(tr, np.int64), np.asarray(te, np.int64))
            for tr, te in folds.split(np.zeros(len(y_)), y_)]


@dataclass(frozen=True)
class CvResult:
    aucs: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.aucs))

    @property
    def std(self) -> float:
        return float(np.std(self.aucs))


def cross_validate(
    frame: pd.DataFrame, y: npt.ArrayLike, fit_predict: FitPredict,
    splits: list[tuple[IntArray, IntArray]],
) -> CvResult:
    """AUC on each test fold of `fit_predict` trained on the fold's training rows only."""
    y_ = np.asarray(y, np.int64)
    aucs = []
    for train, test in splits:
        p = fit_predict(frame.iloc[train].reset_index(drop=True).copy(), y_[train].copy(),
                        frame.iloc[test].reset_index(drop=True).copy())
        aucs.append(auc(y_[test], p))
    return CvResult(tuple(aucs))
