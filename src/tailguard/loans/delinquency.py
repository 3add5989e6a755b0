"""Delinquency: buckets of days past due, and the events when a loan changes bucket.

Days past due (DPD) count from the oldest unpaid due date; the bucket table is a product
setting (C, M1 1–30, M2 31–60 … M6+ by default). Collections, provisioning and the
early-warning rules all key on bucket changes, so each change is an event of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tailguard.loans.products import DEFAULT_BUCKETS, Bucket


def bucket_for(dpd: int, buckets: Sequence[Bucket] = DEFAULT_BUCKETS) -> str:
    """The label of the bucket holding `dpd` days past due."""
    assert dpd >= 0, "days past due cannot be negative"
    for bucket in buckets:
        if dpd >= bucket.dpd_min and (bucket.dpd_max is None or dpd <= bucket.dpd_max):
            return bucket.label
    raise AssertionError(f"no bucket holds {dpd} days past due")


def bucket_rank(label: str, buckets: Sequence[Bucket] = DEFAULT_BUCKETS) -> int:
    """Position of a bucket, 0 for current: for comparing worse and better."""
    for rank, bucket in enumerate(buckets):
        if bucket.label == label:
            return rank
    raise ValueError(f"unknown bucket {label!r}")


@dataclass(frozen=True)
class LoanChangedBucket:
    """A loan moved between delinquency buckets on `as_of`."""

    loan_id: str
    as_of: date
    from_bucket: str
    to_bucket: str
    dpd: int
    worsened: bool


def bucket_change(
    loan_id: str,
    as_of: date,
    previous_dpd: int,
    dpd: int,
    buckets: Sequence[Bucket] = DEFAULT_BUCKETS,
) -> LoanChangedBucket | None:
    """The event for a move between yesterday's and today's DPD, if the bucket changed."""
    before, after = bucket_for(previous_dpd, buckets), bucket_for(dpd, buckets)
    if before == after:
        return None
    worsened = bucket_rank(after, buckets) > bucket_rank(before, buckets)
    return LoanChangedBucket(loan_id, as_of, before, after, dpd, worsened)
