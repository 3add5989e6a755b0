"""Regional calibration with partial pooling: city → province → nation (or state → nation).

The national model ranks borrowers; a region's level of default can still differ from what the
national model expects there (local economy, habits, collection reach). For each level of a
region hierarchy, coarse to fine, and each region in it:

- ``n`` rows, ``d`` bads, and ``e`` the mean PD the model (with the coarser levels' offsets
  already applied) expects there;
- the region's true bad rate is taken as Beta-distributed around ``e`` with a prior strength
  ``k`` (pseudo-rows) that is estimated from all regions of the level at once, by maximising the
  beta-binomial marginal likelihood (empirical Bayes, type-II maximum likelihood over a grid);
- the pooled rate is ``(d + k·e) / (n + k)``: a small region keeps close to its parent, a large
  one moves toward what it observed;
- the region's logit offset ``δ`` is the shift that makes the mean of ``sigmoid(logit(PD) + δ)``
  over its rows equal the pooled rate. When the regions differ no more than chance would make
  them, ``k`` is large and every ``δ`` is near 0.

A region never seen in training gets the offset of its parent, the nation's being 0. The
calibration must be fitted on PDs the model did not train on (`FittedModel.oof_pd`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tailguard.risk.logistic import logit, sigmoid

FloatArray = npt.NDArray[np.float64]
PRIOR_STRENGTHS = np.logspace(0, 6, 241)
"""Grid of pseudo-row counts searched for the prior strength (1 … 1,000,000)."""


@dataclass(frozen=True)
class RegionOffset:
    region: str
    rows: int
    bads: int
    expected_bad_rate: float
    pooled_bad_rate: float
    offset: float


@dataclass(frozen=True)
class RegionLevel:
    name: str
    prior_strength: float
    regions: tuple[RegionOffset, ...]

    def offsets(self) -> dict[str, float]:
        return {r.region: r.offset for r in self.regions}


@dataclass(frozen=True)
class RegionalCalibration:
    levels: tuple[RegionLevel, ...]

    def logit_offsets(self, regions: Sequence[npt.ArrayLike]) -> FloatArray:
        """Summed offset per row; `regions` has one array per level, coarse to fine."""
        if len(regions) != len(self.levels):
            raise ValueError(f"expected {len(self.levels)} region columns, got {len(regions)}")
        keys = _keys(regions)
        total = np.zeros(len(keys[0]) if keys else 0)
        for level, level_keys in zip(self.levels, keys, strict=True):
            table = level.offsets()
            total += np.array([table.get(k, 0.0) for k in level_keys])
        return total

    def adjust(self, pd_: npt.ArrayLike, regions: Sequence[npt.ArrayLike]) -> FloatArray:
        return sigmoid(logit(pd_) + self.logit_offsets(regions))

    def to_json(self) -> dict[str, Any]:
        return {"levels": [{"name": lv.name, "prior_strength": lv.prior_strength,
                            "regions": [r.__dict__ for r in lv.regions]} for lv in self.levels]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegionalCalibration:
        return cls(tuple(
            RegionLevel(lv["name"], float(lv["prior_strength"]),
                        tuple(RegionOffset(**r) for r in lv["regions"]))
            for lv in data["levels"]))


def _keys(regions: Sequence[npt.ArrayLike]) -> list[list[str]]:
    """A region's key is its path (``44/4403``), so equal city names in two provinces differ."""
    columns = [["" if v is None else str(v) for v in np.asarray(r, dtype=object)]
               for r in regions]
    keys: list[list[str]] = []
    for depth in range(len(columns)):
        keys.append(["/".join(parts) for parts in zip(*columns[: depth + 1], strict=True)])
    return keys


def beta_binomial_strength(
    bads: FloatArray, rows: FloatArray, expected: FloatArray
) -> float:
    """The prior strength k maximising Σ log BB(d | n, k·e, k·(1−e)) over `PRIOR_STRENGTHS`."""
    from scipy.special import betaln

    e = np.clip(expected, 1e-6, 1 - 1e-6)[None, :]
    k = PRIOR_STRENGTHS[:, None]
    alpha, beta = k * e, k * (1 - e)
    loglik = (betaln(bads[None, :] + alpha, rows[None, :] - bads[None, :] + beta)
              - betaln(alpha, beta)).sum(axis=1)
    return float(PRIOR_STRENGTHS[int(np.argmax(loglik))])


def _solve_offset(z: FloatArray, target: float) -> float:
    """δ with mean(sigmoid(z + δ)) = target, by bisection (the mean rises with δ)."""
    target = min(max(target, 1e-6), 1 - 1e-6)
    low, high = -20.0, 20.0
    for _ in range(100):
        mid = (low + high) / 2
        if float(np.mean(sigmoid(z + mid))) < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def fit_regional_calibration(
    pd_: npt.ArrayLike, y: npt.ArrayLike, regions: Sequence[npt.ArrayLike],
    names: Sequence[str] | None = None, prior_strength: float | None = None,
) -> RegionalCalibration:
    """Offsets for each level of `regions` (coarse to fine), pooled toward the parent.

    `prior_strength` fixes k instead of estimating it: 0 is no pooling (every region
    recalibrated to exactly what it observed), which the tests use as the foil."""
    y_ = np.asarray(y, np.float64)
    z = logit(pd_)
    keys = _keys(regions)
    level_names = list(names) if names is not None else [f"level{i}" for i in range(len(keys))]
    levels: list[RegionLevel] = []
    for name, level_keys in zip(level_names, keys, strict=True):
        key_array = np.asarray(level_keys, dtype=object)
        groups = sorted(set(level_keys))
        members = [np.flatnonzero(key_array == g) for g in groups]
        rows = np.array([len(m) for m in members], np.float64)
        bads = np.array([y_[m].sum() for m in members], np.float64)
        expected = np.array([float(np.mean(sigmoid(z[m]))) for m in members])
        k = (beta_binomial_strength(bads, rows, expected) if prior_strength is None
             else prior_strength)
        offsets: list[RegionOffset] = []
        shift = np.zeros_like(z)
        for g, m, n, d, e in zip(groups, members, rows, bads, expected, strict=True):
            pooled = (d + k * e) / (n + k)
            delta = _solve_offset(z[m], pooled)
            shift[m] = delta
            offsets.append(RegionOffset(g, int(n), int(d), round(e, 6), round(pooled, 6),
                                        round(delta, 6)))
        z = z + shift
        levels.append(RegionLevel(name, k, tuple(offsets)))
    return RegionalCalibration(tuple(levels))
