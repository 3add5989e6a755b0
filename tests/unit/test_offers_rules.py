"""Pure rules of offers, incentives and treatment arms: eligibility with named reasons, the
legal extension caps, affordability, the rescheduling rules, streaks and the arm draw."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from tailguard.calendar import WeekendCalendar
from tailguard.engagement.incentives import (
    parse_programme,
    settled_early,
    streak_reached,
)
from tailguard.engagement.offers import (
    OfferFacts,
    OfferKind,
    OfferPolicy,
    OfferRequest,
    check_eligibility,
    is_expired,
    months_between,
    plan_deferral,
    plan_due_date_change,
    quote,
)
from tailguard.engagement.treatments import (
    HOLDOUT,
    TREATMENT,
    arm_of,
    assign_arms,
    read_out,
)
from tailguard.errors import InvalidInput, Refused
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import Channel, PaymentReceived
from tailguard.loans.products import standard_catalogue
from tailguard.loans.terms import LoanRequest, validate_request
from tailguard.recovery import uplift as recovery_uplift

START = date(2026, 1, 10)


def balloon_loan(term: int = 36, used: bool = False, product: str = "auto-balloon"
                 ) -> LoanAccount:
    catalogue = {p.code: p for p in standard_catalogue()}
    terms = validate_request(catalogue[product], LoanRequest(
        200_000_00, Decimal("0.0475"), term, START, balloon_share=Decimal("0.3"),
        vehicle_used=used))
    return LoanAccount.open("L1", terms, WeekendCalendar())


def paid_up(account: LoanAccount, day: date) -> LoanAccount:
    for inst in account.schedule.installments:
        if inst.due_date <= day:
            account = account.with_event(PaymentReceived(f"p{inst.number}", inst.due_date,
                                                         inst.payment_fen,
                                                         Channel.BANK_TRANSFER))
    return account


def facts(as_of: date, **changes: object) -> OfferFacts:
    base = OfferFacts(as_of=as_of, active=True, dpd=0, months_on_book=months_between(
        START, as_of))
    return replace(base, **changes)  # type: ignore[arg-type]


NEAR_BALLOON = date(2028, 12, 15)  # the balloon falls due on 2029-01-10


def refusal(kind: OfferKind, account: LoanAccount, f: OfferFacts, **request: object) -> str:
    with pytest.raises(Refused) as caught:
        quote(account, f, OfferRequest(kind, **request))  # type: ignore[arg-type]
    return caught.value.code


def test_balloon_options_open_only_near_the_balloon() -> None:
    account = balloon_loan()
    early = date(2028, 6, 1)
    assert refusal(OfferKind.REFINANCE, paid_up(account, early), facts(early)) == (
        "BALLOON_NOT_NEAR")
    late = date(2029, 3, 1)
    assert refusal(OfferKind.SETTLE, account, facts(late, dpd=50)) == "BALLOON_WINDOW_CLOSED"
    near = paid_up(account, NEAR_BALLOON)
    offer = quote(near, facts(NEAR_BALLOON), OfferRequest(OfferKind.REFINANCE, months=12))
    assert offer.terms["balloon_fen"] == 60_000_00
    assert offer.terms["months"] == 12 and offer.terms["monthly_payment_fen"] > 5_000_00
    assert offer.valid_until == date(2028, 12, 29)


def test_extension_over_the_legal_cap_is_refused_with_its_reason() -> None:
    # 36-month new-car loan: Art. 12 allows half the term, 18 months.
    near = paid_up(balloon_loan(), NEAR_BALLOON)
    assert refusal(OfferKind.EXTEND, near, facts(NEAR_BALLOON), months=19) == (
        "EXTENSION_OVER_CAP")
    assert quote(near, facts(NEAR_BALLOON), OfferRequest(OfferKind.EXTEND, months=18)
                 ).terms["extension_months_after"] == 18
    # A used car: 3 years in total, extensions included: nothing left on a 36-month loan.
    used = paid_up(balloon_loan(used=True), NEAR_BALLOON)
    assert refusal(OfferKind.EXTEND, used, facts(NEAR_BALLOON), months=1) == (
        "EXTENSION_OVER_CAP")
    # A deferral is an extension too.
    assert refusal(OfferKind.DEFERRAL, used, facts(NEAR_BALLOON), months=1) == (
        "EXTENSION_OVER_CAP")


def test_refinancing_outside_the_product_range_is_refused() -> None:
    near = paid_up(balloon_loan(), NEAR_BALLOON)
    assert refusal(OfferKind.REFINANCE, near, facts(NEAR_BALLOON), months=60) == (
        "REFINANCE_TERM_OUT_OF_RANGE")


@pytest.mark.parametrize(
    ("kind", "changes", "reason"),
    [
        (OfferKind.DUE_DATE_CHANGE, {"dpd": 3}, "DPD_TOO_HIGH"),
        (OfferKind.DUE_DATE_CHANGE, {"months_on_book": 2}, "TOO_NEW_ON_BOOK"),
        (OfferKind.DUE_DATE_CHANGE, {"previous_due_date_changes": 1},
         "TOO_MANY_DUE_DATE_CHANGES"),
        (OfferKind.DEFERRAL, {"previous_deferrals": 2}, "TOO_MANY_DEFERRALS"),
        (OfferKind.DEFERRAL, {"dpd": 31}, "DPD_TOO_HIGH"),
        (OfferKind.ARREARS_PLAN, {}, "NOT_IN_ARREARS"),
        (OfferKind.ARREARS_PLAN, {"dpd": 91}, "DPD_TOO_HIGH"),
        (OfferKind.DEFERRAL, {"open_kinds": frozenset({"deferral"})}, "OFFER_OPEN"),
        (OfferKind.DEFERRAL, {"active": False}, "LOAN_NOT_ACTIVE"),
    ],
)
def test_eligibility_names_the_first_rule_that_fails(
    kind: OfferKind, changes: dict[str, object], reason: str
) -> None:
    day = date(2026, 9, 15)
    with pytest.raises(Refused) as caught:
        check_eligibility(kind, balloon_loan(), facts(day, **changes))
    assert caught.value.code == reason


def test_a_vehicle_return_needs_a_product_that_takes_the_car_back() -> None:
    near = paid_up(balloon_loan(), NEAR_BALLOON)
    assert refusal(OfferKind.RETURN_VEHICLE, near, facts(NEAR_BALLOON)) == "RETURN_NOT_ALLOWED"
    choose_later = paid_up(balloon_loan(product="auto-balloon-choose-later"), NEAR_BALLOON)
    assert quote(choose_later, facts(NEAR_BALLOON), OfferRequest(OfferKind.RETURN_VEHICLE)
                 ).terms["needs_appraisal"] is True


def test_affordability_against_stated_income_and_skipped_without_it() -> None:
    day = date(2026, 9, 15)
    account = paid_up(balloon_loan(), day)
    ok = quote(account, facts(day), OfferRequest(OfferKind.DEFERRAL, months=1))
    assert ok.terms["affordability"] == "unknown"
    payment = ok.terms["monthly_payment_fen"]
    assert quote(account, facts(day, monthly_income_fen=payment * 2),
                 OfferRequest(OfferKind.DEFERRAL, months=1)).terms["affordability"] == "ok"
    assert refusal(OfferKind.DEFERRAL, account, facts(day, monthly_income_fen=payment * 2 - 2),
                   months=1) == "UNAFFORDABLE"
    stricter = OfferPolicy(affordability_share=Decimal("0.3"))
    with pytest.raises(Refused) as caught:
        quote(account, facts(day, monthly_income_fen=payment * 3), OfferRequest(
            OfferKind.DEFERRAL, months=1), stricter)
    assert caught.value.code == "UNAFFORDABLE"


def test_a_deferral_moves_everything_out_and_keeps_principal_and_balloon() -> None:
    day = date(2026, 9, 15)
    account = paid_up(balloon_loan(), day)
    plan = plan_deferral(account, day, 2)
    moved = plan.apply(account)
    old_ahead = [i for i in account.schedule.installments if i.due_date > day]
    new_ahead = [i for i in moved.schedule.installments if i.due_date > day]
    assert len(new_ahead) == len(old_ahead)
    assert new_ahead[0].due_date == date(2026, 12, 10)  # was 2026-10-10
    assert moved.schedule.maturity_date == date(2029, 3, 10)
    assert sum(i.principal_fen for i in new_ahead) == sum(i.principal_fen for i in old_ahead)
    assert moved.schedule.balloon_fen == account.schedule.balloon_fen
    assert moved.extended_months == 2
    assert moved.position(day).dpd == 0
    with pytest.raises(Refused) as caught:
        plan_deferral(account, day, 4)
    assert caught.value.code == "DEFERRAL_MONTHS_OUT_OF_RANGE"


def test_a_due_date_change_moves_the_day_and_nothing_else() -> None:
    day = date(2026, 9, 15)
    account = paid_up(balloon_loan(), day)
    changed = plan_due_date_change(account, day, 25).apply(account)
    ahead = [i for i in changed.schedule.installments if i.due_date > day]
    assert {i.due_date.day for i in ahead} == {25}
    assert ahead[0].due_date == date(2026, 10, 25)  # the next one, on the new day
    regular = account.schedule.installments[8]  # 2026-09-10 to 2026-10-10: 30 days
    # The moved period runs 45 days, and its interest is for 45 days.
    assert ahead[0].interest_fen == pytest.approx(regular.interest_fen * 45 / 30, rel=0.02)
    assert changed.schedule.balloon_fen == account.schedule.balloon_fen
    assert changed.extended_months == 0
    for bad, code in ((10, "SAME_DUE_DAY"), (30, "DAY_OUT_OF_RANGE")):
        with pytest.raises(Refused) as caught:
            plan_due_date_change(account, day, bad)
        assert caught.value.code == code


def test_an_arrears_plan_keeps_the_balloon_and_the_maturity() -> None:
    day = date(2026, 9, 15)
    account = paid_up(balloon_loan(), date(2026, 6, 30))  # July to September unpaid
    offer = quote(account, facts(day, dpd=account.position(day).dpd),
                  OfferRequest(OfferKind.ARREARS_PLAN))
    assert offer.terms["converted_arrears_fen"] > 0
    assert offer.terms["maturity_date"] == "2029-01-10"


def test_expiry_is_at_the_end_of_the_last_valid_day() -> None:
    assert not is_expired(date(2026, 3, 1), date(2026, 2, 28))
    assert is_expired(date(2026, 3, 1), date(2026, 3, 1))


# -- incentives -------------------------------------------------------------------------------
def test_programmes_are_validated_field_by_field() -> None:
    good = parse_programme({"id": "streak-6", "kind": "on-time-streak", "streak": 6,
                            "amount_fen": 5000, "starts_on": "2026-01-01", "holdout": "0.1"})
    assert good.streak == 6 and good.holdout == Decimal("0.1")
    with pytest.raises(InvalidInput) as caught:
        parse_programme({"id": "bad id!", "kind": "lottery", "amount_fen": 5,
                         "share_of_interest": "0.1", "holdout": "0.95", "colour": "red"})
    fields = {e.field for e in caught.value.errors}
    assert {"id", "kind", "starts_on", "amount_fen", "holdout", "colour"} <= fields


def test_streaks_are_found_column_wise() -> None:
    loans = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2], dtype=np.int64)
    on_time = np.array([1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1], dtype=bool)
    interest = np.arange(1, 12, dtype=np.int64) * 100
    hit, run_interest = streak_reached(loans, on_time, interest, 3)
    assert hit.tolist() == [1]
    assert run_interest.tolist() == [500 + 600 + 700]
    hit2, _ = streak_reached(loans, on_time, interest, 2)
    assert hit2.tolist() == [0, 1, 2]


def test_early_settlement_is_measured_against_the_balloon_due_date() -> None:
    due = np.array(["2029-01-10", "2029-01-10", "2029-01-10"], dtype="datetime64[D]")
    settled = np.array(["2028-11-10", "2028-12-20", "2025-12-01"], dtype="datetime64[D]")
    mask = settled_early(due, settled, 30, date(2026, 1, 1), date(2028, 12, 31))
    assert mask.tolist() == [True, False, False]


# -- treatments -------------------------------------------------------------------------------
def test_arms_are_stable_and_near_the_holdout_share() -> None:
    ids = np.array([f"P{i:05d}" for i in range(4000)], dtype=object)
    arms = assign_arms("balloon-options", ids, Decimal("0.2"))
    assert 0.17 < float((arms == HOLDOUT).mean()) < 0.23
    assert [arm_of("balloon-options", str(i), "0.2") for i in ids[:50]] == arms[:50].tolist()
    assert set(assign_arms("balloon-options", ids, 0).tolist()) == {TREATMENT}
    with pytest.raises(InvalidInput):
        assign_arms("x", ids, "0.95")


def test_the_read_out_uses_the_generic_uplift() -> None:
    arms = np.array([TREATMENT] * 100 + [HOLDOUT] * 100, dtype=object)
    success = np.array([True] * 60 + [False] * 40 + [True] * 40 + [False] * 60)
    result = read_out("p", "on-time-next", arms, success)
    assert (result.treatment.rate, result.holdout.rate) == (0.6, 0.4)
    expected = recovery_uplift.uplift(60, 100, 40, 100)
    assert (result.low, result.high) == (expected.low, expected.high)
    assert result.low < 0.2 < result.high and result.low > 0
