"""Offers in the borrower app in headless Chromium: the other borrower (their own phone, so the
one-a-minute and five-an-hour code limits of the flows logging in with OWN_PHONE are not
touched) logs in, sees the arrears plan sent to them, accepts it with the keyboard and sees it
wait for the lender's approval; the page passes the WCAG AA audit before and after; and the
same session posting to the first borrower's offer, under either loan id, gets 404.

The session's server is 35 days after booking, when the first instalment is due and unpaid: an
arrears plan is the offer that fits, quoted under a policy without the usual three months on
book (`quote_offer`'s `policy`, what a tenant's overrides use). It changes what is owed, so
accepting it asks for a second person's approval and leaves the loan as the other browser tests
expect it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tailguard.engagement.offers import DEFAULT_POLICY, OfferKind, with_overrides
from tailguard.services import offers
from tests.browser.conftest import Server
from tests.browser.test_accessibility import audit
from tests.service.web_fixtures import OTHER_PHONE

pytestmark = pytest.mark.browser

POLICY = with_overrides(DEFAULT_POLICY, arrears_plan_min_months_on_book=0)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(Path(page.screenshots) / f"{name}.png"), full_page=True)


def send_arrears_plan(server: Server, loan_id: str) -> str:
    platform = server.platform
    quoted = offers.quote_offer(platform, "ops.wang", loan_id, OfferKind.ARREARS_PLAN,
                                months=6, policy=POLICY)
    offers.send_offer(platform, "ops.wang", quoted["offer_id"])
    return str(quoted["offer_id"])


def test_borrower_accepts_an_offer_and_sees_it_wait_for_approval(page: Any,
                                                                 server: Server) -> None:
    theirs = send_arrears_plan(server, server.portfolio.other)
    first_borrowers = send_arrears_plan(server, server.portfolio.own)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/app/login")
    page.get_by_label("手机号码").fill(OTHER_PHONE)
    page.get_by_role("button", name="获取验证码").click()
    code = re.search(r"\d{6}", page.locator("#dev-code").inner_text())
    assert code
    page.get_by_label("短信验证码").fill(code.group(0))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/app/loans")

    page.goto(f"/app/loans/{server.portfolio.other}")
    offer = page.locator(f"#offer-{theirs}")
    assert offer.is_visible()
    assert "逾期款项分期" in offer.inner_text()
    assert offers.get_offer(server.platform, theirs)["valid_until"] in offer.inner_text()
    assert page.locator(f"#offer-{first_borrowers}").count() == 0
    audit(page, "app loan with an offer")
    shot(page, "offer-sent")

    accept = offer.get_by_role("button", name="接受方案")
    accept.focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    notice = page.locator("#notice")
    assert "等待审批" in notice.inner_text()
    stored = offers.get_offer(server.platform, theirs)
    assert stored["status"] == "accepted" and stored["approval_id"] in notice.inner_text()
    status = page.locator(f"#offer-{theirs} .offer-status").inner_text()
    assert "已接受，等待审批" in status
    assert page.locator(f"#offer-{theirs}").get_by_role("button").count() == 0
    audit(page, "app loan after accepting an offer")
    shot(page, "offer-accepted")

    # The same session, the other borrower's offer id in the address: 404 under either loan.
    token = page.locator('input[name="csrf"]').first.get_attribute("value")
    for loan_id in (server.portfolio.other, server.portfolio.own):
        response = page.request.post(f"/app/loans/{loan_id}/offers/{first_borrowers}/accept",
                                     form={"csrf": token})
        assert response.status == 404, loan_id
    assert offers.get_offer(server.platform, first_borrowers)["status"] == "sent"
