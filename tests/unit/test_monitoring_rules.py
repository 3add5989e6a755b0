"""The pure monitoring context: signals checked field by field, rules as data with their errors
named by path, the evaluator and its dedupe, the alert lifecycle, and the balloon watch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tailguard.errors import InvalidInput, Refused
from tailguard.monitoring import balloon_watch as watch
from tailguard.monitoring.lifecycle import AlertAction, AlertStatus, next_status
from tailguard.monitoring.rules import (
    DEFAULT_RULES,
    Severity,
    dedupe,
    evaluate,
    load_rules_text,
    parse_rules,
)
from tailguard.monitoring.signals import SignalKind, parse_signal

AT = "2026-03-02T10:15:00+08:00"


def signal(kind: str, **attributes: Any) -> dict[str, Any]:
    return {"kind": kind, "loan_id": "L1", "occurred_at": AT, "attributes": attributes}


def fields(exc: pytest.ExceptionInfo[InvalidInput]) -> set[str]:
    return {e.field for e in exc.value.errors}


def test_a_signal_is_checked_into_typed_attributes() -> None:
    s = parse_signal(signal("debit-failed", amount_fen=441773, reason="account-frozen"),
                     source="api")
    assert s.kind is SignalKind.DEBIT_FAILED
    assert s.attributes == {"amount_fen": 441773, "reason": "account-frozen"}
    assert s.occurred_at.utcoffset() == timedelta(hours=8)
    assert s.value("kind") == "debit-failed" and s.value("bank_code") is None


def test_bad_signals_name_every_wrong_field_with_the_batch_position() -> None:
    raw = {"kind": "gps-offline", "loan_id": "", "occurred_at": "2026-03-02T10:15:00",
           "attributes": {"hours": -2, "speed": 3}, "colour": "red"}
    with pytest.raises(InvalidInput) as exc:
        parse_signal(raw, source="api", where="signals[4].")
    assert fields(exc) == {"signals[4].loan_id", "signals[4].occurred_at",
                           "signals[4].attributes.hours", "signals[4].attributes.speed",
                           "signals[4].colour"}
    with pytest.raises(InvalidInput) as exc:
        parse_signal(signal("debit-failed", amount_fen=1.5, reason="bad-luck"), source="api")
    assert fields(exc) == {"attributes.amount_fen", "attributes.reason"}
    with pytest.raises(InvalidInput) as exc:
        parse_signal(signal("court-hit"), source="api")
    assert fields(exc) == {"attributes.list"}


def test_internal_kinds_are_refused_from_outside() -> None:
    raw = signal("balloon-window", days_left=80, stage=90, chance_not_settled=0.4)
    with pytest.raises(InvalidInput) as exc:
        parse_signal(raw, source="api")
    assert fields(exc) == {"kind"}
    assert parse_signal(raw, source="balloon-watch", internal=True).attributes["stage"] == 90


def test_telematics_kinds_need_gps_consent() -> None:
    needing = {k for k in SignalKind if k.requires_gps_consent}
    assert needing == {SignalKind.GPS_OFFLINE, SignalKind.OUTSIDE_PROVINCE,
                       SignalKind.GEOFENCE_ENTERED, SignalKind.DEVICE_TAMPERING}


RULES = {"rules": [
    {"id": "frozen", "name": "frozen account",
     "when": {"all": [{"field": "signal.kind", "op": "eq", "value": "debit-failed"},
                      {"field": "signal.reason", "op": "in",
                       "value": ["account-frozen", "account-closed"]}]},
     "severity": "high", "queue": "early-warning", "dedupe_minutes": 60},
    {"id": "late-and-far", "name": "in arrears, far away",
     "when": {"all": [{"field": "loan.dpd", "op": "ge", "value": 1},
                      {"any": [{"field": "loan.cross_region", "op": "eq", "value": True},
                               {"field": "loan.region", "op": "prefix", "value": "44"}]},
                      {"not": {"field": "signal.kind", "op": "eq",
                               "value": "payment-received"}}]},
     "severity": "medium", "queue": "field", "dedupe_minutes": 0},
    {"id": "scored", "name": "risky by the model",
     "when": {"field": "loan.behaviour_score", "op": "gt", "value": 0.3},
     "severity": "low", "queue": "watch"},
]}


def test_rules_match_on_signal_fields_and_loan_features() -> None:
    rules = parse_rules(RULES, version=7)
    frozen = parse_signal(signal("debit-failed", amount_fen=100, reason="account-frozen"),
                          source="bus")
    funds = parse_signal(signal("debit-failed", amount_fen=100, reason="insufficient-funds"),
                         source="bus")
    paid = parse_signal(signal("payment-received", amount_fen=100), source="bus")
    current = {"dpd": 0, "region": "440300", "cross_region": False}
    late_sz = {"dpd": 12, "region": "440300", "cross_region": False}
    late_bj = {"dpd": 12, "region": "110105", "cross_region": False}
    assert [r.id for r in evaluate(rules, frozen, current)] == ["frozen"]
    assert [r.id for r in evaluate(rules, frozen, late_sz)] == ["frozen", "late-and-far"]
    assert [r.id for r in evaluate(rules, funds, late_bj)] == []
    assert [r.id for r in evaluate(rules, paid, late_sz)] == []
    # a missing behavioural score never matches a comparison, a present one does
    assert [r.id for r in evaluate(rules, paid, {"behaviour_score": None})] == []
    assert [r.id for r in evaluate(rules, paid, {"behaviour_score": 0.31})] == ["scored"]
    assert rules.rules[0].kinds == frozenset({"debit-failed"})
    assert rules.rules[1].kinds is None


def test_a_disabled_rule_does_not_fire() -> None:
    data = {"rules": [dict(RULES["rules"][0], enabled=False)]}
    frozen = parse_signal(signal("debit-failed", amount_fen=1, reason="account-frozen"),
                          source="api")
    assert evaluate(parse_rules(data), frozen, {}) == []


def test_rule_errors_are_named_by_their_path() -> None:
    bad = {"rules": [
        {"id": "ok", "when": {"field": "signal.kind", "op": "eq", "value": "court-hit"},
         "severity": "high", "queue": "risk"},
        {"id": "Bad Id", "when": {"all": [{"field": "loan.dpdd", "op": "gt", "value": 3},
                                          {"field": "signal.hours", "op": "around",
                                           "value": 3}]},
         "severity": "urgent", "queue": "x", "dedupe_minutes": -1},
        {"id": "ok", "when": {"field": "loan.dpd", "op": "in", "value": 3},
         "severity": "low", "queue": "Q!"},
    ]}
    with pytest.raises(InvalidInput) as exc:
        parse_rules(bad)
    assert fields(exc) == {"rules[1].id", "rules[1].when.all[0].field",
                           "rules[1].when.all[1].op", "rules[1].severity",
                           "rules[1].dedupe_minutes", "rules[2].id", "rules[2].when.value",
                           "rules[2].queue"}


def test_rules_round_trip_and_yaml_is_accepted() -> None:
    rules = parse_rules(DEFAULT_RULES)
    assert parse_rules(rules.to_data()) == rules
    text = """
rules:
  - id: tamper
    name: Tracker tampered with
    when: {field: signal.kind, op: eq, value: device-tampering}
    severity: critical
    queue: vehicle-watch
    dedupe_minutes: 1440
"""
    loaded = load_rules_text(text, "yaml", version=3)
    assert loaded.version == 3 and loaded.rules[0].severity is Severity.CRITICAL
    with pytest.raises(InvalidInput) as exc:
        load_rules_text("{not json", "json")
    assert fields(exc) == {"definition"}


def test_dedupe_repeats_within_the_window_only() -> None:
    rule = parse_rules(RULES).rules[0]  # 60 minutes
    t0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    last = {("frozen", "L1"): (41, t0)}
    assert dedupe(rule, "L1", t0 + timedelta(minutes=59), last).repeat_of == 41
    assert dedupe(rule, "L1", t0 + timedelta(minutes=60), last).repeat_of is None
    assert dedupe(rule, "L2", t0, last).repeat_of is None
    no_window = parse_rules(RULES).rules[1]
    assert dedupe(no_window, "L1", t0, {("late-and-far", "L1"): (5, t0)}).repeat_of is None


def test_alert_lifecycle() -> None:
    s = next_status(AlertStatus.OPEN, AlertAction.ACKNOWLEDGE)
    s = next_status(s, AlertAction.WORK)
    assert next_status(s, AlertAction.CLOSE) is AlertStatus.CLOSED
    assert next_status(AlertStatus.OPEN, AlertAction.WORK) is AlertStatus.IN_PROGRESS
    for action in AlertAction:
        with pytest.raises(Refused):
            next_status(AlertStatus.CLOSED, action)
    with pytest.raises(Refused):
        next_status(AlertStatus.IN_PROGRESS, AlertAction.ACKNOWLEDGE)


def test_balloon_watch_stages_and_documented_chances() -> None:
    days = np.array([130, 120, 100, 90, 61, 60, 30, 0, -1], dtype=np.int64)
    assert watch.stage_of(days).tolist() == [0, 120, 120, 90, 90, 60, 30, 30, 0]
    zero = np.zeros(2, dtype=np.int64)
    chance = watch.chance_not_settled(zero, zero, zero, np.array([0.0, 0.3]))
    assert chance == pytest.approx([0.168, 0.087], abs=0.001)  # the docstring's figures
    late = watch.chance_not_settled(np.array([30]), np.array([3]), np.array([0]),
                                    np.array([0.3]))
    assert late[0] == pytest.approx(0.44, abs=0.01)
    scored = watch.chance_not_settled(zero, zero, zero, np.zeros(2),
                                      behaviour_score=np.array([np.nan, 0.7]))
    assert scored[0] == pytest.approx(0.168, abs=0.001) and scored[1] == 0.7


def test_default_balloon_rule_reads_fitted_chances_and_the_prior_on_their_own_scales() -> None:
    rules = parse_rules(DEFAULT_RULES)

    def fires(chance: float, balloon_risk: float | None) -> bool:
        s = parse_signal(signal("balloon-window", days_left=80, stage=90,
                                chance_not_settled=chance),
                         source="balloon-watch", internal=True)
        return "balloon-at-risk" in {r.id for r in evaluate(rules, s, {
            "balloon_risk": balloon_risk})}

    # scored by balloon-30d: the watch's chance is the fitted PD (median 0.002 on simulated
    # books); 0.2 is about 12 times the book's unsettled rate and was below the old 0.3
    assert fires(0.2, 0.2) and fires(0.03, 0.03) and fires(0.6, 0.6)
    assert not fires(0.002, 0.002) and not fires(0.029, 0.029)
    # not scored: the prior, whose clean-history chance is 9-17 %, keeps the level 0.3
    clean = float(watch.chance_not_settled(*(np.zeros(1, dtype=np.int64),) * 3,
                                           np.array([0.0]))[0])
    assert not fires(clean, None) and not fires(0.2, None)
    behind = float(watch.chance_not_settled(np.array([30]), np.array([3]), np.array([0]),
                                            np.array([0.3]))[0])
    assert fires(behind, None)  # 0.44: three late instalments


def test_vehicle_value_and_equity() -> None:
    price = np.array([100_000_00, 100_000_00, 100_000_00], dtype=np.int64)
    value = watch.vehicle_value_fen(price, np.array([0, 365, 1096], dtype=np.int64))
    assert value[0] == 100_000_00
    assert value[1] == pytest.approx(85_000_00, rel=1e-3)
    assert value[2] == pytest.approx(85_000_00 * 0.88 ** 2, rel=1e-2)
    equity = watch.equity_share(value, np.array([50_000_00, 100_000_00, 0], dtype=np.int64))
    assert equity[0] == pytest.approx(0.5) and equity[1] < 0 and equity[2] == 1.0


@given(st.lists(st.tuples(st.integers(-10, 200), st.integers(0, 120), st.integers(0, 8),
                          st.floats(-1, 1)), min_size=1, max_size=40))
def test_ranking_puts_higher_chances_first_and_keeps_only_the_window(
        loans: list[tuple[int, int, int, float]]) -> None:
    days = np.array([d for d, *_ in loans], dtype=np.int64)
    chance = watch.chance_not_settled(np.array([w for _, w, _, _ in loans], dtype=np.int64),
                                      np.array([n for *_, n, _ in loans], dtype=np.int64),
                                      np.zeros(len(loans), dtype=np.int64),
                                      np.array([e for *_, e in loans]))
    order = watch.rank(chance, days).positions
    assert set(order.tolist()) == {i for i, d in enumerate(days) if 0 <= d <= 120}
    ranked = chance[order]
    assert all(ranked[i] >= ranked[i + 1] for i in range(len(ranked) - 1))


def test_more_late_history_or_less_equity_never_lowers_the_chance() -> None:
    base = watch.chance_not_settled(np.array([10]), np.array([1]), np.array([0]),
                                    np.array([0.2]))
    worse = [watch.chance_not_settled(np.array([20]), np.array([1]), np.array([0]),
                                      np.array([0.2])),
             watch.chance_not_settled(np.array([10]), np.array([2]), np.array([0]),
                                      np.array([0.2])),
             watch.chance_not_settled(np.array([10]), np.array([1]), np.array([5]),
                                      np.array([0.2])),
             watch.chance_not_settled(np.array([10]), np.array([1]), np.array([0]),
                                      np.array([0.1]))]
    assert all(w[0] > base[0] for w in worse)
