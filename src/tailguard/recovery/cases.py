"""Case rules: why a case closes, and how urgent it is in a work queue.

A case gathers one borrower's delinquent loans. It closes when none of them is past due any
more: `cure` if the loans are simply current again, `settlement` when every loan is paid off
or closed, `write-off` when one was written off (the debt stays owed, collection stops), `sale`
when the debt was sold. The priority orders a queue; it is documented arithmetic, not a model,
so a collector can be told why a case comes first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from tailguard.recovery.vocabulary import CloseReason


def close_reason(statuses: Sequence[str], dpds: Sequence[int], paid_off: Sequence[bool]
                 ) -> CloseReason | None:
    """Why a case with these loans (status, days past due, paid off) may close, or None."""
    if any(s == "written-off" for s in statuses):
        return CloseReason.WRITE_OFF
    if any(s == "sold" for s in statuses):
        return CloseReason.SALE
    live = [d for s, d, p in zip(statuses, dpds, paid_off, strict=True)
            if s == "active" and not p]
    if any(d > 0 for d in live):
        return None
    if not live:
        return CloseReason.SETTLEMENT
    return CloseReason.CURE


PRIORITY_WEIGHTS = {"dpd": 1.0, "amount": 10.0, "escalation": 15.0, "broken_promise": 20.0,
                    "due_now": 10.0}
"""priority = dpd + 10·log10(1 + overdue yuan) + 15·escalations + 20 if a promise was broken
+ 10 if the strategy's next step is due today. Days past due lead; the amount counts by its
order of magnitude, so one large loan does not bury many small ones."""


def priority(dpd: NDArray[np.int64], overdue_fen: NDArray[np.int64],
             escalation: NDArray[np.int64], broken_promise: NDArray[np.bool_],
             due_now: NDArray[np.bool_]) -> NDArray[np.int64]:
    """The queue priority of many cases at once (higher first), rounded to whole points."""
    w = PRIORITY_WEIGHTS
    value = (w["dpd"] * dpd + w["amount"] * np.log10(1.0 + np.maximum(overdue_fen, 0) / 100.0)
             + w["escalation"] * escalation + w["broken_promise"] * broken_promise
             + w["due_now"] * due_now)
    rounded: NDArray[np.int64] = np.rint(value).astype(np.int64)
    return rounded


def why(dpd: int, overdue_fen: int, escalation: int, broken_promise: bool,
        action: str) -> str:
    """The sentence a collector sees next to a case."""
    parts = [f"{dpd} days past due", f"{overdue_fen / 100:,.2f} yuan overdue"]
    if broken_promise:
        parts.append("a promise to pay was broken")
    if escalation:
        parts.append(f"escalated {escalation}×")
    if action:
        parts.append(f"strategy step: {action}")
    return "; ".join(parts)


def close_reasons(ever_max_dpd: NDArray[np.int64], written_off: NDArray[np.int64],
                  sold: NDArray[np.int64], live: NDArray[np.int64],
                  live_max_dpd: NDArray[np.int64]) -> NDArray[np.object_]:
    """`close_reason` over many cases at once, from per-case counts of their loans: written
    off, sold, live (active, not paid off), and the live loans' highest days past due. A case
    that was never delinquent (opened from an alert) is not cured by being current: it stays
    open until someone closes it. '' means: stays open."""
    out = np.full(len(live), "", dtype=object)
    current = live_max_dpd <= 0
    out[current & (live > 0) & (ever_max_dpd > 0)] = CloseReason.CURE.value
    out[current & (live == 0)] = CloseReason.SETTLEMENT.value
    out[sold > 0] = CloseReason.SALE.value
    out[written_off > 0] = CloseReason.WRITE_OFF.value
    return out
