"""A regularised logistic regression on one-hot categories and standardised numbers.

The scorecard groups a variable's values into a few bins; this member keeps every category and
the numbers' full resolution (a loan's interest rate, say), which the credit-scoring literature
and our own measurements (docs/risk.md) find complementary. Numbers are clipped to their
training 0.5 %–99.5 % quantiles, missing ones get the training median and an indicator;
categories are one-hot, a missing value is its own category, a category never seen in training
gets all zeros. Everything is kept as plain numbers, so the member is saved as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tailguard.risk.binning import FloatArray
from tailguard.risk.features import FeatureSpec, is_missing
from tailguard.risk.logistic import sigmoid

MISSING_CATEGORY = "(missing)"


@dataclass(frozen=True)
class NumericColumn:
    name: str
    low: float
    high: float
    median: float
    mean: float
    scale: float
    has_missing: bool


@dataclass(frozen=True)
class LinearModel:
    numeric: tuple[NumericColumn, ...]
    categories: tuple[tuple[str, tuple[str, ...]], ...]
    coefficients: tuple[float, ...]
    intercept: float

    def design(self, frame: pd.DataFrame) -> FloatArray:
        columns: list[FloatArray] = []
        for col in self.numeric:
            x = frame[col.name].to_numpy(dtype=np.float64)
            missing = np.isnan(x)
            filled = np.clip(np.where(missing, col.median, x), col.low, col.high)
            columns.append((filled - col.mean) / col.scale)
            if col.has_missing:
                columns.append(missing.astype(np.float64))
        for name, levels in self.categories:
            values = np.array([MISSING_CATEGORY if is_missing(v) else str(v)
                               for v in frame[name].to_numpy(dtype=object)], dtype=object)
            for level in levels:
                columns.append((values == level).astype(np.float64))
        return np.column_stack(columns) if columns else np.zeros((len(frame), 0))

    def predict_pd(self, frame: pd.DataFrame) -> FloatArray:
        return sigmoid(self.intercept + self.design(frame) @ np.asarray(self.coefficients))

    def to_json(self) -> dict[str, Any]:
        return {"numeric": [c.__dict__ for c in self.numeric],
                "categories": [[name, list(levels)] for name, levels in self.categories],
                "coefficients": list(self.coefficients), "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearModel:
        return cls(tuple(NumericColumn(**c) for c in data["numeric"]),
                   tuple((name, tuple(levels)) for name, levels in data["categories"]),
                   tuple(data["coefficients"]), float(data["intercept"]))


def fit_linear(
    frame: pd.DataFrame, y: npt.NDArray[np.int64], spec: FeatureSpec, *, c: float = 0.1
) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    encoding = fit_encoding(frame, spec)
    model = LogisticRegression(C=c, max_iter=5000).fit(encoding.design(frame), y)
    return LinearModel(encoding.numeric, encoding.categories,
                       tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0]))


def fit_encoding(frame: pd.DataFrame, spec: FeatureSpec) -> LinearModel:
    """The encoding alone (clip bounds, medians, scales, categories; no coefficients), which
    the kernel member shares (`tailguard.risk.kernel`)."""
    numeric = []
    for name in spec.numeric:
        x = frame[name].to_numpy(dtype=np.float64)
        seen = x[~np.isnan(x)]
        if len(seen) == 0:
            seen = np.zeros(1)
        low, high = (float(q) for q in np.quantile(seen, [0.005, 0.995]))
        clipped = np.clip(seen, low, high)
        numeric.append(NumericColumn(
            name, low, high, float(np.median(seen)), float(clipped.mean()),
            float(clipped.std()) or 1.0, bool(np.isnan(x).any()),
        ))
    categories = []
    for name in spec.categorical:
        values = {MISSING_CATEGORY if is_missing(v) else str(v)
                  for v in frame[name].to_numpy(dtype=object)}
        categories.append((name, tuple(sorted(values))))
    return LinearModel(tuple(numeric), tuple(categories), (), 0.0)
