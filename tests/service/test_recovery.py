"""Collections on SQLite and PostgreSQL: cases opened and closed by the end of day, strategies
assigned, promises judged (a broken one escalates), queues and "who next", partners (an agency
sees only its cases), field routes, legal steps and repossession's gate, write-off by
maker-checker."""

from __future__ import annotations

import warnings
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from tailguard.calendar import CalendarFallbackWarning
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_recovery import recovery_assignments
from tailguard.infra.db.tables_recovery import recovery_cases as cases_table
from tailguard.loans.events import Channel as PaymentChannel
from tailguard.services import (
    approvals,
    payments,
    recovery_cases,
    recovery_legal,
    recovery_partners,
    recovery_strategies,
    recovery_work,
)
from tailguard.services.booking import book_application
from tailguard.services.contacts import Actor
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import recovery_eod
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

DAY = date(2026, 3, 2)
COLLECTOR = Actor("collector.wang", "collector")
LEAD = Actor("lead.zhou", "team-lead")
OTHER_LEAD = Actor("lead.sun", "team-lead")
AGENCY = Actor("agency.li", "agency", agency_id="AG-SZ")
OTHER_AGENCY = Actor("agency.ma", "agency", agency_id="AG-GZ")


def borrower_of(platform: Platform, loan_id: str) -> str:
    with platform.engine.connect() as conn:
        return str(conn.execute(select(tables.loans.c.borrower_id)
                                .where(tables.loans.c.id == loan_id)).scalar_one())


def to_day(platform: Platform, clock: FixedClock, day: date) -> None:
    """Move the clock to `day` (noon in Shanghai) and run the end of day up to it."""
    clock.current = FixedClock.at(day).current
    from tailguard.batch import eod

    eod.run(platform, day)


@pytest.fixture
def book(platform: Platform, clock: FixedClock) -> dict[str, str]:
    """Three loans: A1 and A2 of one borrower (living in Shenzhen), C of another; all miss
    their February instalment, so on 2 March they are 20 days past due."""
    with_dealer(platform)
    a1 = book_application(platform, "officer", application(1))
    a2 = book_application(platform, "officer", application(2))
    c = book_application(platform, "officer", application(3, residence="510104"))
    with platform.engine.begin() as conn:
        conn.execute(update(tables.loans).where(tables.loans.c.id == a2)
                     .values(borrower_id=borrower_of(platform, a1)))
    to_day(platform, clock, DAY)
    return {"a1": a1, "a2": a2, "c": c}


def case_of(platform: Platform, borrower_id: str) -> dict[str, object]:
    with platform.engine.connect() as conn:
        row = conn.execute(select(cases_table).where(
            cases_table.c.borrower_id == borrower_id)
            .order_by(cases_table.c.id.desc())).mappings().first()
    assert row is not None
    return dict(row)


def overdue(platform: Platform, loan_id: str) -> int:
    with platform.engine.connect() as conn:
        s = tables.loan_state.c
        row = conn.execute(select(s.overdue_principal_fen + s.overdue_interest_fen
                                  + s.overdue_fee_fen + s.penalty_outstanding_fen)
                           .where(s.loan_id == loan_id)).scalar_one()
    return int(row)


def test_end_of_day_opens_one_case_per_borrower_and_assigns_the_strategy(
        platform: Platform, book: dict[str, str]) -> None:
    report = recovery_eod(platform, DAY)
    assert report["opened"] == 2 and report["loans_assigned"] == 3
    a = case_of(platform, borrower_of(platform, book["a1"]))
    detail = recovery_cases.case_detail(platform, LEAD, int(str(a["id"])))
    assert [x["loan_id"] for x in detail["loans"]] == sorted([book["a1"], book["a2"]])
    assert a["max_dpd"] == 20 and a["overdue_fen"] == overdue(platform, book["a1"]) + overdue(
        platform, book["a2"])
    assert a["segment"] and a["arm"] in ("champion", "challenger", "holdout")
    # 20 DPD: a phone step on every default path (gentle offers a restructure from day 20)
    assert a["action"] in ("reminder", "call", "restructure-offer")
    with platform.engine.connect() as conn:
        assigned = conn.execute(select(recovery_assignments.c.loan_id)).scalars().all()
    assert sorted(assigned) == sorted(book.values())
    again = recovery_eod(platform, DAY)  # a rerun opens nothing new
    assert again["opened"] == 0
    assert [e["kind"] for e in detail["events"]].count("opened") == 1


def test_paying_the_arrears_cures_the_case_with_the_payment_in_its_history(
        platform: Platform, clock: FixedClock, book: dict[str, str]) -> None:
    recovery_eod(platform, DAY)
    payments.post_payment(platform, "ops", book["c"], overdue(platform, book["c"]), DAY,
                          PaymentChannel.BANK_TRANSFER, "cure-c-1")
    to_day(platform, clock, DAY + timedelta(days=1))
    report = recovery_eod(platform, DAY + timedelta(days=1))
    assert report["closed"] == {"cure": 1}
    case = case_of(platform, borrower_of(platform, book["c"]))
    assert case["status"] == "closed" and case["close_reason"] == "cure"
    detail = recovery_cases.case_detail(platform, LEAD, int(str(case["id"])))
    assert [p["kind"] for p in detail["payments"]] == ["payment"]
    assert detail["events"][-1]["kind"] == "closed"
    still = case_of(platform, borrower_of(platform, book["a1"]))
    assert still["status"] == "open"
    readout = recovery_strategies.champion_challenger(platform)
    arms = readout["arms"]
    assert sum(a["cases"] for a in arms.values()) == 2
    assert sum(a["cured"] for a in arms.values()) == 1 == arms[str(case["arm"])]["cured"]
    assert -1 <= readout["challenger_vs_champion"]["low"] <= readout[
        "challenger_vs_champion"]["high"] <= 1


def test_a_broken_promise_escalates_on_the_next_end_of_day_and_a_kept_one_does_not(
        platform: Platform, clock: FixedClock, book: dict[str, str]) -> None:
    recovery_eod(platform, DAY)
    a = int(str(case_of(platform, borrower_of(platform, book["a1"]))["id"]))
    c = int(str(case_of(platform, borrower_of(platform, book["c"]))["id"]))
    recovery_cases.record_promise(platform, COLLECTOR, a, 1_000_00, DAY, book["a1"])
    recovery_cases.record_promise(platform, COLLECTOR, c, 1_000_00, DAY, book["c"])
    payments.post_payment(platform, "ops", book["c"], 1_000_00, DAY,
                          PaymentChannel.BANK_TRANSFER, "promise-c-1")
    assert recovery_eod(platform, DAY)["promises"] == {"kept": 1, "broken": 0}  # not due yet
    to_day(platform, clock, DAY + timedelta(days=1))
    report = recovery_eod(platform, DAY + timedelta(days=1))
    assert report["promises"] == {"kept": 0, "broken": 1}
    broken = case_of(platform, borrower_of(platform, book["a1"]))
    assert broken["escalation"] == 1 and broken["broken_promise"] is True
    kept = case_of(platform, borrower_of(platform, book["c"]))
    assert kept["escalation"] == 0
    detail = recovery_cases.case_detail(platform, LEAD, a)
    kinds = [e["kind"] for e in detail["events"]]
    assert "promise-broken" in kinds and "escalated" in kinds
    (card,) = recovery_work.collector_scores(platform)
    assert (card["username"], card["promises_kept"], card["promises_broken"]) == (
        COLLECTOR.name, 1, 1)
    assert card["score"] == 20.0 + 15.0 + 15.0  # half kept; nothing closed or contacted: neutral
    assert detail["promises"][0]["status"] == "broken"
    # the strategy step moved one ahead of where days past due alone would put it
    with platform.engine.connect() as conn:
        steps = dict(conn.execute(select(recovery_assignments.c.loan_id,
                                         recovery_assignments.c.step)).all())
    assert steps[book["a1"]] >= 1


def test_promises_are_checked_field_by_field(platform: Platform, book: dict[str, str]) -> None:
    recovery_eod(platform, DAY)
    a = int(str(case_of(platform, borrower_of(platform, book["a1"]))["id"]))
    with pytest.raises(InvalidInput) as too_far:
        recovery_cases.record_promise(platform, COLLECTOR, a, 100, DAY + timedelta(days=90))
    assert too_far.value.errors[0].field == "due_date"
    with pytest.raises(InvalidInput) as other_loan:
        recovery_cases.record_promise(platform, COLLECTOR, a, 100, DAY, book["c"])
    assert other_loan.value.errors[0].field == "loan_id"


def _teams(platform: Platform) -> None:
    recovery_work.save_team(platform, "admin", "SZ-PHONE", "深圳电催", "440000", "phone", 50,
                            ["reminder", "call", "restructure-offer"])
    recovery_work.save_team(platform, "admin", "HQ-PHONE", "总部电催", "000000", "phone", 50,
                            ["*"])
    recovery_work.save_team(platform, "admin", "SZ-FIELD", "深圳外访", "440300", "field", 20,
                            ["field-visit"], (Decimal("22.54"), Decimal("114.06")))
    recovery_work.save_collector(platform, "admin", COLLECTOR.name, "SZ-PHONE",
                                 ["call", "reminder", "restructure-offer"], 30)
    recovery_work.save_collector(platform, "admin", "collector.hq", "HQ-PHONE", ["*"], 30)


def test_queues_route_by_region_and_next_answers_with_the_contact_policy(
        platform: Platform, clock: FixedClock, book: dict[str, str]) -> None:
    _teams(platform)
    recovery_eod(platform, DAY)
    a = case_of(platform, borrower_of(platform, book["a1"]))
    c = case_of(platform, borrower_of(platform, book["c"]))
    assert (a["team_id"], a["collector"]) == ("SZ-PHONE", COLLECTOR.name)  # lives in Shenzhen
    assert (c["team_id"], c["collector"]) == ("HQ-PHONE", "collector.hq")  # Chengdu: no team
    shanghai = ZoneInfo("Asia/Shanghai")
    nxt = recovery_work.next_case(platform, COLLECTOR, datetime(2026, 3, 2, 10, tzinfo=shanghai))
    assert nxt["case"]["id"] == a["id"]
    assert nxt["contact_policy"]["allowed"] and "days past due" in nxt["why"]
    night = recovery_work.next_case(platform, COLLECTOR,
                                    datetime(2026, 3, 2, 23, tzinfo=shanghai))
    assert night["case"] is None
    assert night["skipped"][0]["reason"] == "QUIET_HOURS"
    with platform.engine.connect() as conn:  # asking never logged a contact
        from tailguard.infra.db.tables_engagement import contact_log

        assert conn.execute(select(contact_log.c.id)).first() is None
    moved = recovery_work.assign_case(platform, LEAD, int(str(a["id"])), "HQ-PHONE",
                                      "collector.hq", "holiday cover")
    assert moved["collector"] == "collector.hq"
    with pytest.raises(InvalidInput) as wrong:
        recovery_work.assign_case(platform, LEAD, int(str(a["id"])), "SZ-PHONE", "collector.hq")
    assert wrong.value.errors[0].field == "collector"


def _partner(platform: Platform, partner_id: str, provinces: list[str],
             assessed: date | None = date(2026, 1, 5), **extra: object) -> None:
    recovery_partners.save_partner(platform, "risk", {
        "id": partner_id, "name": f"{partner_id} 催收", "kind": "agency",
        "capabilities": ["ai-dialler"], "provinces": provinces, "cities": [],
        "rating": "4.5", "complaints": 1, "cases_handled": 200, "recovery_rate": "0.35",
        "cost_rate": "0.2", "capacity": 100, "last_assessed_on": assessed, **extra})


def test_a_partner_rating_that_is_not_a_number_is_named(platform: Platform) -> None:
    for wrong in ("NaN", "Infinity", "abc"):
        with pytest.raises(InvalidInput) as refused:
            _partner(platform, "AG-X", ["440000"], rating=wrong)
        assert [e.field for e in refused.value.errors] == ["rating"]


def test_an_agency_sees_only_the_cases_placed_with_it(platform: Platform,
                                                      book: dict[str, str]) -> None:
    recovery_eod(platform, DAY)
    _partner(platform, "AG-SZ", ["440000"])
    _partner(platform, "AG-GZ", ["440000"], rating="2.0")
    _partner(platform, "AG-OLD", ["440000", "510000"], assessed=date(2024, 6, 1),
             rating="5.0")
    a = int(str(case_of(platform, borrower_of(platform, book["a1"]))["id"]))
    c = int(str(case_of(platform, borrower_of(platform, book["c"]))["id"]))
    placed = recovery_partners.place_case(platform, LEAD, a)
    assert placed["partner_id"] == "AG-SZ"  # the overdue-for-assessment one is skipped
    assert recovery_cases.case_detail(platform, AGENCY, a)["case"]["id"] == a
    with pytest.raises(NotFound):
        recovery_cases.case_detail(platform, OTHER_AGENCY, a)
    with pytest.raises(NotFound):
        recovery_cases.case_detail(platform, AGENCY, c)
    assert [x["id"] for x in recovery_cases.list_cases(platform, AGENCY)] == [a]
    with pytest.raises(Refused) as nobody:
        recovery_partners.place_case(platform, LEAD, c)  # Sichuan: only the overdue one
    assert nobody.value.code == "NO_PARTNER"
    assert recovery_partners.overdue_assessments(platform) == ["AG-OLD"]
    recovery_partners.recall_case(platform, LEAD, a, "end of mandate")
    with pytest.raises(NotFound):
        recovery_cases.case_detail(platform, AGENCY, a)


def test_the_field_route_visits_every_planned_case_and_outcomes_keep_photos(
        platform: Platform, book: dict[str, str]) -> None:
    _teams(platform)
    recovery_eod(platform, DAY)
    ids = [int(str(case_of(platform, borrower_of(platform, book[k]))["id"]))
           for k in ("a1", "c")]
    places = {ids[0]: (22.53, 113.93), ids[1]: (22.60, 114.10)}
    plan = recovery_work.plan_field_day(platform, LEAD.name, "SZ-FIELD", DAY, ids, places)
    assert sorted(plan["route"]) == sorted(ids)
    assert [v["case_id"] for v in plan["visits"]] == plan["route"]
    assert [v["sequence"] for v in plan["visits"]] == [1, 2]
    visit = plan["visits"][0]
    outcome = recovery_work.record_visit(
        platform, COLLECTOR, visit["id"], found=True, outcome="met the borrower; will pay",
        visited_at=datetime(2026, 3, 2, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
        latitude=Decimal("22.531"), longitude=Decimal("113.931"), place="南山区科技园",
        photos=[(b"\xff\xd8\xff photo bytes", "image/jpeg")])
    assert outcome["decision"] == "allow" and len(outcome["photos"]) == 1
    from tailguard.infra.document_store import document_store_from_settings

    store = document_store_from_settings(platform.settings)
    assert store.get(outcome["photos"][0]) == b"\xff\xd8\xff photo bytes"
    with pytest.raises(Refused):
        recovery_work.plan_field_day(platform, LEAD.name, "SZ-FIELD", DAY, ids, places)


def test_repossession_needs_the_earlier_steps_and_a_managers_approval(
        platform: Platform, clock: FixedClock, book: dict[str, str]) -> None:
    _teams(platform)
    to_day(platform, clock, DAY + timedelta(days=60))
    today = DAY + timedelta(days=60)
    recovery_eod(platform, today)
    case_id = int(str(case_of(platform, borrower_of(platform, book["a1"]))["id"]))
    with pytest.raises(Refused) as early:
        recovery_legal.request_repossession(platform, LEAD, case_id, book["a1"], "no contact")
    assert early.value.code == "EARLIER_STEPS_MISSING"
    # the earlier steps: a call, a field visit, a lawyer's letter
    from tailguard.engagement.vocabulary import Channel, Outcome, Purpose
    from tailguard.services.contacts import ContactCommand

    at = datetime(today.year, today.month, today.day, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    recovery_cases.contact(platform, COLLECTOR, case_id,
                           ContactCommand(Channel.CALL, Purpose.COLLECTION, at=at),
                           Outcome.NO_ANSWER)
    plan = recovery_work.plan_field_day(platform, LEAD.name, "SZ-FIELD", today, [case_id],
                                        {case_id: (22.53, 113.93)})
    recovery_work.record_visit(platform, COLLECTOR, plan["visits"][0]["id"], found=False,
                               outcome="nobody home", visited_at=at + timedelta(hours=2),
                               latitude=Decimal("22.53"), longitude=Decimal("113.93"),
                               place="南山区", photos=[])
    letter = recovery_legal.demand_letter(platform, LEAD, case_id, "某律师事务所")
    assert letter["step"] == "demand-letter"
    request = recovery_legal.request_repossession(platform, LEAD, case_id, book["a1"],
                                                  "vehicle at risk")
    assert request["status"] == "requested"
    with pytest.raises(Refused) as unapproved:
        recovery_legal.repossess(platform, LEAD, case_id, "深圳某停车场")
    assert unapproved.value.code == "NOT_APPROVED"
    with pytest.raises(Refused) as same:
        recovery_legal.decide_repossession(platform, LEAD, case_id, True)
    assert same.value.code == "SAME_PERSON"
    with pytest.raises(Refused) as not_manager:
        recovery_legal.decide_repossession(platform, COLLECTOR, case_id, True)
    assert not_manager.value.code == "NOT_A_MANAGER"
    recovery_legal.decide_repossession(platform, OTHER_LEAD, case_id, True)
    done = recovery_legal.repossess(platform, LEAD, case_id, "深圳某停车场")
    assert done["status"] == "repossessed"


def test_the_venue_follows_the_rules(platform: Platform, book: dict[str, str]) -> None:
    recovery_eod(platform, DAY)
    case_id = int(str(case_of(platform, borrower_of(platform, book["a1"]))["id"]))
    with pytest.raises(Refused):
        recovery_legal.file_claim(platform, LEAD, case_id, book["a1"], "security")
    recovery_legal.demand_letter(platform, LEAD, case_id)
    security = recovery_legal.file_claim(platform, LEAD, case_id, book["a1"], "security")
    assert (security["venue_kind"], security["venue"]) == ("litigation", "440300")  # registered
    there = recovery_legal.file_claim(platform, LEAD, case_id, book["a1"], "security",
                                      vehicle_region="510104")
    assert there["venue"] == "510104"
    debt = recovery_legal.file_claim(platform, LEAD, case_id, book["a1"], "debt")
    assert debt["venue"] == "440305"  # the borrower's domicile
    arbitration = recovery_legal.file_claim(platform, LEAD, case_id, book["a1"], "debt",
                                            arbitration_commission="深圳国际仲裁院")
    assert arbitration["step"] == "arbitration"


def test_a_write_off_goes_through_maker_checker_and_closes_the_case(
        platform: Platform, clock: FixedClock, book: dict[str, str]) -> None:
    recovery_eod(platform, DAY)
    case_id = int(str(case_of(platform, borrower_of(platform, book["c"]))["id"]))
    proposal = recovery_legal.propose_write_off(platform, LEAD, case_id, book["c"],
                                                "no recovery expected")
    assert proposal["status"] == "pending"
    assert case_of(platform, borrower_of(platform, book["c"]))["status"] == "open"
    with pytest.raises(Refused):
        approvals.decide(platform, LEAD.name, proposal["approval_id"], True)
    approvals.decide(platform, "risk.chen", proposal["approval_id"], True)
    report = recovery_eod(platform, DAY)
    assert report["closed"] == {"write-off": 1}


def test_strategies_are_versioned_data_checked_field_by_field(platform: Platform) -> None:
    from tailguard.recovery.strategy import DEFAULT_STRATEGY

    first = recovery_strategies.save_strategy(platform, "risk.chen", DEFAULT_STRATEGY)
    second = recovery_strategies.save_strategy(platform, "risk.chen",
                                               {**DEFAULT_STRATEGY, "holdout_share": "0.1"})
    assert (first.version, second.version) == (1, 2)
    listed = recovery_strategies.list_strategies(platform)
    assert listed["active"]["version"] == 2
    broken = {**DEFAULT_STRATEGY, "segments": [{"id": "x", "path": "nowhere"}]}
    with pytest.raises(InvalidInput) as bad:
        recovery_strategies.save_strategy(platform, "risk.chen", broken)
    assert bad.value.errors[0].field == "segments[0].path"


def test_over_http_an_agency_reading_a_case_not_placed_with_it_gets_404(
        platform: Platform, book: dict[str, str]) -> None:
    from fastapi.testclient import TestClient

    from tailguard.api.app import create_app
    from tailguard.infra.auth import Role

    recovery_eod(platform, DAY)
    _partner(platform, "AG-SZ", ["440000"])
    a = int(str(case_of(platform, borrower_of(platform, book["a1"]))["id"]))
    c = int(str(case_of(platform, borrower_of(platform, book["c"]))["id"]))
    app = create_app(platform)
    client = TestClient(app)
    agency = {"Authorization": "Bearer " + app.state.tokens.issue("agency.li", Role.AGENCY,
                                                                  agency_id="AG-SZ")}
    lead = {"Authorization": "Bearer " + app.state.tokens.issue("lead.zhou", Role.TEAM_LEAD)}
    assert client.get(f"/api/v1/collections/cases/{a}", headers=agency).status_code == 404
    placed = client.post(f"/api/v1/collections/cases/{a}/placement", json={}, headers=lead)
    assert placed.status_code == 200, placed.text
    assert client.get(f"/api/v1/collections/cases/{a}", headers=agency).status_code == 200
    assert client.get(f"/api/v1/collections/cases/{c}", headers=agency).status_code == 404
    listed = client.get("/api/v1/collections/cases", headers=agency).json()["cases"]
    assert [x["id"] for x in listed] == [a]
    bad = client.post(f"/api/v1/collections/cases/{a}/promises",
                      json={"amount": "12.345", "due_date": "2026-03-05"}, headers=agency)
    assert bad.status_code == 422
    assert any(d["field"] == "amount" for d in bad.json()["detail"])
    ok = client.post(f"/api/v1/collections/cases/{a}/promises",
                     json={"amount": "500.00", "due_date": "2026-03-05"}, headers=agency)
    assert ok.status_code == 201 and ok.json()["amount_fen"] == 500_00


def test_a_case_opened_from_an_alert_stays_open_until_closed_by_hand(
        platform: Platform) -> None:
    with_dealer(platform)
    loan = book_application(platform, "officer", application(9))
    case_id = recovery_cases.open_from_alert(platform, "risk.chen", loan, "court hit")
    assert recovery_cases.open_from_alert(platform, "risk.chen", loan, "again") == case_id
    report = recovery_eod(platform, date(2026, 1, 10))
    assert report["closed"] == {} and report["opened"] == 0  # current, never delinquent
    with pytest.raises(InvalidInput):
        recovery_cases.close_case(platform, LEAD, case_id, "cure")
    closed = recovery_cases.close_case(platform, LEAD, case_id, "settlement", "paid in full")
    assert closed["status"] == "closed"
    kinds = [e["kind"] for e in recovery_cases.case_detail(platform, LEAD, case_id)["events"]]
    assert kinds == ["opened", "alert", "closed"]
