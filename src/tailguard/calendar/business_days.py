"""Working days: China's statutory holidays and make-up working days (调休), per region.

The shown due date of an instalment never moves, but whether a borrower who pays on the next
working day after a holiday owes penalty interest depends on the calendar of the branch or
region that services the loan. The national calendar comes from the maintained
`chinese_calendar` package (State Council announcements, including the weekend days that are
made working days); a region may add its own holidays or working days on top. For a year the
package does not know yet, the calendar falls back to Monday–Friday and says so with a warning,
once per year, so nobody mistakes a guess for the published calendar.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Protocol

import chinese_calendar

# A bound on every search loop: no published calendar has more than ten non-working days in a
# row (the Spring Festival and National Day weeks are eight or nine with the weekends).
MAX_CONSECUTIVE_NON_WORKING_DAYS = 31


class CalendarFallbackWarning(UserWarning):
    """A date fell in a year the holiday package does not know: weekends only were used."""


class BusinessCalendar(Protocol):
    """Anything that can tell working days from non-working days."""

    def is_working_day(self, day: date) -> bool: ...


@dataclass
class ChinaStatutoryCalendar:
    """The national calendar of the People's Republic of China.

    `fallback_years` collects the years answered by the weekend rule, so a report can list them.
    """

    fallback_years: set[int] = field(default_factory=set)
    _known: dict[date, bool] = field(default_factory=dict, repr=False, compare=False)

    def is_working_day(self, day: date) -> bool:
        # Every replay asks about the same few hundred due dates: remember the answers.
        known = self._known.get(day)
        if known is not None:
            return known
        answer = self._lookup(day)
        if len(self._known) < 100_000:
            self._known[day] = answer
        return answer

    def _lookup(self, day: date) -> bool:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self.fallback_years:
                self.fallback_years.add(day.year)
                warnings.warn(
                    f"no published holiday calendar for {day.year}: using weekends only",
                    CalendarFallbackWarning,
                    stacklevel=2,
                )
            return day.weekday() < 5

    def known_year(self, year: int) -> bool:
        """Whether the package has the State Council's calendar for `year`."""
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            return False
        return True


@dataclass(frozen=True)
class WeekendCalendar:
    """Monday to Friday, for markets or tests without a holiday calendar."""

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5


@dataclass(frozen=True)
class RegionalCalendar:
    """A base calendar with a region's own extra holidays and extra working days.

    Example: an autonomous region's own festival days are holidays there but not nationally.
    """

    base: BusinessCalendar
    region_code: str
    extra_holidays: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()

    @classmethod
    def of(
        cls,
        base: BusinessCalendar,
        region_code: str,
        holidays: Iterable[date] = (),
        working_days: Iterable[date] = (),
    ) -> RegionalCalendar:
        return cls(base, region_code, frozenset(holidays), frozenset(working_days))

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        if day in self.extra_holidays:
            return False
        return self.base.is_working_day(day)


def next_working_day(calendar: BusinessCalendar, day: date) -> date:
    """`day` itself when it is a working day, else the first working day after it."""
    candidate = day
    for _ in range(MAX_CONSECUTIVE_NON_WORKING_DAYS):
        if calendar.is_working_day(candidate):
            return candidate
        candidate += timedelta(days=1)
    raise ValueError(f"no working day within {MAX_CONSECUTIVE_NON_WORKING_DAYS} days of {day}")


class _SameObject:
    """A cache key for a calendar that cannot be hashed by value (a mutable one, such as
    `ChinaStatutoryCalendar`, which records its fallback years): equal only to itself.

    It holds the calendar, so while any cache entry keyed by it lives, the calendar lives too
    and its `id` cannot be handed to another object: no entry can ever answer for a calendar
    it was not computed with. Keying by identity also keeps `CalendarFallbackWarning` exactly
    as before: a new calendar misses the cache, asks its own `is_working_day`, and warns."""

    __slots__ = ("calendar",)

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar

    def __hash__(self) -> int:
        return id(self.calendar)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SameObject) and other.calendar is self.calendar


def _key_of(calendar: BusinessCalendar) -> Hashable:
    """A hashable stand-in for `calendar`, shared only by calendars that answer alike.

    Frozen value calendars (`WeekendCalendar`) are their own key. A `RegionalCalendar` is
    keyed by its days and its base's key, so the one the service layer builds afresh per loan
    shares the entries of its national calendar. Anything else unhashable goes by identity."""
    if type(calendar) is RegionalCalendar:  # a subclass may answer differently
        return ("regional", _key_of(calendar.base), calendar.region_code,
                calendar.extra_holidays, calendar.extra_working_days)
    try:
        hash(calendar)
    except TypeError:
        return _SameObject(calendar)
    assert isinstance(calendar, Hashable)  # it just hashed
    return calendar


class CalendarKey:
    """A calendar with its cache key: equal and hashed by the key, computed with the calendar.

    Lets `functools.lru_cache` memoise answers per calendar although the calendars themselves
    need not be hashable (see `_key_of`)."""

    __slots__ = ("_hash", "calendar", "key")

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self.key = _key_of(calendar)
        self._hash = hash(self.key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CalendarKey) and other.key == self.key


@lru_cache(maxsize=65_536)
def cached_next_working_day(calendar: CalendarKey, day: date) -> date:
    """`next_working_day`, remembered per calendar and day (bounded, least recently used out).

    Every replay of a loan asks it for each instalment's due date; the answer only depends on
    the calendar's days, which do not change while a process runs."""
    return next_working_day(calendar.calendar, day)
