"""Business days (China's statutory holidays and make-up days, per region) and month arithmetic."""

from tailguard.calendar.business_days import (
    BusinessCalendar,
    CalendarFallbackWarning,
    ChinaStatutoryCalendar,
    RegionalCalendar,
    WeekendCalendar,
    next_working_day,
)
from tailguard.calendar.months import add_months, days_in_month, months_between

__all__ = [
    "BusinessCalendar",
    "CalendarFallbackWarning",
    "ChinaStatutoryCalendar",
    "RegionalCalendar",
    "WeekendCalendar",
    "add_months",
    "days_in_month",
    "months_between",
    "next_working_day",
]
