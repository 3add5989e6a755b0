"""Behavioural scores on SQLite and PostgreSQL: the end of day inside `serve` stores today's
scores for every active loan (the balloon model only near the balloon), a rerun replaces them;
the early-warning rules, the balloon watch and the collection strategies read them."""

from __future__ import annotations

import json
import warnings
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from tailguard.batch.schedule import DailyEndOfDay
from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_risk import behavioural_scores
from tailguard.risk.behavioural import BALLOON_MODEL, DPD30_MODEL, features
from tailguard.services import alerts as alert_service
from tailguard.services import behavioural_scores as service
from tailguard.services import recovery_strategies
from tailguard.services import signals as signal_service
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


@pytest.fixture
def book(platform: Platform) -> dict[str, str]:
    with_dealer(platform)
    return {
        "far": book_application(platform, "officer", application(1, loan_id="FAR")),
        # 12-month balloons disbursed in the past, nothing paid since: far behind, and their
        # balloons fall due in 90 and 120 days
        "near": book_application(platform, "officer", application(
            2, start=date(2025, 4, 10), term=12, loan_id="NEAR")),
        "later": book_application(platform, "officer", application(
            3, start=date(2025, 5, 10), term=12, loan_id="LATER")),
    }


def stored(platform: Platform) -> dict[tuple[str, str], dict[str, object]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(behavioural_scores)).mappings().all()
    return {(r["loan_id"], r["model"]): dict(r) for r in rows}


def test_the_end_of_day_stores_scores_and_a_rerun_replaces_them(
        platform: Platform, clock: FixedClock, book: dict[str, str]) -> None:
    clock.advance(timedelta(days=2))
    yesterday = platform.today() - timedelta(days=1)
    assert DailyEndOfDay(platform).run_once() >= 1
    scores = stored(platform)
    assert {k for k in scores if k[1] == DPD30_MODEL} == {(v, DPD30_MODEL)
                                                         for v in book.values()}
    assert {k[0] for k in scores if k[1] == BALLOON_MODEL} == {"NEAR", "LATER"}
    for row in scores.values():
        assert row["as_of"] == yesterday and 0 < float(row["pd"]) < 1  # type: ignore[arg-type]
        assert row["band"] in {"A", "B", "C", "D", "E"} and row["model_version"]
    # a borrower months behind is riskier than a new loan, and the reasons say why
    assert float(scores[("NEAR", DPD30_MODEL)]["pd"]) > float(  # type: ignore[arg-type]
        scores[("FAR", DPD30_MODEL)]["pd"])  # type: ignore[arg-type]
    history = {"dpd", "late_3m", "late_6m", "worst_late_days_6m", "unpaid_due"}
    assert history & set(str(scores[("NEAR", DPD30_MODEL)]["reasons"]).split("|"))
    # the same day again: the same rows, not twice as many
    again = service.refresh_scores(platform, yesterday)
    assert again.scored == {DPD30_MODEL: 3, BALLOON_MODEL: 2}
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(
            behavioural_scores)).scalar_one() == 5
    with platform.engine.connect() as conn:
        latest = service.latest_scores(conn, list(book.values()), DPD30_MODEL)
    assert set(latest) == set(book.values()) and latest["NEAR"]["as_of"] == yesterday
    with platform.engine.connect() as conn:  # each refresh left its audit row and event
        events = conn.execute(select(func.count()).select_from(tables.outbox).where(
            tables.outbox.c.event_type == "BehaviouralScoresRefreshed")).scalar_one()
        audits = conn.execute(select(func.count()).select_from(tables.audit_log).where(
            tables.audit_log.c.action == "risk.behavioural.refresh")).scalar_one()
    assert events == audits == 2


def test_rules_watch_and_strategies_read_the_stored_scores(
        platform: Platform, book: dict[str, str]) -> None:
    as_of = platform.today() - timedelta(days=1)
    service.refresh_scores(platform, as_of)
    scores = stored(platform)
    near_pd = float(scores[("NEAR", DPD30_MODEL)]["pd"])  # type: ignore[arg-type]
    far_pd = float(scores[("FAR", DPD30_MODEL)]["pd"])  # type: ignore[arg-type]
    threshold = round((near_pd + far_pd) / 2, 6)
    with platform.engine.connect() as conn:
        features = signal_service.loan_features(conn, book.values(), platform.today())
    assert features["NEAR"]["behaviour_score"] == pytest.approx(near_pd)
    assert features["FAR"]["balloon_risk"] is None and features["NEAR"]["balloon_risk"] > 0
    # a rule over the score: only the risky loan's failed debit raises an alert
    alert_service.replace_rules(platform, "risk.li", {"rules": [{
        "id": "risky-debit", "name": "Failed debit, high behavioural risk",
        "when": {"all": [{"field": "signal.kind", "op": "eq", "value": "debit-failed"},
                         {"field": "loan.behaviour_score", "op": "ge", "value": threshold},
                         {"field": "loan.behaviour_band", "op": "present"}]},
        "severity": "high", "queue": "early-collections", "dedupe_minutes": 0}]})
    at = "2026-01-10T15:00:00+08:00"
    result = signal_service.ingest(platform, "gateway", [
        {"kind": "debit-failed", "loan_id": loan, "occurred_at": at,
         "attributes": {"amount_fen": 100, "reason": "insufficient-funds"}}
        for loan in ("NEAR", "FAR")])
    assert [a["loan_id"] for a in result.alerts_raised] == ["NEAR"]
    # the balloon watch takes the fitted chance where the balloon model scored the loan
    watch = {w["loan_id"]: w for w in alert_service.balloon_watch(platform, platform.today())}
    assert set(watch) == {"NEAR", "LATER"}
    for loan in ("NEAR", "LATER"):
        assert watch[loan]["model"].startswith(BALLOON_MODEL + ":")
        assert watch[loan]["chance_not_settled"] == pytest.approx(
            float(scores[(loan, BALLOON_MODEL)]["pd"]), abs=1e-4)  # type: ignore[arg-type]
    # collections: a delinquent loan without a collection score gets the behavioural one
    from tailguard.services import recovery_cases

    recovery_cases.recovery_eod(platform, as_of)
    with platform.engine.connect() as conn:
        loaded = recovery_strategies.load_delinquent(conn, as_of)
    by_loan = dict(zip(loaded.loans.loan_id.tolist(), loaded.loans.score.tolist(),
                       strict=True))
    assert by_loan and by_loan["NEAR"] == pytest.approx(
        float(scores[("NEAR", DPD30_MODEL)]["score"]))  # type: ignore[arg-type]


def test_without_scores_the_watch_keeps_its_prior(platform: Platform,
                                                  book: dict[str, str]) -> None:
    watch = alert_service.balloon_watch(platform, platform.today())
    assert {w["model"] for w in watch} == {"balloon-watch-prior"}
    with platform.engine.connect() as conn:
        features = signal_service.loan_features(conn, book.values(), platform.today())
    assert features["NEAR"]["behaviour_score"] is None


def test_the_command_line(platform: Platform, book: dict[str, str], tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from tailguard.cli.main import main

    monkeypatch.setenv("TAILGUARD_DATABASE_URL",
                       platform.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("TAILGUARD_DOCUMENT_ROOT", str(platform.settings.document_root))
    monkeypatch.setenv("TAILGUARD_NOTARY", platform.settings.notary)
    runner = CliRunner()
    result = runner.invoke(main, ["risk", "refresh-scores", "--as-of", "2026-01-09", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["scored"] == {DPD30_MODEL: 3, BALLOON_MODEL: 2} and doc["as_of"] == "2026-01-09"
    bad = runner.invoke(main, ["risk", "refresh-scores", "--as-of", "2026-02-30"])
    assert bad.exit_code == 2 and "--as-of" in bad.output
    # monitoring between two periods, by province, from CSV files of feature rows
    with platform.engine.connect() as conn:
        facts = service.load_facts(conn, list(book.values()))
        obs = service.current_observations(conn, date(2026, 1, 9))
    rows = features(obs, facts.loans, facts.instalments, facts.bounces, facts.signals)
    rows = pd.concat([rows, rows], ignore_index=True)  # the target needs two goods and bads
    rows["province"] = "440000"
    rows["bad"] = [0, 1, 1, 0, 1, 1]
    reference, current = tmp_path / "reference.csv", tmp_path / "current.csv"
    rows.to_csv(reference, index=False)
    rows.assign(dpd=rows["dpd"] + 30).to_csv(current, index=False)
    model_dir = service.shipped_model_dir(DPD30_MODEL)
    shown = runner.invoke(main, ["risk", "monitor", "--model", str(model_dir), "--reference",
                                 str(reference), "--current", str(current), "--min-rows", "3",
                                 "--json"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert report["overall"]["current"]["auc"] is not None
    assert [r["region"] for r in report["by_region"]] == ["440000"]
    assert report["by_region"][0]["variables"][0]["variable"] == "dpd"
    missing = tmp_path / "missing.csv"
    rows.drop(columns=["late_3m"]).to_csv(missing, index=False)
    refused = runner.invoke(main, ["risk", "monitor", "--model", str(model_dir), "--reference",
                                   str(reference), "--current", str(missing)])
    assert refused.exit_code == 2 and "late_3m" in refused.output



def test_the_default_balloon_rule_reads_the_fitted_chance(platform: Platform,
                                                          book: dict[str, str]) -> None:
    """`balloon-at-risk` fires at a fitted chance of 0.03 (the prior keeps 0.3): the two
    balloon loans, scored 0.76 by the model (nothing paid), are given a chance between the
    two levels and a typical one (the fitted median on simulated books is about 0.002)."""
    service.refresh_scores(platform, platform.today() - timedelta(days=1))
    with platform.engine.begin() as conn:
        for loan, chance in (("NEAR", 0.1), ("LATER", 0.002)):
            conn.execute(behavioural_scores.update().where(
                behavioural_scores.c.loan_id == loan,
                behavioural_scores.c.model == BALLOON_MODEL).values(pd=chance))
    watch = {w["loan_id"]: w for w in alert_service.balloon_watch(platform, platform.today())}
    assert {k: w["chance_not_settled"] for k, w in watch.items()} == {"NEAR": 0.1,
                                                                       "LATER": 0.002}
    assert all(w["model"].startswith(BALLOON_MODEL + ":") for w in watch.values())
    raised = alert_service.raise_balloon_watch(platform, as_of=platform.today())
    assert [(a["loan_id"], a["rule_id"]) for a in raised.alerts_raised] == [
        ("NEAR", "balloon-at-risk")]
