"""Offers on SQLite and PostgreSQL: quote, send, accept through servicing (and maker-checker),
expiry at end of day, idempotent acceptance, balloon offers in bulk with a holdout, and the API.
"""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tailguard.api.app import create_app
from tailguard.calendar import CalendarFallbackWarning
from tailguard.engagement.offers import OfferKind
from tailguard.engagement.treatments import HOLDOUT, TREATMENT
from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.auth import Role
from tailguard.infra.clock import FixedClock
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import messages
from tailguard.infra.db.tables_offers import offers as offers_table
from tailguard.infra.db.tables_offers import treatment_arms
from tailguard.loans.events import Channel, PaymentReceived
from tailguard.services import offers, queries, servicing
from tailguard.services.booking import book_application
from tailguard.services.platform import Platform
from tests.service.factories import application, with_dealer

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)
warnings.simplefilter("ignore", CalendarFallbackWarning)

NEAR_BALLOON = timedelta(days=1070)  # 2028-12-15; the balloon falls due on 2029-01-10


def books_are_right(platform: Platform) -> None:
    with platform.engine.connect() as conn:
        assert queries.trial_balance(conn, date.max).balanced
        assert queries.reconcile(conn) == []


def book(platform: Platform, serial: int = 1, **kwargs: Any) -> str:
    with_dealer(platform)
    return book_application(platform, "officer", application(serial, **kwargs))


def pay_all_due(platform: Platform, loan_id: str) -> None:
    """Every instalment due by today paid on its due date: a borrower in good standing."""
    account = servicing.load_account(platform, loan_id)
    today = platform.today()
    servicing.import_history(platform, "ops", loan_id, [
        PaymentReceived(f"{loan_id}-p{i.number}", i.due_date, i.payment_fen,
                        Channel.BANK_TRANSFER)
        for i in account.schedule.installments if i.due_date <= today])


def test_quote_send_accept_extends_the_balloon_after_a_second_person_approves(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = book(platform)
    clock.advance(NEAR_BALLOON)
    pay_all_due(platform, loan_id)
    quoted = offers.quote_offer(platform, "ops.wang", loan_id, OfferKind.EXTEND, months=12)
    assert quoted["status"] == "quoted"
    assert quoted["terms"]["extension_cap_months"] == 18
    assert quoted["terms"]["monthly_payment_fen"] > 0
    # One open offer of a kind per loan.
    with pytest.raises(Refused) as caught:
        offers.quote_offer(platform, "ops.wang", loan_id, OfferKind.EXTEND, months=6)
    assert caught.value.code == "OFFER_OPEN"

    sent = offers.send_offer(platform, "ops.wang", quoted["offer_id"])
    assert sent["status"] == "sent"
    with platform.engine.connect() as conn:
        queued = conn.execute(select(messages.c.channel, messages.c.body).where(
            messages.c.loan_id == loan_id, messages.c.template == "offer")).all()
    assert sorted(c for c, _ in queued) == ["in-app", "sms"]
    assert all("尾款展期" in body and "5129" in body for _, body in queued)

    accepted = offers.accept_offer(platform, "ops.wang", quoted["offer_id"])
    assert accepted["status"] == "accepted" and accepted["approval_status"] == "pending"
    assert servicing.load_account(platform, loan_id).schedule.version == 1  # not yet
    with pytest.raises(Refused) as same:
        offers.approve_offer(platform, "ops.wang", quoted["offer_id"])
    assert same.value.code == "SAME_PERSON"
    applied = offers.approve_offer(platform, "lead.zhao", quoted["offer_id"])
    assert applied["status"] == "applied"
    account = servicing.load_account(platform, loan_id)
    assert account.schedule.version == 2 and account.extended_months == 12
    assert account.schedule.maturity_date.isoformat() == quoted["terms"]["maturity_date"]
    books_are_right(platform)


def test_a_refinance_over_the_legal_term_is_refused_by_name_and_nothing_is_stored(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = book(platform)
    clock.advance(NEAR_BALLOON)
    pay_all_due(platform, loan_id)
    with pytest.raises(Refused) as caught:
        offers.quote_offer(platform, "ops", loan_id, OfferKind.REFINANCE, months=60)
    assert caught.value.code == "REFINANCE_TERM_OUT_OF_RANGE"
    assert offers.offers_of(platform, loan_id) == []
    refinance = offers.quote_offer(platform, "ops", loan_id, OfferKind.REFINANCE, months=24)
    offers.send_offer(platform, "ops", refinance["offer_id"])
    offers.accept_offer(platform, "ops", refinance["offer_id"])
    offers.approve_offer(platform, "lead", refinance["offer_id"])
    account = servicing.load_account(platform, loan_id)
    assert account.schedule.balloon_fen == 0 and account.schedule.reason == "balloon:refinance"
    books_are_right(platform)


def test_a_due_date_change_applies_at_once_and_a_replayed_accept_changes_nothing(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = book(platform)
    clock.advance(timedelta(days=250))  # 2026-09-17
    pay_all_due(platform, loan_id)
    offer = offers.quote_offer(platform, "ops", loan_id, OfferKind.DUE_DATE_CHANGE,
                               new_day=25)
    with pytest.raises(Refused) as not_sent:
        offers.accept_offer(platform, "ops", offer["offer_id"])
    assert not_sent.value.code == "OFFER_NOT_SENT"
    offers.send_offer(platform, "ops", offer["offer_id"])
    first = offers.accept_offer(platform, "ops", offer["offer_id"])
    assert first["status"] == "applied" and "replayed" not in first
    again = offers.accept_offer(platform, "ops", offer["offer_id"])
    assert again["replayed"] is True and again["status"] == "applied"
    account = servicing.load_account(platform, loan_id)
    assert account.schedule.version == 2  # applied once
    ahead = [i for i in account.schedule.installments if i.due_date > platform.today()]
    assert {i.due_date.day for i in ahead} == {25}
    with platform.engine.connect() as conn:
        audits = conn.execute(select(func.count()).select_from(tables.audit_log).where(
            tables.audit_log.c.action == "offer.accept")).scalar_one()
    assert audits == 1
    books_are_right(platform)
    # Only one due-date change over the life of the loan.
    with pytest.raises(Refused) as twice:
        offers.quote_offer(platform, "ops", loan_id, OfferKind.DUE_DATE_CHANGE, new_day=5)
    assert twice.value.code == "TOO_MANY_DUE_DATE_CHANGES"


def test_a_settlement_offer_pays_the_loan_off_and_a_trade_in_needs_the_appraisal(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = book(platform)
    clock.advance(NEAR_BALLOON)
    pay_all_due(platform, loan_id)
    trade = offers.quote_offer(platform, "ops", loan_id, OfferKind.TRADE_IN)
    offers.send_offer(platform, "ops", trade["offer_id"])
    with pytest.raises(InvalidInput) as missing:
        offers.accept_offer(platform, "ops", trade["offer_id"])
    assert missing.value.errors[0].field == "appraised_value"
    assert offers.get_offer(platform, trade["offer_id"])["status"] == "sent"
    offers.decline_offer(platform, "ops", trade["offer_id"])
    settle = offers.quote_offer(platform, "ops", loan_id, OfferKind.SETTLE)
    offers.send_offer(platform, "ops", settle["offer_id"])
    done = offers.accept_offer(platform, "ops", settle["offer_id"], channel=Channel.APP)
    assert done["status"] == "applied"
    assert done["result"]["amount_fen"] == settle["terms"]["payoff_fen"]
    assert servicing.load_account(platform, loan_id).position(platform.today()).paid_off
    assert offers.accept_offer(platform, "ops", settle["offer_id"])["replayed"] is True
    books_are_right(platform)


def test_offers_expire_at_the_end_of_their_last_valid_day(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = book(platform)
    clock.advance(timedelta(days=250))
    pay_all_due(platform, loan_id)
    offer = offers.quote_offer(platform, "ops", loan_id, OfferKind.DEFERRAL, months=1)
    offers.send_offer(platform, "ops", offer["offer_id"])
    last_day = date.fromisoformat(offer["valid_until"])
    assert offers.offers_end_of_day(platform, last_day - timedelta(days=1))["expired"] == 0
    assert offers.offers_end_of_day(platform, last_day)["expired"] == 1
    assert offers.offers_end_of_day(platform, last_day)["expired"] == 0  # a rerun
    assert offers.get_offer(platform, offer["offer_id"])["status"] == "expired"
    with pytest.raises(Refused) as caught:
        offers.accept_offer(platform, "ops", offer["offer_id"])
    assert caught.value.code == "OFFER_EXPIRED"
    with platform.engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(tables.outbox).where(
            tables.outbox.c.event_type == "OfferExpired")).scalar_one()
    assert events == 1
    # Expired, the kind is open to a new quote.
    assert offers.quote_offer(platform, "ops", loan_id, OfferKind.DEFERRAL,
                              months=1)["status"] == "quoted"


def test_a_deferral_waits_for_the_checker_and_then_moves_the_schedule(
    platform: Platform, clock: FixedClock
) -> None:
    loan_id = book(platform)
    clock.advance(timedelta(days=250))
    pay_all_due(platform, loan_id)
    offer = offers.quote_offer(platform, "ops", loan_id, OfferKind.DEFERRAL, months=2)
    offers.send_offer(platform, "ops", offer["offer_id"])
    accepted = offers.accept_offer(platform, "borrower:x", offer["offer_id"])
    assert offers.accept_offer(platform, "borrower:x", offer["offer_id"])["approval_id"] == (
        accepted["approval_id"])
    with platform.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.approvals)).scalar_one() == 1
    offers.approve_offer(platform, "ops", offer["offer_id"])
    account = servicing.load_account(platform, loan_id)
    assert account.extended_months == 2
    assert account.schedule.maturity_date == date(2029, 3, 10)
    books_are_right(platform)


def test_balloon_offers_in_bulk_hold_out_a_random_share(
    platform: Platform, clock: FixedClock
) -> None:
    loans = [book(platform, serial) for serial in range(1, 9)]
    clock.advance(NEAR_BALLOON)
    for loan_id in loans:
        pay_all_due(platform, loan_id)
    run = offers.offer_balloon_options(platform, [*loans, loans[0]], holdout="0.5")
    assert run.loans == 8 and run.treatment + run.holdout == 8
    assert 0 < run.holdout < 8  # these eight borrowers draw both arms
    with platform.engine.connect() as conn:
        arms = dict(conn.execute(select(treatment_arms.c.loan_id, treatment_arms.c.arm)).all())
        offered = set(conn.execute(select(offers_table.c.loan_id).distinct()).scalars())
    assert offered == {loan for loan, arm in arms.items() if arm == TREATMENT}
    assert run.quoted == 3 * run.treatment and run.sent == run.quoted
    # A second day: open offers are not quoted twice, arms do not change.
    again = offers.offer_balloon_options(platform, loans, holdout="0.5")
    assert again.quoted == 0 and again.reasons == {"OFFER_OPEN": 3 * run.treatment}
    with platform.engine.connect() as conn:
        assert dict(conn.execute(select(treatment_arms.c.loan_id,
                                        treatment_arms.c.arm)).all()) == arms
    assert HOLDOUT in arms.values()


def test_offers_over_the_api(platform: Platform, clock: FixedClock) -> None:
    own = book(platform, 1, loan_id="OWN")
    book(platform, 2, loan_id="OTHER", borrower_region="310104")
    clock.advance(NEAR_BALLOON)
    pay_all_due(platform, own)
    app = create_app(platform)
    client = TestClient(app)
    with platform.engine.connect() as conn:
        borrower = conn.execute(select(tables.loans.c.borrower_id).where(
            tables.loans.c.id == own)).scalar_one()

    def token(role: Role) -> dict[str, str]:
        issued = app.state.tokens.issue(f"user-{role.value}", role, borrower_id=(
            borrower if role is Role.BORROWER else None))
        return {"Authorization": f"Bearer {issued}"}

    staff, lead, me = token(Role.SERVICING), token(Role.TEAM_LEAD), token(Role.BORROWER)
    assert client.post("/api/v1/offers/off-missing/accept", json={},
                       headers=staff).status_code == 404
    assert client.get("/api/v1/offers/off-missing", headers=staff).status_code == 404
    too_long = client.post(f"/api/v1/loans/{own}/offers", headers=staff,
                           json={"kind": "balloon-extend", "months": 19})
    assert too_long.status_code == 409
    assert too_long.json()["detail"][0]["code"] == "EXTENSION_OVER_CAP"
    bad = client.post(f"/api/v1/loans/{own}/offers", headers=staff, json={"kind": "lottery"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "kind"
    quoted = client.post(f"/api/v1/loans/{own}/offers", headers=staff,
                         json={"kind": "balloon-refinance", "months": 12})
    assert quoted.status_code == 201, quoted.text
    offer_id = quoted.json()["offer_id"]
    assert quoted.json()["terms"]["balloon"] == "60000.00"
    assert client.post(f"/api/v1/offers/{offer_id}/send", json={},
                       headers=staff).status_code == 200
    assert client.get("/api/v1/loans/OTHER/offers", headers=me).status_code == 404
    mine = client.get(f"/api/v1/loans/{own}/offers", headers=me)
    assert [o["offer_id"] for o in mine.json()["offers"]] == [offer_id]
    accepted = client.post(f"/api/v1/offers/{offer_id}/accept", json={}, headers=me)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    replay = client.post(f"/api/v1/offers/{offer_id}/accept", json={}, headers=me)
    assert replay.json()["replayed"] is True
    approved = client.post(f"/api/v1/offers/{offer_id}/approval", json={"approve": True},
                           headers=lead)
    assert approved.status_code == 200 and approved.json()["status"] == "applied"
    with pytest.raises(NotFound):
        offers.get_offer(platform, "off-missing")
    books_are_right(platform)
