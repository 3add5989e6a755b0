"""Champion/challenger read-out: the difference of two cure rates with a confidence interval.

The interval is Newcombe's hybrid score interval (1998, method 10) built from the two Wilson
score intervals: unlike the plain normal approximation it stays inside [-1, 1] and behaves with
small arms and rates near 0 or 1, which is what a new challenger's first weeks look like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (0, 1 when there are no trials)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Uplift:
    rate_treated: float
    rate_control: float
    difference: float
    low: float
    high: float
    n_treated: int
    n_control: int


def uplift(treated_successes: int, treated_n: int, control_successes: int, control_n: int,
           z: float = Z_95) -> Uplift:
    """Treated rate minus control rate, with Newcombe's interval."""
    p1 = treated_successes / treated_n if treated_n else 0.0
    p2 = control_successes / control_n if control_n else 0.0
    l1, u1 = wilson(treated_successes, treated_n, z)
    l2, u2 = wilson(control_successes, control_n, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Uplift(p1, p2, d, max(-1.0, low), min(1.0, high), treated_n, control_n)
