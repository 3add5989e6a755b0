"""The caches that keep the replay fast must never change an answer.

`grace_end` is remembered per calendar: a calendar that cannot be hashed by value (the national
one records its fallback years) is keyed by identity, so a new calendar still asks its own
`is_working_day` and still warns for a year the holiday package does not know; a regional
calendar built afresh per loan shares its national calendar's answers but keeps its own days.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date

from tailguard.calendar import (
    CalendarFallbackWarning,
    ChinaStatutoryCalendar,
    RegionalCalendar,
    WeekendCalendar,
)
from tailguard.calendar.business_days import CalendarKey, cached_next_working_day
from tailguard.loans.position import grace_end
from tailguard.loans.products import HolidayRule, Product, RepaymentMethod

PRODUCT = Product("p", 1, "p", RepaymentMethod.EQUAL_INSTALLMENT, grace_days=0,
                  holiday_rule=HolidayRule.GRACE_TO_NEXT_WORKING_DAY)
FAR_YEAR = 2091
"""A year no holiday package will publish soon: the national calendar falls back and warns."""


def _fallback_warnings(calendar: ChinaStatutoryCalendar, day: date) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grace_end(PRODUCT, day, calendar)
    return sum(issubclass(w.category, CalendarFallbackWarning) for w in caught)


def test_every_new_national_calendar_still_warns_for_an_unknown_year() -> None:
    saturday = date(FAR_YEAR, 6, 2)
    first, second = ChinaStatutoryCalendar(), ChinaStatutoryCalendar()
    assert _fallback_warnings(first, saturday) == 1
    assert _fallback_warnings(first, saturday) == 0  # remembered, and warned once anyway
    assert _fallback_warnings(second, saturday) == 1
    assert first.fallback_years == second.fallback_years == {FAR_YEAR}


def test_a_regional_holiday_moves_the_grace_end_and_the_national_one_does_not() -> None:
    national = ChinaStatutoryCalendar()
    friday = date(2026, 3, 27)
    assert grace_end(PRODUCT, friday, national) == friday
    for _ in range(2):  # built afresh each time, as the service layer does
        regional = RegionalCalendar.of(national, "650000", holidays=[friday])
        assert grace_end(PRODUCT, friday, regional) == date(2026, 3, 30)
    assert grace_end(PRODUCT, friday, national) == friday


@dataclass(eq=False)
class _Switchable:
    """A mutable, identity-hashed calendar: two of them must not share cached answers."""

    closed: set[date] = field(default_factory=set)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.closed


def test_calendars_share_answers_only_when_they_answer_alike() -> None:
    monday = date(2026, 6, 1)
    open_one, closed_one = _Switchable(), _Switchable({monday})
    assert cached_next_working_day(CalendarKey(open_one), monday) == monday
    assert cached_next_working_day(CalendarKey(closed_one), monday) == date(2026, 6, 2)
    assert CalendarKey(WeekendCalendar()) == CalendarKey(WeekendCalendar())
    assert CalendarKey(ChinaStatutoryCalendar()) != CalendarKey(ChinaStatutoryCalendar())
