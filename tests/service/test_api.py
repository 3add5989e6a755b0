"""The REST API over HTTP: login, the whole role × endpoint matrix, field-named 4xx errors,
and a borrower who cannot see another borrower's loan."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tailguard.api.app import create_app
from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.auth import Role
from tailguard.infra.clock import FixedClock
from tailguard.infra.users import create_user
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

R = Role
STAFF = {R.ADMINISTRATOR, R.CREDIT_OFFICER, R.SERVICING, R.RISK, R.COLLECTOR, R.TEAM_LEAD,
         R.COMPLIANCE}
# The specification: which roles each endpoint admits. Every API route must be listed.
MATRIX: dict[tuple[str, str], set[Role]] = {
    ("GET", "/api/v1/loans"): STAFF,
    ("GET", "/api/v1/loans/{loan_id}"): STAFF | {R.BORROWER},
    ("GET", "/api/v1/loans/{loan_id}/schedule"): STAFF | {R.BORROWER},
    ("POST", "/api/v1/loans/{loan_id}/payments"): {R.SERVICING},
    ("POST", "/api/v1/loans/{loan_id}/payments/{payment_id}/reversal"): {R.SERVICING},
    ("GET", "/api/v1/loans/{loan_id}/payoff-quote"): {R.SERVICING, R.COLLECTOR, R.TEAM_LEAD,
                                                      R.RISK, R.BORROWER},
    ("POST", "/api/v1/loans/{loan_id}/payoff"): {R.SERVICING},
    ("GET", "/api/v1/loans/{loan_id}/balloon-options"): {R.SERVICING, R.COLLECTOR,
                                                         R.TEAM_LEAD, R.RISK, R.BORROWER},
    ("POST", "/api/v1/loans/{loan_id}/balloon-options"): {R.SERVICING, R.BORROWER},
    ("POST", "/api/v1/loans/{loan_id}/approvals"): {R.SERVICING, R.TEAM_LEAD, R.RISK},
    ("POST", "/api/v1/approvals/{approval_id}/decision"): {R.SERVICING, R.TEAM_LEAD, R.RISK},
    ("GET", "/api/v1/loans/{loan_id}/ledger"): {R.SERVICING, R.COMPLIANCE, R.RISK,
                                                R.ADMINISTRATOR},
    ("GET", "/api/v1/ledger/trial-balance"): {R.SERVICING, R.COMPLIANCE, R.RISK,
                                              R.ADMINISTRATOR},
    ("GET", "/api/v1/eod/status"): {R.SERVICING, R.ADMINISTRATOR, R.RISK},
    ("GET", "/api/v1/loans/{loan_id}/borrower"): STAFF | {R.BORROWER},
    ("POST", "/api/v1/loans/{loan_id}/borrower/unmask"): STAFF | {R.BORROWER},
    ("POST", "/api/v1/eod/run"): {R.SERVICING, R.ADMINISTRATOR},
    ("GET", "/api/v1/loans/{loan_id}/documents"): STAFF | {R.BORROWER},
    ("GET", "/api/v1/loans/{loan_id}/contract"): {R.CREDIT_OFFICER, R.COMPLIANCE, R.BORROWER},
    ("GET", "/api/v1/loans/{loan_id}/contract/receipt"): STAFF | {R.BORROWER},
    ("GET", "/api/v1/payments/{payment_id}/receipt"): STAFF | {R.BORROWER},
    ("POST", "/api/v1/log/checkpoints"): {R.COMPLIANCE, R.ADMINISTRATOR},
    ("POST", "/api/v1/contacts/check"): {R.COLLECTOR, R.TEAM_LEAD, R.AGENCY, R.SERVICING},
    ("POST", "/api/v1/contacts"): {R.COLLECTOR, R.TEAM_LEAD, R.AGENCY, R.SERVICING},
    ("GET", "/api/v1/loans/{loan_id}/contacts"): {R.COLLECTOR, R.TEAM_LEAD, R.AGENCY,
                                                  R.SERVICING, R.COMPLIANCE, R.RISK,
                                                  R.ADMINISTRATOR},
    ("POST", "/api/v1/loans/{loan_id}/messages"): {R.SERVICING, R.COLLECTOR, R.TEAM_LEAD},
    ("GET", "/api/v1/loans/{loan_id}/messages"): STAFF | {R.BORROWER},
    # origination (routes_origination.py)
    ("POST", "/api/v1/applications"): {R.CREDIT_OFFICER},
    ("GET", "/api/v1/applications/{application_id}"): {R.CREDIT_OFFICER, R.RISK,
                                                       R.COMPLIANCE},
    ("POST", "/api/v1/applications/{application_id}/decide"): {R.CREDIT_OFFICER},
    ("POST", "/api/v1/applications/{application_id}/override"): {R.CREDIT_OFFICER},
    ("POST", "/api/v1/applications/{application_id}/override/decision"): {R.CREDIT_OFFICER,
                                                                          R.RISK},
    ("GET", "/api/v1/decisions/{decision_id}/replay"): {R.RISK, R.COMPLIANCE,
                                                        R.CREDIT_OFFICER},
    # monitoring (routes_monitoring.py)
    ("POST", "/api/v1/signals"): {R.SERVICING, R.RISK, R.COLLECTOR, R.TEAM_LEAD,
                                  R.ADMINISTRATOR},
    ("POST", "/api/v1/signals/statements"): {R.SERVICING},
    ("POST", "/api/v1/loans/{loan_id}/gps-consent"): {R.SERVICING, R.CREDIT_OFFICER},
    ("GET", "/api/v1/alerts"): {R.RISK, R.SERVICING, R.COLLECTOR, R.TEAM_LEAD, R.COMPLIANCE,
                                R.ADMINISTRATOR},
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): {R.RISK, R.SERVICING, R.COLLECTOR,
                                                        R.TEAM_LEAD},
    ("POST", "/api/v1/alerts/{alert_id}/work"): {R.RISK, R.SERVICING, R.COLLECTOR,
                                                 R.TEAM_LEAD},
    ("POST", "/api/v1/alerts/{alert_id}/close"): {R.RISK, R.SERVICING, R.COLLECTOR,
                                                  R.TEAM_LEAD},
    ("GET", "/api/v1/alert-rules"): {R.RISK, R.COMPLIANCE, R.ADMINISTRATOR, R.TEAM_LEAD},
    ("PUT", "/api/v1/alert-rules"): {R.RISK},
    ("GET", "/api/v1/balloon-watch"): {R.RISK, R.SERVICING, R.COLLECTOR, R.TEAM_LEAD,
                                       R.COMPLIANCE, R.ADMINISTRATOR},
    # collections (routes_recovery.py)
    ("GET", "/api/v1/collections/cases"): {R.COLLECTOR, R.TEAM_LEAD, R.AGENCY, R.RISK,
                                           R.COMPLIANCE, R.SERVICING, R.ADMINISTRATOR},
    ("POST", "/api/v1/collections/cases"): {R.RISK, R.TEAM_LEAD, R.COLLECTOR},
    ("GET", "/api/v1/collections/cases/{case_id}"): {R.COLLECTOR, R.TEAM_LEAD, R.AGENCY,
                                                     R.RISK, R.COMPLIANCE, R.SERVICING,
                                                     R.ADMINISTRATOR},
    ("POST", "/api/v1/collections/cases/{case_id}/close"): {R.TEAM_LEAD},
    ("POST", "/api/v1/collections/cases/{case_id}/contacts"): {R.COLLECTOR, R.TEAM_LEAD,
                                                               R.AGENCY},
    ("POST", "/api/v1/collections/cases/{case_id}/promises"): {R.COLLECTOR, R.TEAM_LEAD,
                                                               R.AGENCY},
    ("POST", "/api/v1/collections/cases/{case_id}/assignment"): {R.TEAM_LEAD},
    ("GET", "/api/v1/collections/next"): {R.COLLECTOR, R.TEAM_LEAD},
    ("GET", "/api/v1/collections/collectors/scores"): {R.TEAM_LEAD, R.COMPLIANCE,
                                                       R.ADMINISTRATOR},
    ("GET", "/api/v1/collections/strategies"): {R.RISK, R.TEAM_LEAD, R.COMPLIANCE,
                                                R.ADMINISTRATOR},
    ("POST", "/api/v1/collections/strategies"): {R.RISK},
    ("GET", "/api/v1/collections/teams"): {R.TEAM_LEAD, R.ADMINISTRATOR, R.RISK},
    ("POST", "/api/v1/collections/teams"): {R.TEAM_LEAD, R.ADMINISTRATOR},
    ("GET", "/api/v1/collections/partners"): {R.RISK, R.TEAM_LEAD, R.COMPLIANCE,
                                              R.ADMINISTRATOR},
    ("POST", "/api/v1/collections/partners"): {R.RISK, R.TEAM_LEAD},
    ("POST", "/api/v1/collections/cases/{case_id}/placement"): {R.TEAM_LEAD},
    ("POST", "/api/v1/collections/cases/{case_id}/recall"): {R.TEAM_LEAD},
    ("POST", "/api/v1/collections/field-plans"): {R.TEAM_LEAD},
    ("POST", "/api/v1/collections/visits/{visit_id}/outcome"): {R.COLLECTOR, R.TEAM_LEAD},
    ("POST", "/api/v1/collections/cases/{case_id}/demand-letter"): {R.TEAM_LEAD,
                                                                    R.SERVICING},
    ("POST", "/api/v1/collections/cases/{case_id}/claims"): {R.TEAM_LEAD, R.SERVICING},
    ("POST", "/api/v1/collections/cases/{case_id}/repossession"): {R.TEAM_LEAD,
                                                                   R.SERVICING},
    ("POST", "/api/v1/collections/cases/{case_id}/repossession/decision"): {R.TEAM_LEAD},
    ("POST", "/api/v1/collections/cases/{case_id}/repossessed"): {R.TEAM_LEAD, R.SERVICING},
    ("POST", "/api/v1/collections/cases/{case_id}/write-off"): {R.TEAM_LEAD, R.SERVICING},
    ("GET", "/api/v1/collections/cases/{case_id}/next-action"): {R.COLLECTOR, R.TEAM_LEAD,
                                                                 R.AGENCY, R.RISK},
    ("GET", "/api/v1/collections/reports"): {R.TEAM_LEAD, R.RISK, R.COMPLIANCE,
                                             R.ADMINISTRATOR},
    ("GET", "/api/v1/collections/cases/{case_id}/disposal"): {R.TEAM_LEAD, R.SERVICING, R.RISK,
                                                              R.COMPLIANCE},
    ("POST", "/api/v1/collections/cases/{case_id}/disposal/storage"): {R.TEAM_LEAD,
                                                                       R.SERVICING},
    ("POST", "/api/v1/collections/cases/{case_id}/disposal/appraisal"): {R.TEAM_LEAD,
                                                                         R.SERVICING},
    ("POST", "/api/v1/collections/cases/{case_id}/disposal/sale"): {R.TEAM_LEAD},
}
MATRIX.update({  # offers, incentives, treatments (routes_offers.py)
    ("POST", "/api/v1/loans/{loan_id}/offers"): {R.SERVICING, R.COLLECTOR, R.TEAM_LEAD},
    ("GET", "/api/v1/loans/{loan_id}/offers"): STAFF | {R.BORROWER},
    ("GET", "/api/v1/offers/{offer_id}"): STAFF | {R.BORROWER},
    ("POST", "/api/v1/offers/{offer_id}/send"): {R.SERVICING, R.COLLECTOR, R.TEAM_LEAD},
    ("POST", "/api/v1/offers/{offer_id}/accept"): {R.SERVICING, R.BORROWER},
    ("POST", "/api/v1/offers/{offer_id}/decline"): {R.SERVICING, R.COLLECTOR, R.TEAM_LEAD,
                                                    R.BORROWER},
    ("POST", "/api/v1/offers/{offer_id}/approval"): {R.SERVICING, R.TEAM_LEAD, R.RISK},
    ("GET", "/api/v1/incentive-programmes"): {R.RISK, R.COMPLIANCE, R.ADMINISTRATOR,
                                              R.TEAM_LEAD},
    ("PUT", "/api/v1/incentive-programmes"): {R.RISK},
    ("GET", "/api/v1/loans/{loan_id}/incentives"): STAFF | {R.BORROWER},
    ("GET", "/api/v1/treatments/{programme_id}/read-out"): {R.RISK, R.COMPLIANCE,
                                                            R.ADMINISTRATOR, R.TEAM_LEAD},
})
PUBLIC = {("POST", "/api/v1/auth/token"), ("GET", "/api/v1/health")}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/loans/{loan_id}/payments"): {"amount": "100.00"},
    ("POST", "/api/v1/loans/{loan_id}/payments/{payment_id}/reversal"): {"reason": "bounced"},
    ("POST", "/api/v1/loans/{loan_id}/payoff"): {"amount": "1.00"},
    ("POST", "/api/v1/loans/{loan_id}/balloon-options"): {"option": "extend", "months": 6},
    ("POST", "/api/v1/loans/{loan_id}/approvals"): {"action": "waive", "amount": "1.00",
                                                    "component": "penalty"},
    ("POST", "/api/v1/approvals/{approval_id}/decision"): {"approve": False},
    ("POST", "/api/v1/eod/run"): {"as_of": "2026-01-10"},
    ("POST", "/api/v1/loans/{loan_id}/borrower/unmask"): {"fields": ["phone"],
                                                          "reason": "calling about arrears"},
    ("POST", "/api/v1/contacts/check"): {"loan_id": "OWN", "channel": "call",
                                         "purpose": "collection"},
    ("POST", "/api/v1/contacts"): {"loan_id": "OWN", "channel": "call",
                                   "purpose": "collection", "outcome": "no-answer"},
    ("POST", "/api/v1/loans/{loan_id}/messages"): {"template": "due-reminder",
                                                   "channel": "in-app"},
    ("POST", "/api/v1/loans/{loan_id}/offers"): {"kind": "deferral", "months": 1},
    ("POST", "/api/v1/collections/cases/{case_id}/disposal/storage"): {"location": "x"},
    ("POST", "/api/v1/collections/cases/{case_id}/disposal/appraisal"): {
        "appraised_value": "1000.00", "appraiser": "a", "appraised_on": "2026-01-01"},
    ("POST", "/api/v1/collections/cases/{case_id}/disposal/sale"): {"buyer": "b",
                                                                     "price": "1000.00"},
    ("POST", "/api/v1/offers/{offer_id}/approval"): {"approve": False},
    ("PUT", "/api/v1/incentive-programmes"): {"definition": {
        "id": "streak-x", "kind": "on-time-streak", "streak": 3, "amount_fen": 100,
        "starts_on": "2026-01-01"}},
    ("POST", "/api/v1/applications/{application_id}/override"): {
        "outcome": "approve", "reason": "income confirmed by employer"},
    ("POST", "/api/v1/applications/{application_id}/override/decision"): {"approve": False},
    ("POST", "/api/v1/signals"): {"kind": "payment-received", "loan_id": "OWN",
                                  "occurred_at": "2026-02-24T10:00:00+08:00",
                                  "attributes": {"amount_fen": 100}},
    ("POST", "/api/v1/loans/{loan_id}/gps-consent"): {"granted": False},
    ("POST", "/api/v1/alerts/{alert_id}/close"): {"resolution": "resolved"},
    ("PUT", "/api/v1/alert-rules"): {"definition": {"rules": []}},
    ("POST", "/api/v1/collections/cases"): {"loan_id": "OWN", "reason": "failed auto-debits"},
    ("POST", "/api/v1/collections/cases/{case_id}/contacts"): {"channel": "call"},
    ("POST", "/api/v1/collections/teams"): {"id": "T1", "name": "电催", "region_code": "440000",
                                            "kind": "phone", "capacity": 5, "skills": ["call"]},
    ("POST", "/api/v1/collections/field-plans"): {"team_id": "T1", "day": "2026-02-24"},
}


@pytest.fixture
def api(platform: Platform, clock: FixedClock) -> dict[str, Any]:
    with_dealer(platform)
    own = book_application(platform, "officer", application(1, loan_id="OWN"))
    other = book_application(platform, "officer", application(2, loan_id="OTHER",
                                                             borrower_region="310104"))
    clock.advance(timedelta(days=45))
    app = create_app(platform)
    client = TestClient(app)
    with platform.engine.connect() as conn:
        from sqlalchemy import select

        from tailguard.infra.db import tables

        borrower_id = conn.execute(select(tables.loans.c.borrower_id).where(
            tables.loans.c.id == own)).scalar_one()
    tokens = {
        role: app.state.tokens.issue(
            f"user-{role.value}", role,
            agency_id="AG1" if role is R.AGENCY else None,
            borrower_id=borrower_id if role is R.BORROWER else None,
        )
        for role in Role
    }
    return {"client": client, "tokens": tokens, "own": own, "other": other, "app": app}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_route_is_in_the_matrix(api: dict[str, Any]) -> None:
    routes = {
        (method.upper(), path)
        for path, operations in api["app"].openapi()["paths"].items()
        for method in operations
    }
    assert routes - PUBLIC == set(MATRIX), "an endpoint without a stated role list"


def test_role_matrix(api: dict[str, Any]) -> None:
    client: TestClient = api["client"]
    for (method, path), allowed in MATRIX.items():
        url = path.format(loan_id=api["own"], payment_id="pay-x", approval_id="apr-x",
                          application_id="APP-X", decision_id="DEC-X", alert_id="1",
                          case_id="1", visit_id="1", offer_id="off-x",
                          programme_id="p-x")
        for role in Role:
            headers = auth(api["tokens"][role]) | {"Idempotency-Key": f"key-{role.value}-x"}
            response = client.request(method, url, headers=headers,
                                      json=BODIES.get((method, path)))
            if role in allowed:
                assert response.status_code not in (401, 403), (role, method, path,
                                                                 response.text)
                assert response.status_code < 500, (role, method, path, response.text)
            else:
                assert response.status_code == 403, (role, method, path, response.status_code)
        anonymous = client.request(method, url, json=BODIES.get((method, path)))
        assert anonymous.status_code == 401


def test_a_borrower_cannot_see_another_borrowers_loan(api: dict[str, Any]) -> None:
    client: TestClient = api["client"]
    token = auth(api["tokens"][R.BORROWER])
    assert client.get(f"/api/v1/loans/{api['own']}", headers=token).status_code == 200
    for suffix in ("", "/schedule", "/payoff-quote", "/balloon-options"):
        response = client.get(f"/api/v1/loans/{api['other']}{suffix}", headers=token)
        assert response.status_code == 404, suffix


def test_login_with_password_and_throttling(api: dict[str, Any], platform: Platform) -> None:
    client: TestClient = api["client"]
    with platform.uow() as uow:
        create_user(uow.connection, uow.clock, "ops.li", "correct horse battery", R.SERVICING)
        uow.commit()
    ok = client.post("/api/v1/auth/token",
                     data={"username": "ops.li", "password": "correct horse battery"})
    assert ok.status_code == 200
    token = ok.json()["access_token"]
    assert client.get("/api/v1/loans", headers=auth(token)).status_code == 200
    for _ in range(5):
        bad = client.post("/api/v1/auth/token", data={"username": "ops.li", "password": "no"})
        assert bad.status_code == 401
    locked = client.post("/api/v1/auth/token",
                         data={"username": "ops.li", "password": "correct horse battery"})
    assert locked.status_code == 429


def test_payments_over_http_with_field_named_errors(api: dict[str, Any]) -> None:
    client: TestClient = api["client"]
    headers = auth(api["tokens"][R.SERVICING])
    url = f"/api/v1/loans/{api['own']}/payments"
    ok = client.post(url, json={"amount": "4417.73", "value_date": "2026-02-10"},
                     headers=headers | {"Idempotency-Key": "http-1-abcdef"})
    assert ok.status_code == 201, ok.text
    replay = client.post(url, json={"amount": "4417.73", "value_date": "2026-02-10"},
                         headers=headers | {"Idempotency-Key": "http-1-abcdef"})
    assert replay.json()["payment_id"] == ok.json()["payment_id"] and replay.json()["replayed"]
    cases = [
        ({"amount": "12.345"}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"amount": "-3.00"}, "amount"),
        ({"amount": "10.00", "value_date": "2026-02-30"}, "value_date"),
        ({"amount": "10.00", "channel": "cash-in-envelope"}, "channel"),
        ({"amount": "10.00", "surprise": 1}, "surprise"),
    ]
    for body, field in cases:
        response = client.post(url, json=body, headers=headers | {"Idempotency-Key": "bad-req-1"})
        assert response.status_code == 422, (body, response.text)
        assert any(d["field"] == field for d in response.json()["detail"]), response.json()
    malformed = client.post(url, content=b"{not json", headers=headers | {
        "Idempotency-Key": "bad-json-1", "Content-Type": "application/json"})
    assert malformed.status_code == 422
    unknown = client.post("/api/v1/loans/NOPE/payments", json={"amount": "1.00"},
                          headers=headers | {"Idempotency-Key": "unknown-1"})
    assert unknown.status_code == 404
    conflict = client.post(url, json={"amount": "1.00", "value_date": "2026-02-10"},
                           headers=headers | {"Idempotency-Key": "http-1-abcdef"})
    assert conflict.status_code == 409
    assert conflict.json()["detail"][0]["field"] == "Idempotency-Key"


def test_personal_data_is_masked_and_unmasked_reads_are_audited(
    api: dict[str, Any], platform: Platform
) -> None:
    from sqlalchemy import select

    from tailguard.infra.db import tables

    client: TestClient = api["client"]
    url = f"/api/v1/loans/{api['own']}/borrower"
    masked = client.get(url, headers=auth(api["tokens"][R.COLLECTOR])).json()
    assert masked["masked"] and "*" in masked["phone"] and "*" in masked["id_number"]
    assert "110105198503151" not in str(masked)
    body = {"fields": ["phone"], "reason": "calling about arrears"}
    shown = client.post(f"{url}/unmask", json=body, headers=auth(api["tokens"][R.COLLECTOR]))
    assert shown.status_code == 200 and shown.json()["values"]["phone"].endswith("38000")
    denied = client.post(f"{url}/unmask", json={"fields": ["id_number"], "reason": "curious"},
                         headers=auth(api["tokens"][R.COLLECTOR]))
    assert denied.status_code == 409
    no_reason = client.post(f"{url}/unmask", json={"fields": ["phone"], "reason": ""},
                            headers=auth(api["tokens"][R.COLLECTOR]))
    assert no_reason.status_code == 422
    with platform.engine.connect() as conn:
        reads = conn.execute(select(tables.audit_log.c.actor, tables.audit_log.c.detail).where(
            tables.audit_log.c.action == "pii.read")).all()
    # Booking read the ID numbers for the contracts (role "system"); staff reads are the rest.
    reads = [r for r in reads if '"role": "system"' not in r.detail]
    assert [r.actor for r in reads] == ["user-collector"]
    assert "calling about arrears" in reads[0].detail


def test_paging_beyond_what_a_database_integer_holds_is_a_field_error(
        api: dict[str, Any]) -> None:
    client: TestClient = api["client"]
    headers = auth(api["tokens"][R.SERVICING])
    response = client.get("/api/v1/loans", params={"offset": 2**63}, headers=headers)
    assert response.status_code == 422, response.text
    assert any(d["field"] == "offset" for d in response.json()["detail"]), response.json()
    last_page = client.get("/api/v1/loans", params={"offset": 2**31 - 1}, headers=headers)
    assert last_page.status_code == 200, last_page.text
    assert last_page.json() == {"loans": []}
