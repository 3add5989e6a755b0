"""The origination endpoints over HTTP: submit with base64 documents, decide, override by one
person and approval by another, replay, and 422s that name the fields."""

from __future__ import annotations

import base64
import warnings
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tailguard.api.app import create_app
from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.auth import Role
from tailguard.services.platform import Platform
from tests.service.factories import resident_id, vin, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


def body(**changes: Any) -> dict[str, Any]:
    pdf = base64.b64encode(b"%PDF-1.4 id card").decode()
    data: dict[str, Any] = {
        "parties": [{
            "role": "borrower", "name": "王五", "id_number": resident_id("440305", "19880612", 7),
            "phone": "138 0013 8000", "monthly_income": "25000.00", "employment": "employed",
            "employment_months": 36, "employer": "深圳某公司",
            "bank_card": "6222020200112233446", "residence_region_code": "440305"}],
        "vehicle": {"vin": vin(42), "condition": "new", "energy": "nev", "price": "200000.00",
                    "registration_region_code": "440300"},
        "dealer_id": "D-SZ-1", "product_code": "auto-balloon", "term_months": 36,
        "annual_rate_percent": "4.75", "down_payment": "70000.00", "balloon_share": "0.25",
        "documents": [{"kind": "id-card", "filename": "id.pdf",
                       "content_type": "application/pdf", "content_base64": pdf}],
    }
    data.update(changes)
    return data


@pytest.fixture
def client(platform: Platform) -> tuple[TestClient, dict[str, dict[str, str]]]:
    with_dealer(platform)
    app = create_app(platform)
    users = {"officer": Role.CREDIT_OFFICER, "officer2": Role.CREDIT_OFFICER,
             "risk": Role.RISK, "servicing": Role.SERVICING}
    headers = {name: {"Authorization": "Bearer " + app.state.tokens.issue(name, role)}
               for name, role in users.items()}
    return TestClient(app), headers


def test_submit_decide_override_replay(client: tuple[TestClient, dict[str, Any]]) -> None:
    http, h = client
    created = http.post("/api/v1/applications", json=body(), headers=h["officer"])
    assert created.status_code == 201, created.text
    app_id = created.json()["application_id"]
    decided = http.post(f"/api/v1/applications/{app_id}/decide", headers=h["officer"])
    assert decided.status_code == 200, decided.text
    decision = decided.json()
    assert decision["outcome"] == "refer"  # no model configured: NO_SCORE
    reasons = {r["code"]: r for r in decision["result"]["reasons"]}
    assert reasons["NO_SCORE"]["zh"] and reasons["NO_SCORE"]["en"]
    assert "DOCUMENTS_MISSING" in reasons
    replay = http.get(f"/api/v1/decisions/{decision['decision_id']}/replay", headers=h["risk"])
    assert replay.status_code == 200 and replay.json()["same"] is True
    override = http.post(f"/api/v1/applications/{app_id}/override", headers=h["officer"],
                         json={"outcome": "approve", "reason": "documents seen in branch",
                               "conditions": [{"code": "MIN_DOWN_PAYMENT",
                                               "value": "8000000"}]})
    assert override.status_code == 200, override.text
    same = http.post(f"/api/v1/applications/{app_id}/override/decision",
                     headers=h["officer"], json={"approve": True})
    assert same.status_code == 409 and same.json()["detail"][0]["code"] == "SAME_PERSON"
    approved = http.post(f"/api/v1/applications/{app_id}/override/decision",
                         headers=h["risk"], json={"approve": True})
    assert approved.status_code == 200 and approved.json()["checker"] == "risk"
    shown = http.get(f"/api/v1/applications/{app_id}", headers=h["risk"]).json()
    assert shown["status"] == "approve"
    assert "*" in shown["parties"][0]["name"] or shown["parties"][0]["name"] != "王五"
    assert http.get(f"/api/v1/applications/{app_id}", headers=h["servicing"]).status_code == 403


def test_bad_fields_are_named(client: tuple[TestClient, dict[str, Any]]) -> None:
    http, h = client
    party = body()["parties"][0] | {"id_number": "440305198806120071", "phone": "999"}
    response = http.post("/api/v1/applications", headers=h["officer"], json=body(
        parties=[party], down_payment="250000.00",
        documents=[{"kind": "selfie", "filename": "a.gif", "content_type": "image/gif",
                    "content_base64": "@@@"}]))
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["detail"]}
    assert "documents[0].content_base64" in fields
    response = http.post("/api/v1/applications", headers=h["officer"], json=body(
        parties=[party], down_payment="250000.00"))
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["detail"]}
    assert {"parties[0].id_number", "parties[0].phone", "down_payment"} <= fields
    missing = http.post("/api/v1/applications", headers=h["officer"],
                        json={k: v for k, v in body().items() if k != "vehicle"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["field"] == "vehicle"


def test_command_line(platform: Platform, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from tailguard.cli.main import main

    with_dealer(platform)
    monkeypatch.setenv("TAILGUARD_DATABASE_URL", str(platform.engine.url.render_as_string(
        hide_password=False)))
    monkeypatch.setenv("TAILGUARD_DOCUMENT_ROOT", str(platform.settings.document_root))
    runner = CliRunner()
    good = tmp_path / "application.json"
    good.write_text(json.dumps(body(), ensure_ascii=False), encoding="utf-8")
    submitted = runner.invoke(main, ["application", "submit", str(good)])
    assert submitted.exit_code == 0, submitted.output
    app_id = submitted.stdout.strip()
    decided = runner.invoke(main, ["application", "decide", app_id, "--json"])
    assert decided.exit_code == 0, decided.output
    decision = json.loads(decided.stdout)
    assert decision["outcome"] == "refer"
    replayed = runner.invoke(main, ["application", "replay", decision["decision_id"]])
    assert replayed.exit_code == 0 and "same" in replayed.stdout
    shown = runner.invoke(main, ["application", "show", app_id])
    assert json.loads(shown.stdout)["status"] == "refer"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body(down_payment="-1")), encoding="utf-8")
    refused = runner.invoke(main, ["application", "submit", str(bad)])
    assert refused.exit_code != 0 and "down_payment" in refused.output
