"""The web console and borrower app over HTTP with FastAPI's TestClient: the same flows as the
browser tests (tests/browser), runnable where Chromium is not installed."""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from tailguard.api.app import create_app
from tailguard.calendar import CalendarFallbackWarning
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_web import borrower_uploads, login_codes, payment_orders
from tailguard.infra.payment_gateway import SIGNATURE_HEADER, Notification, sign
from tailguard.services import dashboard
from tailguard.services.platform import Platform
from tailguard.web import i18n
from tests.service.web_fixtures import (
    OTHER_PHONE,
    OWN_PHONE,
    PASSWORD,
    Portfolio,
    book_portfolio,
    csrf_of,
    dev_code_of,
)

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def web(platform: Platform) -> Iterator[tuple[TestClient, Portfolio]]:
    portfolio = book_portfolio(platform)
    with TestClient(create_app(platform), base_url="http://testserver") as client:
        yield client, portfolio


def staff_login(client: TestClient, username: str = "ops.wang") -> None:
    page = client.get("/console/login")
    response = client.post("/console/login", data={
        "username": username, "password": PASSWORD, "csrf": csrf_of(page.text)})
    assert response.status_code == 200 and "/console/dashboard" in str(response.url)


def borrower_login(client: TestClient, phone: str = OWN_PHONE) -> None:
    page = client.get("/app/login")
    sent = client.post("/app/login/code", data={"phone": phone, "csrf": csrf_of(page.text)})
    assert sent.status_code == 200, sent.text
    done = client.post("/app/login", data={"phone": phone, "code": dev_code_of(sent.text),
                                           "csrf": csrf_of(sent.text)})
    assert done.status_code == 200 and str(done.url).endswith("/app/loans"), done.text


def main_of(html: str) -> str:
    return html[html.index("<main"):html.index("</main>")]


def test_catalogues_have_the_same_keys() -> None:
    assert set(i18n.MESSAGES["zh"]) == set(i18n.MESSAGES["en"])


def test_staff_login_keeps_the_username_and_names_the_problem(
        web: tuple[TestClient, Portfolio]) -> None:
    client, _ = web
    page = client.get("/console/login")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "员工登录" in page.text
    bad = client.post("/console/login", data={"username": "ops.wang", "password": "nope",
                                              "csrf": csrf_of(page.text)})
    assert bad.status_code == 422
    assert 'value="ops.wang"' in bad.text and "用户名或密码错误" in bad.text
    empty = client.post("/console/login", data={"username": "", "password": "",
                                                "csrf": csrf_of(page.text)})
    assert empty.status_code == 422 and 'aria-invalid="true"' in empty.text
    assert 'href="#f-username"' in empty.text
    no_csrf = client.post("/console/login", data={"username": "ops.wang",
                                                  "password": PASSWORD})
    assert no_csrf.status_code == 403
    assert client.get("/console/dashboard", follow_redirects=False).status_code == 303


def test_dashboard_search_loan_page_and_export(web: tuple[TestClient, Portfolio]) -> None:
    client, portfolio = web
    staff_login(client)
    board = client.get("/console/dashboard")
    assert board.status_code == 200
    assert 'data-kpi="active">2<' in board.text
    assert "<svg" in board.text and "广东" in board.text and "上海" in board.text
    assert "cdn" not in board.text.lower() and "https://" not in board.text
    found = client.get("/console/loans", params={"id": "OW"})
    assert found.status_code == 200 and f"/console/loans/{portfolio.own}" in found.text
    assert f"/console/loans/{portfolio.other}" not in found.text
    by_region = client.get("/console/loans", params={"region": "31"})
    assert f"/console/loans/{portfolio.other}" in by_region.text
    bad = client.get("/console/loans", params={"region": "shanghai"})
    assert bad.status_code == 422 and 'id="e-region"' in bad.text
    assert 'value="shanghai"' in bad.text
    loan = client.get(f"/console/loans/{portfolio.own}")
    assert loan.status_code == 200
    for part in ("还款计划", "分户账", "合同文件", "LoanDisbursed", f"{portfolio.own}/contract/v1"):
        assert part in loan.text, part
    assert client.get("/console/loans/NOPE").status_code == 404
    export = client.get("/console/loans.xlsx", params={"status": "active"})
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "贷款编号" and {r[0] for r in rows[1:]} == {portfolio.own,
                                                                   portfolio.other}


def test_contract_pdf_only_for_roles_that_may_see_the_id_number(
        web: tuple[TestClient, Portfolio]) -> None:
    client, portfolio = web
    staff_login(client, "risk.zhao")
    assert client.get(f"/console/loans/{portfolio.own}/contract.pdf").status_code == 403
    receipt = client.get(f"/console/loans/{portfolio.own}/contract.tlog-proof")
    assert receipt.status_code in (200, 404)  # 404 until the log integrates the document
    client.cookies.clear()
    staff_login(client, "credit.qian")
    pdf = client.get(f"/console/loans/{portfolio.own}/contract.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_language_switch_is_one_click_and_sticks(web: tuple[TestClient, Portfolio]) -> None:
    client, _ = web
    switched = client.get("/lang/en", params={"next": "/console/login"})
    assert switched.status_code == 200 and "Staff login" in switched.text
    assert 'lang="en"' in switched.text
    assert "Staff login" in client.get("/console/login").text
    away = client.get("/lang/zh", params={"next": "//evil.example/"}, follow_redirects=False)
    assert away.headers["location"] == "/"


def test_borrower_otp_login_limits(web: tuple[TestClient, Portfolio],
                                   platform: Platform) -> None:
    client, _ = web
    page = client.get("/app/login")
    bad_phone = client.post("/app/login/code", data={"phone": "12345",
                                                      "csrf": csrf_of(page.text)})
    assert bad_phone.status_code == 422 and 'value="12345"' in bad_phone.text
    assert 'id="e-phone"' in bad_phone.text
    sent = client.post("/app/login/code", data={"phone": OWN_PHONE, "csrf": csrf_of(page.text)})
    code = dev_code_of(sent.text)
    again = client.post("/app/login/code", data={"phone": OWN_PHONE,
                                                  "csrf": csrf_of(page.text)})
    assert again.status_code == 429  # one code a minute
    wrong = "000000" if code != "000000" else "111111"
    for attempt in range(5):
        bad = client.post("/app/login", data={"phone": OWN_PHONE, "code": wrong,
                                              "csrf": csrf_of(page.text)})
        assert bad.status_code == (422 if attempt < 4 else 429)
    locked = client.post("/app/login", data={"phone": OWN_PHONE, "code": code,
                                             "csrf": csrf_of(page.text)})
    assert locked.status_code == 422  # the code is used up
    with platform.engine.connect() as conn:
        stored = conn.execute(select(login_codes.c.code_hash)).scalars().all()
    assert stored and all(code not in h for h in stored) and len(stored[0]) == 64
    # an unknown phone gets the same answer, and no text is sent
    unknown = client.post("/app/login/code", data={"phone": "13700137000",
                                                    "csrf": csrf_of(page.text)})
    assert unknown.status_code == 200 and 'id="dev-code"' not in unknown.text


def test_borrower_sees_balloon_requests_extension_pays_and_uploads(
        web: tuple[TestClient, Portfolio], platform: Platform, clock: FixedClock) -> None:
    client, portfolio = web
    clock.advance(timedelta(days=35))  # the first instalment (10 February) is now overdue
    borrower_login(client)
    loans = client.get("/app/loans")
    assert f"/app/loans/{portfolio.own}" in loans.text
    assert f"/app/loans/{portfolio.other}" not in loans.text
    page = client.get(f"/app/loans/{portfolio.own}")
    assert page.status_code == 200 and 'id="countdown"' in page.text
    assert re.search(r"距尾款到期还有 \d+ 天", page.text)
    assert 'id="option-settle"' in page.text and 'id="option-extend"' in page.text
    token = csrf_of(page.text)
    bad = client.post(f"/app/loans/{portfolio.own}/options",
                      data={"option": "extend", "months": "many", "csrf": token})
    assert bad.status_code == 422 and 'value="many"' in bad.text and 'id="e-months"' in bad.text
    asked = client.post(f"/app/loans/{portfolio.own}/options",
                        data={"option": "extend", "months": "6", "csrf": token})
    assert asked.status_code == 200 and "apr-" in asked.text
    with platform.engine.connect() as conn:
        assert conn.execute(select(tables.approvals.c.action).where(
            tables.approvals.c.loan_id == portfolio.own)).scalar_one() == "extend"

    due = re.search(r'name="amount" inputmode="decimal" value="([0-9.]+)"', page.text)
    assert due, "the pay form offers what is overdue"
    go = client.post(f"/app/loans/{portfolio.own}/pay",
                     data={"amount": "12.3x", "purpose": "instalment", "csrf": token})
    assert go.status_code == 422 and 'value="12.3x"' in go.text
    go = client.post(f"/app/loans/{portfolio.own}/pay",
                     data={"amount": due.group(1), "purpose": "instalment", "csrf": token},
                     follow_redirects=False)
    assert go.status_code == 303 and go.headers["location"].startswith("/app/pay/sandbox/")
    cashier = client.get(go.headers["location"])
    assert "沙箱收银台" in cashier.text and due.group(1) in cashier.text
    paid = client.post(go.headers["location"], data={"outcome": "paid",
                                                     "csrf": csrf_of(cashier.text)})
    assert paid.status_code == 200 and 'id="notice"' in paid.text and due.group(1) in paid.text
    first_row = re.search(r'<tr class="([a-z]*)" data-number="1">', paid.text)
    assert first_row and first_row.group(1) == "paid"  # the payment landed on the schedule
    with platform.engine.connect() as conn:
        order = conn.execute(select(payment_orders)).mappings().one()
        payments = conn.execute(select(func.count()).select_from(tables.loan_events).where(
            tables.loan_events.c.loan_id == portfolio.own,
            tables.loan_events.c.kind == "payment")).scalar_one()
    assert order["status"] == "paid" and payments == 1

    # The gateway calls back again (at least once delivery): the money is posted once.
    body = Notification(order["id"], order["gateway_txn_id"], order["amount_fen"],
                        "paid").to_body()
    secret = platform.settings.gateway_secret
    again = client.post("/app/pay/callback", content=body,
                        headers={SIGNATURE_HEADER: sign(secret, body)})
    assert again.status_code == 200 and again.json()["payment_id"] == order["payment_id"]
    forged = client.post("/app/pay/callback", content=body,
                         headers={SIGNATURE_HEADER: sign("guess", body)})
    assert forged.status_code == 401
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.loan_events).where(
            tables.loan_events.c.kind == "payment")).scalar_one() == 1

    wrong_type = client.post(f"/app/loans/{portfolio.own}/documents",
                             data={"kind": "income", "csrf": token},
                             files={"file": ("a.pdf", b"not a pdf", "application/pdf")})
    assert wrong_type.status_code == 422 and 'id="e-file"' in wrong_type.text
    up = client.post(f"/app/loans/{portfolio.own}/documents",
                     data={"kind": "income", "csrf": token},
                     files={"file": ("收入证明.pdf", PDF, "application/pdf")})
    assert up.status_code == 200 and "收入证明.pdf" in up.text
    with platform.engine.connect() as conn:
        assert conn.execute(select(borrower_uploads.c.kind)).scalar_one() == "income"
    contract = client.get(f"/app/loans/{portfolio.own}/contract.pdf")
    assert contract.status_code == 200 and contract.content.startswith(b"%PDF")
    assert client.get("/app/messages").status_code == 200


def test_a_borrower_cannot_reach_another_borrowers_loan(
        web: tuple[TestClient, Portfolio]) -> None:
    client, portfolio = web
    borrower_login(client, OWN_PHONE)
    page = client.get(f"/app/loans/{portfolio.own}")
    token = csrf_of(page.text)
    other = portfolio.other
    missing = client.get("/app/loans/NO-SUCH-LOAN")
    assert missing.status_code == 404
    for response in (
        client.get(f"/app/loans/{other}"),
        client.get(f"/app/loans/{other}/contract.pdf"),
        client.get(f"/app/loans/{other}/contract.tlog-proof"),
        client.post(f"/app/loans/{other}/pay", data={"amount": "1.00", "csrf": token}),
        client.post(f"/app/loans/{other}/options", data={"option": "extend", "months": "6",
                                                          "csrf": token}),
        client.post(f"/app/loans/{other}/documents", data={"kind": "other", "csrf": token},
                    files={"file": ("a.pdf", PDF, "application/pdf")}),
    ):
        assert response.status_code == 404
        # the same page as a loan that does not exist
        assert main_of(response.text) == main_of(missing.text)
    # and a staff session cookie does not open the borrower app, nor the reverse
    assert client.get("/console/dashboard", follow_redirects=False).status_code == 303
    client.cookies.clear()
    borrower_login(client, OTHER_PHONE)
    assert client.get(f"/app/loans/{other}").status_code == 200
    assert client.get(f"/app/loans/{portfolio.own}").status_code == 404


def test_dashboard_aggregates_match_a_python_count(platform: Platform) -> None:
    portfolio = book_portfolio(platform)
    with platform.engine.connect() as conn:
        board = dashboard.dashboard(conn, platform.today())
        states = conn.execute(select(tables.loan_state.c.bucket)).scalars().all()
    assert board.active_loans == 2 == len(states)
    assert {p.province_code for p in board.provinces} == {"44", "31"}
    assert board.by_bucket["C"][0] == states.count("C")
    assert sum(board.roll.values()) == 0  # booked today: nothing was booked a month ago
    assert portfolio.own and board.dpd30_ratio == 0
