"""An automated accessibility audit of the main pages: axe-core (shipped inside the
axe-playwright-python package and injected from disk, so nothing is fetched) runs its WCAG 2.0,
2.1 and 2.2 A and AA rules — labels, names, contrast, landmarks, language, keyboard focus
order — on the staff console and the borrower app, in Chinese and in English, and any
violation of serious or critical impact fails with the rule, the elements and axe's advice.

Moderate and minor findings are printed, not failed: they are judgement calls (a heading order
that skips a level on a dense table page) for review, while serious and critical ones stop
people from using the page (text that cannot be read, a field without a name)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.service.web_fixtures import OWN_PHONE, PASSWORD

pytestmark = pytest.mark.browser

WCAG_AA = {"runOnly": {"type": "tag",
                       "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
           "resultTypes": ["violations"]}
BLOCKING = {"serious", "critical"}


def audit(page: Any, where: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page, options=WCAG_AA).response["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING]
    for v in violations:
        if v.get("impact") not in BLOCKING:
            print(f"{where}: {v['impact']} {v['id']} on {len(v['nodes'])} element(s)")
    assert not blocking, f"{where}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + ", ".join(str(n["target"]) for n in v["nodes"][:5]) for v in blocking)


def staff_login(page: Any) -> None:
    page.goto("/console/login")
    audit(page, "console login")
    page.get_by_label("用户名").fill("ops.wang")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_label("密码").press("Enter")
    page.wait_for_url("**/console/dashboard")


def test_console_pages_pass_the_wcag_aa_audit(page: Any, server: Server) -> None:
    staff_login(page)
    for language in ("zh", "en"):
        if language == "en":
            page.get_by_role("link", name="English").click()
            page.wait_for_url("**/console/dashboard")
        audit(page, f"dashboard ({language})")
        page.goto("/console/loans?region=44")
        audit(page, f"loan search ({language})")
        page.goto(f"/console/loans/{server.portfolio.own}")
        audit(page, f"loan page ({language})")
        page.goto("/console/dashboard")


def test_borrower_app_passes_the_wcag_aa_audit(page: Any, server: Server) -> None:
    # The login asks for a code for the same phone as the other borrower flows; an hour on
    # either side keeps this test clear of their one-a-minute, five-an-hour limits.
    server.platform.clock.advance(timedelta(minutes=61))  # type: ignore[attr-defined]
    try:
        _borrower_pages(page, server)
    finally:
        server.platform.clock.advance(timedelta(minutes=61))  # type: ignore[attr-defined]


def _borrower_pages(page: Any, server: Server) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/app/login")
    audit(page, "app login")
    page.get_by_label("手机号码").fill("12345")
    page.get_by_role("button", name="获取验证码").click()
    audit(page, "app login with an error")  # the error is announced and tied to its field
    page.get_by_label("手机号码").fill(OWN_PHONE)
    page.get_by_role("button", name="获取验证码").click()
    code = re.search(r"\d{6}", page.locator("#dev-code").inner_text())
    assert code
    page.get_by_label("短信验证码").fill(code.group(0))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/app/loans")
    audit(page, "app loans")
    page.goto(f"/app/loans/{server.portfolio.own}")
    audit(page, "app loan with balloon options")
    page.goto("/app/messages")
    audit(page, "app messages")
