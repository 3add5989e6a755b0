"""Regional default rates, partially pooled: city → province → nation.

A city with 12 loans and 2 defaults has not shown a 17 % default rate; it has shown very
little. The rates here come from `risk.regional`'s empirical-Bayes pooling: the nation's rate
is the prior of each province, each province's pooled rate the prior of its cities, and the
prior's strength is estimated from how much the regions of a level really differ. A small city
keeps close to its province; a large one moves toward what it observed. The decision reads the
rate of the borrower's residence city (its province's, or the nation's, when the city has no
loans) and tightens the cut-off above the policy's watch rate.

Pure: the counts are an argument (the service counts loans and defaults in SQL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tailguard.risk.regional import RegionalCalibration, fit_regional_calibration


@dataclass(frozen=True)
class RegionCount:
    city_code: str
    loans: int
    defaults: int

    @property
    def province_code(self) -> str:
        return self.city_code[:2] + "0000"


@dataclass(frozen=True)
class RegionalRate:
    region_code: str
    level: str  # city, province, nation
    loans: int
    defaults: int
    rate: float

    def to_json(self) -> dict[str, object]:
        return {"region_code": self.region_code, "level": self.level, "loans": self.loans,
                "defaults": self.defaults, "rate": self.rate}


@dataclass(frozen=True)
class RegionalRates:
    national_rate: float
    loans: int
    defaults: int
    calibration: RegionalCalibration

    def rate_for(self, region_code: str) -> RegionalRate:
        province = region_code[:2]
        city = region_code[:4]
        cities = {r.region: r for r in self.calibration.levels[1].regions}
        provinces = {r.region: r for r in self.calibration.levels[0].regions}
        found = cities.get(f"{province}/{city}")
        if found is not None:
            return RegionalRate(city + "00", "city", found.rows, found.bads,
                                round(found.pooled_bad_rate, 6))
        found = provinces.get(province)
        if found is not None:
            return RegionalRate(province + "0000", "province", found.rows, found.bads,
                                round(found.pooled_bad_rate, 6))
        return RegionalRate("000000", "nation", self.loans, self.defaults,
                            round(self.national_rate, 6))


def pooled_default_rates(counts: Iterable[RegionCount]) -> RegionalRates | None:
    """Pooled rates from loan and default counts per city; None without loans or defaults
    (no rate can be estimated, and the decision then applies no regional adjustment)."""
    rows = [c for c in counts if c.loans > 0]
    loans = sum(c.loans for c in rows)
    defaults = sum(c.defaults for c in rows)
    if loans == 0 or defaults == 0:
        return None
    sizes = np.array([c.loans for c in rows])
    provinces = np.repeat(np.array([c.city_code[:2] for c in rows], dtype=object), sizes)
    cities = np.repeat(np.array([c.city_code[:4] for c in rows], dtype=object), sizes)
    y = np.concatenate([
        np.r_[np.ones(c.defaults), np.zeros(c.loans - c.defaults)] for c in rows])
    national = defaults / loans
    calibration = fit_regional_calibration(
        np.full(loans, national), y, [provinces, cities], ["province", "city"])
    return RegionalRates(national, loans, defaults, calibration)
