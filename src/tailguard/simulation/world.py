"""The generated world: dealers, borrowers, vehicles and loans as numpy columns.

Everything is drawn column-wise from one PCG64 generator seeded with the simulation seed, in a
fixed order, so the same (seed, size, start, months, spec) gives the same world bit for bit and
a million loans take seconds. Strings (ID numbers, VINs, phone numbers) are assembled as byte
matrices with their check digits computed in numpy, never one Python object per loan.

Money is integer fen (`int64`); rates are integer basis points. Probabilities and incomes used
only by the behaviour model are floats.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from tailguard.loans.products import standard_catalogue
from tailguard.simulation.config import WorldSpec
from tailguard.simulation.economy import Geography, load_geography

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
S = npt.NDArray[np.str_]

EMPLOYMENT = ("salaried", "self-employed", "gig")
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
VIN_WEIGHTS = np.array([8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)
VIN_ALPHABET = np.frombuffer(b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ", dtype=np.uint8)
"""Characters a VIN may use (no I, O, Q)."""
WMIS = (b"LSV", b"LFV", b"LVS", b"LGB", b"LHG", b"LVG", b"LBV", b"LGX", b"LRW", b"LDC")
"""World manufacturer identifiers of makers building cars in China (SAIC-VW, FAW-VW, Changan
Ford, Dongfeng Nissan, GAC Honda, GAC Toyota, BMW Brilliance, BYD, Tesla Shanghai, DPCA)."""
YEAR_CODES = {2016: "G", 2017: "H", 2018: "J", 2019: "K", 2020: "L", 2021: "M", 2022: "N",
              2023: "P", 2024: "R", 2025: "S", 2026: "T", 2027: "V", 2028: "W", 2029: "X",
              2030: "Y", 2031: "1", 2032: "2", 2033: "3", 2034: "4", 2035: "5"}
"""VIN position 10, model year (ISO 3779 / GB 16735 cycle; U, Z and 0 are never used)."""
PHONE_PREFIXES = (b"130", b"131", b"132", b"133", b"135", b"136", b"137", b"138", b"139",
                  b"150", b"151", b"152", b"155", b"156", b"157", b"158", b"159", b"186",
                  b"187", b"188", b"189")
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓"
            "曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉建国志文斌宇浩凯健俊帆"


def _vin_values() -> npt.NDArray[np.int64]:
    table = np.zeros(256, dtype=np.int64)
    for d in range(10):
        table[ord(str(d))] = d
    for letters, start in (("ABCDEFGH", 1), ("JKLMN", 1), ("STUVWXYZ", 2)):
        for k, ch in enumerate(letters):
            table[ord(ch)] = start + k
    table[ord("P")] = 7
    table[ord("R")] = 9
    return table


VIN_VALUES = _vin_values()


@dataclass(frozen=True)
class Products:
    codes: tuple[str, ...]
    balloon: tuple[bool, ...]
    financed_fees_fen: tuple[int, ...]


def catalogue_products(spec: WorldSpec) -> Products:
    known = {p.code: p for p in standard_catalogue()}
    codes = tuple(code for code, _ in spec.product_mix)
    return Products(
        codes,
        tuple(known[c].method.value == "balloon" for c in codes),
        tuple(sum(f.amount_fen for f in known[c].fees if f.financed) for c in codes),
    )


@dataclass(frozen=True)
class World:
    """One row per loan (borrower, vehicle and loan are one-to-one), plus the dealers."""

    seed: int
    start: date
    months: int
    dealer_city: I64
    # loan
    dealer: I64
    day: I64
    """Disbursement, in days after `start`."""
    product: I64
    term: I64
    balloon_bp: I64
    """Balloon share of the financed amount in basis points (0 for instalment products)."""
    rate_bp: I64
    price_fen: I64
    down_fen: I64
    principal_fen: I64
    """Financed amount, financed fees included (what `LoanApplication.principal_fen` takes)."""
    # borrower
    id_number: S
    id_county: I64
    birth_days: I64
    """Birth date as days since 1970-01-01."""
    residence_county: I64
    employer_city: I64
    employment: I64
    income_fen: I64
    """Monthly income."""
    savings_months: F64
    phone: S
    surname: I64
    given: I64
    # vehicle
    vin: S
    used: B
    nev: B
    registration_city: I64
    depreciation: F64
    vehicle_age_years: I64
    gps: B
    # derived
    province: I64
    """Index of the dealer's province in the geography."""
    cross_region: B
    """异地: ID registered in another province than the dealer, or living in another city."""
    dti: F64
    """Estimated instalment over monthly income."""
    ltv: F64
    """Amount financed for the car (fees excluded) over its price."""
    young: B
    """Under 25 at disbursement."""

    def __len__(self) -> int:
        return int(self.day.shape[0])

    def columns(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if isinstance(getattr(self, f.name), np.ndarray) and f.name != "dealer_city"}


def _choice(rng: np.random.Generator, options: tuple[tuple[float, float], ...] |
            tuple[tuple[int, float], ...], n: int) -> F64:
    values = np.array([v for v, _ in options], dtype=np.float64)
    weights = np.array([w for _, w in options], dtype=np.float64)
    return values[rng.choice(len(values), size=n, p=weights / weights.sum())]


def _digits(values: I64, width: int) -> npt.NDArray[np.uint8]:
    """(n, width) ASCII digit bytes of non-negative integers."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers[None, :]) % 10 + 48).astype(np.uint8)


def _strings(matrix: npt.NDArray[np.uint8]) -> S:
    width = matrix.shape[1]
    return np.ascontiguousarray(matrix).view(f"S{width}").ravel().astype(f"U{width}")


def resident_ids(county_codes: S, birth_days: I64, sequence: I64) -> S:
    """18-character resident ID numbers with their ISO 7064 MOD 11-2 check characters."""
    region = np.frombuffer(county_codes.astype("S6").tobytes(), dtype=np.uint8).reshape(-1, 6)
    births = np.datetime64("1970-01-01") + birth_days.astype("timedelta64[D]")
    ymd = births.astype("datetime64[D]").astype(str).astype("S10")
    ymd_bytes = np.frombuffer(ymd.tobytes(), dtype=np.uint8).reshape(-1, 10)
    body = np.concatenate([region, ymd_bytes[:, [0, 1, 2, 3, 5, 6, 8, 9]],
                           _digits(sequence, 3)], axis=1)
    total = ((body.astype(np.int64) - 48) * ID_WEIGHTS[None, :]).sum(axis=1)
    check = ID_CHECK[total % 11]
    return _strings(np.concatenate([body, check[:, None]], axis=1))


def vins(rng: np.random.Generator, serial: I64, model_years: I64) -> S:
    """VINs with a real Chinese WMI, random descriptor, model-year code, plant and a serial
    unique per loan; the position-9 check digit is computed (GB 16735 makes it mandatory)."""
    n = serial.shape[0]
    wmi = np.frombuffer(b"".join(WMIS), dtype=np.uint8).reshape(-1, 3)[
        rng.integers(0, len(WMIS), size=n)]
    vds = VIN_ALPHABET[rng.integers(0, len(VIN_ALPHABET), size=(n, 5))]
    vds[:, 4] = VIN_ALPHABET[(serial // 1_000_000) % len(VIN_ALPHABET)]
    year_table = np.zeros(2100, dtype=np.uint8)
    for model_year, letter in YEAR_CODES.items():
        year_table[model_year] = ord(letter)
    year = year_table[np.clip(model_years, 2016, 2035)]
    plant = VIN_ALPHABET[10 + rng.integers(0, 8, size=n)]
    body = np.concatenate([wmi, vds, np.full((n, 1), ord("0"), dtype=np.uint8),
                           year[:, None], plant[:, None], _digits(serial % 1_000_000, 6)],
                          axis=1)
    total = (VIN_VALUES[body] * VIN_WEIGHTS[None, :]).sum(axis=1) % 11
    body[:, 8] = np.where(total == 10, ord("X"), total + 48).astype(np.uint8)
    return _strings(body)


def phones(rng: np.random.Generator, n: int) -> S:
    prefix = np.frombuffer(b"".join(PHONE_PREFIXES), dtype=np.uint8).reshape(-1, 3)[
        rng.integers(0, len(PHONE_PREFIXES), size=n)]
    rest = _digits(rng.integers(0, 100_000_000, size=n, dtype=np.int64), 8)
    return _strings(np.concatenate([prefix, rest], axis=1))


def _pick_county(rng: np.random.Generator, geo: Geography, city: I64) -> I64:
    count = geo.city_county_count[city]
    return geo.city_county_start[city] + (rng.random(city.shape[0]) * count).astype(np.int64)


def _pick_city_in_province(rng: np.random.Generator, geo: Geography, province: I64) -> I64:
    """A city uniformly among the province's cities (cities sorted by code, so by province)."""
    order = np.argsort(geo.city_province, kind="stable")
    first = np.searchsorted(geo.city_province[order], np.arange(len(geo.provinces)))
    count = np.bincount(geo.city_province, minlength=len(geo.provinces))
    pick = first[province] + (rng.random(province.shape[0]) * count[province]).astype(np.int64)
    return order[pick]


def generate_world(loans: int, seed: int, start: date, months: int,
                   spec: WorldSpec | None = None) -> World:
    spec = spec or WorldSpec()
    geo = load_geography()
    products = catalogue_products(spec)
    rng = np.random.Generator(np.random.PCG64(seed))
    n = loans
    n_prov = len(geo.provinces)
    income = geo.income
    gdp = geo.gdp_per_capita * geo.population

    # Dealers: provinces in proportion to GDP, a city uniformly within the province.
    dealers = max(spec.dealers_min, -(-n // spec.loans_per_dealer))
    dealer_province = rng.choice(n_prov, size=dealers, p=gdp / gdp.sum())
    dealer_city = _pick_city_in_province(rng, geo, dealer_province)
    dealer = rng.integers(0, dealers, size=n)
    city = dealer_city[dealer]
    province = geo.city_province[city]

    # Dates.
    origination_days = max(1, int(months * spec.origination_share * 30.4))
    day = np.sort(rng.integers(0, origination_days, size=n))

    # Products and terms.
    mix = np.array([w for _, w in spec.product_mix])
    product = rng.choice(len(mix), size=n, p=mix / mix.sum())
    is_balloon = np.array(products.balloon)[product]
    used = rng.random(n) < spec.used_share
    nev = rng.random(n) < np.where(used, spec.nev_share_used, spec.nev_share_new)
    term = np.where(is_balloon, _choice(rng, spec.balloon_terms, n),
                    _choice(rng, spec.installment_terms, n)).astype(np.int64)
    term = np.where(used, np.minimum(term, spec.used_term_max), term)
    share = _choice(rng, spec.balloon_shares, n)
    share = np.where(used, np.minimum(share, spec.used_balloon_share_max), share)
    balloon_bp = np.where(is_balloon, np.round(share * 10_000), 0).astype(np.int64)

    # Borrowers: employment, income, savings.
    emp_w = np.array([w for _, w in spec.employment_mix])
    employment = rng.choice(len(emp_w), size=n, p=emp_w / emp_w.sum())
    annual_yuan = income[province] * spec.buyer_income_factor * np.exp(
        rng.normal(0.0, spec.income_sigma, size=n))
    income_fen = (np.round(annual_yuan / 12.0) * 100).astype(np.int64)
    savings_months = np.exp(rng.normal(np.log(spec.savings_months_median), spec.savings_sigma,
                                        size=n))

    # Vehicles: price from income, down payment within the LTV rules.
    ratio = np.where(used, spec.price_to_income_used, spec.price_to_income_new)
    price_yuan = annual_yuan * ratio * np.exp(rng.normal(0.0, spec.price_sigma, size=n))
    min_down = 1.0 - np.where(used, spec.max_ltv_used, spec.max_ltv_new)
    down_share = min_down + _choice(rng, spec.extra_down_shares, n)
    per_yuan = _instalment_estimate(np.full(n, 1_000_000.0) * (1 - down_share), term,
                                    balloon_bp, np.full(n, 500)) / 1_000_000.0
    affordable = spec.max_dti * annual_yuan / 12.0 / per_yuan
    price_yuan = np.clip(np.minimum(price_yuan, affordable), np.where(used, 30_000, 60_000),
                         1_500_000)
    price_fen = (np.round(price_yuan / 100.0) * 10_000).astype(np.int64)
    down_fen = (np.ceil(price_fen * down_share / 10_000.0) * 10_000).astype(np.int64)
    fees = np.array(products.financed_fees_fen, dtype=np.int64)[product]
    principal_fen = price_fen - down_fen + fees
    age_years = np.where(used, rng.integers(spec.used_age_years[0], spec.used_age_years[1] + 1,
                                            size=n), 0).astype(np.int64)
    depreciation = np.where(nev, spec.depreciation_nev, spec.depreciation_fuel)
    gps = rng.random(n) < np.where(used, spec.gps_share_used, spec.gps_share_new)

    # Where borrowers come from, live, work, and where the car is registered.
    lo, hi = income.min(), income.max()
    p_other_prov = spec.id_other_province_min + (spec.id_other_province_max
                                                 - spec.id_other_province_min) * (
        (income[province] - lo) / (hi - lo))
    u = rng.random(n)
    origin_weight = geo.population / income
    other_province = rng.choice(n_prov, size=n, p=origin_weight / origin_weight.sum())
    id_province = np.where(u < p_other_prov, other_province, province)
    id_city = np.where(u < p_other_prov + spec.id_other_city_share,
                       _pick_city_in_province(rng, geo, id_province), city)
    id_county = _pick_county(rng, geo, id_city)
    u = rng.random(n)
    res_province = np.where(u < spec.residence_same_city + spec.residence_same_province,
                            province, rng.choice(n_prov, size=n, p=gdp / gdp.sum()))
    res_city = np.where(u < spec.residence_same_city, city,
                        _pick_city_in_province(rng, geo, res_province))
    residence_county = _pick_county(rng, geo, res_city)
    employer_city = np.where(rng.random(n) < 0.9, res_city, city)
    registration_city = np.where(
        (res_city != city) & (rng.random(n) < spec.registration_at_residence), res_city, city)

    # Ages 22–55 at disbursement: of age at booking and at most 60 at maturity.
    start_days = (start - date(1970, 1, 1)).days
    age = rng.integers(22, 56, size=n)
    birth_days = start_days + day - (age * 365.25).astype(np.int64) - rng.integers(0, 365, size=n)
    sequence = rng.integers(0, 1000, size=n)
    id_number = resident_ids(geo.county_codes[id_county], birth_days, sequence)
    disb_year = (np.datetime64(start) + day.astype("timedelta64[D]")).astype(
        "datetime64[Y]").astype(np.int64) + 1970
    vin = vins(rng, np.arange(n, dtype=np.int64), disb_year - age_years)
    phone = phones(rng, n)
    surname = rng.integers(0, len(SURNAMES), size=n)
    given = rng.integers(0, len(GIVEN), size=(n,))

    # Rates: promotional for new cars, higher for used, plus a risk premium.
    cross = (id_province != province) | (res_city != city)
    instalment = _instalment_estimate(principal_fen, term, balloon_bp, np.full(n, 500))
    dti = instalment / np.maximum(income_fen, 1)
    ltv = (principal_fen - fees) / price_fen
    # The lender's pricing: promotional rates for new cars, higher for used, a premium for
    # stretched budgets and cross-region borrowers (whole basis points).
    base_bp = np.where(used, 799, np.where(is_balloon, 399, 499))
    premium = np.clip(np.maximum(dti - 0.3, 0) * 1000, 0, 300) + 100 * cross + 50 * (age < 25)
    rate_bp = (base_bp + np.round(premium)).astype(np.int64)

    return World(
        seed=seed, start=start, months=months, dealer_city=dealer_city.astype(np.int64),
        dealer=dealer.astype(np.int64), day=day.astype(np.int64),
        product=product.astype(np.int64), term=term, balloon_bp=balloon_bp, rate_bp=rate_bp,
        price_fen=price_fen, down_fen=down_fen, principal_fen=principal_fen,
        id_number=id_number, id_county=id_county.astype(np.int64),
        birth_days=birth_days.astype(np.int64), residence_county=residence_county.astype(np.int64),
        employer_city=employer_city.astype(np.int64), employment=employment.astype(np.int64),
        income_fen=income_fen, savings_months=savings_months, phone=phone,
        surname=surname.astype(np.int64), given=given.astype(np.int64), vin=vin,
        used=used, nev=nev, registration_city=registration_city.astype(np.int64),
        depreciation=depreciation, vehicle_age_years=age_years, gps=gps,
        province=province.astype(np.int64), cross_region=cross, dti=dti, ltv=ltv,
        young=age < 25,
    )


def _instalment_estimate(principal: I64 | F64, term: I64, balloon_bp: I64, rate_bp: I64
                         ) -> F64:
    """The level monthly payment in fen (float: for behaviour, never booked)."""
    r = rate_bp / 10_000.0 / 12.0
    balloon = principal * balloon_bp / 10_000.0
    growth = (1 + r) ** term
    return r * (principal * growth - balloon) / (growth - 1)


def instalment_estimate(world: World) -> F64:
    return _instalment_estimate(world.principal_fen, world.term, world.balloon_bp, world.rate_bp)


def vehicle_value_fen(world: World, index: I64, on: date) -> I64:
    """Market value on `on`: the price, depreciated from the car's first registration."""
    years = (on - world.start).days / 365.25 - world.day[index] / 365.25
    age = years + world.vehicle_age_years[index]
    new_price = world.price_fen[index] / (1 - world.depreciation[index]) ** (
        world.vehicle_age_years[index])
    value = new_price * (1 - world.depreciation[index]) ** age
    return (np.round(value / 100.0) * 100).astype(np.int64)


def loan_id(index: int) -> str:
    return f"SIM{index:07d}"


def disbursement_date(world: World, index: int) -> date:
    return world.start + timedelta(days=int(world.day[index]))


def rate(world: World, index: int) -> Decimal:
    return Decimal(int(world.rate_bp[index])) / Decimal(10_000)


def person_name(world: World, index: int) -> str:
    g = int(world.given[index])
    return SURNAMES[int(world.surname[index])] + GIVEN[g] + GIVEN[(g * 7 + 3) % len(GIVEN)]
