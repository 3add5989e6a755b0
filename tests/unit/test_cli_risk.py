"""`tailguard risk train | score | report` on German credit files written to a temporary folder.

The scorer's contract from issue 6: rows come back in input order with `pd`, `score` and
`reasons` added, and a file with missing columns is refused with one line naming them (exit 2).
One model is trained for the module (on 500 rows, a few seconds) and shared by the tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from tailguard.cli.errors import EXIT_INVALID_INPUT, EXIT_NOT_FOUND
from tailguard.cli.main import main
from tailguard.risk.datasets import german_credit_raw


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("risk")
    raw = german_credit_raw()
    train = raw.iloc[:500]
    train_csv = folder / "train.csv"
    train.to_csv(train_csv, index=False)
    result = run(["risk", "train", "--data", train_csv, "--target", "creditability",
                  "--bad-value", "bad", "--out", folder / "model"])
    assert result.exit_code == 0, result.output
    assert "out-of-fold AUC" in result.output
    return folder, folder / "model", raw.iloc[500:].reset_index(drop=True)


def test_train_writes_a_model_directory_with_its_manifest(trained: tuple) -> None:
    _, model, _ = trained
    manifest = json.loads((model / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["training"]["rows"] == 500
    assert manifest["training"]["target"] == "creditability"
    assert len(manifest["training"]["sha256"]) == 64
    assert "creditability" not in manifest["features"]["categorical"]
    assert 0.6 < manifest["metrics"]["out_of_fold"]["auc"] < 1
    points = pd.read_csv(model / "points_table.csv")
    assert points.iloc[0]["variable"] == "(base)"


def test_score_keeps_input_order_and_adds_pd_score_and_reasons(trained: tuple) -> None:
    folder, model, holdout = trained
    holdout = holdout.assign(application_id=[f"A{i:04d}" for i in range(len(holdout))])
    in_order = folder / "in_order.csv"
    holdout.to_csv(in_order, index=False)
    shuffled = holdout.sample(frac=1.0, random_state=5)
    shuffled_csv = folder / "shuffled.csv"
    shuffled.to_csv(shuffled_csv, index=False)

    assert run(["risk", "score", "--model", model, "--data", in_order,
                "--out", folder / "a.csv"]).exit_code == 0
    result = run(["risk", "score", "--model", model, "--data", shuffled_csv,
                  "--out", folder / "b.csv"])
    assert result.exit_code == 0, result.output
    first = pd.read_csv(folder / "a.csv")
    second = pd.read_csv(folder / "b.csv")
    assert second["application_id"].tolist() == shuffled["application_id"].tolist()
    assert list(second.columns[: len(shuffled.columns)]) == list(shuffled.columns)
    assert {"pd", "score", "reasons", "reasons_zh", "reasons_en"} <= set(second.columns)
    by_id = first.set_index("application_id")
    np.testing.assert_array_equal(second["pd"].to_numpy(),
                                  by_id.loc[second["application_id"], "pd"].to_numpy())
    assert second["pd"].between(0, 1).all()
    # higher PD, lower score; reasons are feature codes with Chinese text
    assert np.corrcoef(second["pd"], second["score"])[0, 1] < -0.9
    worst = second.loc[second["pd"].idxmax()]
    assert worst["reasons"].split("|")[0] in set(holdout.columns)
    assert "低于最佳" in worst["reasons_zh"]


def test_score_refuses_a_file_with_missing_columns_naming_them(trained: tuple) -> None:
    folder, model, holdout = trained
    partial = folder / "partial.csv"
    holdout.drop(columns=["purpose", "credit_amount"]).to_csv(partial, index=False)
    result = run(["risk", "score", "--model", model, "--data", partial,
                  "--out", folder / "never.csv"])
    assert result.exit_code == EXIT_INVALID_INPUT
    assert result.stderr == "error: --data: missing column(s): credit_amount, purpose\n"
    assert result.stdout == ""
    assert not (folder / "never.csv").exists()


def test_report_gives_stability_and_performance(trained: tuple) -> None:
    folder, model, holdout = trained
    data = folder / "holdout.csv"
    holdout.to_csv(data, index=False)
    result = run(["risk", "report", "--model", model, "--data", data, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rows"] == 500
    assert 0.65 < report["performance"]["auc"] < 0.95
    assert report["performance"]["ks"] > 0.2
    assert report["score"]["psi"] < 0.25
    assert len(report["variables"]) == 20
    text = run(["risk", "report", "--model", model, "--data", data])
    assert text.exit_code == 0 and "score PSI" in text.output and "AUC" in text.output


def test_bad_input_is_one_line_with_the_right_exit_code(trained: tuple) -> None:
    folder, _, holdout = trained
    data = folder / "holdout.csv"
    holdout.to_csv(data, index=False)
    missing_model = run(["risk", "score", "--model", folder / "no-model", "--data", data,
                         "--out", folder / "x.csv"])
    assert missing_model.exit_code == EXIT_NOT_FOUND
    assert len(missing_model.stderr.splitlines()) == 1
    no_target = run(["risk", "train", "--data", data, "--target", "outcome",
                     "--out", folder / "m2"])
    assert no_target.exit_code == EXIT_INVALID_INPUT
    assert no_target.stderr == "error: --target: no column 'outcome' in the data\n"
    wrong_bad = run(["risk", "train", "--data", data, "--target", "creditability",
                     "--bad-value", "terrible", "--out", folder / "m3"])
    assert wrong_bad.exit_code == EXIT_INVALID_INPUT
    assert wrong_bad.stderr.startswith("error: --bad-value: 'terrible' does not occur")
