"""The national credit model: champion scorecard, challengers (trees, linear, kernel), each
calibrated on out-of-fold predictions and blended.

Fitting (`fit_credit_model`) sees only the rows it is given. Inside them it
1. splits the rows into `inner_folds` stratified folds and, for each, fits every member on the
   other folds (binning included) and predicts the held-out fold: out-of-fold predictions;
2. fits a Platt calibration per member on those predictions, then one on their weighted blend;
3. refits every member on all the rows.
So calibration never sees in-sample predictions, and the out-of-fold blended PD it returns is
what the regional calibration is fitted on.

Members, all reading the same binning:
- champion: `Scorecard` (WoE logistic regression, points, reasons);
- challenger: LightGBM on raw numeric values and categorical WoE, with monotone constraints in
  the direction of each numeric variable's binning trend (and falling in WoE);
- forest: a random forest on WoE and raw numeric values;
- linear: a regularised logistic regression on one-hot categories and standardised numbers
  (`tailguard.risk.linear`), which keeps the resolution the bins give up;
- kernel: an RBF support-vector machine on that same one-hot encoding
  (`tailguard.risk.kernel`), which scores by similarity to training applicants;
- onehot_forest: a second random forest, on that one-hot encoding instead of WoE, so its trees
  split on single categories rather than on the binning's groups.
The default blend weighs champion, forest, linear, kernel and onehot_forest equally and leaves
the monotone LightGBM out (weight 0, so it is not fitted); a member whose out-of-fold AUC is
more than `prune_auc_gap` below the best member's is dropped from the blend (the kernel on
Lending Club's 5 % bad rate, say); docs/risk.md has the measurements.
Heterogeneous ensembles are what the credit-scoring benchmarks find best; docs/risk.md has the
measured effect of each member. The blend weights are fixed in the configuration, or (the
default) chosen on the out-of-fold predictions of step 1: the point of a 0.1-step grid on the
simplex with the highest out-of-fold AUC, ties going to the more even weights. The model's PD is
the calibrated blend; its score is that PD on the scorecard's PDO scale; its reasons come from
the scorecard's points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tailguard.risk.binning import Binning, FloatArray, fit_binning
from tailguard.risk.features import FeatureSpec, prepare
from tailguard.risk.kernel import KernelModel, fit_kernel
from tailguard.risk.linear import LinearModel, fit_encoding, fit_linear
from tailguard.risk.logistic import sigmoid
from tailguard.risk.reasons import Reason
from tailguard.risk.scorecard import (
    Platt,
    Scaling,
    Scorecard,
    fit_platt,
    fit_scorecard_regression,
)

MEMBERS = ("champion", "challenger", "forest", "linear", "kernel", "onehot_forest")
Weights = tuple[float, ...]
"""One weight per member of `MEMBERS`; shorter tuples (configurations and model directories from
before the kernel and one-hot forest members) are padded with zeros."""


def full_weights(weights: tuple[float, ...]) -> Weights:
    if len(weights) > len(MEMBERS):
        raise ValueError(f"{len(weights)} blend weights for {len(MEMBERS)} members")
    return tuple(float(w) for w in weights) + (0.0,) * (len(MEMBERS) - len(weights))


@dataclass(frozen=True)
class ModelConfig:
    weights: Weights | None = (0.2, 0.0, 0.2, 0.2, 0.2, 0.2)
    """Blend weights in `MEMBERS` order (0 skips a member; the champion is always fitted, for
    the points and reasons); None: chosen out of fold (measured worse than equal weights on
    both public sets, see docs/risk.md)."""
    inner_folds: int = 3
    seed: int = 0
    lr_c: float = 0.3
    min_iv: float = 0.02
    min_bin_size: float = 0.05
    gbm_trees: int = 600
    gbm_learning_rate: float = 0.01
    gbm_leaves: int = 4
    forest_trees: int = 300
    forest_min_leaf: int = 3
    linear_c: float = 0.1
    kernel_c: float = 1.0
    onehot_forest_trees: int = 500
    onehot_forest_min_leaf: int = 3
    prune_auc_gap: float | None = 0.05
    """With fixed weights, a member (not the champion) whose out-of-fold AUC falls more than this
    below the best member's gets weight 0 in the blend: a member that is much weaker on these
    rows only adds noise (None: never)."""
    scaling: Scaling = field(default_factory=Scaling)

    def __post_init__(self) -> None:
        if self.weights is not None:
            object.__setattr__(self, "weights", full_weights(self.weights))

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["weights"] = list(self.weights) if self.weights is not None else None
        data["scaling"] = self.scaling.__dict__
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        values = dict(data)
        if values["weights"] is not None:
            values["weights"] = tuple(values["weights"])
        values["scaling"] = Scaling(**values["scaling"])
        return cls(**values)


@dataclass(frozen=True)
class Members:
    """The fitted members; `challenger` is a LightGBM Booster, `forest` and `onehot_forest`
    scikit-learn RandomForestClassifiers, `encoding` the one-hot encoding the one-hot forest
    reads (None when skipped)."""

    scorecard: Scorecard
    challenger: Any
    forest: Any
    linear: LinearModel | None
    kernel: KernelModel | None = None
    onehot_forest: Any = None
    encoding: LinearModel | None = None

    def raw(self, frame: pd.DataFrame) -> FloatArray:
        """Uncalibrated PD of each member, columns in `MEMBERS` order (NaN for skipped ones)."""
        binning = self.scorecard.binning
        woe = binning.woe_matrix(frame)
        out = np.full((len(frame), len(MEMBERS)), np.nan)
        out[:, 0] = self.scorecard.raw_pd(frame)
        if self.challenger is not None:
            out[:, 1] = self.challenger.predict(_challenger_matrix(frame, binning, woe))
        if self.forest is not None:
            out[:, 2] = self.forest.predict_proba(_forest_matrix(frame, binning, woe))[:, 1]
        if self.linear is not None:
            out[:, 3] = self.linear.predict_pd(frame)
        if self.kernel is not None:
            out[:, 4] = self.kernel.predict_pd(frame)
        if self.onehot_forest is not None and self.encoding is not None:
            out[:, 5] = self.onehot_forest.predict_proba(self.encoding.design(frame))[:, 1]
        return out


def _numeric_columns(binning: Binning) -> list[int]:
    return [j for j, v in enumerate(binning.variables) if v.kind == "numeric"]


def _challenger_matrix(frame: pd.DataFrame, binning: Binning, woe: FloatArray) -> FloatArray:
    cols = []
    for j, v in enumerate(binning.variables):
        if v.kind == "numeric":
            cols.append(frame[v.name].to_numpy(dtype=np.float64))
        else:
            cols.append(woe[:, j])
    return np.column_stack(cols) if cols else np.zeros((len(frame), 0))


def _forest_matrix(frame: pd.DataFrame, binning: Binning, woe: FloatArray) -> FloatArray:
    raw = [frame[binning.variables[j].name].to_numpy(dtype=np.float64)
           for j in _numeric_columns(binning)]
    return np.column_stack([woe, *raw]) if raw else woe


def _monotone_constraints(binning: Binning) -> list[int]:
    # LightGBM predicts the log-odds of bad: +1 where the bad rate rises with the value; WoE
    # rises as the bad rate falls, hence -1 for the categorical WoE columns.
    return [v.trend if v.kind == "numeric" else -1 for v in binning.variables]


def fit_members(
    frame: pd.DataFrame, y: npt.NDArray[np.int64], spec: FeatureSpec, config: ModelConfig
) -> Members:
    binning = fit_binning(frame, y, spec, min_bin_size=config.min_bin_size)
    woe = binning.woe_matrix(frame)
    ivs = np.array([v.iv for v in binning.variables])
    coefficients, intercept = fit_scorecard_regression(woe, y, ivs, c=config.lr_c,
                                                       min_iv=config.min_iv)
    scorecard = Scorecard(binning, coefficients, intercept, Platt(), config.scaling)
    used = config.weights or (1.0,) * len(MEMBERS)
    challenger = None
    if used[1] > 0:
        import lightgbm as lgb

        params = {
            "objective": "binary", "learning_rate": config.gbm_learning_rate,
            "num_leaves": config.gbm_leaves, "min_data_in_leaf": 20,
            "bagging_fraction": 0.7, "bagging_freq": 1, "feature_fraction": 0.5,
            "monotone_constraints": _monotone_constraints(binning),
            "monotone_constraints_method": "advanced",
            "seed": config.seed, "deterministic": True, "num_threads": 1, "verbose": -1,
        }
        data = lgb.Dataset(_challenger_matrix(frame, binning, woe), label=y,
                           params={"verbose": -1})
        challenger = lgb.train(params, data, num_boost_round=config.gbm_trees)
    forest = None
    if used[2] > 0:
        from sklearn.ensemble import RandomForestClassifier

        forest = RandomForestClassifier(
            n_estimators=config.forest_trees, min_samples_leaf=config.forest_min_leaf,
            max_features="sqrt", n_jobs=1, random_state=config.seed,
        ).fit(_forest_matrix(frame, binning, woe), y)
    linear = fit_linear(frame, y, spec, c=config.linear_c) if used[3] > 0 else None
    kernel = (fit_kernel(frame, y, spec, c=config.kernel_c, seed=config.seed)
              if used[4] > 0 else None)
    onehot_forest = encoding = None
    if used[5] > 0:
        from sklearn.ensemble import RandomForestClassifier

        encoding = fit_encoding(frame, spec)
        onehot_forest = RandomForestClassifier(
            n_estimators=config.onehot_forest_trees,
            min_samples_leaf=config.onehot_forest_min_leaf, max_features="sqrt", n_jobs=1,
            random_state=config.seed,
        ).fit(encoding.design(frame), y)
    return Members(scorecard, challenger, forest, linear, kernel, onehot_forest, encoding)


@dataclass(frozen=True)
class CreditModel:
    spec: FeatureSpec
    config: ModelConfig
    members: Members
    weights: Weights
    member_calibration: tuple[Platt, ...]
    blend_calibration: Platt

    @property
    def scorecard(self) -> Scorecard:
        """The champion with its own calibration folded into its points."""
        sc = self.members.scorecard
        return Scorecard(sc.binning, sc.coefficients, sc.intercept,
                         self.member_calibration[0], sc.scaling)

    def member_pds(self, frame: pd.DataFrame) -> dict[str, FloatArray]:
        """Calibrated PD of each member (`frame` as from `features.prepare`)."""
        raw = self.members.raw(frame)
        return {name: self.member_calibration[j](raw[:, j])
                for j, name in enumerate(MEMBERS) if not np.isnan(raw[:, j]).all()}

    def predict_pd(self, frame: pd.DataFrame) -> FloatArray:
        return self.blend_calibration(_blend(self.member_pds(frame), self.weights))

    def score(self, frame: pd.DataFrame) -> FloatArray:
        return self.config.scaling.score_from_pd(self.predict_pd(frame))

    def reasons(self, frame: pd.DataFrame, top: int = 4) -> list[list[Reason]]:
        return self.scorecard.reasons(frame, top)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        return prepare(frame, self.spec)


def _blend(pds: dict[str, FloatArray], weights: Weights) -> FloatArray:
    total = sum(weights[MEMBERS.index(name)] for name in pds)
    blended = sum(weights[MEMBERS.index(name)] * p for name, p in pds.items())
    return np.asarray(blended / total, dtype=np.float64)


def simplex_grid(step: int = 10, members: int = len(MEMBERS)) -> list[Weights]:
    """Every weight vector of `members` members in steps of 1/`step`, most even first."""
    def parts(total: int, n: int) -> list[tuple[int, ...]]:
        if n == 1:
            return [(total,)]
        return [(first, *rest) for first in range(total + 1) for rest in parts(total - first,
                                                                                n - 1)]

    grid = [tuple(k / step for k in p) for p in parts(step, members)]
    return sorted(grid, key=lambda w: float(np.var(w)))


def choose_weights(oof: dict[str, FloatArray], y: npt.NDArray[np.int64]) -> Weights:
    """The grid point with the highest out-of-fold AUC (the first, most even, on ties)."""
    from sklearn.metrics import roc_auc_score

    best: Weights = full_weights(tuple(1.0 / len(oof) if name in oof else 0.0
                                       for name in MEMBERS))
    best_auc = -1.0
    for weights in simplex_grid():
        if sum(weights[MEMBERS.index(name)] for name in oof) == 0:
            continue
        value = float(roc_auc_score(y, _blend(oof, weights)))
        if value > best_auc + 1e-12:
            best, best_auc = weights, value
    return best


def prune(weights: Weights, oof: dict[str, FloatArray], y: npt.NDArray[np.int64],
          gap: float | None) -> Weights:
    """`weights` with 0 for every member but the champion whose out-of-fold AUC is more than
    `gap` below the best member's."""
    from sklearn.metrics import roc_auc_score

    if gap is None:
        return weights
    aucs = {name: float(roc_auc_score(y, p)) for name, p in oof.items()
            if weights[MEMBERS.index(name)] > 0}
    best = max(aucs.values())
    return tuple(0.0 if name != "champion" and name in aucs and aucs[name] < best - gap else w
                 for name, w in zip(MEMBERS, weights, strict=True))


@dataclass(frozen=True)
class FittedModel:
    model: CreditModel
    oof_pd: FloatArray
    """Out-of-fold calibrated PD of every training row (inner folds): for regional calibration
    and honest training metrics."""


def fit_credit_model(
    frame: pd.DataFrame, y: npt.NDArray[np.int64], spec: FeatureSpec,
    config: ModelConfig | None = None,
) -> FittedModel:
    """Fit on exactly these rows (see the module docstring); `frame` as from `prepare`."""
    from sklearn.model_selection import StratifiedKFold

    config = config or ModelConfig()
    y = np.asarray(y, dtype=np.int64)
    frame = frame.reset_index(drop=True)
    oof = np.full((len(frame), len(MEMBERS)), np.nan)
    folds = StratifiedKFold(config.inner_folds, shuffle=True, random_state=config.seed)
    for train, held in folds.split(np.zeros(len(y)), y):
        members = fit_members(frame.iloc[train], y[train], spec, config)
        oof[held] = members.raw(frame.iloc[held])
    fitted = [j for j in range(len(MEMBERS)) if not np.isnan(oof[:, j]).any()]
    calibration = tuple(fit_platt(oof[:, j], y) if j in fitted else Platt()
                        for j in range(len(MEMBERS)))
    member_oof = {MEMBERS[j]: calibration[j](oof[:, j]) for j in fitted}
    weights = (prune(config.weights, member_oof, y, config.prune_auc_gap)
               if config.weights is not None else choose_weights(member_oof, y))
    blend_oof = _blend(member_oof, weights)
    blend_calibration = fit_platt(blend_oof, y)
    members = fit_members(frame, y, spec, config)
    model = CreditModel(spec, config, members, weights, calibration, blend_calibration)
    return FittedModel(model, blend_calibration(blend_oof))


__all__ = ["MEMBERS", "CreditModel", "FittedModel", "ModelConfig", "fit_credit_model",
           "sigmoid"]
