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


# -- two periods, by region ----------------------------------------------------------------
def _performance(y: npt.NDArray[np.int64], p: FloatArray) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": len(y), "bads": int(np.sum(y)),
                           "bad_rate": round(float(np.mean(y)), 4) if len(y) else None,
                           "mean_pd": round(float(np.mean(p)), 4) if len(p) else None}
    if len(y) and 0 < int(np.sum(y)) < len(y):
        out |= {"auc": round(auc(y, p), 4), "ks": round(ks(y, p), 4),
                "brier": round(brier(y, p), 5),
                "calibration_gap": round(float(np.mean(p) - np.mean(y)), 4)}
    else:  # one class only: discrimination is undefined, the level still says something
        out |= {"auc": None, "ks": None, "brier": round(brier(y, p), 5) if len(y) else None,
                "calibration_gap": (round(float(np.mean(p) - np.mean(y)), 4)
                                    if len(y) else None)}
    return out


def _variable_psi_between(binning: Binning, reference: pd.DataFrame, current: pd.DataFrame
                          ) -> list[dict[str, Any]]:
    out = []
    for v in binning.variables:
        positions = []
        for frame in (reference, current):
            index = v.bin_index(frame[v.name].to_numpy())
            position = np.where(index >= 0, index,
                                np.where(index == MISSING, len(v.bins), len(v.bins) + 1))
            counts = np.bincount(position, minlength=len(v.bins) + 2).astype(np.float64)
            positions.append(counts / max(len(frame), 1))
        value = psi(positions[0], positions[1])
        out.append({"variable": v.name, "psi": round(value, 4), "status": psi_status(value)})
    return sorted(out, key=lambda item: -float(item["psi"]))


def _period_block(model: CreditModel, reference: pd.DataFrame, current: pd.DataFrame,
                  y_ref: npt.NDArray[np.int64] | None, y_cur: npt.NDArray[np.int64] | None
                  ) -> dict[str, Any]:
    p_ref, p_cur = model.predict_pd(reference), model.predict_pd(current)
    s_ref = model.config.scaling.score_from_pd(p_ref)
    s_cur = model.config.scaling.score_from_pd(p_cur)
    edges = score_reference(s_ref).score_edges if len(s_ref) else ()
    score_psi = psi(_shares(s_ref, edges), _shares(s_cur, edges))
    block: dict[str, Any] = {
        "rows_reference": len(reference), "rows_current": len(current),
        "score": {"mean_reference": round(float(s_ref.mean()), 1) if len(s_ref) else None,
                  "mean_current": round(float(s_cur.mean()), 1) if len(s_cur) else None,
                  "psi": round(score_psi, 4), "status": psi_status(score_psi)},
        "variables": _variable_psi_between(model.members.scorecard.binning, reference,
                                           current),
    }
    if y_ref is not None:
        block["reference"] = _performance(y_ref, p_ref)
    if y_cur is not None:
        block["current"] = _performance(y_cur, p_cur)
    return block


def compare_periods(
    model: CreditModel, reference: pd.DataFrame, current: pd.DataFrame, *,
    y_reference: npt.NDArray[np.int64] | None = None,
    y_current: npt.NDArray[np.int64] | None = None,
    regions_reference: npt.ArrayLike | None = None,
    regions_current: npt.ArrayLike | None = None, min_rows: int = 30,
) -> dict[str, Any]:
    """Monitoring between a reference period and a current one (frames as from `prepare`):
    PSI of the score (reference deciles) and of every scorecard variable, AUC, KS, Brier and
    calibration gap (mean PD − observed bad rate) of each period when its outcomes are given;
    all of it overall and, with regions, for each region (province) with at least `min_rows`
    rows in both periods. Smaller regions are listed with their row counts only: a PSI or an
    AUC of a handful of loans is noise, not drift."""
    report: dict[str, Any] = {"overall": _period_block(model, reference, current,
                                                        y_reference, y_current)}
    if regions_reference is None or regions_current is None:
        return report
    r_ref = np.asarray(regions_reference, dtype=object)
    r_cur = np.asarray(regions_current, dtype=object)
    rows = []
    for region in sorted(set(r_ref.tolist()) | set(r_cur.tolist()), key=str):
        a, b = r_ref == region, r_cur == region
        item: dict[str, Any] = {"region": str(region), "rows_reference": int(a.sum()),
                                "rows_current": int(b.sum())}
        if a.sum() >= min_rows and b.sum() >= min_rows:
            block = _period_block(
                model, reference[a].reset_index(drop=True), current[b].reset_index(drop=True),
                None if y_reference is None else y_reference[a],
                None if y_current is None else y_current[b])
            block["variables"] = block["variables"][:5]  # the five that moved most
            item |= block
        rows.append(item)
    report["by_region"] = rows
    shifted = [r["region"] for r in rows if r.get("score", {}).get("status") == "shifted"]
    report["regions_shifted"] = shifted
    return report
