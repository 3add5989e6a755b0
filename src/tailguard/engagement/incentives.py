"""Incentive programmes as data, and who earns an award, column-wise over loans.

A programme is what the risk or marketing team edits (JSON or YAML, through the API), e.g.

```json
{"id": "early-balloon-2027", "kind": "balloon-early-settlement", "days_early": 60,
 "share_of_interest": "0.05", "max_fen": 200000, "starts_on": "2027-01-01",
 "holdout": "0.1"}
{"id": "streak-6", "kind": "on-time-streak", "streak": 6, "amount_fen": 5000,
 "starts_on": "2027-01-01", "holdout": "0.1"}
```

- `balloon-early-settlement`: the loan was paid off, not by a vehicle's proceeds, at least
  `days_early` days before its original balloon's due date, on or after `starts_on`. The award
  is `amount_fen`, or `share_of_interest` of the interest the loan had paid by then (a rebate on
  the interest is what early settlement is usually rewarded with), capped at `max_fen`.
- `on-time-streak`: `streak` consecutive instalments, all due on or after `starts_on`, each
  settled on or before its due date. The award is `amount_fen`, or `share_of_interest` of
  the interest of those instalments, capped at `max_fen`.

Each loan earns each programme once (the service's unique key makes it so). `holdout` is the
share of borrowers held out for the champion/challenger read-out (engagement/treatments.py).

The arithmetic is numpy over columns of loans: the end of day evaluates a programme for the
whole book with a fixed number of queries and array operations, not loan by loan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tailguard.definitions import read_definition
from tailguard.errors import FieldError, InvalidInput
from tailguard.money.rounding import round_fen


class IncentiveKind(Enum):
    BALLOON_EARLY_SETTLEMENT = "balloon-early-settlement"
    ON_TIME_STREAK = "on-time-streak"


@dataclass(frozen=True)
class Programme:
    id: str
    kind: IncentiveKind
    starts_on: date
    ends_on: date | None = None
    amount_fen: int | None = None
    share_of_interest: Decimal | None = None
    max_fen: int | None = None
    days_early: int = 0
    streak: int = 0
    holdout: Decimal = Decimal("0")
    active: bool = True

    def running_on(self, day: date) -> bool:
        return self.active and self.starts_on <= day and (self.ends_on is None
                                                          or day <= self.ends_on)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind.value,
                               "starts_on": self.starts_on.isoformat(),
                               "holdout": str(self.holdout), "active": self.active}
        if self.ends_on is not None:
            out["ends_on"] = self.ends_on.isoformat()
        if self.amount_fen is not None:
            out["amount_fen"] = self.amount_fen
        if self.share_of_interest is not None:
            out["share_of_interest"] = str(self.share_of_interest)
        if self.max_fen is not None:
            out["max_fen"] = self.max_fen
        if self.kind is IncentiveKind.BALLOON_EARLY_SETTLEMENT:
            out["days_early"] = self.days_early
        else:
            out["streak"] = self.streak
        return out


def parse_programme(data: Any) -> Programme:
    """A programme from its JSON shape; every problem is reported with the field it is in."""
    if not isinstance(data, Mapping):
        raise InvalidInput.one("programme", "invalid", "an object")
    errors: list[FieldError] = []

    def fail(field: str, code: str, message: str) -> None:
        errors.append(FieldError(field, code, message))

    known = {"id", "kind", "starts_on", "ends_on", "amount_fen", "share_of_interest",
             "max_fen", "days_early", "streak", "holdout", "active"}
    for key in data:
        if key not in known:
            fail(str(key), "unknown", "not a programme field")
    pid = data.get("id")
    if not isinstance(pid, str) or not 1 <= len(pid) <= 60 or not all(
            c.isalnum() or c in "-_." for c in pid):
        fail("id", "invalid", "1–60 letters, digits, '-', '_' or '.'")
    try:
        kind = IncentiveKind(data.get("kind"))
    except ValueError:
        fail("kind", "unknown", f"one of {', '.join(k.value for k in IncentiveKind)}")
        kind = IncentiveKind.ON_TIME_STREAK

    def day(field: str, required: bool) -> date | None:
        raw = data.get(field)
        if raw is None:
            if required:
                fail(field, "required", "a date, YYYY-MM-DD")
            return None
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            fail(field, "invalid", "a date, YYYY-MM-DD")
            return None

    def whole(field: str, low: int, high: int) -> int | None:
        raw = data.get(field)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            fail(field, "out_of_range", f"a whole number from {low} to {high}")
            return None
        return raw

    def share(field: str, high: str) -> Decimal | None:
        raw = data.get(field)
        if raw is None:
            return None
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            fail(field, "invalid", "a decimal share, e.g. 0.05")
            return None
        if not Decimal(0) <= value <= Decimal(high):
            fail(field, "out_of_range", f"from 0 to {high}")
            return None
        return value

    starts_on = day("starts_on", True)
    ends_on = day("ends_on", False)
    if starts_on and ends_on and ends_on < starts_on:
        fail("ends_on", "before_start", "must not be before starts_on")
    amount = whole("amount_fen", 1, 100_000_000)
    interest_share = share("share_of_interest", "1")
    if (amount is None) == (interest_share is None):
        fail("amount_fen", "one_of", "give amount_fen or share_of_interest, not both")
    max_fen = whole("max_fen", 1, 100_000_000)
    days_early = whole("days_early", 1, 3650) or 0
    streak = whole("streak", 1, 120) or 0
    if kind is IncentiveKind.BALLOON_EARLY_SETTLEMENT and "days_early" not in data:
        fail("days_early", "required", "how many days before the balloon, at least")
    if kind is IncentiveKind.ON_TIME_STREAK and "streak" not in data:
        fail("streak", "required", "how many consecutive on-time instalments")
    holdout = share("holdout", "0.9")
    active = data.get("active", True)
    if not isinstance(active, bool):
        fail("active", "invalid", "true or false")
    if errors:
        raise InvalidInput(errors)
    assert isinstance(pid, str) and starts_on is not None
    return Programme(pid, kind, starts_on, ends_on, amount, interest_share, max_fen,
                     days_early, streak, holdout or Decimal("0"), bool(active))


def load_programme_text(text: str, fmt: str = "json") -> Programme:
    """A programme from JSON or YAML text."""
    return parse_programme(read_definition(text, fmt))


# -- column-wise eligibility ------------------------------------------------------------------
def award_amounts(programme: Programme, interest_fen: NDArray[np.int64]) -> NDArray[np.int64]:
    """The award of each eligible loan: the fixed amount, or the share of its interest
    (rounded half-up to the fen by the one rounding function), capped."""
    n = len(interest_fen)
    if programme.amount_fen is not None:
        amounts = np.full(n, programme.amount_fen, dtype=np.int64)
    else:
        share = programme.share_of_interest or Decimal(0)
        amounts = np.array([round_fen(Decimal(int(v)) * share) for v in interest_fen],
                           dtype=np.int64)
    if programme.max_fen is not None:
        amounts = np.minimum(amounts, programme.max_fen)
    return amounts


def settled_early(balloon_due: NDArray[Any], settled_on: NDArray[Any], days_early: int,
                  starts_on: date, as_of: date) -> NDArray[np.bool_]:
    """Loans paid off at least `days_early` days before their balloon's due date, within the
    programme (on or after `starts_on`, by `as_of`). Dates are numpy datetime64[D]."""
    due = balloon_due.astype("datetime64[D]")
    settled = settled_on.astype("datetime64[D]")
    lead = (due - settled).astype(np.int64)
    mask: NDArray[np.bool_] = ((lead >= days_early) & (settled >= np.datetime64(starts_on))
                               & (settled <= np.datetime64(as_of)))
    return mask


def streak_reached(loan_codes: NDArray[np.int64], on_time: NDArray[np.bool_],
                   interest_fen: NDArray[np.int64], streak: int
                   ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Loans whose instalments (rows sorted by loan, then due date) contain `streak`
    consecutive on-time ones; for each such loan, the interest of the first complete run.

    Column-wise: a run counter that restarts at each late instalment and at each new loan is
    the position in the row minus the position of the last restart (a running maximum).
    """
    n = len(on_time)
    if n == 0 or streak <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    index = np.arange(n)
    new_loan = np.ones(n, dtype=bool)
    new_loan[1:] = loan_codes[1:] != loan_codes[:-1]
    # A restart happens before a late row (the run is 0 there) and at a loan's first row.
    reset_at = np.where(~on_time, index + 1, np.where(new_loan, index, 0))
    last_reset = np.maximum.accumulate(reset_at)
    run = np.where(on_time, index - last_reset + 1, 0)
    hits = np.flatnonzero(run == streak)
    if len(hits) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    loans_hit = loan_codes[hits]
    first = np.ones(len(hits), dtype=bool)
    first[1:] = loans_hit[1:] != loans_hit[:-1]
    hits = hits[first]
    cumulative = np.concatenate(([0], np.cumsum(interest_fen)))
    run_interest = cumulative[hits + 1] - cumulative[hits + 1 - streak]
    return loan_codes[hits], run_interest.astype(np.int64)
