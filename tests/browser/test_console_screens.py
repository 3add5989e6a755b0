"""The console's work screens in headless Chromium, with screenshots and no request leaving
the server: a collector opens the queue, reads the contact policy's answer and records a
promise; a risk manager edits an early-warning rule, gets the error beside the text, fixes it
and saves; a credit officer reads an application's reasons; a team lead reads the day's route
map and assesses a partner (a wrong rating named beside its field); a compliance officer runs
the checks and exports them.

These run on their own server (a second uvicorn over its own database seeded by
`tests/service/console_fixtures.py`), so the collections world does not disturb the flows of
`test_web_flows.py`; the browser and the no-other-host guard are conftest's."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.clock import FixedClock
from tailguard.services.setup import initialise
from tests.browser.conftest import Guard, _free_port, _require_chromium
from tests.service.conftest import START, make_platform
from tests.service.console_fixtures import DAY, ConsoleWorld, seed_console
from tests.service.web_fixtures import PASSWORD

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(scope="module")
def console_server() -> Iterator[tuple[str, ConsoleWorld]]:
    _require_chromium()
    import uvicorn

    from tailguard.api.app import create_app

    warnings.simplefilter("ignore", CalendarFallbackWarning)
    folder = Path(tempfile.mkdtemp(prefix="tailguard-console-"))
    clock = FixedClock.at(START)
    platform = make_platform(f"sqlite:///{folder / 'console.db'}", clock)
    initialise(platform)
    world = seed_console(platform, clock)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(platform), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", world
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        platform.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def tab(browser: Any, console_server: tuple[str, ConsoleWorld],
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    base_url, _ = console_server
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    guard = Guard(urlsplit(base_url).netloc)

    def route(route: Any) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != guard.allowed:
            guard.outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", route)
    context.on("request", lambda r: guard.outside.append(r.url) if urlsplit(r.url).scheme in (
        "http", "https", "ws", "wss") and urlsplit(r.url).netloc != guard.allowed else None)
    page = context.new_page()
    page.screenshots = tmp_path_factory.mktemp("console-screenshots")
    yield page
    context.close()
    assert not guard.outside, f"requests left the server: {guard.outside}"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(Path(page.screenshots) / f"{name}.png"), full_page=True)


def log_in(page: Any, username: str) -> None:
    page.goto("/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/dashboard")


def test_collector_sees_the_policy_answer_then_records_a_promise(tab: Any) -> None:
    log_in(tab, "collector.wang")
    tab.get_by_role("link", name="催收队列").click()
    tab.wait_for_url("**/console/collections/next")
    answer = tab.locator("[data-policy]").first
    assert answer.get_attribute("data-policy") == "allow"
    assert "允许联系" in answer.inner_text() and "WITHIN_RULES" in answer.inner_text()
    shot(tab, "queue-policy")
    # before contacting a relative, the policy says no: the debtor can be reached
    tab.get_by_label("联系对象").select_option("relative")
    tab.get_by_label("第三方称呼").fill("紧急联系人")
    tab.get_by_role("button", name="查看政策答复").click()
    tab.wait_for_url("**party=relative**")
    expect(tab.locator("[data-policy]").first).to_have_attribute("data-policy", "block")
    shot(tab, "queue-policy-blocked")
    tab.go_back()
    tab.wait_for_url("**/console/collections/next")
    tab.get_by_label("结果").select_option("connected")
    tab.get_by_label("备注").fill("答应月底前还款")
    tab.get_by_role("button", name="记录联系").click()
    expect(tab.locator("#notice")).to_contain_text("联系已记录")
    tab.get_by_label("承诺金额（元）").fill("abc")
    tab.get_by_label("承诺还款日").fill((DAY.replace(day=10)).isoformat())
    tab.get_by_role("button", name="记录承诺").click()
    expect(tab.locator("#e-amount")).to_be_visible()
    assert tab.get_by_label("承诺金额（元）").input_value() == "abc"  # kept as typed
    assert tab.get_by_label("承诺还款日").input_value() == DAY.replace(day=10).isoformat()
    shot(tab, "promise-error")
    tab.get_by_label("承诺金额（元）").fill("1500")
    tab.get_by_role("button", name="记录承诺").click()
    expect(tab.locator("#notice")).to_contain_text("承诺还款已记录")
    expect(tab.locator("#promises tbody tr")).to_have_count(1)
    assert "1500.00" in tab.locator("#promises").inner_text()
    shot(tab, "promise-recorded")


def test_risk_manager_edits_a_rule_with_an_error_then_fixes_it(tab: Any) -> None:
    log_in(tab, "risk.zhao")
    tab.get_by_role("link", name="预警规则").click()
    tab.wait_for_url("**/console/rules")
    version = int(tab.locator("#current-version").inner_text().split()[0])
    tab.get_by_label("格式").select_option("json")
    tab.get_by_role("button", name="切换格式").click()
    tab.wait_for_url("**format=json**")
    box = tab.get_by_label("定义（JSON）")
    original = box.input_value()
    broken = original.replace('"severity": "', '"severity": "urgent-', 1)
    assert broken != original
    box.fill(broken)
    tab.get_by_label("修改说明").fill("提高严重程度")
    tab.get_by_role("button", name="校验并保存新版本").click()
    error = tab.locator("#e-definition")
    expect(error).to_contain_text("severity")
    assert tab.get_by_label("定义（JSON）").get_attribute("aria-invalid") == "true"
    assert tab.get_by_label("定义（JSON）").input_value() == broken  # nothing lost
    assert tab.get_by_label("修改说明").input_value() == "提高严重程度"
    shot(tab, "rules-error")
    tab.locator("#form-errors a").first.click()  # the summary links to the field
    tab.wait_for_url("**#f-definition")
    assert tab.evaluate("document.activeElement.id") == "f-definition"
    tab.get_by_label("定义（JSON）").fill(broken.replace('"urgent-', '"', 1))
    tab.get_by_role("button", name="校验并保存新版本").click()
    tab.wait_for_url("**done=saved**")
    assert int(tab.locator("#current-version").inner_text().split()[0]) == version + 1
    shot(tab, "rules-saved")


def test_review_screen_shows_the_reasons(tab: Any, console_server: tuple[str, ConsoleWorld]
                                         ) -> None:
    _, world = console_server
    log_in(tab, "credit.qian")
    tab.get_by_role("link", name="审批").click()
    tab.wait_for_url("**/console/applications")
    tab.get_by_role("link", name=world.referred).click()
    tab.wait_for_url(f"**/console/applications/{world.referred}")
    assert tab.locator("#outcome").inner_text() == "转人工"
    reasons = tab.locator("#reasons li")
    assert reasons.count() >= 1 and "NO_SCORE" in tab.locator("#reasons").inner_text()
    assert tab.get_by_role("heading", name="第三方核验结果").is_visible()
    shot(tab, "review-zh")
    tab.get_by_role("link", name="English").click()
    expect(tab.get_by_role("heading", name="Reasons")).to_be_visible()
    expect(tab.locator("#outcome")).to_have_text("refer")
    shot(tab, "review-en")


def test_team_lead_reads_the_route_map_and_assesses_a_partner(tab: Any) -> None:
    log_in(tab, "lead.zhou")
    tab.get_by_role("link", name="外访计划").click()
    tab.wait_for_url("**/console/field-plans**")
    tab.goto(f"/console/field-plans?team=SZ-FIELD&day={DAY.isoformat()}")
    expect(tab.locator("#visits-SZ-FIELD tbody tr")).to_have_count(1)
    assert tab.locator("figure svg").count() == 1  # the route drawn locally, no map tiles
    shot(tab, "field-plan")
    tab.get_by_role("link", name="合作机构").click()
    tab.wait_for_url("**/console/partners")
    tab.get_by_role("link", name="AG-SC").click()
    tab.wait_for_url("**/console/partners/AG-SC")
    form = tab.locator("#assessment-form")
    form.get_by_label("评级（0–5）").fill("NaN")
    form.get_by_label("投诉数").fill("2")
    form.get_by_label("已处理案件数").fill("150")
    form.get_by_label("回收率（0–1）").fill("0.3")
    form.get_by_label("费用率（0–1）").fill("0.2")
    form.locator("input[name=last_assessed_on]").fill(DAY.isoformat())
    form.get_by_role("button", name="保存评估").click()
    expect(tab.locator("#e-rating")).to_be_visible()  # named beside the field, input kept
    assert tab.locator("#assessment-form").get_by_label("投诉数").input_value() == "2"
    tab.locator("#assessment-form").get_by_label("评级（0–5）").fill("4.2")
    tab.locator("#assessment-form").get_by_role("button", name="保存评估").click()
    expect(tab.locator("#notice")).to_contain_text("评估已保存")
    shot(tab, "partner-assessed")


def test_compliance_officer_runs_the_checks_and_exports_them(tab: Any) -> None:
    log_in(tab, "compliance.he")
    tab.get_by_role("link", name="合规检查").click()
    tab.wait_for_url("**/console/compliance")
    tab.locator("#compliance-form").get_by_role("button", name="运行全部检查").click()
    expect(tab.locator("#checks tbody tr").first).to_be_visible()
    assert "contacts-outside-rules" in tab.locator("#checks").inner_text()
    shot(tab, "compliance-run")
    with tab.expect_download() as download:
        tab.locator("#compliance-xlsx").click()
    assert download.value.suggested_filename.endswith(".xlsx")


WCAG_AA = {"runOnly": {"type": "tag",
                       "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
           "resultTypes": ["violations"]}


def audit(page: Any, where: str) -> list[str]:
    """axe-core's WCAG A/AA rules (injected from the installed package, nothing fetched);
    the serious and critical violations, by rule and elements."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page, options=WCAG_AA).response["violations"]
    return [f"{where}: {v['id']} ({v['impact']}) {v['help']} — "
            + ", ".join(str(n["target"]) for n in v["nodes"][:4])
            for v in violations if v.get("impact") in ("serious", "critical")]


def test_the_work_screens_pass_the_wcag_aa_audit(
        tab: Any, console_server: tuple[str, ConsoleWorld]) -> None:
    _, world = console_server
    found: list[str] = []
    visits = {
        "risk.zhao": ["/console/applications", f"/console/applications/{world.referred}",
                      "/console/strategy", "/console/rules", "/console/champion-challenger",
                      "/console/models", "/console/vintages", "/console/dashboard"],
        "lead.zhou": [f"/console/field-plans?day={DAY.isoformat()}", "/console/partners",
                      "/console/partners/AG-SC"],
        "collector.wang": ["/console/collections/next"],
        "credit.qian": [f"/console/applications/{world.referred}"],
        "compliance.he": ["/console/compliance"],
    }
    for user, urls in visits.items():
        log_in(tab, user)
        for url in urls:
            tab.goto(url)
            found += audit(tab, url)
            shot(tab, url.strip("/").split("?")[0].replace("/", "-"))
    log_in(tab, "risk.zhao")  # a form with its errors shown
    tab.goto("/console/strategy")
    tab.get_by_label("定义（YAML）").fill("segments: [")
    tab.get_by_role("button", name="校验并保存新版本").click()
    expect(tab.locator("#e-definition")).to_be_visible()
    found += audit(tab, "strategy with an error")
    shot(tab, "strategy-error")
    assert not found, "\n".join(found)
