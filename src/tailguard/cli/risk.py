"""`tailguard risk`: train, score and monitor credit-risk models from CSV files.

The commands only translate: a CSV becomes a data frame, the frame goes to the pure
`tailguard.risk` functions, the result goes to a model directory, a CSV or stdout. The heavy
libraries (pandas, scikit-learn, LightGBM, optbinning) are imported inside the commands, so
`tailguard --help` and the other commands do not pay for them. Errors follow
`tailguard.cli.errors`: one line naming the option, exit 2 for input to fix (a file with
missing columns, a target that is not two-valued), 4 for a model directory that is not there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tailguard.cli.errors import reports_errors
from tailguard.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

FIELD_OPTIONS = {"data": "--data", "target": "--target", "bad_value": "--bad-value",
                 "model": "--model", "region_column": "--region-column"}


def _read_csv(path: Path, text_columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype={c: str for c in text_columns or []})
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise InvalidInput.one("data", "unreadable", f"cannot read {path}: {error}") from error
    if frame.empty:
        raise InvalidInput.one("data", "empty", f"{path} has no rows")
    return frame


def _require_column(frame: pd.DataFrame, name: str, field: str) -> None:
    if name not in frame.columns:
        raise InvalidInput.one(field, "missing_column", f"no column {name!r} in the data")


@click.group("risk")
def risk() -> None:
    """Credit-risk models: scorecard champion, monotone challenger, regional calibration."""


@risk.command("train")
@click.option("--data", "data", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--target", required=True, help="Column holding the outcome.")
@click.option("--bad-value", default=None, help="Target value meaning bad (default: bad/1/yes).")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--region-column", default=None, help="Region column for regional calibration.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@reports_errors(field_options=FIELD_OPTIONS)
def train(data: Path, target: str, bad_value: str | None, out: Path, region_column: str | None,
          seed: int, as_json: bool) -> None:
    """Fit a model on a CSV file and write it to a model directory."""
    import numpy as np

    from tailguard.risk.evaluation import auc, brier, expected_calibration_error, ks
    from tailguard.risk.features import encode_target, infer_features, prepare
    from tailguard.risk.model import ModelConfig, fit_credit_model
    from tailguard.risk.monitoring import score_reference
    from tailguard.risk.regional import fit_regional_calibration
    from tailguard.risk.registry import save_model, sha256_file

    frame = _read_csv(data, [region_column] if region_column else None)
    _require_column(frame, target, "target")
    if region_column:
        _require_column(frame, region_column, "region_column")
    y = encode_target(frame[target], bad_value)
    exclude = [target] + ([region_column] if region_column else [])
    spec = infer_features(frame, exclude=exclude)
    features = prepare(frame, spec)
    fitted = fit_credit_model(features, y, spec, ModelConfig(seed=seed))
    regional = None
    if region_column:
        regions = frame[region_column].fillna("").astype(str).to_numpy(dtype=object)
        regional = fit_regional_calibration(fitted.oof_pd, y, [regions], [region_column])
    oof = fitted.oof_pd
    metrics = {"out_of_fold": {
        "auc": round(auc(y, oof), 4), "ks": round(ks(y, oof), 4),
        "brier": round(brier(y, oof), 5),
        "calibration_error": round(expected_calibration_error(y, oof), 4)},
        "blend_weights": dict(zip(("champion", "challenger", "forest", "linear"),
                                  fitted.model.weights, strict=True))}
    training = {"file": data.name, "sha256": sha256_file(data), "rows": len(frame),
                "bad_rate": round(float(np.mean(y)), 4), "target": target,
                "bad_value": bad_value, "columns": [str(c) for c in frame.columns]}
    manifest = save_model(
        out, fitted.model, score_reference(fitted.model.score(features)),
        created=datetime.now(UTC), training=training, metrics=metrics, regional=regional,
        region_column=region_column,
    )
    if as_json:
        click.echo(json.dumps(manifest, ensure_ascii=False, indent=1))
    else:
        m = metrics["out_of_fold"]
        click.echo(f"model {manifest['version']} written to {out}: {len(frame)} rows, "
                   f"bad rate {training['bad_rate']:.2%}, {len(spec.columns)} features, "
                   f"out-of-fold AUC {m['auc']:.4f}, KS {m['ks']:.4f}")


@risk.command("score")
@click.option("--model", "model_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False))
@click.option("--data", "data", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--top", default=4, show_default=True, type=click.IntRange(1, 20),
              help="Reasons per row.")
@reports_errors(field_options=FIELD_OPTIONS)
def score(model_dir: Path, data: Path, out: Path, top: int) -> None:
    """Add pd, score and reasons (codes, Chinese, English) to every row of a CSV, in order."""
    from tailguard.risk.registry import load_model

    registered = load_model(model_dir)
    frame = _read_csv(data, [registered.region_column] if registered.region_column else None)
    scored = _score_frame(registered, frame, top)
    scored.to_csv(out, index=False)
    click.echo(f"{len(scored)} rows scored into {out}")


def _score_frame(registered: Any, frame: pd.DataFrame, top: int) -> pd.DataFrame:
    from tailguard.risk.features import missing_columns

    model = registered.model
    required = list(model.spec.columns)
    if registered.regional is not None and registered.region_column:
        required.append(registered.region_column)
    missing = missing_columns(frame, required)
    if missing:
        raise InvalidInput.one("data", "missing_columns",
                               f"missing column(s): {', '.join(missing)}")
    features = model.prepare(frame)
    pd_ = model.predict_pd(features)
    if registered.regional is not None and registered.region_column:
        regions = frame[registered.region_column].fillna("").astype(str).to_numpy(dtype=object)
        pd_ = registered.regional.adjust(pd_, [regions])
    reasons = model.reasons(features, top)
    out = frame.copy()
    out["pd"] = pd_.round(6)
    out["score"] = model.config.scaling.score_from_pd(pd_).round(1)
    out["reasons"] = ["|".join(r.code for r in row) for row in reasons]
    out["reasons_zh"] = ["；".join(r.text_zh for r in row) for row in reasons]
    out["reasons_en"] = ["; ".join(r.text_en for r in row) for row in reasons]
    return out


@risk.command("report")
@click.option("--model", "model_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False))
@click.option("--data", "data", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options=FIELD_OPTIONS)
def report(model_dir: Path, data: Path, as_json: bool) -> None:
    """Monitoring: PSI of the score and each variable; AUC, KS and calibration (by region)
    when the file has the target (and region) column."""
    from tailguard.risk.features import encode_target
    from tailguard.risk.monitoring import monitoring_report
    from tailguard.risk.registry import load_model

    registered = load_model(model_dir)
    region_column = registered.region_column
    frame = _read_csv(data, [region_column] if region_column else None)
    features = registered.model.prepare(frame)
    training = registered.manifest["training"]
    y = None
    if training["target"] in frame.columns:
        y = encode_target(frame[training["target"]], training.get("bad_value"))
    regions = None
    if region_column and region_column in frame.columns:
        regions = frame[region_column].fillna("").astype(str).to_numpy(dtype=object)
    result = monitoring_report(registered.model, registered.reference, features, y, regions,
                               registered.regional)
    result = {"model": registered.manifest["version"], **result}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    click.echo(f"model {result['model']}: {result['rows']} rows, mean PD {result['mean_pd']:.4f}")
    s = result["score"]
    click.echo(f"score PSI {s['psi']:.4f} ({s['status']}), mean score {s['mean']:.1f}")
    for v in sorted(result["variables"], key=lambda v: -float(v["psi"])):
        click.echo(f"  {v['variable']:<40} PSI {v['psi']:.4f} {v['status']}")
    if "performance" in result:
        p = result["performance"]
        click.echo(f"AUC {p['auc']:.4f}  KS {p['ks']:.4f}  Brier {p['brier']:.5f}  "
                   f"bad rate {p['bad_rate']:.2%}  calibration error {p['calibration_error']:.4f}")
    for name, part in result.get("calibration_by_region", {}).items():
        click.echo(f"calibration by region ({name}): mean |observed - PD| {part['error']:.5f}")
