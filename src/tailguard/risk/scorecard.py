"""The champion: WoE logistic regression as a points table, scaled by PDO.

Scaling: ``score = offset + factor × ln(odds of good)`` with ``factor = pdo / ln 2`` and
``offset = base_score − factor × ln(base_odds)``, so `base_score` points mean good:bad odds of
`base_odds`, and every `pdo` points double the odds. With the regression's log-odds of bad
``a + b·(β₀ + Σ βⱼ·WoEⱼ)`` (a, b: the Platt calibration fitted on out-of-fold predictions), the
score splits exactly into base points ``offset − factor·(a + b·β₀)`` plus, per variable,
``−factor·b·βⱼ·WoE(bin)``: the sum of a row's points is its score, and the score maps back to the
calibrated PD.

Reasons: per variable, how many points the row's bin gets below the best bin of that variable;
the variables with the largest shortfalls, in order, are the reasons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tailguard.risk.binning import Binning, FloatArray
from tailguard.risk.logistic import logit, sigmoid
from tailguard.risk.reasons import Reason, label


@dataclass(frozen=True)
class Scaling:
    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def score_from_pd(self, pd_: npt.ArrayLike) -> FloatArray:
        p = np.clip(np.asarray(pd_, dtype=np.float64), 1e-9, 1 - 1e-9)
        return np.asarray(self.offset + self.factor * np.log((1 - p) / p), dtype=np.float64)

    def pd_from_score(self, score: npt.ArrayLike) -> FloatArray:
        s = np.asarray(score, dtype=np.float64)
        return np.asarray(1.0 / (1.0 + np.exp((s - self.offset) / self.factor)), np.float64)


@dataclass(frozen=True)
class Platt:
    """Calibration on the log-odds: ``logit(p') = a + b·logit(p)``."""

    a: float = 0.0
    b: float = 1.0

    def logit(self, p: npt.ArrayLike) -> FloatArray:
        return np.asarray(self.a + self.b * logit(p), dtype=np.float64)

    def __call__(self, p: npt.ArrayLike) -> FloatArray:
        return sigmoid(self.logit(p))


def fit_platt(p: npt.ArrayLike, y: npt.NDArray[np.int64]) -> Platt:
    """Platt scaling of predicted probabilities against outcomes (nearly unregularised)."""
    from sklearn.linear_model import LogisticRegression

    z = logit(p).reshape(-1, 1)
    model = LogisticRegression(C=1e4, max_iter=1000).fit(z, y)
    return Platt(float(model.intercept_[0]), float(model.coef_[0, 0]))


@dataclass(frozen=True)
class Scorecard:
    """Binning, regression coefficients (0 for variables left out) and calibration."""

    binning: Binning
    coefficients: tuple[float, ...]
    intercept: float
    calibration: Platt
    scaling: Scaling

    def raw_logit(self, frame: pd.DataFrame) -> FloatArray:
        w = self.binning.woe_matrix(frame)
        return np.asarray(self.intercept + w @ np.asarray(self.coefficients), dtype=np.float64)

    def raw_pd(self, frame: pd.DataFrame) -> FloatArray:
        return sigmoid(self.raw_logit(frame))

    def predict_pd(self, frame: pd.DataFrame) -> FloatArray:
        return sigmoid(self.calibration.a + self.calibration.b * self.raw_logit(frame))

    @property
    def base_points(self) -> float:
        c = self.calibration
        return self.scaling.offset - self.scaling.factor * (c.a + c.b * self.intercept)

    def _multipliers(self) -> FloatArray:
        return -self.scaling.factor * self.calibration.b * np.asarray(self.coefficients)

    def points(self, frame: pd.DataFrame) -> FloatArray:
        """Points per row and variable (columns in binning order)."""
        return np.asarray(self.binning.woe_matrix(frame) * self._multipliers(), np.float64)

    def score(self, frame: pd.DataFrame) -> FloatArray:
        return np.asarray(self.base_points + self.points(frame).sum(axis=1), np.float64)

    def best_points(self) -> FloatArray:
        best = []
        for variable, m in zip(self.binning.variables, self._multipliers(), strict=True):
            observed = [b.woe * m for b in variable.bins if b.count] or [0.0]
            best.append(max(observed))
        return np.asarray(best, dtype=np.float64)

    def reasons(self, frame: pd.DataFrame, top: int = 4) -> list[list[Reason]]:
        """For each row, up to `top` variables whose points fall furthest below their best bin
        (ties broken by variable order; variables at their best are never reasons)."""
        shortfall = self.best_points()[None, :] - self.points(frame)
        names = self.binning.names
        out: list[list[Reason]] = []
        for row in shortfall:
            order = np.argsort(-row, kind="stable")[:top]
            reasons = []
            for j in order:
                if row[j] <= 0.5:
                    break
                zh, en = label(names[j])
                reasons.append(Reason(names[j], zh, en, float(round(row[j], 1))))
            out.append(reasons)
        return out

    def points_table(self) -> list[dict[str, Any]]:
        """One row per bin (and the missing bin): variable, bin, count, bad rate, WoE, points."""
        rows: list[dict[str, Any]] = [{"variable": "(base)", "bin": "", "points":
                                       round(self.base_points, 2)}]
        for variable, m in zip(self.binning.variables, self._multipliers(), strict=True):
            if m == 0:
                continue
            for b in (*variable.bins, variable.missing):
                rows.append({
                    "variable": variable.name, "bin": b.label, "count": b.count,
                    "bad_rate": round(b.bad_rate, 4), "woe": round(b.woe, 4),
                    "points": round(float(b.woe * m), 2),
                })
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "binning": self.binning.to_json(), "coefficients": list(self.coefficients),
            "intercept": self.intercept, "calibration": self.calibration.__dict__,
            "scaling": self.scaling.__dict__,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scorecard:
        return cls(
            Binning.from_json(data["binning"]), tuple(data["coefficients"]),
            float(data["intercept"]), Platt(**data["calibration"]), Scaling(**data["scaling"]),
        )


def fit_scorecard_regression(
    woe: FloatArray, y: npt.NDArray[np.int64], ivs: FloatArray, *, c: float = 0.3,
    min_iv: float = 0.02,
) -> tuple[tuple[float, ...], float]:
    """L2 logistic regression on WoE columns with IV at least `min_iv`; a variable whose
    coefficient comes out with the wrong sign (a good bin raising the PD, from collinearity) is
    dropped and the rest refitted, so every kept variable's points rise with its WoE."""
    from sklearn.linear_model import LogisticRegression

    keep = [j for j in range(woe.shape[1]) if ivs[j] >= min_iv]
    if not keep:
        keep = [int(np.argmax(ivs))]
    while True:
        model = LogisticRegression(C=c, max_iter=2000).fit(woe[:, keep], y)
        coef = model.coef_[0]
        worst = int(np.argmax(coef))
        if coef[worst] <= 0 or len(keep) == 1:
            break
        del keep[worst]
    full = np.zeros(woe.shape[1])
    full[keep] = coef
    return tuple(float(v) for v in full), float(model.intercept_[0])
