"""A support-vector machine with a Gaussian (RBF) kernel on the linear member's design.

Why: the other members are additive in their inputs (the scorecard, the linear member) or cut
them into boxes (the trees); a kernel machine scores an applicant by their similarity to the
training applicants, so it sees interactions the others miss without their step functions.
On German credit it is the member that added most to the blend (docs/risk.md), as the
credit-scoring benchmarks found for kernel methods on small application sets.

It reads the same one-hot categories and clipped, standardised numbers as
`tailguard.risk.linear` (that module's `LinearModel.design`, with no coefficients) and keeps its
fitted state as plain numbers: support vectors, their dual coefficients, the intercept and the
kernel width. Its output is the SVM's decision value (a log-odds-like score, not a PD); the
model's out-of-fold Platt calibration turns it into one. Saved as JSON, no pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tailguard.risk.binning import FloatArray
from tailguard.risk.features import FeatureSpec
from tailguard.risk.linear import LinearModel, fit_encoding
from tailguard.risk.logistic import sigmoid

_CHUNK = 2048
"""Rows scored at a time, bounding the rows × support-vectors kernel matrix in memory."""


@dataclass(frozen=True)
class KernelModel:
    design: LinearModel
    """The encoding only (its coefficients are not used)."""
    support: FloatArray
    """Support vectors, one row each, in the design's columns."""
    dual: FloatArray
    """Dual coefficient (label × alpha) of each support vector, positive for bad."""
    intercept: float
    gamma: float

    def decision(self, frame: pd.DataFrame) -> FloatArray:
        """The SVM decision value: higher is riskier."""
        x = self.design.design(frame)
        out = np.empty(len(x))
        sv_norm = np.einsum("ij,ij->i", self.support, self.support)
        for start in range(0, len(x), _CHUNK):
            block = x[start:start + _CHUNK]
            distance = (np.einsum("ij,ij->i", block, block)[:, None] + sv_norm[None, :]
                        - 2.0 * block @ self.support.T)
            kernel = np.exp(-self.gamma * np.maximum(distance, 0.0))
            out[start:start + _CHUNK] = kernel @ self.dual + self.intercept
        return out

    def predict_pd(self, frame: pd.DataFrame) -> FloatArray:
        """An uncalibrated PD (the logistic of the decision value), for the model's blend slot;
        its ranking is the decision value's."""
        return sigmoid(self.decision(frame))

    def to_json(self) -> dict[str, Any]:
        return {"design": self.design.to_json(), "support": self.support.tolist(),
                "dual": self.dual.tolist(), "intercept": self.intercept, "gamma": self.gamma}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KernelModel:
        support = np.asarray(data["support"], dtype=np.float64)
        return cls(LinearModel.from_json(data["design"]),
                   support.reshape(len(data["dual"]), -1) if support.size else support,
                   np.asarray(data["dual"], dtype=np.float64), float(data["intercept"]),
                   float(data["gamma"]))


def fit_kernel(
    frame: pd.DataFrame, y: npt.NDArray[np.int64], spec: FeatureSpec, *, c: float = 1.0,
    max_rows: int = 5000, seed: int = 0,
) -> KernelModel:
    """Fit an RBF SVM with scikit-learn's `gamma="scale"` (1 / (columns × variance)).

    An SVM's fitting time grows with the square of the rows or worse, and its support vectors
    are stored and scored against every applicant, so above `max_rows` it is fitted on a
    random `max_rows` of them (bads and goods in their proportion); the encoding always sees
    every row."""
    from sklearn.svm import SVC

    encoding = fit_encoding(frame, spec)
    x = encoding.design(frame)
    if len(y) > max_rows:
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(len(y)), train_size=max_rows, stratify=y,
                                   random_state=seed)
        x, y = x[np.sort(keep)], y[np.sort(keep)]
    variance = float(x.var())
    gamma = 1.0 / (x.shape[1] * variance) if x.shape[1] and variance > 0 else 1.0
    svm = SVC(C=c, kernel="rbf", gamma=gamma).fit(x, y)
    # scikit-learn's decision value is positive for classes_[1], which is 1 (bad) here.
    return KernelModel(encoding, np.asarray(svm.support_vectors_, dtype=np.float64),
                       np.asarray(svm.dual_coef_[0], dtype=np.float64),
                       float(svm.intercept_[0]), gamma)
