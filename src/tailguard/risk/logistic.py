"""The logistic link and its inverse, in a module of their own so that code needing only them
(regional calibration inside the credit decision, which the API loads at start) does not pull
pandas, scikit-learn and optbinning in with the scorecard."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def logit(p: npt.ArrayLike) -> FloatArray:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


def sigmoid(z: npt.ArrayLike) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))), dtype=np.float64)
