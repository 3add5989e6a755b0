"""The credit decision: hard rules, then regional policy, then the score cut-off.

`decide(inputs, policy)` is a pure function of two stored values: the `DecisionInput` (the
application's facts with no name, ID number or phone in it, every third-party answer, the
cross-region signals, the regional default rate, and the score with its model version and
hash) and the `CreditPolicy` body. So a decision replayed from what was stored gives the same
outcome, conditions and reasons, whatever the providers or the policy file say today.

Every rule that fires adds a reason (a code with Chinese and English labels, and the party it
is about); all rules run, so the officer sees every reason, not only the first:

1. Hard rules, per party: identity, court lists, bureau delinquency and inquiries, bank card,
   income verification, and affordability (debt-to-income with the new instalment).
2. Regional policy (`policy.applied_limits`): LTV and down payment, balloon share, required
   documents, distance; a breach of LTV or balloon becomes a condition (a higher down payment,
   a lower balloon) rather than a decline, since the loan is acceptable on those terms.
3. Score cut-off of the tier: decline below the decline cut-off, refer between the two.

The outcome is the worst any rule gave: decline over refer over approve. An approval may carry
conditions; a decline carries none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import IntEnum, StrEnum
from typing import Any

from tailguard.origination.policy import AppliedLimits, CreditPolicy, applied_limits
from tailguard.origination.reason_codes import label
from tailguard.origination.regional_rates import RegionalRate
from tailguard.origination.thirdparty import (
    BureauReport,
    CardVerification,
    CourtRecords,
    IdentityVerification,
    IncomeVerification,
)


class Outcome(StrEnum):
    APPROVE = "approve"
    REFER = "refer"
    DECLINE = "decline"


class _Severity(IntEnum):
    INFO = 0
    CONDITION = 1
    REFER = 2
    DECLINE = 3


@dataclass(frozen=True)
class PartyFacts:
    """One party as the rules see it: derived facts and provider answers, no identifiers."""

    role: str
    age_at_application: int
    age_at_maturity: int
    household_region: str
    residence_region: str | None
    employment: str
    employment_months: int
    declared_monthly_income_fen: int
    declared_monthly_debt_fen: int
    bureau: BureauReport
    identity: IdentityVerification
    courts: CourtRecords
    card: CardVerification | None = None
    income: IncomeVerification | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartyFacts:
        values = dict(data)
        values["bureau"] = BureauReport.from_json(data["bureau"])
        values["identity"] = IdentityVerification.from_json(data["identity"])
        values["courts"] = CourtRecords.from_json(data["courts"])
        values["card"] = CardVerification.from_json(data["card"]) if data["card"] else None
        values["income"] = IncomeVerification.from_json(data["income"]) if data["income"] else None
        return cls(**values)


@dataclass(frozen=True)
class ScoreFacts:
    """The score the model gave, and what identifies the model that gave it."""

    model_version: str
    model_sha256: str
    features: dict[str, Any]
    pd: float
    score: int
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScoreFacts:
        return cls(data["model_version"], data["model_sha256"], dict(data["features"]),
                   float(data["pd"]), int(data["score"]), tuple(data["reasons"]))


@dataclass(frozen=True)
class DecisionInput:
    application_id: str
    application_date: str
    product_code: str
    term_months: int
    annual_rate: str
    vehicle_price_fen: int
    vehicle_condition: str
    down_payment_fen: int
    principal_fen: int
    balloon_share: str
    monthly_instalment_fen: int
    dealer_region: str
    vehicle_region: str | None
    documents: tuple[str, ...]
    parties: tuple[PartyFacts, ...]
    cross_city: bool | None
    cross_province: bool | None
    max_distance_km: float | None
    regional_rate: RegionalRate | None
    score: ScoreFacts | None

    @property
    def borrower(self) -> PartyFacts:
        return next(p for p in self.parties if p.role == "borrower")

    @property
    def policy_region(self) -> str:
        """Where the borrower lives (else their household registration): the policy's tier
        is the economy the borrower earns and repays in."""
        return self.borrower.residence_region or self.borrower.household_region

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["documents"] = list(self.documents)
        data["parties"] = [p.to_json() for p in self.parties]
        data["regional_rate"] = self.regional_rate.to_json() if self.regional_rate else None
        data["score"] = self.score.to_json() if self.score else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DecisionInput:
        values = dict(data)
        values["documents"] = tuple(data["documents"])
        values["parties"] = tuple(PartyFacts.from_json(p) for p in data["parties"])
        rate = data["regional_rate"]
        values["regional_rate"] = RegionalRate(**rate) if rate else None
        values["score"] = ScoreFacts.from_json(data["score"]) if data["score"] else None
        return cls(**values)


@dataclass(frozen=True)
class Reason:
    code: str
    party: str | None = None
    detail: str | None = None

    @property
    def zh(self) -> str:
        return label(self.code, self.party, self.detail)[0]

    @property
    def en(self) -> str:
        return label(self.code, self.party, self.detail)[1]

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "party": self.party, "detail": self.detail,
                "zh": self.zh, "en": self.en}


@dataclass(frozen=True)
class Condition:
    code: str  # MIN_DOWN_PAYMENT (fen), MAX_BALLOON_SHARE (share), DOCUMENTS (kinds)
    value: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "value": self.value}


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    conditions: tuple[Condition, ...]
    limits: AppliedLimits
    policy_key: str
    debt_to_income: str | None = None

    def to_json(self) -> dict[str, Any]:
        limits = {k: str(v) if isinstance(v, Decimal) else v
                  for k, v in asdict(self.limits).items()}
        limits["required_documents"] = list(self.limits.required_documents)
        return {"outcome": self.outcome.value,
                "reasons": [r.to_json() for r in self.reasons],
                "conditions": [c.to_json() for c in self.conditions],
                "limits": limits, "policy": self.policy_key,
                "debt_to_income": self.debt_to_income}


@dataclass
class _Findings:
    severity: _Severity = _Severity.INFO
    reasons: list[Reason] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)

    def add(self, severity: _Severity, code: str, party: str | None = None,
            detail: str | None = None) -> None:
        self.severity = max(self.severity, severity)
        self.reasons.append(Reason(code, party, detail))


def _party_rules(found: _Findings, party: PartyFacts, policy: CreditPolicy) -> None:
    hard = policy.hard
    role = party.role
    if role == "guarantor":
        # A guarantor who is not who they say, or who is on the court lists, secures nothing:
        # the officer finds another guarantor or reviews without one.
        if not party.identity.name_matches_id:
            found.add(_Severity.REFER, "GUARANTOR_UNSUITABLE", role, "identity")
        if party.courts.dishonest_debtor or party.courts.consumption_restricted:
            found.add(_Severity.REFER, "GUARANTOR_UNSUITABLE", role, "court-list")
        return
    if not party.identity.name_matches_id:
        found.add(_Severity.DECLINE, "IDENTITY_MISMATCH", role)
    if party.courts.dishonest_debtor:
        found.add(_Severity.DECLINE, "DISHONEST_DEBTOR", role)
    if party.courts.consumption_restricted:
        found.add(_Severity.DECLINE, "CONSUMPTION_RESTRICTED", role)
    if party.courts.enforcement_cases > 0:
        found.add(_Severity.REFER, "ENFORCEMENT_CASE", role, str(party.courts.enforcement_cases))
    bureau = party.bureau
    if bureau.overdue_now:
        found.add(_Severity.DECLINE, "BUREAU_OVERDUE_NOW", role)
    if bureau.max_dpd_24m >= hard.decline_dpd_24m:
        found.add(_Severity.DECLINE, "BUREAU_SEVERE_DELINQUENCY", role, str(bureau.max_dpd_24m))
    elif bureau.max_dpd_24m >= hard.refer_dpd_24m:
        found.add(_Severity.REFER, "BUREAU_DELINQUENCY", role, str(bureau.max_dpd_24m))
    if bureau.inquiries_6m >= hard.refer_inquiries_6m:
        found.add(_Severity.REFER, "MANY_INQUIRIES", role, str(bureau.inquiries_6m))
    if not bureau.hit and role == "borrower":
        found.add(_Severity.REFER, "THIN_FILE", role)
    if not party.identity.phone_matches_id:
        found.add(_Severity.REFER, "PHONE_NOT_HOLDER", role)
    elif party.identity.phone_months_in_service < hard.refer_phone_months:
        found.add(_Severity.REFER, "PHONE_NEW", role, str(party.identity.phone_months_in_service))
    if party.card is not None and not party.card.card_matches_holder:
        found.add(_Severity.REFER, "CARD_NOT_HOLDER", role)
    income = party.income
    if income is not None and not income.verified:
        found.add(_Severity.REFER, "INCOME_UNVERIFIED", role)
    elif (income is not None and income.verified_monthly_income_fen is not None
          and Decimal(income.verified_monthly_income_fen)
          < hard.min_verified_income_ratio * party.declared_monthly_income_fen):
        found.add(_Severity.REFER, "INCOME_OVERSTATED", role)


def _income_fen(party: PartyFacts) -> int:
    """Income the affordability rule counts: the lower of declared and verified."""
    verified = party.income.verified_monthly_income_fen if party.income else None
    if verified is None:
        return party.declared_monthly_income_fen
    return min(verified, party.declared_monthly_income_fen)


def debt_to_income(inputs: DecisionInput) -> Decimal | None:
    """(Other repayments, the larger of declared and bureau-reported, plus the new instalment)
    over the income of borrower and co-borrower; None when they declare no income."""
    earners = [p for p in inputs.parties if p.role in ("borrower", "co-borrower")]
    income = sum(_income_fen(p) for p in earners)
    debts = sum(max(p.declared_monthly_debt_fen, p.bureau.monthly_repayments_fen)
                for p in earners)
    if income <= 0:
        return None
    return (Decimal(debts + inputs.monthly_instalment_fen) / Decimal(income)).quantize(
        Decimal("0.0001"))


def required_down_payment_fen(inputs: DecisionInput, limits: AppliedLimits) -> int:
    """The smallest down payment meeting both the LTV ceiling and the down-payment floor.

    Financed fees stay financed, so the financed amount falls one for one with the down
    payment: principal − (new down − old down) ≤ ⌊price × max LTV⌋."""
    price = Decimal(inputs.vehicle_price_fen)
    for_ltv = inputs.down_payment_fen + inputs.principal_fen - int(
        (price * limits.max_ltv).to_integral_value(ROUND_FLOOR))
    for_share = int((price * limits.min_down_payment_share).to_integral_value(ROUND_CEILING))
    return max(for_ltv, for_share, inputs.down_payment_fen)


def decide(inputs: DecisionInput, policy: CreditPolicy) -> Decision:
    found = _Findings()
    for party in inputs.parties:
        _party_rules(found, party, policy)
    rate = inputs.regional_rate.rate if inputs.regional_rate is not None else None
    limits = applied_limits(
        policy, inputs.policy_region, cross_province=bool(inputs.cross_province),
        regional_default_rate=rate,
        has_guarantor=any(p.role == "guarantor" for p in inputs.parties))
    dti = debt_to_income(inputs)
    if dti is None:
        found.add(_Severity.DECLINE, "NO_INCOME", "borrower")
    elif dti > limits.max_debt_to_income + policy.hard.decline_debt_to_income_margin:
        found.add(_Severity.DECLINE, "DEBT_TO_INCOME", None, str(dti))
    elif dti > limits.max_debt_to_income:
        found.add(_Severity.REFER, "DEBT_TO_INCOME_HIGH", None, str(dti))
    # 2. Regional policy
    if inputs.cross_province:
        found.add(_Severity.INFO, "CROSS_PROVINCE")
    if rate is not None and Decimal(str(rate)) > policy.watch_default_rate:
        found.add(_Severity.INFO, "REGION_HIGH_DEFAULT", None, f"{rate:.4f}")
    if (inputs.max_distance_km is not None
            and inputs.max_distance_km > policy.cross_province.refer_distance_km):
        found.add(_Severity.REFER, "FAR_FROM_DEALER", None, f"{inputs.max_distance_km:.0f}")
    price = Decimal(inputs.vehicle_price_fen)
    ltv = Decimal(inputs.principal_fen) / price
    down_share = Decimal(inputs.down_payment_fen) / price
    if ltv > limits.max_ltv or down_share < limits.min_down_payment_share:
        code = "LTV_ABOVE_LIMIT" if ltv > limits.max_ltv else "DOWN_PAYMENT_BELOW_MINIMUM"
        found.add(_Severity.CONDITION, code, None, f"{ltv:.4f}")
        found.conditions.append(Condition("MIN_DOWN_PAYMENT",
                                          str(required_down_payment_fen(inputs, limits))))
    if Decimal(inputs.balloon_share) > limits.max_balloon_share:
        found.add(_Severity.CONDITION, "BALLOON_ABOVE_LIMIT", None, inputs.balloon_share)
        found.conditions.append(Condition("MAX_BALLOON_SHARE", str(limits.max_balloon_share)))
    missing = sorted(set(limits.required_documents) - set(inputs.documents))
    if missing:
        found.add(_Severity.REFER, "DOCUMENTS_MISSING", None, ",".join(missing))
        found.conditions.append(Condition("DOCUMENTS", ",".join(missing)))
    # 3. Score cut-off
    score = inputs.score
    if score is None:
        found.add(_Severity.REFER, "NO_SCORE")
    elif score.score < limits.decline_score:
        found.add(_Severity.DECLINE, "SCORE_BELOW_CUTOFF", None, str(score.score))
    elif score.score < limits.approve_score:
        found.add(_Severity.REFER, "SCORE_GREY_ZONE", None, str(score.score))
    if score is not None and score.score < limits.approve_score:
        for feature in score.reasons:
            found.add(_Severity.INFO, "MODEL_FACTOR", None, feature)
    conditions: tuple[Condition, ...] = ()
    if found.severity is _Severity.DECLINE:
        outcome = Outcome.DECLINE
    else:
        outcome = Outcome.REFER if found.severity is _Severity.REFER else Outcome.APPROVE
        conditions = tuple(found.conditions)
    return Decision(outcome, tuple(found.reasons), conditions, limits, policy.key,
                    None if dti is None else str(dti))
