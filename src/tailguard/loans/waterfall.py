"""The repayment waterfall: which of the amounts due a payment settles, in what order.

Kept apart from the replay so that the order is one small, tested rule a product can choose:
oldest instalment first (within it penalty, fee, interest, principal: what Chinese lenders and
courts expect, since penalty and interest are settled before principal), or component by
component across all instalments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tailguard.loans.events import Component
from tailguard.loans.products import WaterfallOrder

COMPONENT_ORDER: tuple[Component, ...] = (
    Component.PENALTY,
    Component.FEE,
    Component.INTEREST,
    Component.PRINCIPAL,
)


@dataclass(frozen=True, slots=True)
class Claim:
    """An amount currently owed on one component of one instalment."""

    installment_number: int
    component: Component
    amount_fen: int


@dataclass(frozen=True, slots=True)
class AllocationPart:
    installment_number: int
    component: Component
    amount_fen: int


_RANK = {c: k for k, c in enumerate(COMPONENT_ORDER)}


def order_claims(claims: Iterable[Claim], order: WaterfallOrder) -> list[Claim]:
    """Claims in the order a payment settles them under `order`.

    The replay builds its claims already in this order (see `position._Replay._claims`);
    this is the rule it follows, stated once."""
    if order is WaterfallOrder.OLDEST_FIRST:
        return sorted(claims, key=lambda c: (c.installment_number, _RANK[c.component]))
    return sorted(claims, key=lambda c: (_RANK[c.component], c.installment_number))


def allocate(amount_fen: int, ordered: Iterable[Claim]) -> tuple[list[AllocationPart], int]:
    """Settle `ordered` claims from `amount_fen`; returns the parts and what is left over.

    `ordered` may be lazy: it is read only until the money runs out (one claim further), so
    the claims past that point are never built."""
    assert amount_fen >= 0
    parts: list[AllocationPart] = []
    left = amount_fen
    for claim in ordered:
        if left == 0:
            break
        if claim.amount_fen <= 0:
            continue
        take = min(left, claim.amount_fen)
        parts.append(AllocationPart(claim.installment_number, claim.component, take))
        left -= take
    assert sum(p.amount_fen for p in parts) + left == amount_fen
    return parts, left
