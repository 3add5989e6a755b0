"""Vintage curves: for each origination month, the share of its loans that have ever been 30
or more days past due, by months on book.

Definition (the console's vintage chart and its test use exactly this):

- cohort: the calendar month of `loans.disbursement_date`; every loan disbursed (active,
  closed or written off) counts in its cohort's denominator for good;
- a loan *reaches 30+ DPD* on `due_date + 30 days` of the first instalment that was still not
  settled on that day (`installment_state.settled_on` empty, or on/after that day), provided
  that day is not after `as_of`;
- months on book of a day: whole calendar months from the disbursement date to that day (a
  month counts once the same day of the month is reached; the end of a shorter month counts as
  that day);
- point (cohort, m): loans of the cohort that reached 30+ DPD at m months on book or earlier,
  over the cohort's loans; shown for m from 1 up to the months the cohort's first day has
  been on book at `as_of`.

Column-wise: one query for the disbursement dates of all loans and one for the late
instalments (grouped per loan by the database: the earliest late due date), then numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, or_, select

from tailguard.calendar.months import add_months
from tailguard.infra.db import tables

DPD_THRESHOLD = 30
MAX_MONTHS = 60


@dataclass(frozen=True)
class Vintage:
    cohort: str  # YYYY-MM
    loans: int
    rates: tuple[float, ...]  # rates[m - 1]: share ever 30+ DPD by m months on book


def months_on_book(start: date, day: date) -> int:
    """Whole months from `start` to `day` (add_months clamps to the end of short months)."""
    months = (day.year - start.year) * 12 + day.month - start.month
    if months > 0 and add_months(start, months) > day:
        months -= 1
    return max(months, 0)


def _month_index(days: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    index: np.ndarray[Any, Any] = days.astype("datetime64[M]").astype(np.int64)
    return index


def _months_on_book(start: np.ndarray[Any, Any], end: np.ndarray[Any, Any]
                    ) -> np.ndarray[Any, Any]:
    """Vectorised `months_on_book` (same clamping: the day of month is compared with the
    start's day, capped at the end month's length)."""
    months = _month_index(end) - _month_index(start)
    start_day = (start - start.astype("datetime64[M]")).astype(np.int64) + 1
    end_day = (end - end.astype("datetime64[M]")).astype(np.int64) + 1
    end_month = end.astype("datetime64[M]")
    end_length = ((end_month + 1).astype("datetime64[D]")
                  - end_month.astype("datetime64[D]")).astype(np.int64)
    not_yet = end_day < np.minimum(start_day, end_length)
    result: np.ndarray[Any, Any] = np.maximum(months - not_yet.astype(np.int64), 0)
    return result


def vintage_curves(conn: Connection, as_of: date, max_months: int = MAX_MONTHS
                   ) -> list[Vintage]:
    loans, inst = tables.loans, tables.installment_state
    booked = conn.execute(select(loans.c.id, loans.c.disbursement_date)
                          .where(loans.c.status != "booked", loans.c.disbursement_date <= as_of)
                          ).all()
    if not booked:
        return []
    ids = np.array([r[0] for r in booked], dtype=object)
    start = np.array([r[1] for r in booked], dtype="datetime64[D]")
    # An instalment late by 30 days on or before as_of must be due by as_of - 30. Whether
    # it was still unpaid on its 30th day is decided below, where date arithmetic is portable.
    late_cut = as_of - timedelta(days=DPD_THRESHOLD)
    late = conn.execute(
        select(inst.c.loan_id, inst.c.due_date, inst.c.settled_on)
        .where(inst.c.due_date <= late_cut,
               or_(inst.c.settled_on.is_(None), inst.c.settled_on > inst.c.due_date))
    ).all()
    first_late: dict[str, np.datetime64] = {}
    if late:
        loan_col = np.array([r[0] for r in late], dtype=object)
        due = np.array([r[1] for r in late], dtype="datetime64[D]")
        settled = np.array([r[2] if r[2] is not None else date.max for r in late],
                           dtype="datetime64[D]")
        reached = due + np.timedelta64(DPD_THRESHOLD, "D")
        still_unpaid = settled >= reached
        order = np.argsort(reached[still_unpaid], kind="stable")
        for loan_id, day in zip(loan_col[still_unpaid][order], reached[still_unpaid][order],
                                strict=True):
            first_late.setdefault(str(loan_id), day)
    far = np.datetime64(date.max, "D")
    reached_on = np.array([first_late.get(str(i), far) for i in ids], dtype="datetime64[D]")
    late_mob = np.where(reached_on == far, max_months + 1,
                        _months_on_book(start, np.where(reached_on == far, start, reached_on)))
    cohort = _month_index(start)
    today = np.datetime64(as_of, "D")
    out: list[Vintage] = []
    for month in np.unique(cohort):
        members = cohort == month
        first_day = np.datetime64(int(month), "M").astype("datetime64[D]")
        seasoned = min(int(_months_on_book(np.array([first_day]), np.array([today]))[0]),
                       max_months)
        n = int(members.sum())
        counts = np.bincount(np.minimum(late_mob[members], max_months + 1),
                             minlength=max_months + 2)
        cumulative = np.cumsum(counts)
        rates = tuple(float(cumulative[m]) / n for m in range(1, seasoned + 1))
        out.append(Vintage(str(np.datetime64(int(month), "M")), n, rates))
    return out

