"""The next best action: only actions allowed now (contact policy, legal sequence) are
recommended, ranked by expected recovery net of cost, waiting included; measured effects
replace the priors once both arms are large enough."""

from __future__ import annotations

from tailguard.recovery import next_action as na

ALL_CHANNELS = {"sms": True, "call": True, "field-visit": True, "letter": True}


def facts(**changes: object) -> na.CaseFacts:
    base: dict[str, object] = {"dpd": 10, "overdue_fen": 5_000_00, "outstanding_fen": 150_000_00,
                               "contact_allowed": ALL_CHANNELS}
    return na.CaseFacts(**(base | changes))  # type: ignore[arg-type]


def by_action(candidates: list[na.Candidate]) -> dict[str, na.Candidate]:
    return {c.action: c for c in candidates}


def test_early_a_call_beats_waiting_and_legal_steps_are_not_allowed() -> None:
    ranked = na.rank(facts())
    top = na.best(ranked)
    assert top.action == "call"
    assert top.p_pay == 0.45 + 0.10
    assert top.expected_recovered_fen == round(0.55 * 5_000_00)
    assert top.value_fen == top.expected_recovered_fen - 5_00
    c = by_action(ranked)
    assert c["wait"].value_fen == round(0.45 * 5_000_00)
    assert not c["lawyer-letter"].allowed and "30 days" in str(c["lawyer-letter"].why_not)
    assert c["legal-action"].why_not == "a lawyer's letter comes first"
    assert c["repossession"].why_not == "first: call, field-visit, lawyer-letter"
    assert not c["agency-placement"].allowed
    # allowed candidates come first, by value
    allowed = [x for x in ranked if x.allowed]
    assert ranked[: len(allowed)] == allowed
    assert [x.value_fen for x in allowed] == sorted((x.value_fen for x in allowed), reverse=True)


def test_the_contact_policy_removes_contact_actions() -> None:
    ranked = na.rank(facts(contact_allowed={"sms": True, "call": False}))
    c = by_action(ranked)
    assert c["call"].why_not == "the contact policy does not allow a call now"
    assert not c["restructure-offer"].allowed and not c["field-visit"].allowed
    assert na.best(ranked).action == "reminder"
    quiet = na.rank(facts(contact_allowed={}))
    assert na.best(quiet).action == "wait"


def test_late_cases_reach_for_the_legal_sequence_once_its_steps_are_done() -> None:
    late = facts(dpd=75, done=frozenset({"call", "field-visit", "lawyer-letter"}),
                 vehicle_value_fen=200_000_00, score_band="C")
    c = by_action(na.rank(late))
    assert c["repossession"].allowed and c["legal-action"].allowed
    assert c["repossession"].expected_recovered_fen == round(0.6 * min(150_000_00,
                                                                       0.6 * 200_000_00))
    assert na.best(na.rank(late)).action == "repossession"
    assert abs(c["wait"].p_pay - 0.10 * 0.7) < 1e-12  # M3 self-cure, a weak score band
    placed = by_action(na.rank(facts(dpd=45, placed=True)))
    assert placed["agency-placement"].why_not == "already placed with an agency"
    agency = by_action(na.rank(facts(dpd=45)))["agency-placement"]
    assert agency.allowed
    assert agency.cost_fen == round(0.2 * agency.expected_recovered_fen)
    too_early = by_action(na.rank(facts(dpd=45, done=frozenset({"call", "field-visit",
                                                                  "lawyer-letter"}))))
    assert too_early["repossession"].why_not == "repossession from 60 days past due"
    assert too_early["legal-action"].why_not == "legal action from 60 days past due"


def test_a_measured_effect_replaces_the_prior_only_with_enough_cases() -> None:
    few = {"call": na.Measured(0.30, 0.05, 0.5, 10, 200)}
    assert not by_action(na.rank(facts(), few))["call"].measured
    many = {"call": na.Measured(0.30, 0.12, 0.45, 400, 300),
            "reminder": na.Measured(0.02, -0.03, 0.07, 400, 300)}
    c = by_action(na.rank(facts(), many))
    assert c["call"].measured and c["call"].p_pay == 0.45 + 0.12  # the interval's low end
    assert c["reminder"].p_pay == 0.45 + 0.02  # interval spans zero: the estimate
    assert c["call"].source.startswith("measured")
    harmful = {"call": na.Measured(-0.5, -0.6, -0.4, 400, 300)}
    assert by_action(na.rank(facts(), harmful))["call"].p_pay == 0.0


def test_every_prior_names_its_source() -> None:
    for action, effect in na.PRIOR_EFFECTS.items():
        assert effect.source, action
        assert effect.cost_fen >= 0
    assert set(na.PRIOR_EFFECTS) == {"reminder", "call", "restructure-offer", "field-visit",
                                     "agency-placement", "lawyer-letter", "legal-action",
                                     "repossession"}
    in_path = by_action(na.rank(facts(path_actions=("call", "field-visit"))))
    assert in_path["call"].in_path and not in_path["reminder"].in_path
