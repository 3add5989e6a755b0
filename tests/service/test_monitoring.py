"""Signals and alerts on SQLite and PostgreSQL: ingestion raises alerts by the rules in force,
dedupes repeats, refuses telematics without GPS consent, recognises redelivered signals;
statements from CSV and Excel are matched to loans; alerts go through their lifecycle; the
rules are replaced as new versions; the balloon watch ranks loans near their balloon."""

from __future__ import annotations

import io
import warnings
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import func, select

from tailguard.api.app import create_app
from tailguard.calendar import CalendarFallbackWarning
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.auth import Role
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_monitoring import alerts, signals, statement_lines
from tailguard.monitoring.lifecycle import AlertAction, AlertStatus, Resolution
from tailguard.services import alerts as alert_service
from tailguard.services import signals as signal_service
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

AT = "2026-01-10T15:00:00+08:00"


def debit_failed(loan_id: str, reason: str = "account-frozen", **extra: Any) -> dict[str, Any]:
    return {"kind": "debit-failed", "loan_id": loan_id, "occurred_at": AT,
            "attributes": {"amount_fen": 441773, "reason": reason}, **extra}


def gps(loan_id: str, hours: int = 60) -> dict[str, Any]:
    return {"kind": "gps-offline", "loan_id": loan_id, "occurred_at": AT,
            "attributes": {"hours": hours}}


@pytest.fixture
def loan(platform: Platform) -> str:
    with_dealer(platform)
    return book_application(platform, "officer", application(1))


def count(platform: Platform, table: Any) -> int:
    with platform.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_signal_raises_its_alert_and_repeats_are_deduped(
        platform: Platform, clock: FixedClock, loan: str) -> None:
    first = signal_service.ingest(platform, "gateway", [debit_failed(loan)])
    [raised] = first.alerts_raised
    assert raised["rule_id"] == "debit-failed-frozen" and raised["queue"] == "early-warning"
    clock.advance(timedelta(hours=2))
    second = signal_service.ingest(platform, "gateway", [debit_failed(loan)])
    assert second.alerts_raised == [] and second.alerts_repeated == [raised["alert_id"]]
    [alert] = alert_service.list_alerts(platform, loan_id=loan)
    assert alert["repeats"] == 1 and alert["severity"] == "high" and alert["rule_version"] == 0
    assert alert["detail"]["signal"]["attributes"]["reason"] == "account-frozen"
    # once closed, the same signal raises a new alert
    alert_service.act(platform, "risk.li", raised["alert_id"], AlertAction.CLOSE,
                      resolution=Resolution.RESOLVED)
    third = signal_service.ingest(platform, "gateway", [debit_failed(loan)])
    assert len(third.alerts_raised) == 1
    # a signal no rule matches is stored without an alert
    quiet = signal_service.ingest(platform, "gateway", [
        {"kind": "payment-received", "loan_id": loan, "occurred_at": AT,
         "attributes": {"amount_fen": 441773}}])
    assert quiet.accepted[0]["rules"] == [] and quiet.alerts_raised == []
    assert count(platform, signals) == 4 and count(platform, alerts) == 2


def test_repeats_within_one_batch_make_one_alert(platform: Platform, loan: str) -> None:
    result = signal_service.ingest(platform, "gateway", [debit_failed(loan)] * 3)
    assert len(result.alerts_raised) == 1 and len(result.accepted) == 3
    [alert] = alert_service.list_alerts(platform, loan_id=loan)
    assert alert["repeats"] == 2 and alert["last_signal_id"] > alert["signal_id"]


def test_two_batches_at_the_same_moment_raise_one_alert(platform: Platform, loan: str) -> None:
    import threading

    rounds = 6
    for _ in range(rounds):
        gate = threading.Barrier(2)
        errors: list[BaseException] = []

        def send(gate: threading.Barrier = gate, errors: list[BaseException] = errors) -> None:
            try:
                gate.wait(5)
                signal_service.ingest(platform, "gateway", [debit_failed(loan)])
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        workers = [threading.Thread(target=send) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        assert errors == []
    [alert] = alert_service.list_alerts(platform, loan_id=loan)
    assert alert["repeats"] == 2 * rounds - 1 and count(platform, signals) == 2 * rounds


def test_a_redelivered_signal_is_recognised_by_its_external_id(
        platform: Platform, loan: str) -> None:
    message = debit_failed(loan, external_id="bank-7781")
    signal_service.ingest(platform, "bus", [message], source="bus", strict=False)
    again = signal_service.ingest(platform, "bus", [message, message], source="bus",
                                  strict=False)
    assert again.accepted == [] and len(again.duplicates) == 2
    assert count(platform, signals) == 1 and count(platform, alerts) == 1


def test_telematics_only_with_gps_consent(platform: Platform, loan: str) -> None:
    refused = signal_service.ingest(platform, "tracker", [gps(loan)])
    assert refused.rejected[0]["code"] == "no_gps_consent" and count(platform, signals) == 0
    with pytest.raises(InvalidInput) as exc:
        signal_service.record_gps_consent(platform, "ops", loan, granted=True)
    assert exc.value.errors[0].field == "evidence"
    signal_service.record_gps_consent(platform, "ops", loan, granted=True,
                                      evidence=f"{loan}/contract/v1#gps-consent")
    accepted = signal_service.ingest(platform, "tracker", [gps(loan), gps(loan, hours=3)])
    assert [a["rules"] for a in accepted.accepted] == [["gps-offline-long"], []]
    signal_service.record_gps_consent(platform, "ops", loan, granted=False)
    again = signal_service.ingest(platform, "tracker", [gps(loan)])
    assert again.rejected[0]["code"] == "no_gps_consent"
    with pytest.raises(NotFound):
        signal_service.record_gps_consent(platform, "ops", "NOPE", granted=False)


def test_a_malformed_batch_names_the_field_and_writes_nothing(
        platform: Platform, loan: str) -> None:
    bad = {"kind": "court-hit", "loan_id": loan, "occurred_at": AT,
           "attributes": {"list": "blacklist"}}
    with pytest.raises(InvalidInput) as exc:
        signal_service.ingest(platform, "api", [debit_failed(loan), bad])
    assert [e.field for e in exc.value.errors] == ["signals[1].attributes.list"]
    assert count(platform, signals) == 0
    lenient = signal_service.ingest(platform, "bus", [debit_failed(loan), bad,
                                                      debit_failed("NOPE")],
                                    source="bus", strict=False)
    assert [r["index"] for r in lenient.rejected] == [1, 2]
    assert {r["code"] for r in lenient.rejected} == {"invalid", "not_found"}
    assert count(platform, signals) == 1


def test_rules_are_replaced_as_new_versions(platform: Platform, loan: str) -> None:
    assert alert_service.read_rules(platform)["version"] == 0
    yaml_rules = """
rules:
  - id: any-debit-failure
    name: Any failed debit on a current loan
    when:
      all:
        - {field: signal.kind, op: eq, value: debit-failed}
        - {field: loan.dpd, op: le, value: 0}
        - {field: loan.bucket, op: eq, value: C}
    severity: low
    queue: reminders
    dedupe_minutes: 0
"""
    assert alert_service.replace_rules(platform, "risk.li", yaml_rules, fmt="yaml",
                                       note="softer start")["version"] == 1
    current = alert_service.read_rules(platform)
    assert current["source"] == yaml_rules and current["rules"][0]["queue"] == "reminders"
    result = signal_service.ingest(platform, "gateway", [debit_failed(loan)] * 2)
    assert [a["rule_id"] for a in result.alerts_raised] == ["any-debit-failure"] * 2
    assert {a["rule_version"] for a in alert_service.list_alerts(platform)} == {1}
    with pytest.raises(Refused):
        alert_service.replace_rules(platform, "risk.wu", {"rules": []}, expected_version=0)
    with pytest.raises(InvalidInput) as exc:
        alert_service.replace_rules(platform, "risk.wu", {"rules": [{"id": "x"}]})
    assert "rules[0].severity" in {e.field for e in exc.value.errors}
    assert alert_service.read_rules(platform)["version"] == 1


def test_alert_lifecycle_through_the_service(platform: Platform, loan: str) -> None:
    [raised] = signal_service.ingest(platform, "gw", [debit_failed(loan)]).alerts_raised
    alert_id = raised["alert_id"]
    acked = alert_service.act(platform, "collector.wang", alert_id, AlertAction.ACKNOWLEDGE)
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "collector.wang"
    worked = alert_service.act(platform, "collector.wang", alert_id, AlertAction.WORK,
                               assignee="collector.zhao", note="calling the branch")
    assert worked["status"] == "in-progress" and worked["assignee"] == "collector.zhao"
    with pytest.raises(InvalidInput):
        alert_service.act(platform, "collector.wang", alert_id, AlertAction.CLOSE)
    closed = alert_service.act(platform, "collector.wang", alert_id, AlertAction.CLOSE,
                               resolution=Resolution.ESCALATED)
    assert closed["status"] == "closed" and closed["resolution"] == "escalated"
    with pytest.raises(Refused):
        alert_service.act(platform, "collector.wang", alert_id, AlertAction.WORK)
    with pytest.raises(NotFound):
        alert_service.act(platform, "x", 999, AlertAction.ACKNOWLEDGE)
    assert alert_service.list_alerts(platform, status=(AlertStatus.OPEN,)) == []
    with platform.engine.connect() as conn:
        actions = conn.execute(select(tables.audit_log.c.action).where(
            tables.audit_log.c.action.like("alert.%"))).scalars().all()
    assert actions == ["alert.raise", "alert.acknowledge", "alert.work", "alert.close"]


def _instalment_due(platform: Platform, loan_id: str) -> tuple[int, date]:
    s = tables.installment_state.c
    with platform.engine.connect() as conn:
        row = conn.execute(select(s.principal_fen + s.interest_fen + s.fee_fen, s.due_date)
                           .where(s.loan_id == loan_id).order_by(s.number).limit(1)).one()
    return int(row[0]), row[1]


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def test_statement_csv_lines_are_matched_by_reference_then_amount(
        platform: Platform, loan: str) -> None:
    other = book_application(platform, "officer", application(2, principal_fen=150_000_00))
    due, due_date = _instalment_due(platform, other)
    csv_text = (
        "交易日期,金额,摘要,对方户名\n"
        f"2026-01-11,1000.00,还款 {loan},张三\n"
        f"{due_date:%Y%m%d},{_yuan(due)},转账,李四\n"
        "2026-01-12,77.77,unknown,王五\n"
        "2026-01-12,-50.00,bank fee,\n"
    )
    content = csv_text.encode("gb18030")
    result = signal_service.import_statement(platform, "ops", content, "stmt.csv")
    assert (result["by_reference"], result["by_amount"], result["unmatched"]) == (1, 1, 2)
    with platform.engine.connect() as conn:
        rows = conn.execute(select(statement_lines.c.line_number, statement_lines.c.loan_id,
                                   statement_lines.c.match, statement_lines.c.signal_id)
                            .order_by(statement_lines.c.line_number)).all()
    assert [(r.loan_id, r.match) for r in rows] == [(loan, "reference"), (other, "amount"),
                                                    (None, "none"), (None, "none")]
    assert rows[0].signal_id is not None and rows[2].signal_id is None
    assert signal_service.signals_of(platform, other)[0]["attributes"]["match"] == "amount"
    again = signal_service.import_statement(platform, "ops", content, "stmt.csv")
    assert again["already_imported"] and count(platform, signals) == 2


def test_statement_excel_and_bad_files(platform: Platform, loan: str) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["value_date", "credit", "debit", "reference"])
    sheet.append([date(2026, 1, 11), 4417.73, None, f"loan {loan} January"])
    sheet.append([date(2026, 1, 11), None, 12.5, "fee"])
    buffer = io.BytesIO()
    book.save(buffer)
    result = signal_service.import_statement(platform, "ops", buffer.getvalue(), "s.xlsx")
    assert result["by_reference"] == 1 and result["lines"] == 2
    [stored] = signal_service.signals_of(platform, loan)
    assert stored["attributes"]["amount_fen"] == 441773
    with pytest.raises(InvalidInput) as exc:
        signal_service.import_statement(platform, "ops", b"date,amount\n2026-13-01,1.00\n",
                                        "x.csv")
    assert exc.value.errors[0].field == "line 2.value_date"
    with pytest.raises(InvalidInput) as exc:
        signal_service.import_statement(platform, "ops", b"when,how much\n", "x.csv")
    assert exc.value.errors[0].code == "no_date_column"
    with pytest.raises(InvalidInput):
        signal_service.import_statement(platform, "ops", b"PK\x03\x04junk", "x.xlsx")


def test_balloon_watch_ranks_loans_near_their_balloon(
        platform: Platform, clock: FixedClock) -> None:
    with_dealer(platform)
    far = book_application(platform, "officer", application(1))
    # 12-month loans disbursed in the past: balloons fall due in 90 and 120 days
    near = book_application(platform, "officer", application(
        2, start=date(2025, 4, 10), term=12, loan_id="NEAR"))
    later = book_application(platform, "officer", application(
        3, start=date(2025, 5, 10), term=12, loan_id="LATER"))
    watch = alert_service.balloon_watch(platform, date(2026, 1, 10))
    chances = [w["chance_not_settled"] for w in watch]
    assert chances == sorted(chances, reverse=True) and [w["rank"] for w in watch] == [1, 2]
    by_id = {w["loan_id"]: w for w in watch}
    assert far not in by_id
    assert (by_id[near]["stage"], by_id[near]["days_left"]) == (90, 90)
    assert (by_id[later]["stage"], by_id[later]["days_left"]) == (120, 120)
    assert by_id[near]["late_instalments"] >= 8  # nothing was paid on these loans
    assert [w["loan_id"] for w in alert_service.balloon_watch(
        platform, date(2026, 1, 10), stage=120)] == [later]
    raised = alert_service.raise_balloon_watch(platform, as_of=date(2026, 1, 10))
    assert {a["rule_id"] for a in raised.alerts_raised} == {"balloon-at-risk"}
    again = alert_service.raise_balloon_watch(platform, as_of=date(2026, 1, 10))
    assert again.accepted == [] and len(again.duplicates) == 2  # one signal per stage


def test_monitoring_over_http(platform: Platform, loan: str) -> None:
    app = create_app(platform)
    client = TestClient(app)

    def auth(role: Role) -> dict[str, str]:
        return {"Authorization": "Bearer " + app.state.tokens.issue(f"u-{role.value}", role)}

    single = client.post("/api/v1/signals", json=debit_failed(loan), headers=auth(Role.SERVICING))
    assert single.status_code == 201, single.text
    alert_id = single.json()["alerts_raised"][0]["alert_id"]
    batch = client.post("/api/v1/signals", headers=auth(Role.SERVICING), json={"signals": [
        debit_failed(loan, "insufficient-funds"), gps(loan)]})
    assert batch.status_code == 201
    assert batch.json()["rejected"][0]["code"] == "no_gps_consent"
    bad = client.post("/api/v1/signals", headers=auth(Role.SERVICING),
                      json={"signals": [{"kind": "gps-offline", "loan_id": loan}]})
    assert bad.status_code == 422
    assert {d["field"] for d in bad.json()["detail"]} == {"signals[0].occurred_at",
                                                          "signals[0].attributes.hours"}
    listed = client.get("/api/v1/alerts", params={"queue": "early-warning", "status": "open"},
                        headers=auth(Role.COLLECTOR)).json()
    assert [a["alert_id"] for a in listed["alerts"]] == [alert_id]
    for action, body in (("acknowledge", None), ("work", {"note": "on it"}),
                         ("close", {"resolution": "false-positive"})):
        response = client.post(f"/api/v1/alerts/{alert_id}/{action}", json=body,
                               headers=auth(Role.COLLECTOR))
        assert response.status_code == 200, response.text
    assert response.json()["status"] == "closed"
    refused = client.post(f"/api/v1/alerts/{alert_id}/work", headers=auth(Role.COLLECTOR))
    assert refused.status_code == 409
    rules = client.get("/api/v1/alert-rules", headers=auth(Role.RISK)).json()
    assert rules["version"] == 0 and rules["built_in"]
    body = {"format": "json", "definition": {"rules": rules["rules"][:2]},
            "expected_version": 0}
    assert client.put("/api/v1/alert-rules", json=body,
                      headers=auth(Role.SERVICING)).status_code == 403
    replaced = client.put("/api/v1/alert-rules", json=body, headers=auth(Role.RISK))
    assert replaced.status_code == 200 and replaced.json() == {"version": 1, "rules": 2}
    wrong = client.put("/api/v1/alert-rules", headers=auth(Role.RISK), json={
        "format": "yaml", "definition": "rules:\n  - id: x\n    severity: loud\n"})
    assert wrong.status_code == 422
    assert "rules[0].severity" in {d["field"] for d in wrong.json()["detail"]}
    upload = client.post("/api/v1/signals/statements", headers=auth(Role.SERVICING),
                         files={"file": ("s.csv", f"date,amount,reference\n2026-01-11,"
                                                  f"100.00,{loan}\n".encode(), "text/csv")})
    assert upload.status_code == 201 and upload.json()["by_reference"] == 1
    watch = client.get("/api/v1/balloon-watch", headers=auth(Role.RISK))
    assert watch.status_code == 200 and watch.json()["loans"] == []


def test_the_command_line(platform: Platform, loan: str, tmp_path: Any,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from tailguard.cli.main import main

    monkeypatch.setenv("TAILGUARD_DATABASE_URL",
                       platform.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("TAILGUARD_DOCUMENT_ROOT", str(platform.settings.document_root))
    monkeypatch.setenv("TAILGUARD_NOTARY", platform.settings.notary)
    batch = tmp_path / "signals.jsonl"
    batch.write_text("\n".join(json.dumps(s) for s in (debit_failed(loan), gps(loan))),
                     encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["signals", "ingest", str(batch)])
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["alerts_raised"][0]["rule_id"] == "debit-failed-frozen"
    assert outcome["rejected"][0]["code"] == "no_gps_consent"
    statement = tmp_path / "s.csv"
    statement.write_text(f"date,amount,reference\n2026-01-11,10.00,{loan}\n", encoding="utf-8")
    imported = runner.invoke(main, ["signals", "import-statement", str(statement)])
    assert imported.exit_code == 0 and json.loads(imported.stdout)["by_reference"] == 1
    watch = runner.invoke(main, ["signals", "balloon-watch", "--raise"])
    assert watch.exit_code == 0 and "raised 0 alerts" in watch.output
    bad = runner.invoke(main, ["signals", "balloon-watch", "--as-of", "2026-02-30"])
    assert bad.exit_code != 0 and "--as-of" in bad.output
