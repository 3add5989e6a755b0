"""Champion/challenger for treatments (offers, incentives): arms and the read-out.

Every programme can hold out a random share of borrowers who get nothing from it. The draw is
the collections strategies' (`recovery.strategy.draw`): a stable hash of the programme's name
and the borrower id, so it is random across borrowers, the same every day and for every loan of
one borrower, and independent of anything staff or the borrower do. Below `holdout` the
borrower is in the holdout, otherwise in the treatment arm. Renaming the programme
re-randomises.

The read-out compares an outcome's rate between the arms (treatment minus holdout) with
Newcombe's 95 % interval from `recovery.uplift`, which is generic: two proportions, nothing
specific to collections, so it is reused as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tailguard.errors import InvalidInput
from tailguard.recovery.strategy import draw, draw_one
from tailguard.recovery.uplift import uplift

TREATMENT = "treatment"
HOLDOUT = "holdout"
ARMS = (TREATMENT, HOLDOUT)


def holdout_share(value: Decimal | float | str) -> float:
    """The holdout share as a float in [0, 1) (a draw threshold, not money)."""
    try:
        share = float(Decimal(str(value)))
    except ArithmeticError:
        raise InvalidInput.one("holdout", "invalid", "a share from 0 to 0.9") from None
    if not 0 <= share <= 0.9:
        raise InvalidInput.one("holdout", "out_of_range", "a share from 0 to 0.9")
    return share


def assign_arms(programme: str, borrower_ids: NDArray[Any],
                holdout: Decimal | float | str) -> NDArray[Any]:
    """The arm of each borrower, column-wise (the same as `arm_of` one by one)."""
    share = holdout_share(holdout)
    if len(borrower_ids) == 0:
        return np.array([], dtype=object)
    draws = draw(programme, np.asarray(borrower_ids, dtype=object))
    return np.where(draws < share, HOLDOUT, TREATMENT).astype(object)


def arm_of(programme: str, borrower_id: str, holdout: Decimal | float | str) -> str:
    return HOLDOUT if draw_one(programme, borrower_id) < holdout_share(holdout) else TREATMENT


@dataclass(frozen=True)
class ArmOutcome:
    arm: str
    loans: int
    successes: int

    @property
    def rate(self) -> float:
        return self.successes / self.loans if self.loans else 0.0


@dataclass(frozen=True)
class ReadOut:
    """The outcome rate per arm and the difference (treatment − holdout) with its 95 % CI."""

    programme: str
    outcome: str
    treatment: ArmOutcome
    holdout: ArmOutcome
    difference: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        def arm(a: ArmOutcome) -> dict[str, Any]:
            return {"loans": a.loans, "successes": a.successes, "rate": round(a.rate, 6)}

        return {"programme": self.programme, "outcome": self.outcome,
                "treatment": arm(self.treatment), "holdout": arm(self.holdout),
                "difference": round(self.difference, 6), "ci95": [round(self.low, 6),
                                                                  round(self.high, 6)]}


def read_out(programme: str, outcome: str, arms: NDArray[Any],
             success: NDArray[np.bool_]) -> ReadOut:
    """Rates by arm from one row per loan (its arm, whether the outcome happened)."""
    treated = arms == TREATMENT
    held = arms == HOLDOUT
    t = ArmOutcome(TREATMENT, int(treated.sum()), int((success & treated).sum()))
    h = ArmOutcome(HOLDOUT, int(held.sum()), int((success & held).sum()))
    u = uplift(t.successes, t.loans, h.successes, h.loans)
    return ReadOut(programme, outcome, t, h, u.difference, u.low, u.high)
