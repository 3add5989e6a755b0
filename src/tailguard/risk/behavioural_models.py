"""Names, windows and score bands of the behavioural models, without pandas: what the
services that only read stored scores (early-warning rules, balloon watch, collection
strategies, loaded by the API at start) need. The models themselves: `risk.behavioural`."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DPD30_MODEL = "dpd30-90d"
BALLOON_MODEL = "balloon-30d"
MODELS = (DPD30_MODEL, BALLOON_MODEL)

HORIZON_DAYS = 90
"""The dpd model's window: 30+ DPD at some point in (as_of, as_of + 90 days]."""
BALLOON_GRACE_DAYS = 30
"""A balloon counts as settled when it is paid, refinanced, extended or closed by the vehicle
within this many days of its due date (the simulator's and the KPI's definition)."""
BALLOON_STAGES = (120, 90, 60, 30)

TELEMATICS_KINDS = ("gps-offline", "outside-province", "device-tampering")

BANDS = ((650.0, "A"), (600.0, "B"), (550.0, "C"), (500.0, "D"))
"""Score bands, highest first (score = 600 at 50:1 good:bad odds, 20 points double the odds):
A below about 0.5 % PD, B to 2 %, C to 7.4 %, D to 24 %, E above. The collection strategies
band the score themselves (their own cut-offs); these are for screens and rules."""


def band_of(scores: npt.ArrayLike) -> npt.NDArray[np.object_]:
    s = np.asarray(scores, dtype=np.float64)
    out = np.full(len(s), "E", dtype=object)
    for low, name in reversed(BANDS):
        out[s >= low] = name
    return out
