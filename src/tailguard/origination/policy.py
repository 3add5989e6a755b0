"""Regional credit policy: tiers of provinces and cities, and each tier's limits, as data.

A region's tier comes from its province's per-capita GDP (`data/provinces_2023.csv`, the
National Bureau of Statistics' 2023 figures) against the policy's thresholds, unless the policy
names the city (a provincial capital richer than its province). Each tier has a maximum LTV,
minimum down payment, maximum balloon share, maximum debt-to-income, the documents it requires
and two score cut-offs (approve at or above, decline below). A cross-province borrower gets a
lower LTV and balloon ceiling, a higher cut-off and extra documents; a region whose pooled
default rate is above the watch rate gets a higher cut-off too.

The policy is a JSON document (`data/credit_policy.json`), not code: risk managers change
numbers without a release, and every decision stores the exact body it applied with its SHA-256,
so a replay applies the same numbers even after the file has moved on. Pure: reading the
packaged data files is the only I/O.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from tailguard.errors import InvalidInput

POLICY_FILE = "credit_policy.json"
PROVINCES_FILE = "provinces_2023.csv"


@dataclass(frozen=True)
class TierLimits:
    max_ltv: Decimal
    min_down_payment_share: Decimal
    max_balloon_share: Decimal
    max_debt_to_income: Decimal
    approve_score: int
    decline_score: int
    required_documents: tuple[str, ...]


@dataclass(frozen=True)
class CrossProvinceRule:
    ltv_reduction: Decimal
    balloon_reduction: Decimal
    score_add: int
    extra_documents: tuple[str, ...]
    refer_distance_km: int


@dataclass(frozen=True)
class HardRules:
    decline_dpd_24m: int
    refer_dpd_24m: int
    refer_inquiries_6m: int
    min_verified_income_ratio: Decimal
    decline_debt_to_income_margin: Decimal
    refer_phone_months: int


@dataclass(frozen=True)
class CreditPolicy:
    version: str
    sha256: str
    body: str
    """The exact JSON text; what a decision stores and a replay parses again."""
    tier_thresholds: dict[int, int]
    city_tiers: dict[str, int]
    tiers: dict[int, TierLimits]
    cross_province: CrossProvinceRule
    watch_default_rate: Decimal
    watch_score_add: int
    hard: HardRules
    guarantor_documents: tuple[str, ...]

    @property
    def key(self) -> str:
        """Version and content hash: two bodies with the same version label still differ."""
        return f"{self.version}+{self.sha256[:12]}"


@dataclass(frozen=True)
class AppliedLimits:
    """The tier's limits after the cross-province and regional-default adjustments."""

    tier: int
    region_code: str
    max_ltv: Decimal
    min_down_payment_share: Decimal
    max_balloon_share: Decimal
    max_debt_to_income: Decimal
    approve_score: int
    decline_score: int
    required_documents: tuple[str, ...]


def _decimal(value: Any, name: str) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise InvalidInput.one(f"policy.{name}", "not_decimal", f"{value!r} is no number") from exc


def parse_policy(body: str) -> CreditPolicy:
    """A policy from its JSON text; a malformed body is refused naming the setting."""
    try:
        data = json.loads(body)
        tiers = {
            int(name): TierLimits(
                _decimal(t["max_ltv"], f"tiers.{name}.max_ltv"),
                _decimal(t["min_down_payment_share"], f"tiers.{name}.min_down_payment_share"),
                _decimal(t["max_balloon_share"], f"tiers.{name}.max_balloon_share"),
                _decimal(t["max_debt_to_income"], f"tiers.{name}.max_debt_to_income"),
                int(t["approve_score"]), int(t["decline_score"]),
                tuple(t["required_documents"]))
            for name, t in data["tiers"].items()
        }
        cross = data["cross_province"]
        hard = data["hard_rules"]
        policy = CreditPolicy(
            version=str(data["version"]),
            sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(),
            body=body,
            tier_thresholds={int(k): int(v) for k, v in data["tier_thresholds_yuan"].items()},
            city_tiers={str(k): int(v) for k, v in data["city_tiers"].items()},
            tiers=tiers,
            cross_province=CrossProvinceRule(
                _decimal(cross["ltv_reduction"], "cross_province.ltv_reduction"),
                _decimal(cross["balloon_reduction"], "cross_province.balloon_reduction"),
                int(cross["score_add"]), tuple(cross["extra_documents"]),
                int(cross["refer_distance_km"])),
            watch_default_rate=_decimal(data["regional_default"]["watch_rate"],
                                        "regional_default.watch_rate"),
            watch_score_add=int(data["regional_default"]["score_add"]),
            hard=HardRules(
                int(hard["decline_dpd_24m"]), int(hard["refer_dpd_24m"]),
                int(hard["refer_inquiries_6m"]),
                _decimal(hard["min_verified_income_ratio"], "hard_rules.min_verified_income_ratio"),
                _decimal(hard["decline_debt_to_income_margin"],
                         "hard_rules.decline_debt_to_income_margin"),
                int(hard["refer_phone_months"])),
            guarantor_documents=tuple(data.get("guarantor_documents", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput.one("policy", "malformed", f"the policy cannot be read: {exc}") from exc
    for number, limits in policy.tiers.items():
        if limits.decline_score > limits.approve_score:
            raise InvalidInput.one(f"policy.tiers.{number}", "cut_offs",
                                   "the decline cut-off is above the approve cut-off")
    lowest = max(policy.tiers)
    if set(policy.tiers) != set(range(1, lowest + 1)):
        raise InvalidInput.one("policy.tiers", "numbering", "tiers are numbered 1, 2, … n")
    return policy


@lru_cache(maxsize=1)
def default_policy() -> CreditPolicy:
    """The packaged policy (`origination/data/credit_policy.json`)."""
    text = resources.files("tailguard.origination").joinpath("data", POLICY_FILE).read_text(
        encoding="utf-8")
    return parse_policy(text)


@lru_cache(maxsize=1)
def province_gdp_per_capita() -> dict[str, int]:
    """Province code → 2023 per-capita GDP in yuan (31 mainland provinces)."""
    text = resources.files("tailguard.origination").joinpath("data", PROVINCES_FILE).read_text(
        encoding="utf-8")
    rows = csv.DictReader(io.StringIO("".join(
        line for line in text.splitlines(keepends=True) if not line.startswith("#"))))
    return {row["code"]: int(row["gdp_per_capita_yuan"]) for row in rows}


def tier_of(policy: CreditPolicy, region_code: str) -> int:
    """The region's tier: the city's own when the policy names it, else its province's by
    per-capita GDP; a region without figures (Hong Kong, Macau) gets the lowest tier."""
    city = region_code[:4] + "00"
    if region_code in policy.city_tiers:
        return policy.city_tiers[region_code]
    if city in policy.city_tiers:
        return policy.city_tiers[city]
    gdp = province_gdp_per_capita().get(region_code[:2] + "0000")
    lowest = max(policy.tiers)
    if gdp is None:
        return lowest
    for tier in sorted(policy.tier_thresholds):
        if gdp >= policy.tier_thresholds[tier]:
            return tier
    return lowest


def applied_limits(
    policy: CreditPolicy, region_code: str, *, cross_province: bool,
    regional_default_rate: float | None, has_guarantor: bool = False,
) -> AppliedLimits:
    tier = tier_of(policy, region_code)
    base = policy.tiers[tier]
    max_ltv, max_balloon = base.max_ltv, base.max_balloon_share
    approve, decline = base.approve_score, base.decline_score
    documents = list(base.required_documents)
    if cross_province:
        rule = policy.cross_province
        max_ltv -= rule.ltv_reduction
        max_balloon -= rule.balloon_reduction
        approve += rule.score_add
        decline += rule.score_add
        documents.extend(rule.extra_documents)
    if (regional_default_rate is not None
            and Decimal(str(regional_default_rate)) > policy.watch_default_rate):
        approve += policy.watch_score_add
        decline += policy.watch_score_add
    if has_guarantor:
        documents.extend(policy.guarantor_documents)
    return AppliedLimits(
        tier=tier, region_code=region_code, max_ltv=max(max_ltv, Decimal(0)),
        min_down_payment_share=base.min_down_payment_share,
        max_balloon_share=max(max_balloon, Decimal(0)),
        max_debt_to_income=base.max_debt_to_income, approve_score=approve,
        decline_score=decline, required_documents=tuple(sorted(set(documents))),
    )
