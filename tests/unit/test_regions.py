"""Administrative divisions, cross-region signals and the seed loader (on in-memory SQLite)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select

from tailguard.infra.db import tables
from tailguard.regions.cross_region import LoanPlaces, compare, cross_region_signals
from tailguard.regions.divisions import (
    Divisions,
    Level,
    city_code_of,
    haversine_km,
    level_of,
    load_divisions,
    parse_adcodes,
    province_code_of,
)
from tailguard.regions.seed import load_regions

BEIJING_CHAOYANG = "110105"
SHANGHAI_HONGKOU = "310109"
HANGZHOU_XIHU = "330106"
HANGZHOU_BINJIANG = "330108"
NINGBO_HAISHU = "330203"
XIANTAO = "429004"
QIANJIANG = "429005"


@pytest.fixture(scope="module")
def divisions() -> Divisions:
    return load_divisions()


def test_list_is_complete_and_consistent(divisions: Divisions) -> None:
    assert len(divisions) > 3000
    levels = {level: 0 for level in Level}
    for division in divisions:
        levels[division.level] += 1
        assert division.level is level_of(division.code)
        assert division.province_code == province_code_of(division.code)
        assert division.province_code in divisions
        if division.parent_code is not None:
            assert division.parent_code in divisions
            parent = divisions[division.parent_code]
            assert parent.province_code == division.province_code
            assert division in divisions.children(parent.code)
        else:
            assert division.level is Level.PROVINCE
    assert levels[Level.PROVINCE] == 34
    assert levels[Level.CITY] > 300
    assert levels[Level.COUNTY] > 2800


def test_ordinary_hierarchy(divisions: Divisions) -> None:
    xihu = divisions[HANGZHOU_XIHU]
    assert (xihu.name, xihu.level, xihu.parent_code) == ("西湖区", Level.COUNTY, "330100")
    assert xihu.city_code == "330100"
    assert divisions.city(HANGZHOU_XIHU) == divisions["330100"]
    assert divisions.province(HANGZHOU_XIHU).name == "浙江省"
    hangzhou = divisions["330100"]
    assert (hangzhou.level, hangzhou.parent_code) == (Level.CITY, "330000")
    zhejiang = divisions["330000"]
    assert (zhejiang.level, zhejiang.parent_code, zhejiang.city_code) == (
        Level.PROVINCE,
        None,
        None,
    )


@pytest.mark.parametrize("municipality", ["110000", "120000", "310000", "500000"])
def test_municipalities_have_counties_directly_under_them(
    divisions: Divisions, municipality: str
) -> None:
    unit = divisions[municipality]
    assert unit.level is Level.PROVINCE
    assert unit.city_code == municipality
    children = divisions.children(municipality)
    assert len(children) >= 10
    assert all(child.level is Level.COUNTY for child in children)
    assert all(child.city_code == municipality for child in children)
    # The "市辖区" / "县" filler rows of the source name no place and are gone.
    prefix = municipality[:2]
    assert f"{prefix}0100" not in divisions
    assert f"{prefix}0200" not in divisions


def test_beijing_district(divisions: Divisions) -> None:
    chaoyang = divisions[BEIJING_CHAOYANG]
    assert chaoyang.name == "朝阳区"
    assert chaoyang.parent_code == "110000"
    assert divisions.city(BEIJING_CHAOYANG) == divisions["110000"]


def test_province_administered_county_level_cities(divisions: Divisions) -> None:
    xiantao = divisions[XIANTAO]
    assert xiantao.name == "仙桃市"
    assert xiantao.parent_code == "420000"
    assert xiantao.city_code == XIANTAO
    assert "429000" not in divisions
    assert compare(divisions, XIANTAO, QIANJIANG).same_city is False


def test_codes_not_listed_are_placed_by_pattern(divisions: Divisions) -> None:
    chongwen = "110103"  # 崇文区, merged into 东城区 in 2010; older ID numbers carry it
    assert chongwen not in divisions
    assert divisions.province(chongwen).name == "北京市"
    assert city_code_of(chongwen) == "110000"
    assert divisions.coordinates(chongwen) == divisions["110000"].coordinates
    assert city_code_of("342601") == "342600"
    assert divisions.province("342601").name == "安徽省"
    with pytest.raises(KeyError):
        divisions["342601"]
    with pytest.raises(ValueError):
        level_of("11010")
    with pytest.raises(ValueError):
        province_code_of("11010a")


def test_filler_districts_fall_back_to_their_city_point(divisions: Divisions) -> None:
    filler = divisions["130101"]
    assert filler.coordinates is None
    assert divisions.coordinates("130101") == divisions["130100"].coordinates


def test_haversine_known_values() -> None:
    one_degree = 2 * math.pi * 6371.0088 / 360
    assert haversine_km((0.0, 0.0), (0.0, 1.0)) == pytest.approx(one_degree, rel=1e-9)
    assert haversine_km((0.0, 0.0), (1.0, 0.0)) == pytest.approx(one_degree, rel=1e-9)
    assert haversine_km((10.0, 20.0), (10.0, 20.0)) == 0.0
    assert haversine_km((0.0, 0.0), (180.0, 0.0)) == pytest.approx(math.pi * 6371.0088)


def test_distances(divisions: Divisions) -> None:
    beijing_shanghai = divisions.distance_km("110000", "310000")
    assert beijing_shanghai is not None
    assert 1040 < beijing_shanghai < 1100  # about 1,068 km great-circle
    assert divisions.distance_km("310000", "110000") == beijing_shanghai
    assert divisions.distance_km(HANGZHOU_XIHU, HANGZHOU_XIHU) == 0.0
    within_hangzhou = divisions.distance_km(HANGZHOU_XIHU, HANGZHOU_BINJIANG)
    assert within_hangzhou is not None and within_hangzhou < 30
    urumqi_guangzhou = divisions.distance_km("650100", "440100")
    assert urumqi_guangzhou is not None and 2800 < urumqi_guangzhou < 3400


def test_parse_adcodes_small_table() -> None:
    text = (
        "adcode,name,longitude,latitude\n"
        "110000000000,北京市,116.4,39.9\n"
        "110100000000,市辖区,116.4,39.9\n"
        "110105000000,朝阳区,116.44,39.92\n"
        "420000000000,湖北省,114.3,30.5\n"
        "429000000000,省直辖县级行政区划,,\n"
        "429004000000,仙桃市,113.4,30.4\n"
        "420100000000,武汉市,114.3,30.6\n"
        "420102000000,江岸区,,\n"
        "420199000000,未列市的区,,\n"
    )
    parsed = {d.code: d for d in parse_adcodes(text)}
    assert set(parsed) == {"110000", "110105", "420000", "429004", "420100", "420102", "420199"}
    assert parsed["110105"].parent_code == "110000"
    assert parsed["429004"].parent_code == "420000"
    assert parsed["420102"].parent_code == "420100"
    assert parsed["420102"].longitude is None
    assert Divisions(parsed.values()).coordinates("420102") == (114.3, 30.6)
    with pytest.raises(ValueError):
        parse_adcodes("adcode,name,longitude,latitude\n110105,朝阳区,116.4,39.9\n")


# --- cross-region signals -----------------------------------------------------------------


def test_local_borrower(divisions: Divisions) -> None:
    signals = cross_region_signals(
        divisions,
        LoanPlaces(HANGZHOU_XIHU, HANGZHOU_BINJIANG, HANGZHOU_XIHU, HANGZHOU_BINJIANG),
    )
    assert signals.cross_city is False
    assert signals.cross_province is False
    assert signals.household_vs_residence is not None
    assert signals.household_vs_residence.same_city is True
    assert signals.max_distance_km is not None and signals.max_distance_km < 30


def test_borrower_travelling_to_another_province(divisions: Divisions) -> None:
    places = LoanPlaces.from_id_number(
        "110105194912310027",
        residence_region=BEIJING_CHAOYANG,
        dealer_region=HANGZHOU_XIHU,
        vehicle_region=BEIJING_CHAOYANG,
    )
    assert places.household_region == BEIJING_CHAOYANG
    signals = cross_region_signals(divisions, places)
    assert signals.cross_city is True
    assert signals.cross_province is True
    rd = signals.residence_vs_dealer
    assert rd is not None and (rd.same_city, rd.same_province) == (False, False)
    vr = signals.vehicle_vs_residence
    assert vr is not None and vr.same_city is True and vr.distance_km == 0.0
    vd = signals.vehicle_vs_dealer
    assert vd is not None and vd.same_province is False
    assert rd.distance_km is not None and 1000 < rd.distance_km < 1200
    assert signals.max_distance_km == pytest.approx(rd.distance_km)


def test_migrant_living_at_the_dealer_city(divisions: Divisions) -> None:
    """Registered in Ningbo, living and buying in Hangzhou: cross-city through the household
    registration only, same province."""
    signals = cross_region_signals(
        divisions, LoanPlaces(NINGBO_HAISHU, HANGZHOU_XIHU, HANGZHOU_BINJIANG, None)
    )
    assert signals.residence_vs_dealer is not None
    assert signals.residence_vs_dealer.same_city is True
    hd = signals.household_vs_dealer
    assert hd is not None and (hd.same_city, hd.same_province) == (False, True)
    assert signals.cross_city is True
    assert signals.cross_province is False
    assert signals.vehicle_vs_residence is None
    assert signals.vehicle_vs_dealer is None


def test_unknown_places_give_unknown_signals(divisions: Divisions) -> None:
    signals = cross_region_signals(divisions, LoanPlaces(household_region=HANGZHOU_XIHU))
    assert signals.cross_city is None
    assert signals.cross_province is None
    assert signals.max_distance_km is None
    assert signals.residence_vs_dealer is None


def test_province_level_code_cannot_decide_same_city(divisions: Divisions) -> None:
    comparison = compare(divisions, "330000", HANGZHOU_XIHU)
    assert comparison.same_city is None
    assert comparison.same_province is True
    municipality = compare(divisions, "110000", BEIJING_CHAOYANG)
    assert municipality.same_city is True
    assert compare(divisions, SHANGHAI_HONGKOU, "310000").same_city is True


# --- seed loader --------------------------------------------------------------------------


def test_load_regions_is_one_executemany_and_idempotent(divisions: Divisions) -> None:
    engine = create_engine("sqlite://")
    tables.regions.create(engine)
    statements: list[tuple[str, bool]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(*args: Any) -> None:
        _conn, _cursor, statement, _params, _context, executemany = args
        statements.append((statement.split()[0].upper(), executemany))

    with engine.begin() as connection:
        assert load_regions(connection) == len(divisions)
    inserts = [s for s in statements if s[0] == "INSERT"]
    assert inserts == [("INSERT", True)]
    with engine.begin() as connection:
        assert load_regions(connection) == 0
        count = connection.execute(select(func.count()).select_from(tables.regions)).scalar()
        assert count == len(divisions)
        row = connection.execute(
            select(tables.regions).where(tables.regions.c.code == XIANTAO)
        ).one()
    assert row.name == "仙桃市"
    assert (row.level, row.parent_code, row.province_code) == ("county", "420000", "420000")
    assert Decimal(str(row.longitude)).quantize(Decimal("0.000001")) == Decimal("113.423583")


def test_load_regions_fills_only_missing_rows(divisions: Divisions) -> None:
    engine = create_engine("sqlite://")
    tables.regions.create(engine)
    with engine.begin() as connection:
        connection.execute(
            tables.regions.insert().values(
                code="330106", name="西湖区", level="county", province_code="330000"
            )
        )
        assert load_regions(connection) == len(divisions) - 1
