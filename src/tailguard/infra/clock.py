"""Clocks: the only place tailguard asks what time it is, so tests and the simulator can say."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that stands still until moved: for tests and simulations."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    @classmethod
    def at(cls, day: date, hour: int = 12) -> FixedClock:
        return cls(datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI).astimezone(UTC))


def business_date(clock: Clock, zone: ZoneInfo = SHANGHAI) -> date:
    """Today's date where the lender keeps its books."""
    return clock.now().astimezone(zone).date()
