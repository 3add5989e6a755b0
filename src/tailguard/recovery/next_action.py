"""The next best action on a case: the actions allowed now, ranked by expected recovery net of
cost.

For each candidate action `a`:

    p(a)        = min(1, p0 + effect(a))          chance the borrower pays within the horizon
    recovered   = p(a) · base(a)                   base: the overdue amount, or for legal action
                                                   and repossession what they can reach
    cost        = fixed cost of a + commission rate · recovered (agency placement)
    value       = recovered − cost

`p0` is the chance of paying without any action (self-cure) for the case's bucket, scaled by
its behavioural score band; "wait" (do nothing more now) is always a candidate, so an action
is recommended only when it is worth more than waiting.

Effects are priors until the platform has measured them. The priors come from
`shared/reference/treatment-effects.md` where a study speaks to the action (each carries its
source); the rest are house assumptions, marked as such. A measured effect replaces the prior:
the champion/challenger read-out (`recovery/uplift.py`) gives, per segment, the difference in
cure rate between the champion path and the holdout with Newcombe's interval; when both arms
have at least `MIN_MEASURED_CASES` cases it is used for the champion path's current action of
that segment, the interval's lower end when it excludes zero, else the estimate.

Allowed now means: the contact policy allows the channel the action uses at this moment (the
caller asks the conduct guard), and the legal sequence allows the step (a lawyer's letter from
30 days past due, legal action after a letter and from 60 days, repossession after a call, a
field visit and a letter and from 60 days, `recovery.legal`), agency placement from 30 days on
a case not placed yet. Nothing here is booked: the expected amounts are a model's output
(floats allowed), rounded to whole fen for display.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tailguard.recovery.legal import REPOSSESSION_MIN_DPD, REPOSSESSION_PREREQUISITES
from tailguard.recovery.vocabulary import Action

WAIT = "wait"
MIN_MEASURED_CASES = 30
LETTER_MIN_DPD = 30
LEGAL_MIN_DPD = 60
PLACEMENT_MIN_DPD = 30
HOUSE = "house assumption (no published effect for this action; to be measured)"
VENDOR = ("vendor case studies, not randomised (treatment-effects.md): contact strategy, "
          "agency allocation, dialler +10% net recoveries, +15% and +35% balance collected")

SELF_CURE = {"M1": 0.45, "M2": 0.20, "M3": 0.10, "M4": 0.05, "M5": 0.03, "M6+": 0.02}
"""p0 by bucket: the chance a case pays without further action within the horizon (house
prior; the cure rates of the collections report measure it)."""
BAND_FACTOR = {"A": 1.3, "B": 1.0, "C": 0.7, "U": 1.0}
"""Behavioural score bands scale p0 (a better score, more self-cure)."""

CHANNEL_OF = {
    Action.REMINDER.value: "sms",
    Action.CALL.value: "call",
    Action.RESTRUCTURE_OFFER.value: "call",
    Action.FIELD_VISIT.value: "field-visit",
    Action.LAWYER_LETTER.value: "letter",
}
"""The contact channel an action uses; the conduct guard decides it."""


@dataclass(frozen=True)
class Effect:
    early: float
    """Added chance of paying when the case is 1-30 days past due …"""
    late: float
    """… and from 31 days."""
    cost_fen: int
    source: str
    base: str = "overdue"
    """What the action can recover: the overdue amount, the outstanding debt, or the vehicle."""


PRIOR_EFFECTS: Mapping[str, Effect] = {
    Action.REMINDER.value: Effect(
        0.04, 0.0, 10,
        "Barboni, Cárdenas & de Roux 2022: behavioural SMS, late payers 4% less likely late; "
        "a plain reminder to people already late gains little (Bursztyn et al. 2019; "
        "Karlan, Morten & Zinman 2016)"),
    Action.CALL.value: Effect(0.10, 0.06, 5_00, VENDOR),
    Action.RESTRUCTURE_OFFER.value: Effect(
        0.08, 0.10, 20_00,
        "Dewies et al. 2022: a letter asking to call and agree a plan gave more repayment "
        "plans and responses", base="half-overdue"),
    Action.FIELD_VISIT.value: Effect(0.10, 0.12, 200_00, HOUSE),
    Action.LAWYER_LETTER.value: Effect(0.0, 0.08, 300_00, HOUSE),
    Action.AGENCY_PLACEMENT.value: Effect(0.0, 0.15, 0, VENDOR),
    Action.LEGAL_ACTION.value: Effect(0.0, 0.20, 5_000_00, HOUSE, base="outstanding"),
    Action.REPOSSESSION.value: Effect(0.0, 0.60, 3_000_00, HOUSE, base="vehicle"),
}
VEHICLE_RECOVERY_SHARE = 0.6
"""What a repossessed vehicle fetches, as a share of its price new (house assumption)."""


@dataclass(frozen=True)
class Measured:
    """A measured effect of an action in the case's segment (champion over holdout)."""

    difference: float
    low: float
    high: float
    n_treated: int
    n_control: int

    def usable(self) -> bool:
        return min(self.n_treated, self.n_control) >= MIN_MEASURED_CASES

    def effect(self) -> float:
        return self.low if self.low > 0 else self.difference


@dataclass(frozen=True)
class CaseFacts:
    dpd: int
    overdue_fen: int
    outstanding_fen: int
    """Everything owed if the loan were accelerated (principal outstanding plus arrears)."""
    score_band: str = "U"
    vehicle_value_fen: int | None = None
    done: frozenset[str] = frozenset()
    """Steps taken on the case: call, field-visit, lawyer-letter, legal-action, repossession."""
    placed: bool = False
    contact_allowed: Mapping[str, bool] = field(default_factory=dict)
    """Channel → whether the conduct guard allows it now (a missing channel is not allowed)."""
    commission_rate: float = 0.2
    path_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    action: str
    allowed: bool
    why_not: str | None
    p_pay: float
    expected_recovered_fen: int
    cost_fen: int
    value_fen: int
    source: str
    measured: bool
    in_path: bool

    def to_dict(self) -> dict[str, object]:
        return {"action": self.action, "allowed": self.allowed, "why_not": self.why_not,
                "p_pay": round(self.p_pay, 4),
                "expected_recovered_fen": self.expected_recovered_fen,
                "cost_fen": self.cost_fen, "value_fen": self.value_fen,
                "source": self.source, "measured": self.measured, "in_path": self.in_path}


def self_cure(facts: CaseFacts) -> float:
    bucket = _bucket(facts.dpd)
    return min(1.0, SELF_CURE.get(bucket, 0.02) * BAND_FACTOR.get(facts.score_band, 1.0))


def _bucket(dpd: int) -> str:
    if dpd <= 0:
        return "C"
    if dpd > 150:
        return "M6+"
    return f"M{(dpd - 1) // 30 + 1}"


def why_not(action: str, facts: CaseFacts) -> str | None:
    """Why the action may not be taken now, or None when it may."""
    channel = CHANNEL_OF.get(action)
    if channel is not None and not facts.contact_allowed.get(channel, False):
        return f"the contact policy does not allow a {channel} now"
    if action == Action.LAWYER_LETTER.value and facts.dpd < LETTER_MIN_DPD:
        return f"a lawyer's letter from {LETTER_MIN_DPD} days past due"
    if action == Action.AGENCY_PLACEMENT.value:
        if facts.placed:
            return "already placed with an agency"
        if facts.dpd < PLACEMENT_MIN_DPD:
            return f"agency placement from {PLACEMENT_MIN_DPD} days past due"
    if action == Action.LEGAL_ACTION.value:
        if Action.LAWYER_LETTER.value not in facts.done:
            return "a lawyer's letter comes first"
        if facts.dpd < LEGAL_MIN_DPD:
            return f"legal action from {LEGAL_MIN_DPD} days past due"
    if action == Action.REPOSSESSION.value:
        if Action.REPOSSESSION.value in facts.done:
            return "the vehicle is already repossessed"
        missing = [s for s in REPOSSESSION_PREREQUISITES if s not in facts.done]
        if missing:
            return "first: " + ", ".join(missing)
        if facts.dpd < REPOSSESSION_MIN_DPD:
            return f"repossession from {REPOSSESSION_MIN_DPD} days past due"
    return None


def _base(effect: Effect, facts: CaseFacts) -> float:
    if effect.base == "outstanding":
        return float(max(facts.outstanding_fen, facts.overdue_fen))
    if effect.base == "vehicle":
        reach = (facts.vehicle_value_fen * VEHICLE_RECOVERY_SHARE
                 if facts.vehicle_value_fen else facts.outstanding_fen * 0.5)
        return float(min(max(facts.outstanding_fen, facts.overdue_fen), reach))
    if effect.base == "half-overdue":
        return facts.overdue_fen / 2
    return float(facts.overdue_fen)


def rank(facts: CaseFacts, measured: Mapping[str, Measured] | None = None,
         effects: Mapping[str, Effect] = PRIOR_EFFECTS) -> list[Candidate]:
    """Every candidate with its value; allowed ones first, best value first; "wait" included."""
    measured = measured or {}
    p0 = self_cure(facts)
    waiting = round(p0 * facts.overdue_fen)
    out = [Candidate(WAIT, True, None, p0, waiting, 0, waiting,
                     "self-cure prior by bucket and score band", False, False)]
    late = facts.dpd > 30
    for action, effect in effects.items():
        m = measured.get(action)
        use_measured = m is not None and m.usable()
        lift = m.effect() if use_measured and m is not None else (
            effect.late if late else effect.early)
        base = _base(effect, facts)
        if effect.base == "overdue" or effect.base == "half-overdue":
            p = max(0.0, min(1.0, p0 + lift))
        else:  # what legal action or repossession reach, beyond the overdue amount
            p = max(0.0, min(1.0, lift))
        recovered = p * base
        if effect.base in ("outstanding", "vehicle"):
            recovered = max(recovered, p0 * facts.overdue_fen)
        cost = effect.cost_fen + (facts.commission_rate * recovered
                                  if action == Action.AGENCY_PLACEMENT.value else 0.0)
        reason = why_not(action, facts)
        source = ("measured: champion over holdout in the case's segment"
                  if use_measured else effect.source)
        out.append(Candidate(action, reason is None, reason, p, round(recovered), round(cost),
                             round(recovered - cost), source, use_measured,
                             action in facts.path_actions))
    return sorted(out, key=lambda c: (not c.allowed, -c.value_fen, c.action))


def best(candidates: list[Candidate]) -> Candidate:
    """The allowed candidate of highest value ("wait" when nothing beats it)."""
    return next(c for c in candidates if c.allowed)
