"""The collections report's arithmetic: snapshots, buckets on a day from bucket changes,
roll and cure rates, promise-kept and right-party contact rates, integer group sums, and the
recovery table's costs."""

from __future__ import annotations

from datetime import date

import numpy as np

from tailguard.recovery import reports as r


def S(*values: str) -> np.ndarray:
    return np.array(values, dtype=str)


def test_snapshots_are_monthly_from_the_first_day_to_the_last() -> None:
    assert r.snapshots(date(2026, 1, 31), date(2026, 4, 30)) == [
        date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert r.snapshots(date(2026, 1, 10), date(2026, 1, 20)) == [date(2026, 1, 10)]


def test_the_bucket_on_a_day_is_the_last_change_on_or_before_it() -> None:
    loans = S("a", "b", "c", "d")
    booked = np.array(["2026-01-01", "2026-01-01", "2026-01-01", "2026-05-01"],
                      dtype="datetime64[D]")
    ev_loans = S("a", "a", "a", "c")
    ev_days = np.array(["2026-02-01", "2026-03-03", "2026-04-01", "2026-02-15"],
                       dtype="datetime64[D]")
    ev_to = S("M1", "M2", "C", "M1")
    on_march = r.buckets_on(loans, booked, ev_loans, ev_days, ev_to, date(2026, 3, 10))
    assert list(on_march) == ["M2", "C", "M1", ""]
    on_jan = r.buckets_on(loans, booked, ev_loans, ev_days, ev_to, date(2026, 1, 31))
    assert list(on_jan) == ["C", "C", "C", ""]
    assert list(r.buckets_on(S(), np.array([], dtype="datetime64[D]"), ev_loans, ev_days,
                             ev_to, date(2026, 3, 10))) == []


def test_roll_rates_count_transitions_and_shares() -> None:
    before = S("C", "C", "C", "C", "M1", "M1", "M1", "M1", "M2", "")
    after = S("C", "C", "C", "M1", "M2", "M2", "C", "M1", "M3", "M1")
    rolls = r.roll_rates(before, after)
    assert rolls.counts["C"] == {"C": 3, "M1": 1}
    assert rolls.counts["M1"] == {"C": 1, "M1": 1, "M2": 2}
    assert rolls.forward == {"C": 0.25, "M1": 0.5, "M2": 1.0}
    assert rolls.cured == {"M1": 0.25, "M2": 0.0}
    assert (rolls.delinquent, rolls.cured_total) == (5, 1)
    assert rolls.cure_rate == 0.2
    assert rolls.shares["M1"]["M2"] == 0.5
    assert "" not in rolls.counts  # a loan not booked yet is left out


def test_promise_and_right_party_rates() -> None:
    assert r.promise_kept(S("kept", "broken", "kept", "kept")) == {
        "kept": 3, "broken": 1, "rate": 0.75}
    assert r.promise_kept(S())["rate"] is None
    rpc = r.right_party_contacts(
        S("call", "call", "call", "call", "call", "sms"),
        S("debtor", "debtor", "relative", "debtor", "debtor", "debtor"),
        S("connected", "no-answer", "connected", "pending", "refused", "sent"))
    assert rpc == {"calls_made": 4, "right_party": 1, "rate": 0.25}


def test_case_cures_and_balloon_clearance() -> None:
    assert r.case_cures(S("cure", "settlement", "cure", "write-off"))["rate"] == 0.5
    clearance = r.balloon_clearance(np.array([True, False, True], dtype=bool))
    assert (clearance["due"], clearance["cleared"], clearance["rate"]) == (3, 2, 0.6667)


def test_money_is_summed_in_integer_fen_per_group() -> None:
    sums = r.group_sum(S("t1", "t2", "t1"), np.array([10_000_000_000_01, 5, 2], dtype=np.int64))
    assert sums == {"t1": 10_000_000_000_03, "t2": 5}
    assert r.group_sum(S(), np.array([], dtype=np.int64)) == {}


def test_the_recovery_table_adds_costs_and_their_ratio() -> None:
    rows = r.recovery_table({"t1": 100_00, "t2": 0}, {"t1": 2, "t3": 1},
                            {"commissions_fen": {"t1": 10_00}, "legal_fen": {"t1": 5_00,
                                                                            "t3": 1_00}})
    by = {row["key"]: row for row in rows}
    assert by["t1"]["cost_fen"] == 15_00 and by["t1"]["net_fen"] == 85_00
    assert by["t1"]["cost_ratio"] == 0.15 and by["t1"]["cases"] == 2
    assert by["t2"]["cost_ratio"] is None
    assert by["t3"]["net_fen"] == -1_00 and by["t3"]["disposal_fen"] == 0
