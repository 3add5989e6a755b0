"""The composition root: settings, database, clock and calendars wired once, passed explicitly.

Nothing is created at import time. Entry points (CLI, API, tests, the simulator) build a
`Platform` and hand it to services, which open a unit of work per use case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine

from tailguard.calendar import BusinessCalendar, ChinaStatutoryCalendar, RegionalCalendar
from tailguard.infra.clock import Clock, SystemClock, business_date
from tailguard.infra.db.engine import make_engine
from tailguard.infra.db.schedule_cache import ScheduleCache
from tailguard.infra.db.uow import UnitOfWork
from tailguard.infra.settings import Settings, load_settings
from tailguard.loans.products import Product


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    clock: Clock
    national_calendar: ChinaStatutoryCalendar = field(default_factory=ChinaStatutoryCalendar)
    regional_holidays: dict[str, frozenset[date]] = field(default_factory=dict)
    """Extra holidays by servicing region (GB/T 2260 province code), e.g. regional festivals."""
    products: dict[tuple[str, int], Product] = field(default_factory=dict)
    """Product versions read so far. A stored version never changes (the repository refuses
    other terms under the same key), so it is read once per process, not once per payment."""
    schedules: ScheduleCache = field(default_factory=ScheduleCache)
    """Committed schedule versions of this database (they never change either)."""

    def __post_init__(self) -> None:
        self.schedules.watch(self.engine)

    def calendar_for(self, region_code: str | None) -> BusinessCalendar:
        """The calendar of the region that services a loan: national plus regional days."""
        if not region_code:
            return self.national_calendar
        province = region_code[:2] + "0000"
        extra = self.regional_holidays.get(province)
        if not extra:
            return self.national_calendar
        return RegionalCalendar(self.national_calendar, province, extra)

    def uow(self, actor: str = "system") -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, actor)

    def today(self) -> date:
        return business_date(self.clock)


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> Platform:
    settings = settings or load_settings()
    return Platform(settings, make_engine(settings.database_url), clock or SystemClock())
