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

Column-wise: one aggregate query (see `vintage_curves`), then numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, and_, func, literal_column, or_, select

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


def _unpaid_on_day_30(conn: Connection) -> Any:
    """SQL: the instalment was still not settled on its due date + 30 days (date arithmetic
    differs: SQLite stores ISO text and adds days with date(); PostgreSQL adds integers)."""
    inst = tables.installment_state.c
    reached: ColumnElement[Any]
    if conn.dialect.name == "sqlite":
        reached = func.date(inst.due_date, f"+{DPD_THRESHOLD} days")
    else:
        reached = inst.due_date + literal_column(str(DPD_THRESHOLD))
    # `settled_on > due_date` first: a cheap comparison that rules out the instalments paid
    # on time (most of them) before the date function runs.
    return or_(inst.settled_on.is_(None),
               and_(inst.settled_on > inst.due_date, inst.settled_on >= reached))


def vintage_curves(conn: Connection, as_of: date, max_months: int = MAX_MONTHS
                   ) -> list[Vintage]:
    """Two aggregate queries, then numpy over their (few) rows.

    1. Loans per disbursement day (the cohorts' denominators): a few hundred rows.
    2. The loans that ever reached 30+ DPD: the database finds each one's first instalment
       still unpaid 30 days after its due date (MIN of the due date, GROUP BY loan, over the
       covering index on (loan_id, settled_on, due_date)) and counts them per (disbursement
       day, that due date).

    The months-on-book arithmetic on those rows stays in numpy, where the clamping to short
    months is the same on every database. At 100,000 loans this moves a few hundred rows
    instead of every late instalment and every loan (benchmarks/bench_dashboard.py)."""
    loans, inst = tables.loans, tables.installment_state
    booked = and_(loans.c.status != "booked", loans.c.disbursement_date <= as_of)
    per_day = conn.execute(select(loans.c.disbursement_date, func.count()).where(booked)
                           .group_by(loans.c.disbursement_date)).all()
    if not per_day:
        return []
    # An instalment late by 30 days on or before as_of must be due by as_of - 30.
    late_cut = as_of - timedelta(days=DPD_THRESHOLD)
    first_late = (select(inst.c.loan_id, func.min(inst.c.due_date).label("first_due"))
                  .where(inst.c.due_date <= late_cut, _unpaid_on_day_30(conn))
                  .group_by(inst.c.loan_id)).subquery()
    late = conn.execute(
        select(loans.c.disbursement_date, first_late.c.first_due, func.count())
        .select_from(first_late.join(loans, loans.c.id == first_late.c.loan_id))
        .where(booked).group_by(loans.c.disbursement_date, first_late.c.first_due)
    ).all()
    start = np.array([r[0] for r in per_day], dtype="datetime64[D]")
    loans_on_day = np.array([int(r[1]) for r in per_day], dtype=np.int64)
    late_start = np.array([r[0] for r in late], dtype="datetime64[D]")
    reached_on = (np.array([r[1] for r in late], dtype="datetime64[D]")
                  + np.timedelta64(DPD_THRESHOLD, "D"))
    late_count = np.array([int(r[2]) for r in late], dtype=np.int64)
    late_mob = np.minimum(_months_on_book(late_start, reached_on), max_months + 1)
    cohort = _month_index(start)
    late_cohort = _month_index(late_start)
    today = np.datetime64(as_of, "D")
    out: list[Vintage] = []
    for month in np.unique(cohort):
        first_day = np.datetime64(int(month), "M").astype("datetime64[D]")
        seasoned = min(int(_months_on_book(np.array([first_day]), np.array([today]))[0]),
                       max_months)
        n = int(loans_on_day[cohort == month].sum())
        members = late_cohort == month
        counts = np.zeros(max_months + 2, dtype=np.int64)
        np.add.at(counts, late_mob[members], late_count[members])
        cumulative = np.cumsum(counts)
        rates = tuple(float(cumulative[m]) / n for m in range(1, seasoned + 1))
        out.append(Vintage(str(np.datetime64(int(month), "M")), n, rates))
    return out
