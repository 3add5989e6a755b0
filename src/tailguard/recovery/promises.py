"""Promises to pay: kept when the payments since the promise reach the amount promised, broken
when its day has passed without them.

The end of day evaluates every open promise at once from two columns the service reads (the
amount promised and what was paid on the promise's loan since it was made, reversals taken
out). A promise is judged only after its whole due day has passed, so a payment made late on
the promised day still keeps it.
"""

from __future__ import annotations

from datetime import date

import numpy as np
from numpy.typing import NDArray

from tailguard.errors import InvalidInput
from tailguard.recovery.vocabulary import PromiseStatus

MAX_PROMISE_DAYS = 30
"""A promise further out than this is a payment plan, not a promise: restructure instead."""


def check_promise(amount_fen: int, made_on: date, due_on: date) -> None:
    if amount_fen <= 0:
        raise InvalidInput.one("amount", "not_positive", "a promise is for more than zero")
    if due_on < made_on:
        raise InvalidInput.one("due_date", "past", "a promise is due today or later")
    if (due_on - made_on).days > MAX_PROMISE_DAYS:
        raise InvalidInput.one("due_date", "too_far",
                               f"at most {MAX_PROMISE_DAYS} days ahead; offer a restructure")


def evaluate(amount_fen: NDArray[np.int64], paid_fen: NDArray[np.int64],
             due_on: NDArray[np.datetime64], as_of: date) -> NDArray[np.object_]:
    """The status of each open promise at the end of `as_of`: kept, broken or still open."""
    kept = paid_fen >= amount_fen
    past = due_on < np.datetime64(as_of, "D")
    status = np.full(len(amount_fen), PromiseStatus.OPEN.value, dtype=object)
    status[past & ~kept] = PromiseStatus.BROKEN.value
    status[kept] = PromiseStatus.KEPT.value
    return status
