"""Month arithmetic for due dates: the contract day kept, clamped in short months, never drifted.

Loans that start on the 29th–31st are where servicing systems most often get due dates wrong
(DESIGN.md): a due date on 28 February must not pull every later due date to the 28th.
"""

from __future__ import annotations

from datetime import date

import pytest

from tailguard.calendar import add_months, days_in_month, months_between


@pytest.mark.parametrize(
    ("start", "months", "contract_day", "expected"),
    [
        (date(2026, 1, 31), 1, None, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, None, date(2024, 2, 29)),  # leap year
        (date(2026, 1, 30), 1, None, date(2026, 2, 28)),
        (date(2026, 1, 29), 1, None, date(2026, 2, 28)),
        (date(2028, 1, 29), 1, None, date(2028, 2, 29)),  # leap year: the 29th exists
        (date(2026, 1, 28), 1, None, date(2026, 2, 28)),
        (date(2026, 3, 31), 1, None, date(2026, 4, 30)),
        (date(2026, 1, 31), 2, None, date(2026, 3, 31)),  # not 28 March: no drift
        (date(2026, 2, 28), 1, 31, date(2026, 3, 31)),  # the contract day comes back
        (date(2026, 2, 28), 2, 30, date(2026, 4, 30)),
        (date(2024, 2, 29), 12, None, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, None, date(2028, 2, 29)),
        (date(2026, 12, 31), 2, None, date(2027, 2, 28)),  # across a year end
        (date(2026, 11, 30), 3, None, date(2027, 2, 28)),
        (date(2026, 3, 31), -1, None, date(2026, 2, 28)),  # backwards too
        (date(2026, 5, 15), 0, None, date(2026, 5, 15)),
        (date(2026, 5, 15), 0, 31, date(2026, 5, 31)),
        (date(2099, 12, 31), 2, None, date(2100, 2, 28)),  # 2100 is not a leap year
        (date(1999, 12, 31), 2, None, date(2000, 2, 29)),  # 2000 is
        (date(2026, 1, 31), 360, None, date(2056, 1, 31)),
    ],
)
def test_add_months_clamps_to_the_end_of_short_months(
    start: date, months: int, contract_day: int | None, expected: date
) -> None:
    assert add_months(start, months, contract_day) == expected


def test_a_31st_contract_day_gives_every_month_its_last_day() -> None:
    start = date(2026, 1, 31)
    days = [add_months(start, k).day for k in range(1, 13)]
    assert days == [28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31]


@pytest.mark.parametrize("contract_day", [0, 32, -1])
def test_add_months_refuses_impossible_contract_days(contract_day: int) -> None:
    with pytest.raises(ValueError, match="contract day must be 1–31"):
        add_months(date(2026, 1, 15), 1, contract_day)


@pytest.mark.parametrize(
    ("year", "month", "days"),
    [(2026, 2, 28), (2024, 2, 29), (2100, 2, 28), (2000, 2, 29), (2026, 4, 30), (2026, 12, 31)],
)
def test_days_in_month(year: int, month: int, days: int) -> None:
    assert days_in_month(year, month) == days


def test_months_between_counts_calendar_months_ignoring_days() -> None:
    assert months_between(date(2026, 1, 31), date(2026, 2, 1)) == 1
    assert months_between(date(2026, 1, 1), date(2028, 12, 31)) == 35
    assert months_between(date(2026, 5, 1), date(2026, 3, 1)) == -2
