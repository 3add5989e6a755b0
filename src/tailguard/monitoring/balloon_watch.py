"""The balloon watch: loans whose balloon falls due within 120 days, in stages at 120, 90, 60
and 30 days, ranked by the chance that the balloon will not be settled.

When a behavioural model has scored a loan, its probability is the chance. Without one, the
chance is a deliberately simple logistic score over what every loan has, so the ranking is
explainable to the servicing team and easy to replace:

    z = -1.6 + 0.04 * min(worst days late, 90) + 0.30 * min(instalments paid late, 6)
             + 0.03 * min(DPD now, 90) - 2.5 * equity share
    chance = 1 / (1 + exp(-z))

- worst days late and instalments paid late are the loan's repayment history: a borrower who
  has been late before is the one who struggles with a lump sum;
- equity share = (vehicle value - amount owed) / vehicle value, clipped to [-1, 1]; a car worth
  more than the balloon is refinanced or sold to settle it, a car worth less is handed back or
  abandoned. The vehicle value is its price depreciated by a rough curve for Chinese passenger
  cars: 15 % over the first year (linearly), then 12 % a year declining balance.

The coefficients are a prior, not a fit: with no history the chance is 17 % at zero equity and
9 % at 30 % equity; three late instalments, the worst 30 days late, put it near 45 % at 30 %
equity. The fitted probability replaces them wherever the behavioural model `balloon-30d`
(risk.behavioural, trained on the simulator's balloons) has scored the loan: the end of day
stores its scores (services.behavioural_scores) and the watch passes the latest one in as
`behaviour_score`; the prior stays the fallback for loans not scored yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

STAGES = (120, 90, 60, 30)
"""Days before the balloon at which a loan enters each stage of the watch."""

INTERCEPT = -1.6
W_WORST_LATE = 0.04
W_LATE_COUNT = 0.30
W_DPD = 0.03
W_EQUITY = -2.5
FIRST_YEAR_LOSS = 0.15
YEARLY_LOSS = 0.12


def vehicle_value_fen(price_fen: NDArray[np.int64], age_days: NDArray[np.int64]
                      ) -> NDArray[np.float64]:
    """A rough market value: the first year loses 15 % linearly, later years 12 % a year."""
    years = np.maximum(age_days, 0) / 365.25
    first = 1.0 - FIRST_YEAR_LOSS * np.minimum(years, 1.0)
    later = (1.0 - YEARLY_LOSS) ** np.maximum(years - 1.0, 0.0)
    return price_fen.astype(np.float64) * first * later


def equity_share(value_fen: NDArray[np.float64], owed_fen: NDArray[np.int64]
                 ) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(value_fen > 0, (value_fen - owed_fen) / value_fen, -1.0)
    return np.clip(share, -1.0, 1.0)


def chance_not_settled(worst_days_late: NDArray[np.int64], late_count: NDArray[np.int64],
                       dpd: NDArray[np.int64], equity: NDArray[np.float64],
                       behaviour_score: NDArray[np.float64] | None = None
                       ) -> NDArray[np.float64]:
    """Per loan, the chance its balloon is not settled; a behavioural score (NaN where a loan
    has none) takes precedence where present."""
    z = (INTERCEPT + W_WORST_LATE * np.minimum(worst_days_late, 90)
         + W_LATE_COUNT * np.minimum(late_count, 6) + W_DPD * np.minimum(dpd, 90)
         + W_EQUITY * equity)
    chance: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
    if behaviour_score is not None:
        chance = np.where(np.isnan(behaviour_score), chance,
                          np.clip(behaviour_score, 0.0, 1.0))
    return chance


def stage_of(days_left: NDArray[np.int64]) -> NDArray[np.int64]:
    """The watch stage (120, 90, 60 or 30) each loan is in; 0 outside the window (more than
    120 days ahead, or already due)."""
    stage = np.zeros(days_left.shape, dtype=np.int64)
    for threshold in STAGES:  # descending: each smaller threshold overrides the larger
        stage = np.where((days_left >= 0) & (days_left <= threshold), threshold, stage)
    return stage


@dataclass(frozen=True)
class WatchOrder:
    """Row positions of the loans in the window, most at risk first (then soonest due)."""

    positions: NDArray[np.int64]


def rank(chance: NDArray[np.float64], days_left: NDArray[np.int64]) -> WatchOrder:
    in_window = np.flatnonzero(stage_of(days_left) > 0)
    order = np.lexsort((days_left[in_window], -chance[in_window]))
    return WatchOrder(in_window[order].astype(np.int64))
