"""A model directory: the fitted model as files a person can read, and a manifest.

Layout (format ``tailguard-risk-model/1``)::

    manifest.json      version, created, training-data summary (rows, bad rate, columns, target,
                       SHA-256 of the training file), features, metrics, library versions, and
                       the SHA-256 of every other file below
    model.json         feature spec, configuration (blend weights, scaling), the scorecard
                       (binning with splits, categories, counts, bad rates and WoE; coefficients;
                       calibration), the linear member (clip bounds, medians, scales,
                       categories, coefficients), member and blend calibrations, the monitoring
                       reference and the regional calibration when there is one
    points_table.csv   the scorecard as points per bin, for people
    challenger.txt     the LightGBM booster in LightGBM's own text format
    forest.joblib      the random forest (scikit-learn, joblib pickle)
    onehot_forest.joblib  the random forest on the one-hot encoding (its encoding and the
                       kernel member's support vectors are in model.json)

Only the forests are pickles (each file is present only when its member is in the blend);
`load_model` checks every file's hash against the manifest before reading it, so a file changed
after training is refused rather than unpickled. Model directories written before the kernel and
one-hot forest members load with those members absent (zero weight). Pure of clocks: the
creation time is an argument.
"""

from __future__ import annotations

import hashlib
import json
import platform
import warnings
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from tailguard.errors import InvalidInput, NotFound
from tailguard.risk.features import FeatureSpec
from tailguard.risk.kernel import KernelModel
from tailguard.risk.linear import LinearModel
from tailguard.risk.model import MEMBERS, CreditModel, Members, ModelConfig, full_weights
from tailguard.risk.monitoring import Reference
from tailguard.risk.regional import RegionalCalibration
from tailguard.risk.scorecard import Platt, Scorecard

FORMAT = "tailguard-risk-model/1"
LIBRARIES = ("numpy", "pandas", "scikit-learn", "lightgbm", "optbinning", "tailguard")


@dataclass(frozen=True)
class RegisteredModel:
    model: CreditModel
    reference: Reference
    regional: RegionalCalibration | None
    region_column: str | None
    manifest: dict[str, Any]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def save_model(
    directory: Path, model: CreditModel, reference: Reference, *, created: datetime,
    training: dict[str, Any], metrics: dict[str, Any],
    regional: RegionalCalibration | None = None, region_column: str | None = None,
) -> dict[str, Any]:
    """Write the model directory (created if absent) and return its manifest."""
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    champion = model.members.scorecard
    body = {
        "spec": model.spec.to_json(),
        "config": model.config.to_json(),
        "scorecard": champion.to_json(),
        "linear": model.members.linear.to_json() if model.members.linear is not None else None,
        "kernel": model.members.kernel.to_json() if model.members.kernel is not None else None,
        "encoding": (model.members.encoding.to_json()
                     if model.members.encoding is not None else None),
        "weights": list(model.weights),
        "member_calibration": [c.__dict__ for c in model.member_calibration],
        "blend_calibration": model.blend_calibration.__dict__,
        "reference": reference.to_json(),
        "region_column": region_column,
        "regional": regional.to_json() if regional is not None else None,
    }
    (directory / "model.json").write_text(json.dumps(body, ensure_ascii=False, indent=1),
                                          encoding="utf-8")
    pd.DataFrame(model.scorecard.points_table()).to_csv(directory / "points_table.csv",
                                                         index=False)
    files = ["model.json", "points_table.csv"]
    if model.members.challenger is not None:
        (directory / "challenger.txt").write_text(model.members.challenger.model_to_string(),
                                                  encoding="utf-8")
        files.append("challenger.txt")
    if model.members.forest is not None:
        joblib.dump(model.members.forest, directory / "forest.joblib", compress=3)
        files.append("forest.joblib")
    if model.members.onehot_forest is not None:
        joblib.dump(model.members.onehot_forest, directory / "onehot_forest.joblib", compress=3)
        files.append("onehot_forest.joblib")
    hashes = {name: sha256_file(directory / name) for name in files}
    model_hash = hashlib.sha256("".join(hashes[n] for n in files).encode()).hexdigest()
    manifest = {
        "format": FORMAT,
        "version": f"{created:%Y%m%d%H%M%S}-{model_hash[:8]}",
        "created": created.isoformat(),
        "training": training,
        "features": model.spec.to_json(),
        "region_column": region_column,
        "metrics": metrics,
        "libraries": library_versions(),
        "files": hashes,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1),
                                             encoding="utf-8")
    return manifest


def load_model(directory: Path) -> RegisteredModel:
    """Read a model directory, refusing one whose files do not match their manifest."""
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise NotFound(f"no model at {directory} (manifest.json missing)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise InvalidInput.one("model", "format",
                               f"unknown model format {manifest.get('format')!r}")
    for name, expected in manifest["files"].items():
        path = directory / name
        if not path.is_file() or sha256_file(path) != expected:
            raise InvalidInput.one("model", "tampered",
                                   f"{name} is missing or differs from the manifest")
    trained_with = manifest["libraries"].get("scikit-learn")
    pickles = [name for name in manifest["files"] if name.endswith(".joblib")]
    if pickles and trained_with != version("scikit-learn"):
        warnings.warn(f"the forest was saved with scikit-learn {trained_with}, "
                      f"loading with {version('scikit-learn')}", stacklevel=2)
    body = json.loads((directory / "model.json").read_text(encoding="utf-8"))
    challenger = forest = None
    if "challenger.txt" in manifest["files"]:
        import lightgbm as lgb

        challenger = lgb.Booster(model_str=(directory / "challenger.txt").read_text("utf-8"))
    if "forest.joblib" in manifest["files"]:
        import joblib

        forest = joblib.load(directory / "forest.joblib")
    onehot_forest = None
    if "onehot_forest.joblib" in manifest["files"]:
        import joblib

        onehot_forest = joblib.load(directory / "onehot_forest.joblib")
    calibrations = [Platt(**c) for c in body["member_calibration"]]
    calibrations += [Platt()] * (len(MEMBERS) - len(calibrations))
    model = CreditModel(
        spec=FeatureSpec.from_json(body["spec"]),
        config=ModelConfig.from_json(body["config"]),
        members=Members(Scorecard.from_json(body["scorecard"]), challenger, forest,
                        LinearModel.from_json(body["linear"]) if body["linear"] else None,
                        KernelModel.from_json(body["kernel"]) if body.get("kernel") else None,
                        onehot_forest,
                        LinearModel.from_json(body["encoding"]) if body.get("encoding")
                        else None),
        weights=full_weights(tuple(float(w) for w in body["weights"])),
        member_calibration=tuple(calibrations),
        blend_calibration=Platt(**body["blend_calibration"]),
    )
    regional = (RegionalCalibration.from_json(body["regional"])
                if body.get("regional") else None)
    return RegisteredModel(model, Reference.from_json(body["reference"]), regional,
                           body.get("region_column"), manifest)
