"""Collections reports: the arithmetic, on columns (numpy), with no database.

Definitions (docs/recovery.md, docs/glossary.md):

- roll rates: the loans' buckets on consecutive monthly snapshots (the report's first day,
  then the same day each following month up to its last day); the transition matrix counts
  loans by (bucket on one snapshot, bucket on the next); the forward roll rate of a bucket
  is the share of its loans that were in a worse bucket a month later, the cure share the
  share back in C.
- cure rate: of the loans delinquent on a snapshot, the share current on the next; and of the
  cases closed in the period, the share closed because they were cured.
- promise-kept rate: promises judged in the period (kept or broken), kept over judged.
- right-party contact rate: collection calls made (allowed and with an outcome), those that
  reached the debtor (connected, with the debtor as the party called) over all made.
- recovery and cost: money received on a case's loans while the case was open (payments not
  reversed, vehicle proceeds included, restructure conversions excluded); costs are agency
  commissions on what was recovered while placed, legal costs recorded on legal steps, and the
  costs of selling repossessed vehicles (sale fees and storage).
- balloon clearance rate: balloons due in the period, at least `CLEARANCE_DAYS` before its end,
  whose loan is closed, over balloons due then (as the dashboard counts it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from tailguard.calendar.months import add_months
from tailguard.loans.products import DEFAULT_BUCKETS

BUCKETS: tuple[str, ...] = tuple(b.label for b in DEFAULT_BUCKETS)
CURRENT = BUCKETS[0]
CLEARANCE_DAYS = 30
MADE_CALL_OUTCOMES = ("connected", "no-answer", "invalid-number", "refused")
"""A call counts as made once it has one of these outcomes (pending and not-made do not)."""
REACHED = "connected"
RIGHT_PARTY = "debtor"

Strings = npt.NDArray[np.str_]


def rate(numerator: int, denominator: int) -> float | None:
    """A share rounded to four places, or None when there is nothing to divide by."""
    return None if denominator <= 0 else round(numerator / denominator, 4)


def snapshots(start: date, end: date) -> list[date]:
    """The report's first day and the same day of each following month up to `end`."""
    if end < start:
        return [start]
    days = [start]
    k = 1
    while (day := add_months(start, k)) <= end:
        days.append(day)
        k += 1
    return days


def buckets_on(loan_ids: Strings, booked_on: npt.NDArray[np.datetime64],
               event_loans: Strings, event_days: npt.NDArray[np.datetime64],
               event_to: Strings, day: date) -> Strings:
    """Each loan's bucket at the end of `day`: the `to_bucket` of its last change on or
    before it, C when it never changed, "" when it was not booked yet.

    Events must be sorted by (loan, day, order of occurrence)."""
    limit = np.datetime64(day, "D")
    out = np.full(len(loan_ids), CURRENT, dtype=object)
    out[booked_on > limit] = ""
    keep = event_days <= limit
    loans_k, to_k = event_loans[keep], event_to[keep]
    if len(loans_k) and len(loan_ids):
        last = np.r_[loans_k[1:] != loans_k[:-1], True]
        last_loans, last_to = loans_k[last], to_k[last]
        order = np.argsort(loan_ids, kind="stable")
        pos = np.clip(np.searchsorted(loan_ids[order], last_loans), 0, len(loan_ids) - 1)
        found = loan_ids[order][pos] == last_loans
        out[order[pos[found]]] = last_to[found]
    return np.asarray(out, dtype=str)


@dataclass(frozen=True)
class RollRates:
    counts: dict[str, dict[str, int]]
    shares: dict[str, dict[str, float | None]]
    forward: dict[str, float | None]
    """Share of each bucket's loans in a worse bucket one month later."""
    cured: dict[str, float | None]
    """Share of each delinquent bucket's loans current one month later."""
    delinquent: int
    cured_total: int

    @property
    def cure_rate(self) -> float | None:
        return rate(self.cured_total, self.delinquent)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "shares": self.shares, "forward": self.forward,
                "cured": self.cured, "delinquent": self.delinquent,
                "cured_total": self.cured_total, "cure_rate": self.cure_rate}


def roll_rates(before: Strings, after: Strings,
               buckets: Sequence[str] = BUCKETS) -> RollRates:
    """Transition counts and shares from pairs of buckets (one pair per loan and month);
    pairs with an empty bucket (not booked yet) are left out."""
    rank = {b: i for i, b in enumerate(buckets)}
    index = np.array([rank.get(str(b), -1) for b in before], dtype=np.int64)
    later = np.array([rank.get(str(b), -1) for b in after], dtype=np.int64)
    ok = (index >= 0) & (later >= 0)
    index, later = index[ok], later[ok]
    n = len(buckets)
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (index, later), 1)
    counts: dict[str, dict[str, int]] = {}
    shares: dict[str, dict[str, float | None]] = {}
    forward: dict[str, float | None] = {}
    cured: dict[str, float | None] = {}
    for i, b in enumerate(buckets):
        row = matrix[i]
        total = int(row.sum())
        if not total:
            continue
        counts[b] = {buckets[j]: int(row[j]) for j in range(n) if row[j]}
        shares[b] = {buckets[j]: rate(int(row[j]), total) for j in range(n) if row[j]}
        forward[b] = rate(int(row[i + 1:].sum()), total)
        if i > 0:
            cured[b] = rate(int(row[0]), total)
    delinquent = int(matrix[1:].sum())
    return RollRates(counts, shares, forward, cured, delinquent, int(matrix[1:, 0].sum()))


def promise_kept(statuses: Strings) -> dict[str, Any]:
    kept = int(np.count_nonzero(statuses == "kept"))
    broken = int(np.count_nonzero(statuses == "broken"))
    return {"kept": kept, "broken": broken, "rate": rate(kept, kept + broken)}


def right_party_contacts(channels: Strings, parties: Strings,
                         outcomes: Strings) -> dict[str, Any]:
    made = (channels == "call") & np.isin(outcomes, MADE_CALL_OUTCOMES)
    reached = made & (outcomes == REACHED) & (parties == RIGHT_PARTY)
    n_made, n_reached = int(made.sum()), int(reached.sum())
    return {"calls_made": n_made, "right_party": n_reached, "rate": rate(n_reached, n_made)}


def case_cures(close_reasons: Strings) -> dict[str, Any]:
    cured = int(np.count_nonzero(close_reasons == "cure"))
    closed = len(close_reasons)
    return {"closed": closed, "cured": cured, "rate": rate(cured, closed)}


def balloon_clearance(cleared: npt.NDArray[np.bool_]) -> dict[str, Any]:
    n, k = len(cleared), int(np.count_nonzero(cleared))
    return {"due": n, "cleared": k, "rate": rate(k, n), "days_after_due": CLEARANCE_DAYS}


def group_sum(keys: Strings, values: npt.NDArray[np.int64]) -> dict[str, int]:
    """Integer sums of `values` per key (money stays integer fen)."""
    if not len(keys):
        return {}
    names, inverse = np.unique(keys, return_inverse=True)
    sums = np.zeros(len(names), dtype=np.int64)
    np.add.at(sums, inverse, values.astype(np.int64))
    return {str(k): int(v) for k, v in zip(names, sums, strict=True)}


COST_KINDS = ("commissions_fen", "legal_fen", "disposal_fen")


def recovery_table(recovered: dict[str, int], cases: dict[str, int],
                   costs: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Rows by team, agency or region: recovered, each cost, net, cost per yuan recovered."""
    keys = sorted(set(recovered) | set(cases) | {k for c in costs.values() for k in c})
    rows = []
    for key in keys:
        parts = {kind: costs.get(kind, {}).get(key, 0) for kind in COST_KINDS}
        cost = sum(parts.values())
        got = recovered.get(key, 0)
        rows.append({"key": key, "cases": cases.get(key, 0), "recovered_fen": got, **parts,
                     "cost_fen": cost, "net_fen": got - cost, "cost_ratio": rate(cost, got)})
    return rows
