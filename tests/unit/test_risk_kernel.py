"""The kernel member (RBF SVM kept as plain numbers) and model directories from before it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sklearn.svm import SVC

from tailguard.risk.datasets import german_credit
from tailguard.risk.evaluation import auc
from tailguard.risk.kernel import KernelModel, fit_kernel
from tailguard.risk.linear import fit_encoding
from tailguard.risk.model import MEMBERS, ModelConfig, fit_credit_model
from tailguard.risk.monitoring import score_reference
from tailguard.risk.registry import load_model, save_model


def test_kernel_member_matches_scikit_learn_and_survives_json() -> None:
    german = german_credit()
    train, test = german.frame.iloc[:600], german.frame.iloc[600:].reset_index(drop=True)
    y = german.y[:600]
    kernel = fit_kernel(train, y, german.spec, c=1.0)
    encoding = fit_encoding(train, german.spec)
    reference = SVC(C=1.0, gamma="scale").fit(encoding.design(train), y)
    expected = reference.decision_function(encoding.design(test))
    np.testing.assert_allclose(kernel.decision(test), expected, atol=1e-9)
    restored = KernelModel.from_json(json.loads(json.dumps(kernel.to_json())))
    np.testing.assert_allclose(restored.decision(test), expected, atol=1e-9)
    # higher decision value is riskier
    assert auc(german.y[600:], kernel.predict_pd(test)) > 0.7


def test_old_weights_are_padded_and_old_directories_load(tmp_path: Path) -> None:
    """A four-weight configuration (before the kernel and one-hot forest) still means the same
    blend, and a directory whose model.json predates them loads and scores the same."""
    assert ModelConfig(weights=(0.5, 0.0, 0.0, 0.5)).weights == (0.5, 0.0, 0.0, 0.5, 0.0, 0.0)
    with pytest.raises(ValueError):
        ModelConfig(weights=(1.0,) * (len(MEMBERS) + 1))
    german = german_credit()
    fitted = fit_credit_model(german.frame, german.y, german.spec,
                              ModelConfig(weights=(1.0, 0.0, 0.0, 1.0)))
    model = fitted.model
    directory = tmp_path / "old"
    save_model(directory, model, score_reference(model.score(german.frame)),
               created=datetime(2026, 11, 1, tzinfo=UTC), training={"rows": 1000},
               metrics={})
    body = json.loads((directory / "model.json").read_text(encoding="utf-8"))
    del body["kernel"], body["encoding"]
    body["weights"] = body["weights"][:4]
    body["member_calibration"] = body["member_calibration"][:4]
    body["config"]["weights"] = body["config"]["weights"][:4]
    for name in ("kernel_c", "onehot_forest_trees", "onehot_forest_min_leaf"):
        del body["config"][name]
    (directory / "model.json").write_text(json.dumps(body), encoding="utf-8")
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["model.json"] = hashlib.sha256(
        (directory / "model.json").read_bytes()).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    loaded = load_model(directory).model
    assert loaded.weights == model.weights
    np.testing.assert_allclose(loaded.predict_pd(german.frame), model.predict_pd(german.frame))


def test_kernel_member_subsamples_large_training_sets() -> None:
    german = german_credit()
    kernel = fit_kernel(german.frame, german.y, german.spec, max_rows=300, seed=1)
    # at most the subsample can be support vectors; scoring still covers every row
    assert 0 < len(kernel.dual) <= 300
    assert kernel.decision(german.frame).shape == (1000,)
    assert auc(german.y, kernel.predict_pd(german.frame)) > 0.7


def test_prune_drops_only_members_far_below_the_best() -> None:
    from tailguard.risk.model import full_weights, prune

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    strong = y + rng.normal(0, 0.8, 400)
    weak = y + rng.normal(0, 5.0, 400)
    oof = {"champion": weak, "forest": strong, "linear": strong * 0.9, "kernel": weak}
    weights = full_weights((1.0, 0.0, 1.0, 1.0, 1.0))
    pruned = prune(weights, oof, y, 0.05)
    # the champion is never pruned (points and reasons); the weak kernel is
    assert pruned == (1.0, 0.0, 1.0, 1.0, 0.0, 0.0)
    assert prune(weights, oof, y, None) == weights
    assert prune(weights, oof, y, 1.0) == weights
