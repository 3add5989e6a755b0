"""Disposal of a repossessed vehicle on SQLite and PostgreSQL: storage, appraisal with its
report in the document store, one sale whose net proceeds settle the loan through the
waterfall and the ledger (balanced, trial balance zero, reconciled), the surplus owed to the
borrower and the shortfall left owed (or proposed for write-off), to the fen."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.errors import InvalidInput, Refused
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import ledger_repository, tables
from tailguard.infra.db.tables_recovery import recovery_cases, recovery_legal
from tailguard.ledger.flows import BORROWER_PAYABLE, CASH, COLLATERAL_HELD
from tailguard.loans.payoff import SettlementReason
from tailguard.services import approvals, queries, recovery_disposal, servicing
from tailguard.services.booking import book_application
from tailguard.services.contacts import Actor
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import recovery_eod
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

DAY = date(2026, 3, 2)
LEAD = Actor("lead.zhou", "team-lead")
STORED_DAYS = 5
DAILY_FEE = 50_00


@pytest.fixture
def case(platform: Platform, clock: FixedClock) -> tuple[int, str]:
    """One loan 20 days past due on 2 March, its case opened by the end of day."""
    with_dealer(platform)
    loan_id = book_application(platform, "officer", application(1))
    clock.current = FixedClock.at(DAY).current
    from tailguard.batch import eod

    eod.run(platform, DAY)
    recovery_eod(platform, DAY)
    with platform.engine.connect() as conn:
        case_id = conn.execute(select(recovery_cases.c.id)).scalar_one()
    return int(case_id), loan_id


def _repossessed(platform: Platform, case_id: int, loan_id: str) -> None:
    """The gate to repossession is tested in test_recovery.py; here the approved
    repossession is written as its legal steps, five days before today."""
    with platform.engine.begin() as conn:
        for step in ("repossession-request", "repossession-approved", "repossessed"):
            conn.execute(insert(recovery_legal).values(
                case_id=case_id, loan_id=loan_id, step=step,
                on_date=DAY - timedelta(days=STORED_DAYS), actor="lead.sun",
                recorded_at=FixedClock.at(DAY).current))


def _owed(platform: Platform, loan_id: str) -> int:
    return servicing.payoff_quote(platform, loan_id, DAY, SettlementReason.VEHICLE_RETURN
                                  ).total_fen


def _balances(platform: Platform, loan_id: str) -> dict[str, int]:
    with platform.engine.connect() as conn:
        return ledger_repository.loan_balances(conn, loan_id)


def _stored_and_appraised(platform: Platform, case_id: int, loan_id: str) -> None:
    _repossessed(platform, case_id, loan_id)
    stored = recovery_disposal.record_storage(platform, LEAD, case_id, "深圳某停车场",
                                              DAILY_FEE)
    assert stored["status"] == "stored" and stored["loan_id"] == loan_id
    appraised = recovery_disposal.record_appraisal(
        platform, LEAD, case_id, 150_000_00, "深圳某评估公司", DAY,
        (b"%PDF-1.4 appraisal report", "application/pdf"))
    assert appraised["status"] == "appraised"
    from tailguard.infra.document_store import document_store_from_settings

    store = document_store_from_settings(platform.settings)
    assert store.get(appraised["appraisal_document"]) == b"%PDF-1.4 appraisal report"


def test_a_sale_needs_a_repossession_then_an_appraisal(
        platform: Platform, case: tuple[int, str]) -> None:
    case_id, loan_id = case
    with pytest.raises(Refused) as none:
        recovery_disposal.sell(platform, LEAD, case_id, "某二手车商", 100_000_00, 0, "s-0")
    assert none.value.code == "NOT_REPOSSESSED"
    with pytest.raises(Refused) as storage:
        recovery_disposal.record_storage(platform, LEAD, case_id, "某停车场", 0)
    assert storage.value.code == "NOT_REPOSSESSED"
    _repossessed(platform, case_id, loan_id)
    recovery_disposal.record_storage(platform, LEAD, case_id, "某停车场", 0)
    with pytest.raises(Refused) as unappraised:
        recovery_disposal.sell(platform, LEAD, case_id, "某二手车商", 100_000_00, 0, "s-1")
    assert unappraised.value.code == "NOT_APPRAISED"
    with pytest.raises(InvalidInput):
        recovery_disposal.record_appraisal(platform, LEAD, case_id, 0, "评估师", DAY)
    with pytest.raises(InvalidInput):
        recovery_disposal.record_appraisal(platform, LEAD, case_id, 1_00, "评估师",
                                           DAY + timedelta(days=1))


def test_a_sale_above_the_debt_settles_the_loan_and_owes_the_surplus(
        platform: Platform, case: tuple[int, str]) -> None:
    case_id, loan_id = case
    _stored_and_appraised(platform, case_id, loan_id)
    owed = _owed(platform, loan_id)
    storage = STORED_DAYS * DAILY_FEE
    fees = 1_500_00
    surplus = 12_345_67
    price = owed + fees + storage + surplus
    cash_before = _balances(platform, loan_id).get(CASH, 0)
    sold = recovery_disposal.sell(platform, LEAD, case_id, "某二手车商", price, fees, "sale-1")
    assert sold["storage_fees_fen"] == storage == 250_00
    assert sold["net_fen"] == price - fees - storage
    assert (sold["owed_fen"], sold["applied_fen"]) == (owed, owed)
    assert (sold["surplus_fen"], sold["shortfall_fen"]) == (surplus, 0)
    assert sold["paid_off"] is True
    assert sum(sold["applied"].values()) == owed
    assert sold["applied"]["principal"] > 0 and sold["applied"]["penalty"] > 0
    balances = _balances(platform, loan_id)
    assert balances.get(COLLATERAL_HELD, 0) == 0
    assert balances[BORROWER_PAYABLE] == -surplus
    assert balances[CASH] - cash_before == price - fees - storage
    assert all(v == 0 for a, v in balances.items() if a.startswith("130"))
    with platform.engine.connect() as conn:
        assert ledger_repository.trial_balance(conn, DAY).balanced
        assert queries.reconcile(conn) == []
        status = conn.execute(select(tables.loans.c.status)
                              .where(tables.loans.c.id == loan_id)).scalar_one()
    assert status == "closed"
    # the same key replays the outcome; another sale of the vehicle is refused
    again = recovery_disposal.sell(platform, LEAD, case_id, "某二手车商", price, fees, "sale-1")
    assert again["replayed"] is True and again["applied_fen"] == owed
    with pytest.raises(Refused) as second:
        recovery_disposal.sell(platform, LEAD, case_id, "另一车商", price, fees, "sale-2")
    assert second.value.code == "ALREADY_SOLD"
    assert _balances(platform, loan_id) == balances
    report = recovery_eod(platform, DAY)
    assert report["closed"] == {"settlement": 1}


def test_a_sale_below_the_debt_leaves_the_shortfall_owed_and_proposes_its_write_off(
        platform: Platform, case: tuple[int, str]) -> None:
    case_id, loan_id = case
    _stored_and_appraised(platform, case_id, loan_id)
    owed = _owed(platform, loan_id)
    price, fees = 100_000_01, 2_000_00
    net = price - fees - STORED_DAYS * DAILY_FEE
    sold = recovery_disposal.sell(platform, LEAD, case_id, "某拍卖行", price, fees, "sale-9",
                                  propose_write_off=True)
    assert (sold["applied_fen"], sold["surplus_fen"]) == (net, 0)
    assert sold["shortfall_fen"] == owed - net
    assert sold["paid_off"] is False
    balances = _balances(platform, loan_id)
    assert balances.get(COLLATERAL_HELD, 0) == 0 and balances.get(BORROWER_PAYABLE, 0) == 0
    receivables = sum(v for a, v in balances.items() if a.startswith("130"))
    assert receivables == owed - net  # what is left is owed, all of it due today
    account = servicing.load_account(platform, loan_id)
    assert account.position(DAY).arrears_fen == owed - net
    with platform.engine.connect() as conn:
        assert ledger_repository.trial_balance(conn, DAY).balanced
        assert queries.reconcile(conn) == []
    approval = approvals.get_approval(platform, sold["write_off_approval_id"])
    assert (approval.action, approval.status, approval.loan_id) == ("write-off", "pending",
                                                                    loan_id)
    approvals.decide(platform, "risk.chen", approval.approval_id, True)
    after = _balances(platform, loan_id)
    assert all(v == 0 for a, v in after.items() if a.startswith("130"))
    assert after["6701.write-off"] == owed - net


def test_costs_above_the_price_are_refused(platform: Platform,
                                           case: tuple[int, str]) -> None:
    case_id, loan_id = case
    _stored_and_appraised(platform, case_id, loan_id)
    with pytest.raises(Refused) as costs:
        recovery_disposal.sell(platform, LEAD, case_id, "某车商", 1_000_00, 900_00, "s-3")
    assert costs.value.code == "COSTS_EXCEED_PRICE"
    with platform.engine.connect() as conn:  # nothing of the refused sale was written
        assert conn.execute(select(tables.loans.c.status)
                            .where(tables.loans.c.id == loan_id)).scalar_one() == "active"
    assert recovery_disposal.describe(platform, LEAD, case_id)["status"] == "appraised"


def test_the_disposal_over_http(platform: Platform, case: tuple[int, str]) -> None:
    import base64

    from fastapi.testclient import TestClient

    from tailguard.api.app import create_app
    from tailguard.infra.auth import Role

    case_id, loan_id = case
    _repossessed(platform, case_id, loan_id)
    app = create_app(platform)
    client = TestClient(app)
    lead = {"Authorization": "Bearer " + app.state.tokens.issue("lead.zhou", Role.TEAM_LEAD)}
    collector = {"Authorization": "Bearer " + app.state.tokens.issue("collector.wang",
                                                                     Role.COLLECTOR)}
    base = f"/api/v1/collections/cases/{case_id}/disposal"
    stored = client.post(f"{base}/storage", json={"location": "某停车场", "daily_fee": "50.00"},
                         headers=lead)
    assert stored.status_code == 200, stored.text
    assert stored.json()["storage_daily_fee_fen"] == 50_00
    bad = client.post(f"{base}/appraisal", json={
        "appraised_value": "1.234", "appraiser": "某评估公司", "appraised_on": str(DAY)},
        headers=lead)
    assert bad.status_code == 422
    assert any(d["field"] == "appraised_value" for d in bad.json()["detail"])
    appraised = client.post(f"{base}/appraisal", json={
        "appraised_value": "150000.00", "appraiser": "某评估公司", "appraised_on": str(DAY),
        "document": {"content_type": "application/pdf",
                     "data_base64": base64.b64encode(b"%PDF report").decode()}}, headers=lead)
    assert appraised.status_code == 200, appraised.text
    sale = {"buyer": "某车商", "price": "90000.00", "fees": "1000.00"}
    assert client.post(f"{base}/sale", json=sale, headers=collector).status_code == 403
    assert client.post(f"{base}/sale", json=sale, headers=lead).status_code == 422  # no key
    keyed = lead | {"Idempotency-Key": "sale-http-0001"}
    sold = client.post(f"{base}/sale", json=sale, headers=keyed)
    assert sold.status_code == 201, sold.text
    assert sold.json()["net_fen"] == 90_000_00 - 1_000_00 - STORED_DAYS * 50_00
    again = client.post(f"{base}/sale", json=sale, headers=lead | {
        "Idempotency-Key": "sale-http-0002"})
    assert again.status_code in (409, 422) and "ALREADY_SOLD" in again.text
    assert client.get(base, headers=lead).json()["status"] == "sold"
