"""The simulator's geography: real GB/T 2260 provinces, cities and counties with the
published economic indicators of each province (`data/provinces_2023.csv`, National Bureau of
Statistics, China Statistical Yearbook 2024, rounded).

Pure: reads the installed division list (`tailguard.regions`) and the package's CSV, and
returns arrays the vectorised generator indexes into. Counties are kept only when an ID number
issued to anyone born up to 2010 may carry their code, i.e. the code was not abolished by then
(the identity rule of `tailguard.origination.identity.region_code_possible`), so every
generated ID number passes the platform's own checks.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from tailguard.origination.identity import region_code_possible
from tailguard.regions.divisions import Level, load_divisions

YOUNGEST_BIRTH_YEAR = 2010
"""County codes must still be in use for borrowers born up to this year (none is younger)."""


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    gdp_per_capita_yuan: int
    disposable_income_yuan: int
    population_10k: int


@dataclass(frozen=True)
class Geography:
    """Provinces, cities and counties as parallel arrays (index = position)."""

    provinces: tuple[Province, ...]
    city_codes: npt.NDArray[np.str_]
    city_names: tuple[str, ...]
    city_province: npt.NDArray[np.int64]
    """Index into `provinces` of each city."""
    county_codes: npt.NDArray[np.str_]
    county_city: npt.NDArray[np.int64]
    """Index into `city_codes` of each county."""
    city_county_start: npt.NDArray[np.int64]
    city_county_count: npt.NDArray[np.int64]
    """Each city's counties are `county_codes[start:start + count]` (sorted by city)."""

    @property
    def income(self) -> npt.NDArray[np.float64]:
        return np.array([p.disposable_income_yuan for p in self.provinces], dtype=np.float64)

    @property
    def gdp_per_capita(self) -> npt.NDArray[np.float64]:
        return np.array([p.gdp_per_capita_yuan for p in self.provinces], dtype=np.float64)

    @property
    def population(self) -> npt.NDArray[np.float64]:
        return np.array([p.population_10k for p in self.provinces], dtype=np.float64)

    @property
    def province_codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.provinces)


def read_provinces() -> tuple[Province, ...]:
    text = resources.files("tailguard.simulation").joinpath(
        "data/provinces_2023.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = csv.DictReader(io.StringIO("\n".join(lines)))
    return tuple(
        Province(r["code"], r["name"], int(r["gdp_per_capita_yuan"]),
                 int(r["disposable_income_yuan"]), int(r["population_10k"]))
        for r in rows
    )


@lru_cache(maxsize=1)
def load_geography() -> Geography:
    """Every city-level unit of the 31 mainland provinces with its usable counties."""
    provinces = read_provinces()
    index = {p.code: k for k, p in enumerate(provinces)}
    divisions = load_divisions()
    counties: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for division in divisions:
        if division.province_code not in index or division.level is not Level.COUNTY:
            continue
        if division.name == "市辖区" or division.city_code is None:
            continue
        if not region_code_possible(division.code, YOUNGEST_BIRTH_YEAR):
            continue
        counties.setdefault(division.city_code, []).append(division.code)
    for city_code in counties:
        city = divisions.get(city_code)
        names[city_code] = city.name if city is not None else city_code
    city_codes = sorted(counties)
    county_codes: list[str] = []
    county_city: list[int] = []
    start: list[int] = []
    count: list[int] = []
    for k, city_code in enumerate(city_codes):
        start.append(len(county_codes))
        count.append(len(counties[city_code]))
        county_codes.extend(sorted(counties[city_code]))
        county_city.extend([k] * len(counties[city_code]))
    return Geography(
        provinces=provinces,
        city_codes=np.array(city_codes),
        city_names=tuple(names[c] for c in city_codes),
        city_province=np.array([index[c[:2] + "0000"] for c in city_codes], dtype=np.int64),
        county_codes=np.array(county_codes),
        county_city=np.array(county_city, dtype=np.int64),
        city_county_start=np.array(start, dtype=np.int64),
        city_county_count=np.array(count, dtype=np.int64),
    )
