"""The simulator's pure parts: the generated world against its specification, determinism,
counter-based random numbers and the behaviour rules."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from tailguard.loans.products import standard_catalogue
from tailguard.origination import identity
from tailguard.simulation import behaviour as bh
from tailguard.simulation.config import Behaviour, Treatments, WorldSpec
from tailguard.simulation.economy import load_geography, read_provinces
from tailguard.simulation.world import catalogue_products, generate_world

START = date(2024, 1, 1)
README = Path(__file__).parents[2] / "src" / "tailguard" / "simulation" / "README.md"


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return generate_world(20_000, 7, START, 24)


def test_same_seed_same_world_byte_for_byte_and_other_seeds_differ() -> None:
    a = generate_world(3_000, 11, START, 24)
    b = generate_world(3_000, 11, START, 24)
    c = generate_world(3_000, 12, START, 24)
    for name, column in a.columns().items():
        assert column.tobytes() == getattr(b, name).tobytes(), name
    assert a.id_number.tobytes() != c.id_number.tobytes()
    assert a.price_fen.tobytes() != c.price_fen.tobytes()


def test_every_id_number_vin_and_phone_passes_the_platforms_checks() -> None:
    w = generate_world(3_000, 3, START, 36)
    for i in range(len(w)):
        disbursed = date.fromordinal(START.toordinal() + int(w.day[i]))
        maturity = date(disbursed.year + int(w.term[i]) // 12 + 1, 12, 31)
        resident = identity.borrower_identity(str(w.id_number[i]), application_date=disbursed,
                                              maturity_date=maturity)
        assert resident.region_code == str(load_geography().county_codes[w.id_county[i]])
        assert identity.vin(str(w.vin[i])) == str(w.vin[i])
        identity.mobile_phone(str(w.phone[i]))
    assert len(set(w.vin.tolist())) == len(w)


def test_portfolio_matches_its_specification(world) -> None:  # type: ignore[no-untyped-def]
    spec = WorldSpec()
    products = catalogue_products(spec)
    n = len(world)
    for k, (_, share) in enumerate(spec.product_mix):
        assert abs((world.product == k).mean() - share) < 0.02
    balloon = np.array(products.balloon)[world.product]
    assert (world.balloon_bp[~balloon] == 0).all()
    assert world.balloon_bp[balloon].min() >= 1_000 and world.balloon_bp.max() <= 4_000
    assert world.balloon_bp[balloon & world.used].max() <= 3_000
    assert world.term.min() >= 12 and world.term.max() <= 60
    assert world.term[world.used].max() <= 36
    assert world.term[balloon].max() <= 48
    assert abs(world.used.mean() - spec.used_share) < 0.02
    # LTV (amount financed for the car, fees excluded, over the price) within the rules.
    assert world.ltv[~world.used].max() <= spec.max_ltv_new + 1e-9
    assert world.ltv[world.used].max() <= spec.max_ltv_used + 1e-9
    fees = np.array(products.financed_fees_fen)[world.product]
    assert ((world.principal_fen - fees) == world.price_fen - world.down_fen).all()
    assert (world.price_fen % 10_000 == 0).all() and (world.down_fen % 10_000 == 0).all()
    limits = {p.code: p.limits for p in standard_catalogue()}
    for k, code in enumerate(products.codes):
        chosen = world.principal_fen[world.product == k]
        assert chosen.min() >= limits[code].principal_fen_min
        assert chosen.max() <= limits[code].principal_fen_max
    # Cross-region borrowers: a substantial minority, as documented (15–40 %).
    assert 0.15 <= world.cross_region.mean() <= 0.40
    assert 0.5 <= world.gps.mean() <= 0.8
    assert world.price_fen.dtype == np.int64 and world.principal_fen.dtype == np.int64
    assert n == 20_000


def test_regions_are_real_gbt2260_divisions_with_nbs_indicators() -> None:
    provinces = read_provinces()
    assert len(provinces) == 31
    by_code = {p.code: p for p in provinces}
    assert by_code["110000"].gdp_per_capita_yuan > by_code["620000"].gdp_per_capita_yuan
    geo = load_geography()
    assert "440300" in set(geo.city_codes.tolist())  # 深圳市
    assert all(re.fullmatch(r"\d{6}", c) for c in geo.county_codes.tolist())


def test_uniforms_are_fixed_by_their_counters() -> None:
    loans = np.arange(10_000, dtype=np.int64)
    u = bh.uniforms(5, loans, 3, bh.Purpose.MISS)
    assert ((u >= 0) & (u < 1)).all()
    assert abs(u.mean() - 0.5) < 0.02
    assert np.array_equal(u, bh.uniforms(5, loans, 3, bh.Purpose.MISS))
    assert not np.array_equal(u, bh.uniforms(5, loans, 4, bh.Purpose.MISS))
    assert not np.array_equal(u, bh.uniforms(6, loans, 3, bh.Purpose.MISS))
    assert not np.array_equal(u, bh.uniforms(5, loans, 3, bh.Purpose.CURE))


def test_treatments_reach_only_would_be_misses() -> None:
    u = np.linspace(0, 1, 1001, endpoint=False)
    assert not bh.rescued(Treatments(), u).any()
    rescued = bh.rescued(Treatments(reminder=0.08), u)
    assert abs(rescued.mean() - 0.08) < 0.002
    cure, partial = bh.cure_probability(Behaviour(), Treatments(collections=0.1),
                                        np.array([1, 2, 9]))
    base, _ = bh.cure_probability(Behaviour(), Treatments(), np.array([1, 2, 9]))
    assert (cure > base).all() and (cure + partial <= 1).all()


def test_balloon_choice_leaves_out_refused_options() -> None:
    kwargs = dict(equity_ratio=-0.5, liquid=False, delinquent=True, can_refinance=False,
                  can_extend=False, can_return=False, can_trade_in=False, risk=1.0)
    seen = {bh.balloon_choice(Behaviour(), Treatments(), u, 0.5, **kwargs)  # type: ignore[arg-type]
            for u in np.linspace(0, 0.999, 200)}
    assert seen <= {bh.BalloonChoice.SETTLE, bh.BalloonChoice.DEFAULT}
    liquid = dict(kwargs, liquid=True, delinquent=False, equity_ratio=0.5, can_trade_in=True)
    seen = {bh.balloon_choice(Behaviour(), Treatments(), u, 0.5, **liquid)  # type: ignore[arg-type]
            for u in np.linspace(0, 0.999, 200)}
    assert bh.BalloonChoice.TRADE_IN in seen and bh.BalloonChoice.RETURN not in seen


def test_the_readme_documents_every_parameter() -> None:
    text = README.read_text(encoding="utf-8")
    for cls in (WorldSpec, Behaviour, Treatments):
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in text, f"{cls.__name__}.{f.name} missing from the README"
