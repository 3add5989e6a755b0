"""Optimal binning with monotonic trends, kept as plain numbers after fitting.

`fit_binning` runs optbinning's `BinningProcess` (numeric variables with
``monotonic_trend="auto_asc_desc"``: the bad rate rises, or falls, steadily over the bins) and
copies what it found into frozen dataclasses: split points or category groups, and each bin's
count, bad rate and weight of evidence. Scoring then needs only numpy, never optbinning, and the
binning can be written to JSON and read back exactly.

Weight of evidence follows optbinning: ``WoE = ln(share of goods in the bin / share of bads in
the bin)``, so a high WoE is a good bin. Numeric bins are ``[left, right)``: a value equal to a
split goes to the bin on its right. A missing value gets the WoE of the training missing bin
when the training data had missing values, else 0 (the average); a category never seen in
training gets 0 too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tailguard.risk.features import FeatureSpec, is_missing

MISSING = -1
"""Bin index of a missing value."""
UNSEEN = -2
"""Bin index of a category not seen in training."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Bin:
    label: str
    count: int
    bad_rate: float
    woe: float


@dataclass(frozen=True)
class BinnedVariable:
    """One variable's bins. `trend` is +1 when the bad rate rises with the value, -1 when it
    falls, 0 for categorical variables and for a single bin."""

    name: str
    kind: str
    splits: tuple[float, ...]
    categories: tuple[tuple[str, ...], ...]
    bins: tuple[Bin, ...]
    missing: Bin
    iv: float
    trend: int

    def bin_index(self, values: npt.ArrayLike) -> IntArray:
        """The bin of each value: 0…len(bins)-1, `MISSING` or `UNSEEN`."""
        if self.kind == "numeric":
            x = np.asarray(values, dtype=np.float64)
            index = np.searchsorted(np.asarray(self.splits, dtype=np.float64), x, side="right")
            return np.where(np.isnan(x), MISSING, index).astype(np.int64)
        lookup = {category: i for i, group in enumerate(self.categories) for category in group}
        out = np.empty(len(np.asarray(values, dtype=object)), dtype=np.int64)
        for i, value in enumerate(np.asarray(values, dtype=object)):
            out[i] = MISSING if is_missing(value) else lookup.get(str(value), UNSEEN)
        return out

    def woe_of_index(self, index: IntArray) -> FloatArray:
        table = np.array([b.woe for b in self.bins] + [self.missing.woe, 0.0], dtype=np.float64)
        # MISSING (-1) and UNSEEN (-2) land on the two entries appended after the bins
        position = np.where(index >= 0, index, np.where(index == MISSING, len(self.bins),
                                                         len(self.bins) + 1))
        return table[position]

    def woe(self, values: npt.ArrayLike) -> FloatArray:
        return self.woe_of_index(self.bin_index(values))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "splits": list(self.splits),
            "categories": [list(g) for g in self.categories],
            "bins": [b.__dict__ for b in self.bins], "missing": self.missing.__dict__,
            "iv": self.iv, "trend": self.trend,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BinnedVariable:
        return cls(
            name=data["name"], kind=data["kind"],
            splits=tuple(float(s) for s in data["splits"]),
            categories=tuple(tuple(g) for g in data["categories"]),
            bins=tuple(Bin(**b) for b in data["bins"]), missing=Bin(**data["missing"]),
            iv=float(data["iv"]), trend=int(data["trend"]),
        )


@dataclass(frozen=True)
class Binning:
    variables: tuple[BinnedVariable, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> BinnedVariable:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(name)

    def woe_matrix(self, frame: pd.DataFrame) -> FloatArray:
        """WoE of every variable, columns in `names` order (`frame` as from `prepare`)."""
        if not self.variables:
            return np.zeros((len(frame), 0))
        return np.column_stack([v.woe(frame[v.name].to_numpy()) for v in self.variables])

    def to_json(self) -> list[dict[str, Any]]:
        return [v.to_json() for v in self.variables]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> Binning:
        return cls(tuple(BinnedVariable.from_json(v) for v in data))


def fit_binning(
    frame: pd.DataFrame, y: npt.NDArray[np.int64], spec: FeatureSpec, *,
    min_bin_size: float = 0.05, max_n_bins: int | None = None,
) -> Binning:
    """Optimal monotonic binning of every feature of `spec` on the training rows given."""
    from optbinning import BinningProcess  # heavy: import only when fitting

    names = list(spec.columns)
    numeric_params: dict[str, Any] = {"monotonic_trend": "auto_asc_desc"}
    if max_n_bins is not None:
        numeric_params["max_n_bins"] = max_n_bins
    process = BinningProcess(
        names,
        categorical_variables=list(spec.categorical),
        min_bin_size=min_bin_size,
        binning_fit_params={name: dict(numeric_params) for name in spec.numeric},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        process.fit(frame[names], np.asarray(y))
    return Binning(tuple(_extract(process.get_binned_variable(n), n, spec) for n in names))


def _extract(optb: Any, name: str, spec: FeatureSpec) -> BinnedVariable:
    table = optb.binning_table.build(show_digits=6)
    rows = table.drop(index="Totals")
    regular = rows.iloc[:-2]
    missing_row = rows.iloc[-1]

    def make_bin(row: pd.Series, label: str) -> Bin:
        count = int(row["Count"])
        return Bin(
            label=label, count=count,
            bad_rate=float(row["Event rate"]) if count else 0.0,
            woe=float(row["WoE"]) if count else 0.0,
        )

    kind = "numeric" if name in spec.numeric else "categorical"
    if kind == "numeric":
        splits = tuple(float(s) for s in np.asarray(optb.splits, dtype=np.float64))
        categories: tuple[tuple[str, ...], ...] = ()
        labels = [str(b) for b in regular["Bin"]]
    else:
        splits = ()
        categories = tuple(tuple(str(c) for c in group) for group in optb.splits)
        labels = [", ".join(group) for group in categories]
    bins = tuple(make_bin(row, label) for (_, row), label in zip(regular.iterrows(), labels,
                                                                   strict=True))
    rates = [b.bad_rate for b in bins if b.count]
    trend = 0
    if kind == "numeric" and len(rates) >= 2 and rates[-1] != rates[0]:
        trend = 1 if rates[-1] > rates[0] else -1
    iv = float(pd.to_numeric(rows["IV"], errors="coerce").fillna(0.0).sum())
    return BinnedVariable(
        name=name, kind=kind, splits=splits, categories=categories, bins=bins,
        missing=make_bin(missing_row, "missing"), iv=iv, trend=trend,
    )
