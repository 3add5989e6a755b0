"""Offers and incentives in the borrower app, over HTTP with FastAPI's TestClient on SQLite and
PostgreSQL: the offers sent for a loan with Accept and Decline, acceptance applied through
services.offers (at once, or waiting for the checker), another borrower's offer answering 404
whichever id is changed, and the incentives earned and still open next to the balloon options.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tailguard.api.app import create_app
from tailguard.calendar import CalendarFallbackWarning
from tailguard.engagement.offers import OfferKind
from tailguard.engagement.treatments import HOLDOUT, TREATMENT, arm_of
from tailguard.infra.clock import FixedClock
from tailguard.loans.events import Channel, PaymentReceived
from tailguard.services import borrower_offers, contacts, incentives, offers, servicing
from tailguard.services.platform import Platform
from tests.service.test_web import borrower_login, main_of
from tests.service.web_fixtures import OTHER_PHONE, Portfolio, book_portfolio, csrf_of

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

STREAK = {"id": "streak-3", "kind": "on-time-streak", "streak": 3, "amount_fen": 50_00,
          "starts_on": "2026-01-01"}
EARLY = {"id": "early-60", "kind": "balloon-early-settlement", "days_early": 60,
         "share_of_interest": "0.05", "max_fen": 500_00, "starts_on": "2026-01-01"}


def pay_all_due(platform: Platform, loan_id: str) -> None:
    """Every instalment due by today paid on its due date: a borrower in good standing."""
    account = servicing.load_account(platform, loan_id)
    servicing.import_history(platform, "ops", loan_id, [
        PaymentReceived(f"{loan_id}-p{i.number}", i.due_date, i.payment_fen,
                        Channel.BANK_TRANSFER)
        for i in account.schedule.installments if i.due_date <= platform.today()])


def sent(platform: Platform, loan_id: str, kind: OfferKind, **terms: int) -> str:
    offer = offers.quote_offer(platform, "ops.wang", loan_id, kind, **terms)
    offers.send_offer(platform, "ops.wang", offer["offer_id"])
    return str(offer["offer_id"])


@pytest.fixture
def web(platform: Platform, clock: FixedClock) -> Iterator[tuple[TestClient, Portfolio]]:
    portfolio = book_portfolio(platform)
    clock.advance(timedelta(days=250))  # 2026-09-17: eight instalments paid on time
    pay_all_due(platform, portfolio.own)
    pay_all_due(platform, portfolio.other)
    with TestClient(create_app(platform), base_url="http://testserver") as client:
        yield client, portfolio


def offer_block(html: str, offer_id: str) -> str:
    start = html.index(f'id="offer-{offer_id}"')
    return html[start:html.index("</div>", start)]


def test_sent_offers_are_shown_and_accepting_applies_through_the_service(
    web: tuple[TestClient, Portfolio], platform: Platform
) -> None:
    client, portfolio = web
    new_day = sent(platform, portfolio.own, OfferKind.DUE_DATE_CHANGE, new_day=25)
    deferral = sent(platform, portfolio.own, OfferKind.DEFERRAL, months=2)
    borrower_login(client)
    page = client.get(f"/app/loans/{portfolio.own}")
    assert page.status_code == 200
    html = main_of(page.text)
    block = offer_block(html, new_day)
    assert "变更还款日" in block and "待您确认" in block
    valid_until = offers.get_offer(platform, new_day)["valid_until"]
    assert valid_until in block
    assert f'action="/app/loans/{portfolio.own}/offers/{new_day}/accept"' in block
    assert f'action="/app/loans/{portfolio.own}/offers/{new_day}/decline"' in block

    done = client.post(f"/app/loans/{portfolio.own}/offers/{new_day}/accept",
                       data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200, done.text
    assert 'id="notice"' in done.text and "方案已生效" in done.text
    assert offers.get_offer(platform, new_day)["status"] == "applied"
    account = servicing.load_account(platform, portfolio.own)
    assert account.schedule.version == 2
    assert {i.due_date.day for i in account.schedule.installments
            if i.due_date > platform.today()} == {25}
    block = offer_block(main_of(done.text), new_day)
    assert "已生效" in block and "/accept" not in block  # nothing left to act on

    # A deferral changes what is owed: accepted, then it waits for the checker.
    waiting = client.post(f"/app/loans/{portfolio.own}/offers/{deferral}/accept",
                          data={"csrf": csrf_of(done.text)})
    assert waiting.status_code == 200, waiting.text
    stored = offers.get_offer(platform, deferral)
    assert stored["status"] == "accepted" and stored["approval_id"]
    assert stored["approval_id"] in waiting.text and "等待审批" in waiting.text
    # A replay changes nothing.
    again = client.post(f"/app/loans/{portfolio.own}/offers/{deferral}/accept",
                        data={"csrf": csrf_of(waiting.text)})
    assert again.status_code == 200
    assert offers.get_offer(platform, deferral)["approval_id"] == stored["approval_id"]


def test_english_outcome_and_decline(web: tuple[TestClient, Portfolio],
                                     platform: Platform) -> None:
    client, portfolio = web
    deferral = sent(platform, portfolio.own, OfferKind.DEFERRAL, months=1)
    client.cookies.set("tg_lang", "en")
    borrower_login(client)
    page = client.get(f"/app/loans/{portfolio.own}")
    assert "A short payment break" in offer_block(page.text, deferral)
    done = client.post(f"/app/loans/{portfolio.own}/offers/{deferral}/decline",
                       data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "You declined the offer." in done.text
    assert offers.get_offer(platform, deferral)["status"] == "declined"
    late = client.post(f"/app/loans/{portfolio.own}/offers/{deferral}/accept",
                       data={"csrf": csrf_of(done.text)})
    assert late.status_code == 409 and 'class="notice bad"' in late.text


def test_another_borrowers_offer_is_404_whichever_id_is_changed(
    web: tuple[TestClient, Portfolio], platform: Platform
) -> None:
    client, portfolio = web
    mine = sent(platform, portfolio.own, OfferKind.DEFERRAL, months=1)
    theirs = sent(platform, portfolio.other, OfferKind.DEFERRAL, months=1)
    quoted_only = offers.quote_offer(platform, "ops.wang", portfolio.own,
                                     OfferKind.DUE_DATE_CHANGE, new_day=20)["offer_id"]
    borrower_login(client)
    page = client.get(f"/app/loans/{portfolio.own}")
    token = csrf_of(page.text)
    assert theirs not in page.text and quoted_only not in page.text  # a draft is not sent
    for loan_id, offer_id in ((portfolio.own, theirs), (portfolio.other, theirs),
                              (portfolio.other, mine), (portfolio.own, quoted_only),
                              (portfolio.own, "off-nope")):
        for decision in ("accept", "decline"):
            response = client.post(f"/app/loans/{loan_id}/offers/{offer_id}/{decision}",
                                   data={"csrf": token})
            assert response.status_code == 404, (loan_id, offer_id, decision)
    assert offers.get_offer(platform, theirs)["status"] == "sent"
    assert offers.get_offer(platform, quoted_only)["status"] == "quoted"
    assert client.get(f"/app/loans/{portfolio.other}").status_code == 404
    # The other borrower sees and may accept their own.
    client.cookies.clear()
    borrower_login(client, OTHER_PHONE)
    assert f"/offers/{theirs}/accept" in client.get(f"/app/loans/{portfolio.other}").text


def test_a_settlement_offer_is_shown_without_accept_and_refused_if_posted(
    web: tuple[TestClient, Portfolio], platform: Platform, clock: FixedClock
) -> None:
    client, portfolio = web
    clock.advance(timedelta(days=820))  # 2028-12-15, near the balloon
    account = servicing.load_account(platform, portfolio.own)
    position = account.position(platform.today())
    for i in account.schedule.installments:
        if i.due_date <= platform.today() and position.state_of(i.number).settled_on is None:
            servicing.post_payment(platform, "ops", portfolio.own, i.payment_fen, i.due_date,
                                   Channel.BANK_TRANSFER, f"own-p{i.number}")
    settle = sent(platform, portfolio.own, OfferKind.SETTLE)
    borrower_login(client)
    page = client.get(f"/app/loans/{portfolio.own}")
    block = offer_block(page.text, settle)
    assert "尾款一次性结清" in block and "/accept" not in block and "支付结清款" in block
    refused = client.post(f"/app/loans/{portfolio.own}/offers/{settle}/accept",
                          data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 422 and "联系客服" in refused.text
    assert offers.get_offer(platform, settle)["status"] == "sent"


def test_incentives_earned_and_still_open_are_on_the_loan_page(
    web: tuple[TestClient, Portfolio], platform: Platform
) -> None:
    client, portfolio = web
    incentives.save_programme(platform, "risk.li", STREAK)
    incentives.save_programme(platform, "risk.li", EARLY)
    run = incentives.evaluate_incentives(platform, platform.today())
    assert run.awarded == 2  # both loans paid three in a row on time
    party = contacts.borrower_of_loan(platform, portfolio.own)
    chances = borrower_offers.chances_for(platform, party, portfolio.own)
    assert [c.programme for c in chances] == ["early-60"]  # the streak is earned already
    (early,) = chances
    balloon_due = max(i.due_date for i in servicing.load_account(
        platform, portfolio.own).schedule.installments)
    assert early.settle_by == balloon_due - timedelta(days=60)
    borrower_login(client)
    html = main_of(client.get(f"/app/loans/{portfolio.own}").text)
    section = html[html.index('id="incentives"'):]
    awards = section[section.index('id="awards"'):section.index("</table>")]
    award = incentives.awards_of(platform, portfolio.own)[0]
    assert "streak-3" in awards and "50.00" in awards and award["award_date"] in awards
    assert 'tabindex="0" role="region" aria-labelledby="h-awards"' in section
    chance = re.search(r'data-programme="early-60">(.*?)</li>', section, re.S)
    assert chance and early.settle_by.isoformat() in chance.group(1)
    assert "5%" in chance.group(1) and "500.00" in chance.group(1)
    # The incentives sit next to the balloon options.
    assert html.index('id="h-options"') < html.index('id="incentives"') < html.index('id="h-pay"')


def test_a_held_out_borrower_is_not_shown_the_programme(
    web: tuple[TestClient, Portfolio], platform: Platform
) -> None:
    _, portfolio = web
    party = contacts.borrower_of_loan(platform, portfolio.own)
    names = [f"early-{n}" for n in range(40)]
    held = next(n for n in names if arm_of(n, party, "0.5") == HOLDOUT)
    treated = next(n for n in names if arm_of(n, party, "0.5") == TREATMENT)
    for name in (held, treated):
        incentives.save_programme(platform, "risk.li", EARLY | {"id": name, "holdout": "0.5"})
    shown = [c.programme for c in borrower_offers.chances_for(platform, party, portfolio.own)]
    assert shown == [treated]
