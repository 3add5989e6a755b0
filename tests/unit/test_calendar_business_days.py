"""Working days in China: statutory holidays, make-up working days (调休), regions, fallback.

Whether a borrower who pays the day after a holiday owes penalty interest depends on these
answers, so the 2026 calendar published by the State Council is written out as expected values.
They were read from the `chinese_calendar` package (1.11.0) and match the announcement: Spring
Festival off 15–23 February with Saturdays 14 and 28 February worked; National Day and the
Mid-Autumn Festival off 1–7 October with Sunday 20 September and Saturday 10 October worked;
New Year off 1–3 January with Sunday 4 January worked; Labour Day off 1–5 May with Saturday
9 May worked.
"""

from __future__ import annotations

import warnings
from datetime import date

import pytest

from tailguard.calendar import (
    CalendarFallbackWarning,
    ChinaStatutoryCalendar,
    RegionalCalendar,
    WeekendCalendar,
    next_working_day,
)


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        (date(2026, 2, 13), True, "Friday before the Spring Festival"),
        (date(2026, 2, 14), True, "Saturday made a working day (Spring Festival 调休)"),
        (date(2026, 2, 15), False, "Spring Festival, first day"),
        (date(2026, 2, 17), False, "Spring Festival, lunar new year's day"),
        (date(2026, 2, 20), False, "Spring Festival, a Friday off"),
        (date(2026, 2, 23), False, "Spring Festival, last day, a Monday"),
        (date(2026, 2, 24), True, "first working day after the Spring Festival"),
        (date(2026, 2, 28), True, "Saturday made a working day (Spring Festival 调休)"),
        (date(2026, 1, 1), False, "New Year's Day"),
        (date(2026, 1, 4), True, "Sunday made a working day (New Year 调休)"),
        (date(2026, 5, 5), False, "Labour Day holiday, a Tuesday"),
        (date(2026, 5, 9), True, "Saturday made a working day (Labour Day 调休)"),
        (date(2026, 9, 20), True, "Sunday made a working day (National Day 调休)"),
        (date(2026, 10, 1), False, "National Day"),
        (date(2026, 10, 5), False, "National Day holiday, a Monday"),
        (date(2026, 10, 7), False, "National Day holiday, last day, a Wednesday"),
        (date(2026, 10, 8), True, "first working day after National Day"),
        (date(2026, 10, 10), True, "Saturday made a working day (National Day 调休)"),
        (date(2026, 3, 3), True, "an ordinary Tuesday"),
        (date(2026, 3, 7), False, "an ordinary Saturday"),
        (date(2026, 3, 8), False, "an ordinary Sunday"),
    ],
)
def test_2026_national_calendar(day: date, working: bool, why: str) -> None:
    assert ChinaStatutoryCalendar().is_working_day(day) is working, why


@pytest.mark.parametrize(
    ("day", "next_day"),
    [
        (date(2026, 2, 15), date(2026, 2, 24)),  # the whole Spring Festival week is skipped
        (date(2026, 2, 14), date(2026, 2, 14)),  # a make-up Saturday is itself a working day
        (date(2026, 10, 1), date(2026, 10, 8)),
        (date(2026, 10, 10), date(2026, 10, 10)),
        (date(2026, 3, 7), date(2026, 3, 9)),
        (date(2026, 3, 9), date(2026, 3, 9)),
    ],
)
def test_next_working_day_skips_holidays_but_not_make_up_days(day: date, next_day: date) -> None:
    assert next_working_day(ChinaStatutoryCalendar(), day) == next_day


def test_a_regional_holiday_applies_only_in_its_region() -> None:
    national = ChinaStatutoryCalendar()
    # Xinjiang (GB/T 2260 code 650000) gives the Eid al-Fitr (肉孜节) day off; a date is used
    # here only as an example of a region's own holiday on a national working day.
    eid = date(2026, 3, 20)
    xinjiang = RegionalCalendar.of(national, "650000", holidays=[eid])
    assert national.is_working_day(eid)
    assert not xinjiang.is_working_day(eid)
    assert next_working_day(xinjiang, eid) == date(2026, 3, 23)
    # Everything else follows the national calendar, make-up days included.
    assert not xinjiang.is_working_day(date(2026, 10, 1))
    assert xinjiang.is_working_day(date(2026, 2, 14))


def test_a_region_may_declare_an_extra_working_day() -> None:
    saturday = date(2026, 3, 7)
    branch = RegionalCalendar.of(WeekendCalendar(), "310000", working_days=[saturday])
    assert branch.is_working_day(saturday)
    assert not branch.is_working_day(date(2026, 3, 8))


def test_an_unknown_year_falls_back_to_weekends_and_warns_once() -> None:
    calendar = ChinaStatutoryCalendar()
    assert calendar.known_year(2026)
    assert not calendar.known_year(2027)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answers = [
            calendar.is_working_day(date(2027, 1, 4)),  # Monday
            calendar.is_working_day(date(2027, 1, 9)),  # Saturday
            calendar.is_working_day(date(2027, 10, 1)),  # Friday: no holiday known, so working
            calendar.is_working_day(date(2026, 10, 1)),  # a known year gives no warning
        ]
    assert answers == [True, False, True, False]
    fallback = [w for w in caught if issubclass(w.category, CalendarFallbackWarning)]
    assert len(fallback) == 1
    assert "2027" in str(fallback[0].message)
    assert calendar.fallback_years == {2027}


def test_each_calendar_keeps_its_own_record_of_fallback_years() -> None:
    with pytest.warns(CalendarFallbackWarning):
        ChinaStatutoryCalendar().is_working_day(date(2027, 6, 1))
    with pytest.warns(CalendarFallbackWarning):
        ChinaStatutoryCalendar().is_working_day(date(2027, 6, 1))


def test_weekend_calendar() -> None:
    calendar = WeekendCalendar()
    assert calendar.is_working_day(date(2026, 10, 1))  # a Thursday: no holidays known here
    assert not calendar.is_working_day(date(2026, 10, 3))
