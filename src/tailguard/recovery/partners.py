"""Partner agencies, repossession and law firms: their score, whether they may take cases, and
the allocation of cases to them by region and score.

The partner score (0–100) weighs results and conduct, never amounts alone (the credit-card
rule Art. 66 asks agency scorecards to weigh conduct and quality):

    score = 40 · recovery_rate            (share of placed balances recovered, 0–1)
          + 20 · (1 − cost_rate)          (commission as a share of recoveries, 0–1)
          + 20 · rating / 5               (the lender's assessment, 0–5)
          + 20 · max(0, 1 − complaints per 100 cases / 5)

A partner is eligible only while active and assessed within the last 365 days (the rule that
agencies are assessed at least yearly); an unassessed or overdue partner scores but receives no
case. Allocation takes cases in priority order and gives each to the best-scoring eligible
partner of the kind needed that covers the case's city (or its whole province) and has
capacity left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

ASSESSMENT_VALID_DAYS = 365


@dataclass(frozen=True)
class Partner:
    id: str
    kind: str
    provinces: frozenset[str]
    cities: frozenset[str]
    capabilities: frozenset[str]
    rating: Decimal
    complaints: int
    cases_handled: int
    recovery_rate: Decimal
    cost_rate: Decimal
    last_assessed_on: date | None
    active: bool = True
    capacity: int = 0
    """Cases it can hold at once; 0 means no limit stated."""
    open_cases: int = 0


def score(p: Partner) -> Decimal:
    """The documented partner score, 0 to 100, two decimals."""
    complaints_per_100 = (Decimal(p.complaints) * 100 / p.cases_handled
                          if p.cases_handled else Decimal(p.complaints) * 100)
    conduct = max(Decimal(0), 1 - complaints_per_100 / 5)
    value = (40 * min(max(p.recovery_rate, Decimal(0)), Decimal(1))
             + 20 * (1 - min(max(p.cost_rate, Decimal(0)), Decimal(1)))
             + 20 * min(max(p.rating, Decimal(0)), Decimal(5)) / 5
             + 20 * conduct)
    return value.quantize(Decimal("0.01"))


def assessment_overdue(p: Partner, today: date) -> bool:
    return (p.last_assessed_on is None
            or today - p.last_assessed_on > timedelta(days=ASSESSMENT_VALID_DAYS))


def eligible(p: Partner, today: date) -> bool:
    return p.active and not assessment_overdue(p, today)


def covers(p: Partner, region_code: str | None) -> bool:
    if not region_code or len(region_code) != 6:
        return False
    city = region_code[:4] + "00"
    province = region_code[:2] + "0000"
    return city in p.cities or province in p.provinces


@dataclass(frozen=True)
class CaseToPlace:
    case_id: int
    region_code: str | None


def allocate(cases: Sequence[CaseToPlace], partners: Sequence[Partner], kind: str,
             today: date, required: frozenset[str] = frozenset()) -> dict[int, str]:
    """case id → partner id for the cases that can be placed (in the order given)."""
    ranked = sorted((p for p in partners if p.kind == kind and eligible(p, today)
                     and required <= p.capabilities),
                    key=lambda p: (-score(p), p.id))
    load = {p.id: p.open_cases for p in ranked}
    placed: dict[int, str] = {}
    for case in cases:
        for p in ranked:
            if p.capacity and load[p.id] >= p.capacity:
                continue
            if covers(p, case.region_code):
                placed[case.case_id] = p.id
                load[p.id] += 1
                break
    return placed


def commission_fen(recovered_fen: int, rate: Decimal, complaints_upheld: int) -> int:
    """Commission on a recovery, cut by 20% per upheld complaint on the case (to zero):
    conduct weighs as well as recovery. Rounded down to the fen."""
    factor = max(Decimal(0), 1 - Decimal("0.2") * complaints_upheld)
    return int(Decimal(recovered_fen) * rate * factor)
