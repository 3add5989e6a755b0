"""The collections report on SQLite and PostgreSQL, on a small book whose every figure is
known: three loans rolling from C to M1, one promise kept and one broken, two calls of which
one reached the debtor, a payment received while a case was placed with an agency (its
commission), a recorded legal cost, a cured case; the same over HTTP and on the command line."""

from __future__ import annotations

import json
import warnings
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from tailguard.calendar import CalendarFallbackWarning
from tailguard.engagement.vocabulary import Channel, Outcome, Purpose
from tailguard.errors import InvalidInput
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_recovery import recovery_cases, recovery_legal
from tailguard.loans.events import Channel as PaymentChannel
from tailguard.services import payments, recovery_partners
from tailguard.services import recovery_cases as cases_service
from tailguard.services.booking import book_application
from tailguard.services.contacts import Actor, ContactCommand
from tailguard.services.platform import Platform
from tailguard.services.recovery_cases import recovery_eod
from tailguard.services.recovery_reports import collections_report
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

DAY = date(2026, 3, 2)
COLLECTOR = Actor("collector.wang", "collector")
LEAD = Actor("lead.zhou", "team-lead")
FROM, TO = date(2026, 2, 2), date(2026, 3, 9)


def _to_day(platform: Platform, clock: FixedClock, day: date) -> None:
    clock.current = FixedClock.at(day).current
    from tailguard.batch import eod

    eod.run(platform, day)


def _case(platform: Platform, loan_id: str) -> int:
    with platform.engine.connect() as conn:
        borrower = conn.execute(select(tables.loans.c.borrower_id)
                                .where(tables.loans.c.id == loan_id)).scalar_one()
        return int(conn.execute(select(recovery_cases.c.id).where(
            recovery_cases.c.borrower_id == borrower)).scalar_one())


@pytest.fixture
def book(platform: Platform, clock: FixedClock) -> dict[str, object]:
    with_dealer(platform)
    a = book_application(platform, "officer", application(1))
    b = book_application(platform, "officer", application(2, residence="440305"))
    c = book_application(platform, "officer", application(3, residence="510104"))
    _to_day(platform, clock, DAY)
    recovery_eod(platform, DAY)
    case_a, case_c = _case(platform, a), _case(platform, c)
    at = datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    cases_service.contact(platform, COLLECTOR, case_a,
                          ContactCommand(Channel.CALL, Purpose.COLLECTION, at=at),
                          Outcome.CONNECTED)
    cases_service.contact(platform, COLLECTOR, _case(platform, b),
                          ContactCommand(Channel.CALL, Purpose.COLLECTION, at=at),
                          Outcome.NO_ANSWER)
    cases_service.record_promise(platform, COLLECTOR, case_a, 1_000_00, DAY + timedelta(days=2))
    cases_service.record_promise(platform, COLLECTOR, case_c, 1_000_00, DAY + timedelta(days=2))
    recovery_partners.save_partner(platform, "risk", {
        "id": "AG-SC", "name": "四川催收", "kind": "agency", "capabilities": [],
        "provinces": ["510000"], "cities": [], "rating": "4", "complaints": 0,
        "cases_handled": 100, "recovery_rate": "0.3", "cost_rate": "0.15", "capacity": 10,
        "last_assessed_on": date(2026, 1, 5)})
    recovery_partners.place_case(platform, LEAD, case_c)
    with platform.engine.connect() as conn:
        s = tables.loan_state.c
        arrears = int(conn.execute(select(s.overdue_principal_fen + s.overdue_interest_fen
                                          + s.overdue_fee_fen + s.penalty_outstanding_fen)
                                   .where(s.loan_id == c)).scalar_one())
    clock.current = FixedClock.at(DAY + timedelta(days=1)).current
    paid = arrears + 50_00  # a day's penalty more: the loan is current again
    payments.post_payment(platform, "ops", c, paid, DAY + timedelta(days=1),
                          PaymentChannel.BANK_TRANSFER, "report-pay-c")
    with platform.engine.begin() as conn:
        conn.execute(insert(recovery_legal).values(
            case_id=case_a, loan_id=a, step="demand-letter", on_date=DAY,
            detail=json.dumps({"law_firm": "某律所", "cost_fen": 3_000_00}), actor=LEAD.name,
            recorded_at=FixedClock.at(DAY).current))
    day = DAY + timedelta(days=5)
    _to_day(platform, clock, day)
    recovery_eod(platform, day)
    return {"a": a, "b": b, "c": c, "paid_c": paid, "case_c": case_c}


def test_every_figure_of_the_report(platform: Platform, book: dict[str, object]) -> None:
    report = collections_report(platform, FROM, TO)
    assert report["snapshots"] == ["2026-02-02", "2026-03-02"]
    roll = report["roll_rates"]
    assert roll["counts"] == {"C": {"M1": 3}} and roll["forward"] == {"C": 1.0}
    assert report["cure_rate"]["cases"] == {"closed": 1, "cured": 1, "rate": 1.0}
    assert report["promise_kept_rate"] == {"kept": 1, "broken": 1, "rate": 0.5}
    assert report["right_party_contact_rate"] == {"calls_made": 2, "right_party": 1,
                                                  "rate": 0.5}
    arrears = int(str(book["paid_c"]))
    commission = int(arrears * 15 // 100)
    rec = report["recovery"]
    assert rec["recovered_fen"] == arrears
    assert rec["commissions_fen"] == commission and rec["legal_fen"] == 3_000_00
    assert rec["cost_fen"] == commission + 3_000_00
    (agency,) = rec["by_agency"]
    assert (agency["key"], agency["recovered_fen"], agency["commissions_fen"]) == (
        "AG-SC", arrears, commission)
    regions = {row["key"]: row for row in rec["by_region"]}
    assert regions["510000"]["recovered_fen"] == arrears
    assert regions["510000"]["commissions_fen"] == commission
    assert regions["440000"]["legal_fen"] == 3_000_00 and regions["440000"]["cases"] == 2
    assert sum(row["recovered_fen"] for row in rec["by_team"]) == arrears
    assert report["balloon_clearance"]["due"] == 0
    # the payment came on 3 March: a report up to 2 March recovers nothing
    before_march = collections_report(platform, FROM, DAY)
    assert before_march["recovery"]["recovered_fen"] == 0
    with pytest.raises(InvalidInput):
        collections_report(platform, TO, FROM)


def test_the_report_over_http_and_on_the_command_line(
        platform: Platform, book: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from tailguard.api.app import create_app
    from tailguard.infra.auth import Role

    app = create_app(platform)
    client = TestClient(app)
    lead = app.state.tokens.issue("lead.zhou", Role.TEAM_LEAD)
    collector = app.state.tokens.issue("collector.wang", Role.COLLECTOR)
    url = f"/api/v1/collections/reports?from={FROM}&to={TO}"
    answer = client.get(url, headers={"Authorization": f"Bearer {lead}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["promise_kept_rate"]["rate"] == 0.5
    assert client.get(url, headers={"Authorization": f"Bearer {collector}"}).status_code == 403
    monkeypatch.setenv("TAILGUARD_DATABASE_URL", str(platform.engine.url.render_as_string(
        hide_password=False)))
    monkeypatch.setenv("TAILGUARD_DOCUMENT_ROOT", str(platform.settings.document_root))
    monkeypatch.setenv("TAILGUARD_NOTARY", platform.settings.notary)
    from tailguard.cli.main import main

    result = CliRunner().invoke(main, ["collections", "report", "--from", str(FROM), "--to",
                                       str(TO), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["right_party_contact_rate"]["rate"] == 0.5
    text = CliRunner().invoke(main, ["collections", "report", "--from", str(FROM), "--to",
                                     str(TO)])
    assert text.exit_code == 0 and "promises kept: 50.0%" in text.stdout
    bad = CliRunner().invoke(main, ["collections", "report", "--from", "2026-02-30"])
    assert bad.exit_code == 2 and "--from" in bad.stderr
