"""The credit decision's pure rules: hard rules, regional policy and tiers, score cut-offs,
conditions, reason labels, JSON round trips; sandbox determinism; pooled regional rates; the
HTTP bureau adapter on a mock transport."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import httpx
import pytest

from tailguard.errors import InvalidInput
from tailguard.origination.application import ApplicationIn, PartyIn, VehicleIn, check_application
from tailguard.origination.decision import (
    DecisionInput,
    Outcome,
    PartyFacts,
    ScoreFacts,
    debt_to_income,
    decide,
)
from tailguard.origination.policy import (
    applied_limits,
    default_policy,
    parse_policy,
    province_gdp_per_capita,
    tier_of,
)
from tailguard.origination.reason_codes import LABELS, label
from tailguard.origination.regional_rates import RegionCount, pooled_default_rates
from tailguard.origination.thirdparty import (
    BureauReport,
    CardVerification,
    CourtRecords,
    IdentityVerification,
    IncomeVerification,
    Person,
    SandboxBureau,
    ThirdPartyUnavailable,
    sandbox_third_parties,
)

POLICY = default_policy()
CLEAN_BUREAU = BureauReport("t", "r1", True, 5, 1, 5_000_000, 150_000, False, 0, 2)


def borrower(**changes: object) -> PartyFacts:
    facts = PartyFacts(
        role="borrower", age_at_application=35, age_at_maturity=38,
        household_region="440305", residence_region="440305", employment="employed",
        employment_months=48, declared_monthly_income_fen=3_000_000,
        declared_monthly_debt_fen=0, bureau=CLEAN_BUREAU,
        identity=IdentityVerification("t", True, True, 60),
        courts=CourtRecords("t", 0, False, False),
        card=CardVerification("t", True, True),
        income=IncomeVerification("t", True, 2_900_000, "social-insurance"))
    return replace(facts, **changes)  # type: ignore[arg-type]


def inputs(score: int | None = 640, **changes: object) -> DecisionInput:
    base = DecisionInput(
        application_id="APP1", application_date="2026-01-10", product_code="auto-balloon",
        term_months=36, annual_rate="0.0475", vehicle_price_fen=25_000_000,
        vehicle_condition="new", down_payment_fen=10_000_000, principal_fen=15_000_000,
        balloon_share="0.2", monthly_instalment_fen=350_000, dealer_region="440300",
        vehicle_region="440300",
        documents=("bank-statement", "driving-licence", "employment-proof", "id-card",
                   "income-proof", "residence-proof"),
        parties=(borrower(),), cross_city=False, cross_province=False, max_distance_km=5.0,
        regional_rate=None,
        score=None if score is None else ScoreFacts("v1", "abc", {"ltv": 0.6}, 0.01, score,
                                                    ("ltv", "debt_to_income")))
    return replace(base, **changes)  # type: ignore[arg-type]


def codes(decision: object) -> list[str]:
    return [r.code for r in decision.reasons]  # type: ignore[attr-defined]


def test_clean_application_is_approved_without_conditions() -> None:
    decision = decide(inputs(), POLICY)
    assert decision.outcome is Outcome.APPROVE
    assert decision.conditions == () and codes(decision) == []
    assert decision.limits.tier == 1  # Shenzhen is named a tier-1 city in the policy


@pytest.mark.parametrize(("change", "code", "outcome"), [
    ({"identity": IdentityVerification("t", False, True, 60)}, "IDENTITY_MISMATCH",
     Outcome.DECLINE),
    ({"courts": CourtRecords("t", 1, True, False)}, "DISHONEST_DEBTOR", Outcome.DECLINE),
    ({"courts": CourtRecords("t", 0, False, True)}, "CONSUMPTION_RESTRICTED", Outcome.DECLINE),
    ({"courts": CourtRecords("t", 2, False, False)}, "ENFORCEMENT_CASE", Outcome.REFER),
    ({"bureau": replace(CLEAN_BUREAU, overdue_now=True)}, "BUREAU_OVERDUE_NOW",
     Outcome.DECLINE),
    ({"bureau": replace(CLEAN_BUREAU, max_dpd_24m=90)}, "BUREAU_SEVERE_DELINQUENCY",
     Outcome.DECLINE),
    ({"bureau": replace(CLEAN_BUREAU, max_dpd_24m=89)}, "BUREAU_DELINQUENCY", Outcome.REFER),
    ({"bureau": replace(CLEAN_BUREAU, max_dpd_24m=29)}, None, Outcome.APPROVE),
    ({"bureau": replace(CLEAN_BUREAU, inquiries_6m=8)}, "MANY_INQUIRIES", Outcome.REFER),
    ({"bureau": replace(CLEAN_BUREAU, hit=False)}, "THIN_FILE", Outcome.REFER),
    ({"identity": IdentityVerification("t", True, False, 60)}, "PHONE_NOT_HOLDER",
     Outcome.REFER),
    ({"identity": IdentityVerification("t", True, True, 3)}, "PHONE_NEW", Outcome.REFER),
    ({"card": CardVerification("t", False, True)}, "CARD_NOT_HOLDER", Outcome.REFER),
    ({"income": IncomeVerification("t", False, None, None)}, "INCOME_UNVERIFIED",
     Outcome.REFER),
    ({"income": IncomeVerification("t", True, 2_000_000, "income-tax")}, "INCOME_OVERSTATED",
     Outcome.REFER),
])
def test_hard_rules(change: dict[str, object], code: str | None, outcome: Outcome) -> None:
    decision = decide(inputs(parties=(borrower(**change),)), POLICY)
    assert decision.outcome is outcome
    if code is None:
        assert codes(decision) == []
    else:
        assert code in codes(decision)
        assert all(r.party == "borrower" for r in decision.reasons if r.code == code)


def test_a_guarantor_on_the_list_is_referred_not_declined() -> None:
    guarantor = borrower(role="guarantor", courts=CourtRecords("t", 1, True, True),
                         card=None, income=None)
    decision = decide(inputs(parties=(borrower(), guarantor)), POLICY)
    assert decision.outcome is Outcome.REFER
    assert "GUARANTOR_UNSUITABLE" in codes(decision)
    assert "DISHONEST_DEBTOR" not in codes(decision)
    assert "guarantee-letter" in decision.limits.required_documents


def test_debt_to_income_counts_bureau_debts_and_the_new_instalment() -> None:
    # (max(0, 150,000 bureau) + 350,000 new) / min(3,000,000 declared, 2,900,000 verified)
    assert debt_to_income(inputs()) == Decimal("0.1724")
    heavy = borrower(bureau=replace(CLEAN_BUREAU, monthly_repayments_fen=1_400_000))
    decision = decide(inputs(parties=(heavy,)), POLICY)  # 1.75M / 2.9M = 0.60 > 0.55
    assert decision.outcome is Outcome.REFER and "DEBT_TO_INCOME_HIGH" in codes(decision)
    heavier = borrower(bureau=replace(CLEAN_BUREAU, monthly_repayments_fen=2_000_000))
    assert decide(inputs(parties=(heavier,)), POLICY).outcome is Outcome.DECLINE
    co = borrower(role="co-borrower", household_region="440305", card=None)
    # (1,400,000 + 150,000 bureau debts + 350,000) / (2,900,000 + 2,900,000)
    assert debt_to_income(inputs(parties=(heavy, co))) == Decimal("0.3276")
    broke = borrower(declared_monthly_income_fen=0, income=None)
    assert "NO_INCOME" in codes(decide(inputs(parties=(broke,)), POLICY))


@pytest.mark.parametrize(("score", "outcome", "code"), [
    (590, Outcome.APPROVE, None), (589, Outcome.REFER, "SCORE_GREY_ZONE"),
    (555, Outcome.REFER, "SCORE_GREY_ZONE"), (554, Outcome.DECLINE, "SCORE_BELOW_CUTOFF"),
    (None, Outcome.REFER, "NO_SCORE"),
])
def test_score_cut_offs_of_tier_1(score: int | None, outcome: Outcome, code: str | None) -> None:
    decision = decide(inputs(score=score), POLICY)
    assert decision.outcome is outcome
    if code:
        assert code in codes(decision)
    if score is not None and score < 590:
        factors = [r.detail for r in decision.reasons if r.code == "MODEL_FACTOR"]
        assert factors == ["ltv", "debt_to_income"]


def test_tier_3_needs_a_higher_score_than_tier_1() -> None:
    gansu = borrower(household_region="620102", residence_region="620102")
    decision = decide(inputs(score=600, parties=(gansu,), cross_province=True), POLICY)
    assert decision.limits.tier == 3
    assert decision.limits.approve_score == 610 + 10  # tier 3 plus the cross-province add
    assert decision.outcome is Outcome.REFER


def test_ltv_and_balloon_become_conditions_not_declines() -> None:
    # 90 % LTV and a 40 % balloon in Gansu (tier 3: LTV 0.70, balloon 0.30, down 0.30)
    gansu = borrower(household_region="620102", residence_region="620102")
    decision = decide(inputs(score=700, parties=(gansu,), down_payment_fen=2_500_000,
                             principal_fen=22_650_000, balloon_share="0.4"), POLICY)
    assert decision.outcome is Outcome.APPROVE
    conditions = {c.code: c.value for c in decision.conditions}
    # LTV: 22,650,000 − (new − 2,500,000) ≤ 17,500,000 → new ≥ 7,650,000 (fees stay financed)
    assert conditions == {"MIN_DOWN_PAYMENT": "7650000", "MAX_BALLOON_SHARE": "0.30"}
    assert {"LTV_ABOVE_LIMIT", "BALLOON_ABOVE_LIMIT"} <= set(codes(decision))


def test_down_payment_floor_when_ltv_is_fine() -> None:
    # tier 1: down payment ≥ 20 % of 25,000,000 = 5,000,000, LTV ceiling 0.80
    decision = decide(inputs(down_payment_fen=4_000_000, principal_fen=19_000_000), POLICY)
    assert decision.outcome is Outcome.APPROVE
    assert "DOWN_PAYMENT_BELOW_MINIMUM" in codes(decision)
    assert {c.code: c.value for c in decision.conditions}["MIN_DOWN_PAYMENT"] == "5000000"


def test_declines_carry_no_conditions() -> None:
    bad = borrower(courts=CourtRecords("t", 1, True, False))
    decision = decide(inputs(parties=(bad,), balloon_share="0.5"), POLICY)
    assert decision.outcome is Outcome.DECLINE and decision.conditions == ()
    assert "BALLOON_ABOVE_LIMIT" in codes(decision)  # every reason is still reported


def test_missing_documents_and_far_from_dealer_refer() -> None:
    decision = decide(inputs(documents=("id-card",), max_distance_km=2100.0), POLICY)
    assert decision.outcome is Outcome.REFER
    missing = next(r for r in decision.reasons if r.code == "DOCUMENTS_MISSING")
    assert missing.detail == "driving-licence,income-proof"
    assert "FAR_FROM_DEALER" in codes(decision)


def test_regional_default_rate_above_watch_raises_the_cut_off() -> None:
    from tailguard.origination.regional_rates import RegionalRate

    high = RegionalRate("440300", "city", 500, 40, 0.07)
    decision = decide(inputs(score=600, regional_rate=high), POLICY)
    assert decision.limits.approve_score == 605
    assert decision.outcome is Outcome.REFER and "REGION_HIGH_DEFAULT" in codes(decision)
    low = RegionalRate("440300", "city", 500, 10, 0.02)
    assert decide(inputs(score=600, regional_rate=low), POLICY).outcome is Outcome.APPROVE


def test_decision_input_round_trips_through_json() -> None:
    from tailguard.origination.regional_rates import RegionalRate

    original = inputs(parties=(borrower(), borrower(role="guarantor", card=None, income=None)),
                      regional_rate=RegionalRate("440300", "city", 10, 1, 0.05))
    again = DecisionInput.from_json(json.loads(json.dumps(original.to_json())))
    assert again == original
    stored = json.loads(json.dumps(decide(original, POLICY).to_json()))
    assert decide(again, POLICY).to_json() == stored


def test_every_reason_has_both_labels() -> None:
    for code, (zh, en) in LABELS.items():
        assert zh and en and zh != en, code
    zh, en = label("BUREAU_DELINQUENCY", "co-borrower", "45")
    assert zh == "共同借款人：近24个月有逾期记录（45）"
    assert en == "co-borrower: delinquency in the last 24 months (45)"
    assert label("MODEL_FACTOR", None, "inq_fi")[1].endswith("personal finance inquiries")


def test_tiers_follow_gdp_per_capita_and_city_overrides() -> None:
    gdp = province_gdp_per_capita()
    assert len(gdp) == 31 and gdp["110000"] == 200000
    assert tier_of(POLICY, "110105") == 1  # Beijing 200,000
    assert tier_of(POLICY, "370202") == 2  # Shandong 91,000
    assert tier_of(POLICY, "620102") == 3  # Gansu 48,000
    assert tier_of(POLICY, "510104") == 2  # Chengdu named tier 2; Sichuan would be 3
    assert tier_of(POLICY, "810000") == 3  # no figures: lowest tier
    limits = applied_limits(POLICY, "110105", cross_province=True, regional_default_rate=None)
    assert limits.max_ltv == Decimal("0.75") and "residence-proof" in limits.required_documents


def test_policy_body_is_checked_and_hashed() -> None:
    assert POLICY.key.startswith(POLICY.version + "+")
    data = json.loads(POLICY.body)
    data["tiers"]["1"]["decline_score"] = 700
    with pytest.raises(InvalidInput) as caught:
        parse_policy(json.dumps(data))
    assert caught.value.errors[0].field == "policy.tiers.1"
    del data["hard_rules"]
    with pytest.raises(InvalidInput):
        parse_policy(json.dumps(data))
    data = json.loads(POLICY.body)
    data["regional_default"]["watch_rate"] = "0.05"
    assert parse_policy(json.dumps(data)).key != POLICY.key


def test_application_check_names_fields() -> None:
    from tests.service.factories import resident_id, vin

    party = PartyIn("borrower", "张三", resident_id("440305", "19850315", 1), "13800138000",
                    2_000_000, "miner", bank_card=None)
    app = ApplicationIn((party, replace(party, role="co-borrower"),
                         replace(party, role="co-borrower")),
                        VehicleIn(vin(1), "new", "nev", 0), "D1", "auto-balloon", 36,
                        Decimal("0.0475"), 0, Decimal("1.2"))
    with pytest.raises(InvalidInput) as caught:
        check_application(app, application_date=date(2026, 1, 10),
                          maturity_date=date(2029, 1, 10), principal_fen=0)
    fields = {(e.field, e.code) for e in caught.value.errors}
    assert {("parties[0].employment", "unknown"), ("parties[0].bank_card", "missing"),
            ("parties", "co_borrowers"), ("parties", "duplicate"),
            ("vehicle.price", "not_positive"), ("balloon_share", "out_of_range")} <= fields


def test_sandbox_is_deterministic_per_id_number() -> None:
    from tests.service.factories import resident_id

    sandbox = sandbox_third_parties()
    one = Person("甲", resident_id("440305", "19850315", 1), "+8613800138000")
    two = Person("乙", resident_id("440305", "19850315", 2), "+8613800138000")
    assert sandbox.bureau.report(one) == SandboxBureau().report(replace(one, name="丙"))
    reports = {sandbox.bureau.report(Person("x", resident_id("440305", "19850315", s), "p"))
               for s in range(1, 40)}
    assert len(reports) > 30  # varied, not one canned answer
    assert sandbox.courts.search(replace(two, id_number=resident_id(
        "440305", "19850315", 901))).dishonest_debtor
    assert not sandbox.courts.search(two).dishonest_debtor
    assert sandbox.bureau.report(replace(two, id_number=resident_id(
        "440305", "19850315", 908))).hit is False


def test_pooled_rates_shrink_small_cities_toward_their_province() -> None:
    counts = [RegionCount("440300", 2000, 60), RegionCount("440100", 2000, 60),
              RegionCount("440500", 10, 3), RegionCount("510100", 1000, 50)]
    rates = pooled_default_rates(counts)
    assert rates is not None
    small = rates.rate_for("440507")
    assert small.level == "city" and small.loans == 10
    assert 0.03 <= small.rate < 0.1  # observed 30 %, pooled close to Guangdong's 3 %
    assert rates.rate_for("440901").level == "province"  # no loans in that city
    assert rates.rate_for("650102").level == "nation"
    assert pooled_default_rates([RegionCount("440300", 5, 0)]) is None


def _bureau_client(handler: object) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_http_bureau_request_and_mapping() -> None:
    from tailguard.infra.credit_bureau_http import HttpCreditBureau

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"report_id": "R9", "hit": True, "summary": {
            "accounts": 4, "open_loans": 2, "outstanding_fen": 900, "monthly_repayments_fen": 30,
            "overdue_now": False, "max_dpd_24m": 31, "inquiries_6m": 3}})

    bureau = HttpCreditBureau("https://bureau.example/api/", "key-1",
                              client=_bureau_client(handler))
    report = bureau.report(Person("甲", "440305198503150011", "+8613800138000"))
    assert report == BureauReport("bureau-http", "R9", True, 4, 2, 900, 30, False, 31, 3)
    request = seen[0]
    assert str(request.url) == "https://bureau.example/api/v1/reports"
    assert request.headers["Authorization"] == "Bearer key-1"
    assert json.loads(request.content)["purpose"] == "loan-application"

    down = HttpCreditBureau("https://b.example", "k", client=_bureau_client(
        lambda r: httpx.Response(503)))
    with pytest.raises(ThirdPartyUnavailable):
        down.report(Person("甲", "440305198503150011", "p"))
    garbled = HttpCreditBureau("https://b.example", "k", client=_bureau_client(
        lambda r: httpx.Response(200, json={"nothing": 1})))
    with pytest.raises(ThirdPartyUnavailable):
        garbled.report(Person("甲", "440305198503150011", "p"))
