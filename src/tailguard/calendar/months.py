"""Month arithmetic for due dates: the contract day, clamped to the end of short months.

A loan disbursed on 31 January with contract day 31 falls due on 28 (or 29) February, 31 March,
30 April…: the contract day is kept and only clamped, never drifted, so a short month does not
move every later due date.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from datetime import date


def days_in_month(year: int, month: int) -> int:
    return _stdlib_calendar.monthrange(year, month)[1]


def add_months(start: date, months: int, contract_day: int | None = None) -> date:
    """The date `months` after `start` on `contract_day` (default: start's day), clamped."""
    day = start.day if contract_day is None else contract_day
    if not 1 <= day <= 31:
        raise ValueError(f"contract day must be 1–31, got {day}")
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    return date(year, month, min(day, days_in_month(year, month)))


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from `earlier` to `later`, ignoring days."""
    return (later.year - earlier.year) * 12 + (later.month - earlier.month)
