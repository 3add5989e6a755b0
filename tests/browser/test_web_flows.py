"""The console and the borrower app in headless Chromium: each main flow, with screenshots,
and no request leaving the server (the `page` fixture fails the test otherwise)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import Server
from tests.service.web_fixtures import OWN_PHONE, PASSWORD

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def shot(page: Any, name: str) -> None:
    folder: Path = page.screenshots
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_staff_login_dashboard_search_loan_page_and_export(page: Any, server: Server) -> None:
    page.goto("/console/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    # keyboard only: type into the labelled fields and submit with Enter
    page.get_by_label("用户名").focus()
    page.keyboard.type("ops.wang")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/dashboard")
    assert page.locator('[data-kpi="active"]').inner_text() == "2"
    assert page.locator("svg.map").is_visible()
    shot(page, "dashboard-zh")
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/console/dashboard")
    assert page.get_by_role("heading", name="Morning dashboard").is_visible()
    shot(page, "dashboard-en")
    page.get_by_role("link", name="Loan search").click()
    page.get_by_label("Region code").fill("44")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*/console/loans\?.*region=44.*"))
    assert page.locator("#loans tbody tr").count() == 1
    with page.expect_download() as download:
        page.locator("#export").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    saved = Path(page.screenshots) / download.value.suggested_filename
    download.value.save_as(saved)
    workbook = load_workbook(saved)
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][0] == "loan id" and [r[0] for r in rows[1:]] == [server.portfolio.own]
    page.get_by_role("link", name=server.portfolio.own).click()
    page.wait_for_url(f"**/console/loans/{server.portfolio.own}")
    assert page.locator("#schedule tbody tr").count() == 36
    assert page.get_by_role("heading", name="Ledger statement").is_visible()
    shot(page, "loan-page")
    page.get_by_role("link", name="中文").click()
    assert page.get_by_role("heading", name=f"贷款 {server.portfolio.own}").is_visible()


def test_borrower_otp_balloon_option_pay_and_upload(page: Any, server: Server) -> None:
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto("/app")
    page.wait_for_url("**/app/login")
    assert page.locator('link[rel="manifest"]').count() == 1
    page.get_by_label("手机号码").fill("12345")
    page.get_by_role("button", name="获取验证码").click()
    assert page.locator("#e-phone").is_visible()
    assert page.get_by_label("手机号码").input_value() == "12345"  # what was typed is kept
    page.get_by_label("手机号码").fill(OWN_PHONE)
    page.get_by_role("button", name="获取验证码").click()
    code = re.search(r"\d{6}", page.locator("#dev-code").inner_text())
    assert code
    shot(page, "app-login-code")
    page.get_by_label("短信验证码").fill(code.group(0))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/app/loans")
    page.locator(f'a[href="/app/loans/{server.portfolio.own}"]').click()
    countdown = page.locator("#countdown")
    assert re.search(r"距尾款到期还有 \d+ 天", countdown.inner_text())
    assert page.locator("#option-settle").inner_text().count("¥") >= 1
    shot(page, "app-loan-balloon")
    extend = page.locator("#option-extend")
    extend.get_by_label("期数（月）").fill("6")
    extend.get_by_role("button", name="提交申请").click()
    assert "apr-" in page.locator("#notice").inner_text()
    amount = page.get_by_label("还款金额（元）").input_value()
    assert re.fullmatch(r"\d+\.\d\d", amount)
    page.locator("#pay").click()
    page.wait_for_url("**/app/pay/sandbox/**")
    shot(page, "sandbox-cashier")
    page.locator("#confirm-pay").click()
    page.wait_for_url(re.compile(r".*/app/loans/.*\?paid=ord-.*"))
    assert amount in page.locator("#notice").inner_text()
    assert page.locator('#schedule tr[data-number="1"]').get_attribute("class") == "paid"
    shot(page, "app-paid")
    page.get_by_label("材料类型").select_option("income")
    page.get_by_label("文件（PDF、JPG 或 PNG，不超过 5 MB）").set_input_files(
        files=[{"name": "income.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.get_by_role("button", name="上传").click()
    assert "income.pdf" in page.locator("#uploads").inner_text()
    shot(page, "app-uploaded")


def test_borrower_cannot_open_another_borrowers_loan(page: Any, server: Server) -> None:
    page.goto("/app/login")
    page.get_by_label("手机号码").fill(OWN_PHONE)
    page.get_by_role("button", name="获取验证码").click()
    if page.locator("#dev-code").count() == 0:  # a code was sent a moment ago (rate limit)
        server.platform.clock.advance(__import__("datetime").timedelta(minutes=2))
        page.get_by_role("button", name="获取验证码").click()
    code = re.search(r"\d{6}", page.locator("#dev-code").inner_text())
    assert code
    page.get_by_label("短信验证码").fill(code.group(0))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/app/loans")
    response = page.goto(f"/app/loans/{server.portfolio.other}")
    assert response is not None and response.status == 404
    shot(page, "app-other-loan-404")
    response = page.goto(f"/app/loans/{server.portfolio.other}/contract.pdf")
    assert response is not None and response.status == 404
