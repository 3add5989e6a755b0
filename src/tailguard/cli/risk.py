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
    from tailguard.risk.model import MEMBERS, ModelConfig, fit_credit_model
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
        "blend_weights": dict(zip(MEMBERS, fitted.model.weights, strict=True))}
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


# -- behavioural models ---------------------------------------------------------------------
@risk.command("train-behavioural")
@click.option("--loans", default=2000, show_default=True, type=click.IntRange(50, 100_000))
@click.option("--months", default=30, show_default=True, type=click.IntRange(12, 120))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--cutoff", default=None, metavar="YYYY-MM-DD",
              help="Train on outcomes known by this day, test on observations from it on "
                   "[default: the day 70 % of the observations were made by].")
@click.option("--work", "work", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the simulation's database (a rerun resumes there) "
                   "[default: OUT/simulation].")
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options={"cutoff": "--cutoff", "loans": "--loans"})
def train_behavioural(loans: int, months: int, seed: int, out: Path, cutoff: str | None,
                      work: Path | None, as_json: bool) -> None:
    """Simulate a portfolio and train the behavioural models on its history (dpd30-90d:
    30+ DPD within 90 days; balloon-30d: balloon not settled within 30 days), time-split."""
    from datetime import date

    from tailguard.simulation import session
    from tailguard.simulation.behavioural_training import train_all
    from tailguard.simulation.config import SimulationConfig

    cut = None
    if cutoff is not None:
        try:
            cut = date.fromisoformat(cutoff)
        except ValueError:
            raise InvalidInput.one("cutoff", "invalid_date", f"{cutoff!r} is not a date") from None
    folder = work or out / "simulation"
    folder.mkdir(parents=True, exist_ok=True)
    env = {"TAILGUARD_DOCUMENT_ROOT": str(folder / "documents"),
           "TAILGUARD_NOTARY": f"folder:{folder / 'notary'}"}
    if not as_json:
        click.echo(f"simulating {loans} loans x {months} months (seed {seed}) ...", err=True)
    outcome = session.run(SimulationConfig(loans, months, seed),
                          f"sqlite:///{folder / 'simulation.db'}", session.DEFAULT_START,
                          env=env, issue_contracts=False)
    source = {"simulation": {"loans": loans, "months": months, "seed": seed,
                             "start": session.DEFAULT_START.isoformat()}}
    try:
        manifests = train_all(outcome.platform, outcome.simulation.state, out, source,
                              seed=0, cutoff=cut)
    except ValueError as error:
        raise InvalidInput.one("loans", "too_few_bads", str(error)) from error
    if as_json:
        click.echo(json.dumps(manifests, ensure_ascii=False, indent=1, default=str))
        return
    for name, manifest in manifests.items():
        held = manifest["metrics"]["held_out"]
        click.echo(f"{name} {manifest['version']}: trained on {manifest['training']['rows']} "
                   f"rows to {manifest['metrics']['cutoff']}; held out {held['rows']} rows, "
                   f"{held['bads']} bad: AUC {held['auc']}, KS {held['ks']}")


@risk.command("refresh-scores")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="Business day the scores are as of [default: yesterday, the last end of day].")
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options={"as_of": "--as-of"})
def refresh_scores(as_of: str | None, as_json: bool) -> None:
    """Score the active loans with the behavioural models and store the scores (the end of
    day inside `tailguard serve` does this after each day)."""
    from datetime import timedelta

    from tailguard.cli.operations import parse_day, platform
    from tailguard.services.behavioural_scores import refresh_scores as refresh

    plat = platform()
    day = parse_day(as_of, "as_of", plat.today() - timedelta(days=1))
    report = refresh(plat, day)
    doc = report.to_dict()
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    click.echo(f"behavioural scores as of {doc['as_of']}: "
               + ", ".join(f"{m} {n} loans ({report.versions[m]})"
                           for m, n in report.scored.items())
               + f" in {doc['seconds']:.1f} s")


@risk.command("monitor")
@click.option("--model", "model_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False))
@click.option("--reference", "reference", required=True,
              type=click.Path(path_type=Path, dir_okay=False), help="Reference period (CSV).")
@click.option("--current", "current", required=True,
              type=click.Path(path_type=Path, dir_okay=False), help="Current period (CSV).")
@click.option("--region-column", default=None,
              help="Column naming each row's region (province) [default: the model's].")
@click.option("--min-rows", default=30, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options={**FIELD_OPTIONS, "reference": "--reference",
                               "current": "--current"})
def monitor(model_dir: Path, reference: Path, current: Path, region_column: str | None,
            min_rows: int, as_json: bool) -> None:
    """Monitoring between two periods: PSI of the score and every variable, AUC, KS and
    calibration, overall and by region (when the files have the target and region columns)."""
    from tailguard.risk.features import encode_target
    from tailguard.risk.monitoring import compare_periods
    from tailguard.risk.registry import load_model

    registered = load_model(model_dir)
    model = registered.model
    column = region_column or registered.region_column
    frames = [_read_csv(path, [column] if column else None) for path in (reference, current)]
    training = registered.manifest["training"]
    target = training.get("target")
    ys: list[Any] = []
    regions: list[Any] = []
    for frame in frames:
        ys.append(encode_target(frame[target], training.get("bad_value"))
                  if target in frame.columns else None)
        regions.append(frame[column].fillna("").astype(str).to_numpy(dtype=object)
                       if column and column in frame.columns else None)
    result = compare_periods(model, model.prepare(frames[0]), model.prepare(frames[1]),
                             y_reference=ys[0], y_current=ys[1],
                             regions_reference=regions[0], regions_current=regions[1],
                             min_rows=min_rows)
    result = {"model": registered.manifest["version"], **result}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    overall = result["overall"]
    s = overall["score"]
    click.echo(f"model {result['model']}: {overall['rows_reference']} reference rows, "
               f"{overall['rows_current']} current rows; score PSI {s['psi']:.4f} "
               f"({s['status']})")
    for key in ("reference", "current"):
        if key in overall:
            p = overall[key]
            click.echo(f"  {key}: bad rate {p['bad_rate']}, mean PD {p['mean_pd']}, AUC "
                       f"{p['auc']}, KS {p['ks']}, calibration gap {p['calibration_gap']}")
    for v in overall["variables"][:8]:
        click.echo(f"  {v['variable']:<28} PSI {v['psi']:.4f} {v['status']}")
    for r in result.get("by_region", []):
        if "score" not in r:
            continue
        cur = r.get("current", {})
        click.echo(f"  region {r['region']}: {r['rows_reference']}/{r['rows_current']} rows, "
                   f"score PSI {r['score']['psi']:.4f} {r['score']['status']}, AUC "
                   f"{cur.get('auc')}, KS {cur.get('ks')}, calibration gap "
                   f"{cur.get('calibration_gap')}")
