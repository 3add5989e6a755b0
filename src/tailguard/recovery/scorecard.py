"""Collector scorecards: results and conduct together, never amounts alone.

The credit-card rule (Art. 66) forbids paying collectors on amounts recovered alone; the score
therefore weighs how promises end, how cases end and how the collector behaves:

    score = 40 · promises kept / promises judged
          + 30 · cases cured or settled / cases closed
          + 30 · (1 − contacts the conduct guard blocked / contacts attempted)

A component without any event yet counts as neutral (half its weight), so a new collector is
neither rewarded nor punished for an empty record.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CollectorRecord:
    username: str
    promises_kept: int
    promises_broken: int
    cases_resolved: int
    cases_closed: int
    contacts_blocked: int
    contacts_attempted: int


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.5


def collector_score(r: CollectorRecord) -> float:
    """0–100, one decimal."""
    value = (40 * _share(r.promises_kept, r.promises_kept + r.promises_broken)
             + 30 * _share(r.cases_resolved, r.cases_closed)
             + 30 * (1 - _share(r.contacts_blocked, r.contacts_attempted)))
    return round(value, 1)
