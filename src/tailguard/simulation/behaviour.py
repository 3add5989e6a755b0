"""Borrower behaviour: pure, vectorised decisions from the world, the loan's state and uniforms.

Random numbers are counter-based: the uniform for (seed, loan, period, purpose) is a SplitMix64
hash of those four integers. So each borrower's fate at each instalment is fixed by the seed,
whatever else happens in the run, which gives champion and challenger the *same* random numbers
(common random numbers: a difference between them comes from the treatments, not from noise),
and lets a resumed run draw exactly what an uninterrupted one would without storing a stream
position.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt

from tailguard.simulation.config import Behaviour, Treatments
from tailguard.simulation.economy import load_geography
from tailguard.simulation.world import World

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


class Purpose(IntEnum):
    """One independent stream of uniforms per kind of decision."""

    MISS = 1
    RESCUE = 2
    SELF_CURE = 3
    CURE_DAY = 4
    STOP = 5
    PREPAY = 6
    BOUNCE = 7
    BOUNCE_REPAY = 8
    CURE = 9
    BALLOON = 10
    OFFER = 11
    INCOME_SHOCK = 12
    SHOCK_LENGTH = 13
    REGIONAL_SHOCK = 14
    REPOSSESS = 15
    SIGNAL = 16
    SIGNAL_DAY = 17
    REFI_TERM = 18
    FALSE_SIGNAL = 19
    CONTACT = 20
    """Whether a collector's call connects (`simulation.treatments`)."""


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return x ^ (x >> np.uint64(31))


def uniforms(seed: int, loan: I64 | int, period: I64 | int, purpose: int) -> F64:
    """Uniforms in [0, 1) fixed by (seed, loan, period, purpose)."""
    loan_a = np.asarray(loan, dtype=np.int64).astype(np.uint64)
    period_a = np.asarray(period, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = _mix(np.full(np.broadcast(loan_a, period_a).shape,
                         np.uint64(seed & 0xFFFFFFFFFFFFFFFF)))
        h = _mix(h ^ loan_a)
        h = _mix(h ^ (period_a << np.uint64(8)) ^ np.uint64(purpose))
    return np.asarray((h >> np.uint64(11)).astype(np.float64) / float(1 << 53), dtype=np.float64)


def risk_odds(world: World, b: Behaviour, index: I64) -> F64:
    """The borrower's own multiplier on the odds of missing an instalment."""
    emp = np.array([1.0, b.self_employed_odds, b.gig_odds])[world.employment[index]]
    income = load_geography().income
    log_odds = (
        np.log(b.dti_odds) * np.maximum(world.dti[index] - 0.3, 0.0) * 10.0
        + np.log(b.ltv_odds) * np.maximum(world.ltv[index] - 0.6, 0.0) * 10.0
        + np.log(emp)
        + np.log(b.cross_region_odds) * world.cross_region[index]
        + np.log(b.used_odds) * world.used[index]
        + np.log(b.young_odds) * world.young[index]
        + b.province_income_elasticity * np.log(income.mean() / income[world.province[index]])
    )
    return np.asarray(np.exp(log_odds), dtype=np.float64)


def regional_shock(seed: int, b: Behaviour, province: I64, month: int) -> B:
    """Whether the province is in a downturn in simulation month `month`."""
    active = np.zeros(province.shape[0], dtype=bool)
    for onset in range(max(0, month - b.regional_shock_months + 1), month + 1):
        active |= uniforms(seed, province + 1_000_000_000, onset,
                           Purpose.REGIONAL_SHOCK) < b.regional_shock_onset
    return active


def income_shock(seed: int, b: Behaviour, loan: I64, month: int) -> B:
    """Whether the borrower's income is down in simulation month `month`."""
    low, high = b.income_shock_months
    active = np.zeros(loan.shape[0], dtype=bool)
    for onset in range(max(0, month - high + 1), month + 1):
        starts = uniforms(seed, loan, onset, Purpose.INCOME_SHOCK) < b.income_shock_onset
        length = low + (uniforms(seed, loan, onset, Purpose.SHOCK_LENGTH)
                        * (high - low + 1)).astype(np.int64)
        active |= starts & (month - onset < length)
    return active


def miss_probability(world: World, b: Behaviour, seed: int, loan: I64, month: int) -> F64:
    odds_base = b.miss_base / (1 - b.miss_base)
    odds = odds_base * risk_odds(world, b, loan)
    odds = odds * np.where(regional_shock(seed, b, world.province[loan], month),
                           b.regional_shock_odds, 1.0)
    odds = odds * np.where(income_shock(seed, b, loan, month), b.income_shock_odds, 1.0)
    return np.asarray(odds / (1 + odds), dtype=np.float64)


def rescued(t: Treatments, u: F64, reminded: B | None = None,
            incentivised: B | None = None) -> B:
    """Would-be misses that a reminder or incentive turns into payments. Borrowers who pay
    anyway are never drawn here, so the treatments do nothing to them (as measured).

    `reminded` / `incentivised`: per loan, whether the platform actually delivered a reminder
    for this due date / had the borrower in an incentive programme; an effect reaches only
    those loans. None means every loan (the effect applied blindly, for the pure tests)."""
    n = u.shape[0]
    got_reminder = np.ones(n, dtype=bool) if reminded is None else reminded
    got_incentive = np.ones(n, dtype=bool) if incentivised is None else incentivised
    keep = (1 - t.reminder * got_reminder) * (1 - t.incentive * got_incentive)
    return np.asarray(u < 1 - keep, dtype=bool)


def cure_probability(b: Behaviour, t: Treatments, months_behind: I64,
                     contacted: B | None = None) -> tuple[F64, F64]:
    """(cure all, pay one instalment) chances by months behind, collections included.

    `contacted`: per loan, whether a collection contact was allowed and made since its last
    due date; the collections effect reaches only those (None: every loan)."""
    k = np.clip(months_behind, 1, len(b.cure)) - 1
    reached = np.ones(k.shape[0], dtype=bool) if contacted is None else contacted
    cure = np.minimum(np.array(b.cure)[k] * (1 + t.collections * reached), 0.95)
    partial = np.minimum(np.array(b.partial)[k], 1 - cure)
    return cure, partial


class BalloonChoice(IntEnum):
    SETTLE = 0
    REFINANCE = 1
    EXTEND = 2
    TRADE_IN = 3
    RETURN = 4
    DEFAULT = 5


def balloon_choice(
    b: Behaviour, t: Treatments, u: float, u_offer: float, *, equity_ratio: float,
    liquid: bool, delinquent: bool, can_refinance: bool, can_extend: bool, can_return: bool,
    can_trade_in: bool, risk: float, offered: bool = False,
) -> BalloonChoice:
    """A multinomial-logit choice at the balloon from equity (value against balloon) and
    liquidity (savings against balloon); options the rules refuse are left out. `offered`:
    the platform sent the borrower a balloon offer before the due date (only then does the
    offer effect turn a would-be default into a refinancing)."""
    utilities = {
        BalloonChoice.SETTLE: b.balloon_settle + (b.balloon_liquidity_weight if liquid else 0),
        BalloonChoice.DEFAULT: b.balloon_default - b.balloon_equity_weight * min(equity_ratio, 1)
        + (0 if liquid else 1.0) + (b.balloon_delinquent_default if delinquent else 0)
        + float(np.log(max(risk, 1e-9))),
    }
    if can_refinance:
        utilities[BalloonChoice.REFINANCE] = b.balloon_refinance + (
            0 if liquid else b.balloon_liquidity_weight)
    if can_extend:
        utilities[BalloonChoice.EXTEND] = b.balloon_extend + (
            0 if liquid else b.balloon_liquidity_weight)
    if can_trade_in:
        utilities[BalloonChoice.TRADE_IN] = b.balloon_trade_in + b.balloon_equity_weight * min(
            equity_ratio, 1)
    if can_return:
        utilities[BalloonChoice.RETURN] = b.balloon_return - b.balloon_equity_weight * min(
            equity_ratio, 1)
    options = sorted(utilities)
    weights = np.exp(np.array([utilities[o] for o in options]))
    cumulative = np.cumsum(weights / weights.sum())
    choice = options[int(np.searchsorted(cumulative, u, side="right").clip(0, len(options) - 1))]
    if (choice is BalloonChoice.DEFAULT and offered and can_refinance
            and u_offer < t.balloon_offer):
        return BalloonChoice.REFINANCE
    return choice
