"""The pure collections rules: strategy assignment (column-wise equals one by one), the stable
draw, promises, close reasons, the partner score and allocation, venues, the repossession
gate, and field routes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailguard.errors import InvalidInput, Refused
from tailguard.loans.delinquency import bucket_for
from tailguard.recovery import cases, legal, partners, promises
from tailguard.recovery.routing import Stop, haversine_m, plan_route
from tailguard.recovery.strategy import (
    DEFAULT_STRATEGY,
    Delinquent,
    Strategy,
    assign,
    assign_one,
    draw,
    draw_one,
)

STRATEGY = Strategy.parse(DEFAULT_STRATEGY)


def portfolio(n: int, seed: int) -> Delinquent:
    rng = np.random.default_rng(seed)
    dpd = rng.integers(1, 200, n)
    score = rng.integers(300, 800, n).astype(float)
    score[rng.random(n) < 0.1] = np.nan
    return Delinquent(
        np.array([f"L{i:07d}" for i in range(n)], dtype=object),
        np.array([f"pty-{i // 2:06d}" for i in range(n)], dtype=object),
        dpd, np.array([bucket_for(int(d)) for d in dpd], dtype=object), score,
        rng.choice(["510000", "110000", "440000", ""], n).astype(object),
        rng.choice(["none", "before", "approaching", "due"], n).astype(object),
        rng.random(n) < 0.3, rng.integers(0, 3, n))


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=10_000))
def test_column_wise_assignment_equals_the_one_by_one_rule(n: int, seed: int) -> None:
    loans = portfolio(n, seed)
    result = assign(STRATEGY, loans)
    for i in range(n):
        assert result.row(i) == assign_one(STRATEGY, loans.row(i))


def test_one_borrower_one_arm_and_arm_shares_near_their_targets() -> None:
    loans = portfolio(20_000, 7)
    result = assign(STRATEGY, loans)
    arms = {}
    for borrower, arm in zip(loans.borrower_id, result.arm, strict=True):
        assert arms.setdefault(borrower, arm) == arm  # loans of a borrower share an arm
    share = np.mean(result.arm == "holdout"), np.mean(result.arm == "challenger")
    assert abs(share[0] - 0.05) < 0.01 and abs(share[1] - 0.2) < 0.015


def test_the_draw_is_stable_uniform_and_salted() -> None:
    keys = np.array([f"pty-{i}" for i in range(50_000)], dtype=object)
    u = draw("s1", keys)
    assert u[123] == draw_one("s1", "pty-123") and u[4] == draw_one("s1", "pty-4")
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert counts.min() > 4_500 and counts.max() < 5_500
    assert np.mean(np.abs(draw("s2", keys) - u) > 0.01) > 0.9  # a new salt re-randomises


def test_unicode_keys_draw_alike_both_ways() -> None:
    keys = np.array(["借款人-一", "b", "借款人-二号"], dtype=object)
    assert draw("盐", keys).tolist() == [draw_one("盐", k) for k in keys]


def test_strategy_errors_name_the_field() -> None:
    bad = {**DEFAULT_STRATEGY, "holdout_share": "0.9",
           "paths": {**DEFAULT_STRATEGY["paths"],
                     "odd": [{"action": "call", "at_dpd": 10}, {"action": "fly", "at_dpd": 5}]}}
    with pytest.raises(InvalidInput) as caught:
        Strategy.parse(bad)
    fields = {e.field for e in caught.value.errors}
    assert fields == {"holdout_share", "paths.odd[1].action"}
    assert Strategy.parse(STRATEGY.to_dict()) == STRATEGY  # the stored form round-trips


def test_escalation_moves_a_loan_ahead_on_its_path() -> None:
    loans = portfolio(200, 3)
    calm = assign(STRATEGY, Delinquent(*[getattr(loans, f) for f in (
        "loan_id", "borrower_id", "dpd", "bucket", "score", "province", "balloon_stage",
        "cross_region")], np.zeros(200, dtype=np.int64)))
    pushed = assign(STRATEGY, Delinquent(*[getattr(loans, f) for f in (
        "loan_id", "borrower_id", "dpd", "bucket", "score", "province", "balloon_stage",
        "cross_region")], np.ones(200, dtype=np.int64)))
    started = calm.step >= 0
    assert (pushed.step[started] >= calm.step[started]).all()
    assert (pushed.step[started] > calm.step[started]).any()


def test_promises_kept_broken_or_still_open() -> None:
    status = promises.evaluate(np.array([100, 100, 100, 100]), np.array([100, 50, 50, 0]),
                               np.array(["2026-03-01", "2026-03-01", "2026-03-02", "2026-03-05"],
                                        dtype="datetime64[D]"), date(2026, 3, 2))
    assert status.tolist() == ["kept", "broken", "open", "open"]
    with pytest.raises(InvalidInput):
        promises.check_promise(0, date(2026, 3, 2), date(2026, 3, 3))


def test_close_reasons() -> None:
    got = cases.close_reasons(np.array([5, 5, 5, 0, 5, 5]), np.array([0, 0, 0, 0, 1, 0]),
                              np.array([0, 0, 0, 0, 0, 1]), np.array([1, 0, 2, 1, 1, 1]),
                              np.array([0, 0, 3, 0, 9, 9]))
    assert got.tolist() == ["cure", "settlement", "", "", "write-off", "sale"]
    assert cases.close_reason(["active", "active"], [0, 0], [False, True]) == "cure"


def _partner(pid: str, **kw: object) -> partners.Partner:
    base: dict[str, object] = dict(
        id=pid, kind="agency", provinces=frozenset({"440000"}), cities=frozenset(),
        capabilities=frozenset({"ai-dialler"}), rating=Decimal("4"), complaints=2,
        cases_handled=100, recovery_rate=Decimal("0.3"), cost_rate=Decimal("0.25"),
        last_assessed_on=date(2026, 1, 1), capacity=1)
    base.update(kw)
    return partners.Partner(**base)  # type: ignore[arg-type]


def test_partner_score_weighs_conduct_and_allocation_respects_capacity() -> None:
    p = _partner("A")
    # 40·0.3 + 20·0.75 + 20·4/5 + 20·(1 − 2/5) = 12 + 15 + 16 + 12
    assert partners.score(p) == Decimal("55.00")
    rude = _partner("B", complaints=10)
    assert partners.score(rude) < partners.score(p)
    stale = _partner("C", rating=Decimal(5), last_assessed_on=date(2024, 1, 1))
    todo = [partners.CaseToPlace(1, "440305"), partners.CaseToPlace(2, "440106"),
            partners.CaseToPlace(3, "510104")]
    placed = partners.allocate(todo, [p, rude, stale], "agency", date(2026, 3, 2))
    assert placed == {1: "A", 2: "B"}  # A is full after one; C is overdue; nobody in Sichuan
    assert partners.commission_fen(10_000_00, Decimal("0.2"), 1) == 1_600_00


def test_venue_rules() -> None:
    assert legal.choose_venue("debt", arbitration_commission="上海国际仲裁中心").kind == (
        "arbitration")
    assert legal.choose_venue("security", vehicle_region="510104",
                              registration_region="440300").place == "510104"
    assert legal.choose_venue("security", registration_region="440300").place == "440300"
    assert legal.choose_venue("debt", agreed_court_region="440305",
                              borrower_domicile_region="510104").place == "440305"
    with pytest.raises(InvalidInput):
        legal.choose_venue("security")


def test_repossession_gate() -> None:
    with pytest.raises(Refused) as missing:
        legal.check_repossession_request({"call", "lawyer-letter"}, 90)
    assert "field-visit" in missing.value.message
    with pytest.raises(Refused):
        legal.check_repossession_request({"call", "lawyer-letter", "field-visit"}, 30)
    legal.check_repossession_request({"call", "lawyer-letter", "field-visit"}, 61)


def test_the_route_visits_every_stop_once_and_beats_the_given_order() -> None:
    rng = np.random.default_rng(5)
    base = Stop(0, 30.60, 104.07)
    stops = [Stop(i, 30.5 + rng.random() * 0.3, 103.9 + rng.random() * 0.3)
             for i in range(1, 16)]
    route = plan_route(base, stops)
    assert sorted(route.order) == [s.key for s in stops]
    nodes = [base, *stops, base]
    given_order = sum(haversine_m(a, b) for a, b in pairwise(nodes))
    assert route.distance_m <= given_order
    assert plan_route(base, []).order == ()


def test_uplift_interval_matches_newcombes_worked_example() -> None:
    from tailguard.recovery.uplift import uplift, wilson

    # Newcombe (1998), table II example (56/70 vs 48/80): difference 0.2, 95% CI 0.0524–0.3339
    got = uplift(56, 70, 48, 80)
    assert round(got.difference, 4) == 0.2
    assert (round(got.low, 4), round(got.high, 4)) == (0.0524, 0.3339)
    low, high = wilson(0, 10)
    assert low == 0.0 and 0.27 < high < 0.31
    same = uplift(30, 100, 30, 100)
    assert same.low < 0 < same.high


def test_collector_score_weighs_conduct_not_amounts() -> None:
    from tailguard.recovery.scorecard import CollectorRecord, collector_score

    clean = CollectorRecord("a", 8, 2, 5, 10, 0, 50)
    pushy = CollectorRecord("b", 8, 2, 5, 10, 25, 50)
    assert collector_score(clean) == 32.0 + 15.0 + 30.0
    assert collector_score(pushy) == collector_score(clean) - 15.0
    assert collector_score(CollectorRecord("new", 0, 0, 0, 0, 0, 0)) == 50.0
