"""Which columns a model reads, how a frame is coerced to them, and how a target becomes 0/1.

A model's inputs are named once, in a `FeatureSpec`: numeric columns (anything pandas reads as a
number) and categorical ones (the rest). `prepare` checks a frame against the spec before any
arithmetic and refuses it with `InvalidInput` naming every missing column, so a scorer fed the
wrong file says so in one line instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tailguard.errors import InvalidInput

BAD_WORDS = frozenset({"bad", "1", "1.0", "true", "yes", "default", "charged off"})
"""Target values read as bad when no `bad_value` is given (compared case-insensitively)."""


@dataclass(frozen=True)
class FeatureSpec:
    """The model's input columns, in the order the model uses them."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def to_json(self) -> dict[str, list[str]]:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(tuple(data["numeric"]), tuple(data["categorical"]))


def infer_features(frame: pd.DataFrame, exclude: Iterable[str] = ()) -> FeatureSpec:
    """Numeric dtypes become numeric features, every other column categorical (booleans too)."""
    skip = set(exclude)
    numeric: list[str] = []
    categorical: list[str] = []
    for name in frame.columns:
        if name in skip:
            continue
        dtype = frame[name].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            numeric.append(str(name))
        else:
            categorical.append(str(name))
    if not numeric and not categorical:
        raise InvalidInput.one("data", "no_features", "the file has no feature columns")
    return FeatureSpec(tuple(numeric), tuple(categorical))


def missing_columns(frame: pd.DataFrame, required: Sequence[str]) -> list[str]:
    present = {str(c) for c in frame.columns}
    return [name for name in required if name not in present]


def prepare(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The spec's columns of `frame`, numeric as float (unparseable text becomes missing) and
    categorical as text with missing kept as None; the frame's row order is kept."""
    missing = missing_columns(frame, spec.columns)
    if missing:
        raise InvalidInput.one(
            "data", "missing_columns", f"missing column(s): {', '.join(missing)}"
        )
    out: dict[str, Any] = {}
    for name in spec.numeric:
        out[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
    for name in spec.categorical:
        # object dtype keeps None as None (pandas 3 would otherwise infer `str` with NaN)
        out[name] = pd.Series(categorical_values(frame[name]), dtype=object)
    return pd.DataFrame(out, columns=list(spec.columns), index=pd.RangeIndex(len(frame)))


def categorical_values(column: pd.Series) -> npt.NDArray[np.object_]:
    """Text values as an object array, None where missing; numbers are written without a
    trailing ``.0`` so `1` and `1.0` are the same category."""
    values = column.to_numpy(dtype=object)
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        if is_missing(value):
            out[i] = None
        elif isinstance(value, float) and value.is_integer():
            out[i] = str(int(value))
        else:
            out[i] = str(value)
    return out


def is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def encode_target(column: pd.Series, bad_value: str | None = None) -> npt.NDArray[np.int64]:
    """1 for bad, 0 for good. With `bad_value`, a row is bad when its text equals it; without,
    the words of `BAD_WORDS` are bad and the target must have exactly two values."""
    if column.isna().any():
        raise InvalidInput.one("target", "missing", "the target column has missing values")
    text = np.array([_text(v) for v in column.to_numpy(dtype=object)], dtype=object)
    distinct = sorted(set(text.tolist()))
    if bad_value is not None:
        wanted = _text(bad_value)
        if wanted not in distinct:
            raise InvalidInput.one(
                "bad_value", "absent",
                f"{bad_value!r} does not occur in the target (values: {', '.join(distinct[:10])})",
            )
        bad = text == wanted
    else:
        if len(distinct) != 2:
            raise InvalidInput.one(
                "target", "not_binary",
                f"the target needs exactly two values, found {len(distinct)}; give --bad-value",
            )
        bad = np.array([v.lower() in BAD_WORDS for v in text], dtype=bool)
        if bad.all() or not bad.any():
            raise InvalidInput.one(
                "bad_value", "ambiguous",
                f"cannot tell which of {', '.join(distinct)} is bad; give --bad-value",
            )
    y: npt.NDArray[np.int64] = np.asarray(bad, dtype=np.int64)
    if y.sum() < 2 or (len(y) - y.sum()) < 2:
        raise InvalidInput.one("target", "too_few", "the target needs at least two goods and bads")
    return y


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
