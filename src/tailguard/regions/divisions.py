"""GB/T 2260 administrative divisions: codes, names, hierarchy and coordinates.

Source: the `adcodes.csv` table shipped by the cpca package (12-digit adcode, name, longitude,
latitude for about 3,500 provinces, cities and counties). The file is read through package
metadata, never by importing cpca, which would pull pandas and jieba in at import time.

A six-digit code says its own level: `PP0000` is a province-level unit, `PPCC00` a city
(prefecture) and anything else a county-level unit. Three irregular cases are handled here so
that no caller has to know them:

- Municipalities (北京 110000, 天津, 上海, 重庆) have their districts directly under them. The
  table also lists filler rows (`110100 市辖区`, `500200 县`) that name no place; they are
  dropped, the districts' parent is the municipality, and the municipality is its own city.
  Hong Kong and Macau are treated the same way (each is one city).
- County-level cities and counties administered directly by a province (湖北 仙桃 429004,
  海南's 469xxx) sit under a filler `PP9000` grouping, which is dropped too: their parent is the
  province and each is its own city-level unit, because 仙桃 and 潜江 are different places for
  a cross-region review.
- `PPCC01 市辖区` rows under ordinary cities are kept (old ID numbers can carry them), but they
  have no coordinates; distance falls back to the city.

Codes that are not listed (abolished counties still printed in older ID numbers) still get a
province and city by the code pattern; see `province_code_of` and `city_code_of`.

Coordinates and distances are floats: they are geography, not money.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import metadata

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), the usual choice for haversine distances."""

MUNICIPALITIES = frozenset({"110000", "120000", "310000", "500000"})
CITY_PROVINCES = MUNICIPALITIES | {"810000", "820000"}
"""Province-level units that are also one city: municipalities and the two SARs."""


class Level(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


def check_code(code: str) -> str:
    """A division code is six ASCII digits; anything else is a programming error here."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise ValueError(f"a division code has six digits, not {code!r}")
    return code


def level_of(code: str) -> Level:
    check_code(code)
    if code.endswith("0000"):
        return Level.PROVINCE
    if code.endswith("00"):
        return Level.CITY
    return Level.COUNTY


def province_code_of(code: str) -> str:
    return check_code(code)[:2] + "0000"


def _directly_under_province(code: str) -> bool:
    """County-level units a province administers without a city (`PP90xx`)."""
    return code[2:4] == "90"


def city_code_of(code: str) -> str | None:
    """The city-level unit `code` belongs to, by pattern: the unit to compare for "same city".

    None for an ordinary province (it is above any city).
    """
    province = province_code_of(code)
    if province in CITY_PROVINCES:
        return province
    level = level_of(code)
    if level is Level.PROVINCE:
        return None
    if _directly_under_province(code):
        return code
    return code[:4] + "00"


def _is_filler(code: str) -> bool:
    """Rows of the table that group other rows but name no place."""
    if level_of(code) is not Level.CITY:
        return False
    return province_code_of(code) in CITY_PROVINCES or _directly_under_province(code)


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: Level
    parent_code: str | None
    province_code: str
    city_code: str | None
    longitude: float | None
    latitude: float | None

    @property
    def coordinates(self) -> tuple[float, float] | None:
        if self.longitude is None or self.latitude is None:
            return None
        return (self.longitude, self.latitude)


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (longitude, latitude) points in degrees."""
    lon1, lat1 = map(math.radians, a)
    lon2, lat2 = map(math.radians, b)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _float_or_none(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def parse_adcodes(text: str) -> tuple[Division, ...]:
    """Divisions from the adcode CSV text (header `adcode,name,longitude,latitude`)."""
    rows: dict[str, tuple[str, float | None, float | None]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        adcode = row["adcode"].strip()
        if len(adcode) != 12 or not adcode.isdigit() or adcode[6:] != "000000":
            raise ValueError(f"unexpected adcode {adcode!r}: want 12 digits ending in 000000")
        code = adcode[:6]
        if _is_filler(code):
            continue
        rows[code] = (
            row["name"].strip(),
            _float_or_none(row["longitude"]),
            _float_or_none(row["latitude"]),
        )
    divisions = []
    for code, (name, longitude, latitude) in sorted(rows.items()):
        level = level_of(code)
        province = province_code_of(code)
        city = city_code_of(code)
        parent: str | None
        if level is Level.PROVINCE:
            parent = None
        elif level is Level.CITY or city is None or city in (code, province):
            parent = province
        else:
            parent = city if city in rows else province
        divisions.append(Division(code, name, level, parent, province, city, longitude, latitude))
    return tuple(divisions)


class Divisions:
    """An immutable lookup over the division list."""

    def __init__(self, divisions: Iterable[Division]) -> None:
        self._by_code = {d.code: d for d in divisions}
        children: dict[str, list[Division]] = {}
        for division in self._by_code.values():
            if division.parent_code is not None:
                children.setdefault(division.parent_code, []).append(division)
        self._children = {code: tuple(kids) for code, kids in children.items()}

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Division]:
        return iter(sorted(self._by_code.values(), key=lambda d: d.code))

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __getitem__(self, code: str) -> Division:
        return self._by_code[code]

    def get(self, code: str) -> Division | None:
        return self._by_code.get(code)

    def children(self, code: str) -> tuple[Division, ...]:
        return self._children.get(code, ())

    def province(self, code: str) -> Division:
        """The province-level unit of any code, listed or not (by its first two digits)."""
        return self._by_code[province_code_of(code)]

    def city(self, code: str) -> Division | None:
        """The city-level unit of any code, or None above city level or when not listed."""
        city = city_code_of(code)
        return None if city is None else self._by_code.get(city)

    def coordinates(self, code: str) -> tuple[float, float] | None:
        """The code's own point, else its city's, else its province's.

        The fallback lets an abolished county in an old ID number, or a `市辖区` row without
        a point, still be placed, at city or province precision.
        """
        candidates = [code, city_code_of(code), province_code_of(code)]
        for candidate in candidates:
            if candidate is None:
                continue
            division = self._by_code.get(candidate)
            if division is not None and division.coordinates is not None:
                return division.coordinates
        return None

    def distance_km(self, a: str, b: str) -> float | None:
        """Great-circle distance between two codes' points; None if either cannot be placed."""
        point_a = self.coordinates(a)
        point_b = self.coordinates(b)
        if point_a is None or point_b is None:
            return None
        return haversine_km(point_a, point_b)


def _adcodes_text() -> str:
    distribution = metadata.distribution("cpca")
    for file in distribution.files or ():
        if file.as_posix().endswith("cpca/resources/adcodes.csv"):
            return file.read_text(encoding="utf-8")
    raise FileNotFoundError("cpca is installed without resources/adcodes.csv")


@lru_cache(maxsize=1)
def load_divisions() -> Divisions:
    """The installed division list, read once per process (it is immutable data)."""
    return Divisions(parse_adcodes(_adcodes_text()))
