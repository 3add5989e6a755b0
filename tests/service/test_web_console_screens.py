"""The console's work screens over HTTP (TestClient, SQLite and PostgreSQL): each page for the
roles that may open it and a 403 for the others; review with reasons and a two-person
override; the collector's queue with the contact policy's answer, a contact and a promise;
the field map; partners and an assessment; the strategy and rule editors (bad input keeps
the text and names the error); champion/challenger, models, compliance, the alerts panel;
and the vintage curves against a naive computation."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tailguard.api.app import create_app
from tailguard.calendar import CalendarFallbackWarning
from tailguard.calendar.months import add_months
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import contact_log
from tailguard.infra.db.tables_recovery import recovery_promises
from tailguard.loans.events import Channel as PaymentChannel
from tailguard.services import alerts, payments, recovery_strategies, vintages
from tailguard.services import signals as signal_service
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.console_fixtures import DAY, ConsoleWorld, seed_console
from tests.service.factories import application, with_dealer
from tests.service.origination_fixtures import train_application_model
from tests.service.web_fixtures import PASSWORD, csrf_of

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)


@pytest.fixture
def world(platform: Platform, clock: FixedClock) -> ConsoleWorld:
    return seed_console(platform, clock)


@pytest.fixture
def app_client(platform: Platform, world: ConsoleWorld) -> Iterator[TestClient]:
    with TestClient(create_app(platform), base_url="http://testserver") as client:
        yield client


def login(client: TestClient, username: str) -> None:
    client.cookies.clear()
    page = client.get("/console/login")
    done = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                               "csrf": csrf_of(page.text)})
    assert done.status_code == 200 and str(done.url).endswith("/console/dashboard"), done.text


def main_of(html: str) -> str:
    return html[html.index("<main"):html.index("</main>")]


ROLE_USERS = {"collector": "collector.wang", "team-lead": "lead.zhou", "risk": "risk.zhao",
              "compliance": "compliance.he", "administrator": "admin.root",
              "credit-officer": "credit.qian", "servicing": "ops.wang"}


def screens(world: ConsoleWorld) -> dict[str, set[str]]:
    """Each screen and the roles that may open it (everyone else: 403)."""
    return {
        "/console/applications": {"credit-officer", "risk", "compliance"},
        f"/console/applications/{world.referred}": {"credit-officer", "risk", "compliance"},
        "/console/collections/next": {"collector", "team-lead"},
        f"/console/collections/cases/{world.case_id}": {"collector", "team-lead"},
        "/console/field-plans": {"collector", "team-lead", "administrator", "risk"},
        "/console/partners": {"risk", "team-lead", "compliance", "administrator"},
        "/console/partners/AG-SC": {"risk", "team-lead", "compliance", "administrator"},
        "/console/strategy": {"risk", "team-lead", "compliance", "administrator"},
        "/console/rules": {"risk", "team-lead", "compliance", "administrator"},
        "/console/champion-challenger": {"risk", "team-lead", "compliance", "administrator"},
        "/console/models": {"risk", "compliance", "administrator"},
        "/console/vintages": {"risk", "compliance", "administrator", "servicing"},
        "/console/compliance": {"compliance", "administrator", "risk"},
    }


def test_each_screen_answers_its_roles_and_refuses_the_others(
        app_client: TestClient, world: ConsoleWorld) -> None:
    pages = screens(world)
    for url in pages:
        anonymous = app_client.get(url, follow_redirects=False)
        assert anonymous.status_code == 303, url
        assert anonymous.headers["location"] == "/console/login"
    for role, username in ROLE_USERS.items():
        login(app_client, username)
        nav = app_client.get("/console/dashboard").text
        for url, allowed in pages.items():
            response = app_client.get(url)
            if role in allowed:
                assert response.status_code == 200, (role, url, response.text[:300])
                assert "https://" not in main_of(response.text), url
            else:
                assert response.status_code == 403, (role, url)
                assert "您的角色无权查看此页面" in response.text
        # the header lists exactly the screens of the role
        for href in ("/console/applications", "/console/collections/next",
                     "/console/strategy", "/console/models", "/console/vintages"):
            assert (f'href="{href}"' in nav) == (role in pages[href]), (role, href)
    # the English wording is one click away on every screen
    login(app_client, "risk.zhao")
    app_client.get("/lang/en?next=/console/strategy")
    english = app_client.get("/console/strategy")
    assert 'lang="en"' in english.text and "Collection strategy" in english.text


def test_review_shows_reasons_and_an_override_needs_a_second_person(
        app_client: TestClient, world: ConsoleWorld) -> None:
    login(app_client, "credit.qian")
    listing = app_client.get("/console/applications")
    assert f"/console/applications/{world.referred}" in listing.text
    page = app_client.get(f"/console/applications/{world.referred}")
    body = main_of(page.text)
    assert 'id="outcome">转人工<' in body  # no model configured: the engine refers
    assert "NO_SCORE" in body and 'id="reasons"' in body
    assert "第三方核验结果" in body and "征信" in body  # the bureau's answer is shown
    bad = app_client.post(f"/console/applications/{world.referred}/override", data={
        "outcome": "approve", "reason": "ok", "condition_code": "MAX_BALLOON_SHARE",
        "condition_value": "0.2", "csrf": csrf_of(page.text)})
    assert bad.status_code == 422
    assert 'id="e-reason"' in bad.text and "请说明改判理由" in bad.text
    assert 'value="ok"' in bad.text and 'value="0.2"' in bad.text  # input kept
    bad_share = app_client.post(f"/console/applications/{world.referred}/override", data={
        "outcome": "approve", "reason": "收入核实充分", "condition_code": "MAX_BALLOON_SHARE",
        "condition_value": "1.5", "csrf": csrf_of(page.text)})
    assert bad_share.status_code == 422 and 'id="e-condition_value"' in bad_share.text
    done = app_client.post(f"/console/applications/{world.referred}/override", data={
        "outcome": "approve", "reason": "收入核实充分", "condition_code": "MAX_BALLOON_SHARE",
        "condition_value": "0.2", "csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "等待第二人复核" in done.text
    assert "/override/decision" not in done.text  # the maker cannot check their own override
    forged = app_client.post(f"/console/applications/{world.referred}/override/decision",
                             data={"decision": "approve", "csrf": csrf_of(done.text)})
    assert forged.status_code == 422 and "另一个人" in forged.text
    login(app_client, "credit.sun")
    checker = app_client.get(f"/console/applications/{world.referred}")
    assert "/override/decision" in checker.text
    approved = app_client.post(f"/console/applications/{world.referred}/override/decision",
                               data={"decision": "approve", "csrf": csrf_of(checker.text)})
    assert approved.status_code == 200 and 'id="outcome">通过<' in approved.text
    assert "MAX_BALLOON_SHARE" in main_of(approved.text)
    login(app_client, "risk.zhao")  # risk reads the review but proposes no override
    assert 'id="override-form"' not in app_client.get(
        f"/console/applications/{world.referred}").text


def test_the_review_shows_the_score_and_its_reasons(
        platform: Platform, clock: FixedClock, tmp_path: Path) -> None:
    model = tmp_path / "model"
    train_application_model(model, rows=800)
    world = seed_console(platform, clock, model)
    assert world.scored is not None
    scored_platform = Platform(replace(platform.settings, application_model=str(model)),
                               platform.engine, platform.clock)
    with TestClient(create_app(scored_platform), base_url="http://testserver") as client:
        login(client, "risk.zhao")
        body = main_of(client.get(f"/console/applications/{world.scored}").text)
        score = re.search(r'id="score">(\d+)<', body)
        assert score and 300 <= int(score.group(1)) <= 1000
        assert 'id="score-reasons"' in body and "<code>" in body.split('id="score-reasons"')[1]
        models = main_of(client.get("/console/models").text)
        assert 'id="score-psi"' in models and "监控样本：该模型评分过的 1 笔申请" in models
    with TestClient(create_app(platform), base_url="http://testserver") as client:
        login(client, "risk.zhao")
        assert "没有登记的模型" in client.get("/console/models").text


def test_the_queue_shows_the_policy_answer_then_records_a_contact_and_a_promise(
        platform: Platform, app_client: TestClient, world: ConsoleWorld) -> None:
    login(app_client, "collector.wang")
    queue = app_client.get("/console/collections/next")
    body = main_of(queue.text)
    assert queue.status_code == 200 and 'data-policy="allow"' in body
    assert "允许联系" in body and "WITHIN_RULES" in body and 'id="why"' in body
    case_id = int(re.search(r'action="/console/collections/cases/(\d+)/contacts"',
                            body).group(1))  # type: ignore[union-attr]
    with platform.engine.connect() as conn:  # asking the policy logged no contact
        assert conn.execute(select(contact_log.c.id)).first() is None
    third_party = app_client.get(f"/console/collections/cases/{case_id}",
                                 params={"channel": "call", "party": "relative",
                                         "party_ref": "紧急联系人 1"})
    assert 'data-policy="block"' in third_party.text  # the debtor is reachable
    with platform.engine.connect() as conn:
        assert conn.execute(select(contact_log.c.id)).first() is None
    made = app_client.post(f"/console/collections/cases/{case_id}/contacts", data={
        "channel": "call", "party": "debtor", "outcome": "connected", "note": "答应月底还",
        "csrf": csrf_of(body)})
    assert made.status_code == 200 and 'id="notice"' in made.text and "联系已记录" in made.text
    with platform.engine.connect() as conn:
        logged = conn.execute(select(contact_log.c.decision, contact_log.c.outcome)).all()
    assert [tuple(r) for r in logged] == [("allow", "connected")]
    bad = app_client.post(f"/console/collections/cases/{case_id}/promises", data={
        "amount": "abc", "due_date": "2026-13-01", "csrf": csrf_of(body)})
    assert bad.status_code == 422
    assert 'id="e-amount"' in bad.text and 'id="e-due_date"' in bad.text
    assert 'value="abc"' in bad.text and 'value="2026-13-01"' in bad.text
    past = app_client.post(f"/console/collections/cases/{case_id}/promises", data={
        "amount": "1000", "due_date": "2026-01-01", "csrf": csrf_of(body)})
    assert past.status_code == 422 and 'aria-invalid="true"' in past.text
    promised = app_client.post(f"/console/collections/cases/{case_id}/promises", data={
        "amount": "1200.50", "due_date": (DAY + timedelta(days=5)).isoformat(),
        "csrf": csrf_of(body)})
    assert promised.status_code == 200 and "承诺还款已记录" in promised.text
    with platform.engine.connect() as conn:
        rows = conn.execute(select(recovery_promises.c.amount_fen,
                                   recovery_promises.c.due_on)).all()
    assert [tuple(r) for r in rows] == [(120050, DAY + timedelta(days=5))]
    assert app_client.get("/console/collections/cases/999999").status_code == 404


def test_field_plans_are_drawn_as_svg_with_the_visit_order(
        app_client: TestClient, world: ConsoleWorld) -> None:
    login(app_client, "lead.zhou")
    page = app_client.get("/console/field-plans", params={"day": DAY.isoformat()})
    body = main_of(page.text)
    assert '<svg' in body and 'class="chart route"' in body
    assert 'data-sequence="1"' in body and "route-base" in body
    assert f"/console/collections/cases/{world.case_id}" in body
    assert "http" not in body.split('class="chart route"')[1].split("</svg>")[0]
    bad = app_client.post("/console/field-plans", data={
        "team": "HQ-PHONE", "day": DAY.isoformat(), "csrf": csrf_of(page.text)})
    assert bad.status_code == 422 and 'id="e-team"' in bad.text
    login(app_client, "collector.wang")
    assert 'id="plan-form"' not in app_client.get("/console/field-plans").text


def test_partner_registry_page_and_an_assessment(app_client: TestClient,
                                                world: ConsoleWorld) -> None:
    login(app_client, "lead.zhou")
    listing = main_of(app_client.get("/console/partners").text)
    assert "/console/partners/AG-SC" in listing and "四川某催收公司" in listing
    page = app_client.get("/console/partners/AG-SC")
    body = main_of(page.text)
    assert f"<td>{world.placed_case}</td>" in body and "510000" in body
    bad = app_client.post("/console/partners/AG-SC/assessment", data={
        "rating": "7", "complaints": "x", "cases_handled": "300", "recovery_rate": "NaN",
        "cost_rate": "0.2", "last_assessed_on": "2026-03-01", "csrf": csrf_of(page.text)})
    assert bad.status_code == 422
    for field in ("rating", "complaints", "recovery_rate"):
        assert f'id="e-{field}"' in bad.text, field
    assert 'value="7"' in bad.text and 'value="300"' in bad.text
    good = app_client.post("/console/partners/AG-SC/assessment", data={
        "rating": "4.8", "complaints": "0", "cases_handled": "300", "recovery_rate": "0.4",
        "cost_rate": "0.2", "last_assessed_on": "2026-03-01", "csrf": csrf_of(page.text)})
    assert good.status_code == 200 and "评估已保存" in good.text
    assert "2026-03-01" in good.text and "4.80" in good.text
    login(app_client, "compliance.he")  # reads, does not assess
    assert 'id="assessment-form"' not in app_client.get("/console/partners/AG-SC").text


def test_strategy_editor_keeps_bad_yaml_and_names_the_error_then_saves(
        platform: Platform, app_client: TestClient, world: ConsoleWorld) -> None:
    login(app_client, "risk.zhao")
    page = app_client.get("/console/strategy")
    assert 'id="current-version">0' in page.text
    text = re.search(r'<textarea id="f-definition"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert text is not None
    import html

    source = html.unescape(text.group(1))
    broken = source + "\nsegments: [unclosed\n"
    bad = app_client.post("/console/strategy", data={
        "definition": broken, "format": "yaml", "csrf": csrf_of(page.text)})
    assert bad.status_code == 422
    assert 'id="e-definition"' in bad.text and "YAML 格式错误" in bad.text
    assert "line" in bad.text and 'href="#f-definition"' in bad.text
    assert html.escape("segments: [unclosed", quote=False) in bad.text  # the text is kept
    wrong_field = source.replace("holdout_share: '", "holdout_share: '9", 1)
    assert wrong_field != source
    named = app_client.post("/console/strategy", data={
        "definition": wrong_field, "format": "yaml", "csrf": csrf_of(page.text)})
    assert named.status_code == 422 and "holdout_share" in named.text.split('id="e-definition"')[1]
    saved = app_client.post("/console/strategy", data={
        "definition": source, "format": "yaml", "csrf": csrf_of(page.text)})
    assert saved.status_code == 200 and 'id="current-version">1' in saved.text
    assert recovery_strategies.list_strategies(platform)["active"]["version"] == 1
    login(app_client, "lead.zhou")  # reads the strategy, may not save it
    assert 'id="editor-form"' not in app_client.get("/console/strategy").text
    assert app_client.post("/console/strategy", data={
        "definition": source, "format": "yaml", "csrf": csrf_of(page.text)}).status_code == 403


def test_rules_editor_names_the_wrong_rule_field_and_saves_a_new_version(
        platform: Platform, app_client: TestClient, world: ConsoleWorld) -> None:
    import html

    login(app_client, "risk.zhao")
    page = app_client.get("/console/rules", params={"format": "json"})
    source = html.unescape(re.search(r'<textarea id="f-definition"[^>]*>(.*?)</textarea>',
                                     page.text, re.S).group(1))  # type: ignore[union-attr]
    version = alerts.read_rules(platform)["version"]
    bad_json = app_client.post("/console/rules", data={
        "definition": source[:-3], "format": "json", "note": "试一下",
        "expected_version": str(version), "csrf": csrf_of(page.text)})
    assert bad_json.status_code == 422 and "JSON 格式错误" in bad_json.text
    assert 'value="试一下"' in bad_json.text
    wrong = source.replace('"severity": "', '"severity": "x', 1)
    assert wrong != source
    named = app_client.post("/console/rules", data={
        "definition": wrong, "format": "json", "expected_version": str(version),
        "csrf": csrf_of(page.text)})
    assert named.status_code == 422
    assert "severity" in named.text.split('id="e-definition"')[1].split("</p>")[0]
    saved = app_client.post("/console/rules", data={
        "definition": source, "format": "json", "note": "复核", "expected_version": str(version),
        "csrf": csrf_of(page.text)})
    assert saved.status_code == 200 and alerts.read_rules(platform)["version"] == version + 1
    stale = app_client.post("/console/rules", data={
        "definition": source, "format": "json", "expected_version": str(version),
        "csrf": csrf_of(page.text)})
    assert stale.status_code == 422 and "规则已被他人修改" in stale.text


def test_read_outs_and_the_alerts_panel(platform: Platform, app_client: TestClient,
                                        world: ConsoleWorld) -> None:
    login(app_client, "risk.zhao")
    cc = main_of(app_client.get("/console/champion-challenger").text)
    assert 'id="arms"' in cc and "95%" in cc
    assert 'data-arm="' in cc
    board = main_of(app_client.get("/console/dashboard").text)
    assert 'id="alerts-panel"' in board and 'href="/console/vintages"' in board
    assert "没有未关闭的预警" in board
    raised = signal_service.ingest(platform, "gateway", [{
        "kind": "debit-failed", "loan_id": world.portfolio.own,
        "occurred_at": "2026-03-02T10:00:00+08:00",
        "attributes": {"amount_fen": 441773, "reason": "account-frozen"}}])
    alert = raised.to_dict()["alerts_raised"][0]
    board = main_of(app_client.get("/console/dashboard").text)
    assert f'data-severity="{alert["severity"]}">1<' in board
    assert f'<th scope="row">{alert["queue"]}</th>' in board
    login(app_client, "compliance.he")
    page = app_client.get("/console/compliance")
    run = app_client.post("/console/compliance", data={"as_of": DAY.isoformat(),
                                                       "csrf": csrf_of(page.text)})
    assert run.status_code == 200 and 'id="checks"' in run.text
    bad = app_client.post("/console/compliance", data={"as_of": "yesterday",
                                                       "csrf": csrf_of(page.text)})
    assert bad.status_code == 422 and 'value="yesterday"' in bad.text
    book = app_client.get("/console/compliance/report.xlsx", params={"as_of": DAY.isoformat()})
    assert book.status_code == 200 and book.content[:2] == b"PK"


def _naive_vintages(platform: Platform, as_of: date) -> dict[str, list[float]]:
    """The definition of services/vintages.py, loan by loan and month by month: a loan counts
    at m months on book when an instalment still unpaid 30 days after its due date reached
    that day before the loan's (m + 1)-th monthly anniversary."""
    loans, inst = tables.loans, tables.installment_state
    with platform.engine.connect() as conn:
        booked = conn.execute(select(loans.c.id, loans.c.disbursement_date)
                              .where(loans.c.status != "booked")).all()
        rows = conn.execute(select(inst.c.loan_id, inst.c.due_date, inst.c.settled_on)).all()
    reached: dict[str, list[date]] = {}
    for loan_id, due, settled in rows:
        day = due + timedelta(days=30)
        if day <= as_of and (settled is None or settled >= day):
            reached.setdefault(loan_id, []).append(day)
    cohorts: dict[str, list[tuple[date, list[date]]]] = {}
    for loan_id, start in booked:
        cohorts.setdefault(f"{start.year:04d}-{start.month:02d}", []).append(
            (start, reached.get(loan_id, [])))
    out: dict[str, list[float]] = {}
    for cohort, members in sorted(cohorts.items()):
        first = date(int(cohort[:4]), int(cohort[5:]), 1)
        rates = []
        m = 1
        while add_months(first, m) <= as_of:
            late = sum(1 for start, days in members
                       if any(d < add_months(start, m + 1) for d in days))
            rates.append(late / len(members))
            m += 1
        out[cohort] = rates
    return out


def test_vintage_curves_equal_a_naive_computation(platform: Platform,
                                                  clock: FixedClock) -> None:
    with_dealer(platform)
    starts = [date(2025, 10, 31), date(2025, 11, 10), date(2025, 11, 30), date(2025, 12, 5),
              date(2026, 1, 10), date(2026, 1, 10), date(2026, 1, 31)]
    ids = [book_application(platform, "officer", application(10 + k, start=s))
           for k, s in enumerate(starts)]
    from tailguard.batch import eod

    end = date(2026, 6, 20)
    paid = {ids[1]: 2, ids[4]: 10}  # one pays two instalments on time, another all of them
    day = date(2026, 1, 10)
    while day < end:
        day = min(day + timedelta(days=10), end)
        clock.current = FixedClock.at(day).current
        eod.run(platform, day)
        for loan_id, times in list(paid.items()):
            if times:
                with platform.engine.connect() as conn:
                    due = conn.execute(select(tables.installment_state.c.due_date).where(
                        tables.installment_state.c.loan_id == loan_id,
                        tables.installment_state.c.settled_on.is_(None))
                        .order_by(tables.installment_state.c.due_date).limit(1)).scalar()
                if due is not None and due <= day + timedelta(days=10):
                    payments.post_payment(platform, "ops", loan_id, 20_000_00, day,
                                          PaymentChannel.BANK_TRANSFER, f"v-{loan_id}-{day}")
                    paid[loan_id] = times - 1
    with platform.engine.connect() as conn:
        curves = vintages.vintage_curves(conn, end)
    naive = _naive_vintages(platform, end)
    assert [v.cohort for v in curves] == list(naive)
    for v in curves:
        assert list(v.rates) == pytest.approx(naive[v.cohort]), v.cohort
    assert {v.cohort: v.loans for v in curves} == {"2025-10": 1, "2025-11": 2, "2025-12": 1,
                                                   "2026-01": 3}
    assert any(r > 0 for v in curves for r in v.rates)  # some loans did go 30+ late
    assert any(r < 1 for v in curves for r in v.rates)  # and some did not
    assert vintages.months_on_book(date(2026, 1, 31), date(2026, 2, 28)) == 1
    assert vintages.months_on_book(date(2026, 1, 15), date(2026, 2, 14)) == 0


def test_the_route_map_projection_keeps_north_up_and_stays_in_the_box() -> None:
    from tailguard.web.console_charts import project, route_map

    points = [(22.54, 114.06), (22.60, 114.10), (22.50, 113.90)]
    xy = project(points, 560, 380, 36)
    assert all(36 <= x <= 524 and 36 <= y <= 344 for x, y in xy)
    assert xy[1][1] < xy[0][1] < xy[2][1]  # further north is higher up
    assert xy[2][0] < xy[0][0] < xy[1][0]  # further east is further right
    svg = str(route_map((22.54, 114.06), [(1, 22.60, 114.10, 7), (2, 22.50, 113.90, 8)],
                        "route", "r"))
    assert svg.count('class="stop"') == 2 and 'data-sequence="2"' in svg and "<title" in svg
    assert project([(22.5, 114.0)], 100, 100, 10) == [(50.0, 50.0)]  # one point: the middle
