"""Monitoring: population stability of the score and of each variable, discrimination and
calibration of a model on a new sample.

PSI (population stability index) compares the share of rows in each bin now (a) with the share
at training (r): ``PSI = Σ (a − r)·ln(a / r)``, shares floored at 0.0001. Rules of thumb: under
0.10 stable, 0.10–0.25 worth a look, above 0.25 shifted. Score bins are the deciles of the
training scores; a variable's bins are its scorecard bins plus the missing bin (and, for
categories never seen in training, an "unseen" bin whose training share is 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tailguard.risk.binning import MISSING, UNSEEN, Binning, FloatArray
from tailguard.risk.evaluation import (
    auc,
    brier,
    calibration_by_group,
    expected_calibration_error,
    group_calibration_error,
    ks,
)
from tailguard.risk.model import CreditModel
from tailguard.risk.regional import RegionalCalibration

FLOOR = 1e-4


def psi(reference: npt.ArrayLike, actual: npt.ArrayLike) -> float:
    r = np.maximum(np.asarray(reference, np.float64), FLOOR)
    a = np.maximum(np.asarray(actual, np.float64), FLOOR)
    return float(np.sum((a - r) * np.log(a / r)))


def psi_status(value: float) -> str:
    return "stable" if value < 0.10 else "watch" if value <= 0.25 else "shifted"


@dataclass(frozen=True)
class Reference:
    """What the training sample looked like: score decile edges and shares."""

    score_edges: tuple[float, ...]
    score_shares: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {"score_edges": list(self.score_edges), "score_shares": list(self.score_shares)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reference:
        return cls(tuple(data["score_edges"]), tuple(data["score_shares"]))


def score_reference(scores: npt.ArrayLike, bins: int = 10) -> Reference:
    s = np.asarray(scores, np.float64)
    edges = np.unique(np.quantile(s, np.linspace(0, 1, bins + 1)[1:-1]))
    return Reference(tuple(float(e) for e in edges), tuple(_shares(s, edges)))


def _shares(values: FloatArray, edges: npt.ArrayLike) -> list[float]:
    index = np.searchsorted(np.asarray(edges, np.float64), values, side="right")
    counts = np.bincount(index, minlength=len(np.asarray(edges)) + 1)
    return [float(c) / max(len(values), 1) for c in counts]


def variable_psi(binning: Binning, frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for v in binning.variables:
        reference_counts = np.array([b.count for b in v.bins] + [v.missing.count, 0], np.float64)
        index = v.bin_index(frame[v.name].to_numpy())
        position = np.where(index >= 0, index,
                            np.where(index == MISSING, len(v.bins), len(v.bins) + 1))
        counts = np.bincount(position, minlength=len(v.bins) + 2).astype(np.float64)
        value = psi(reference_counts / reference_counts.sum(), counts / max(len(frame), 1))
        out.append({"variable": v.name, "psi": round(value, 4), "status": psi_status(value),
                    "unseen_categories": int((index == UNSEEN).sum())})
    return out


def monitoring_report(
    model: CreditModel, reference: Reference, frame: pd.DataFrame,
    y: npt.NDArray[np.int64] | None = None, regions: npt.ArrayLike | None = None,
    regional: RegionalCalibration | None = None,
) -> dict[str, Any]:
    """The report for `frame` (prepared): stability always; AUC, KS, Brier and calibration when
    outcomes `y` are given; calibration by region when `regions` is given too (with the
    regional calibration applied when the model has one)."""
    pd_ = model.predict_pd(frame)
    scores = model.config.scaling.score_from_pd(pd_)
    score_psi = psi(reference.score_shares, _shares(scores, reference.score_edges))
    report: dict[str, Any] = {
        "rows": len(frame),
        "mean_pd": round(float(pd_.mean()), 4),
        "score": {"mean": round(float(scores.mean()), 1), "psi": round(score_psi, 4),
                  "status": psi_status(score_psi)},
        "variables": variable_psi(model.members.scorecard.binning, frame),
    }
    if y is not None:
        report["performance"] = {
            "bad_rate": round(float(np.mean(y)), 4), "auc": round(auc(y, pd_), 4),
            "ks": round(ks(y, pd_), 4), "brier": round(brier(y, pd_), 5),
            "calibration_error": round(expected_calibration_error(y, pd_), 4),
        }
        if regions is not None:
            region_values = np.asarray(regions, dtype=object)
            national = {"error": round(group_calibration_error(y, pd_, region_values), 5),
                        "by_region": calibration_by_group(y, pd_, region_values)}
            report["calibration_by_region"] = {"national": national}
            if regional is not None:
                adjusted = regional.adjust(pd_, [region_values])
                report["calibration_by_region"]["regional"] = {
                    "error": round(group_calibration_error(y, adjusted, region_values), 5),
                    "by_region": calibration_by_group(y, adjusted, region_values),
                }
    return report
