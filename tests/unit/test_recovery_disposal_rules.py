"""A vehicle sale's arithmetic and the order of the disposal steps, without a database."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tailguard.errors import InvalidInput, Refused
from tailguard.recovery import disposal as d


def test_storage_is_charged_per_day_before_the_sale_day() -> None:
    assert d.storage_fees_fen(50_00, date(2026, 3, 1), date(2026, 3, 11)) == 500_00
    assert d.storage_fees_fen(50_00, date(2026, 3, 11), date(2026, 3, 11)) == 0
    with pytest.raises(InvalidInput):
        d.storage_fees_fen(-1, date(2026, 3, 1), date(2026, 3, 2))


def test_the_steps_come_in_order_and_a_sale_happens_once() -> None:
    for status, code in ((None, "NOT_REPOSSESSED"), (d.STORED, "NOT_APPRAISED"),
                         (d.SOLD, "ALREADY_SOLD")):
        with pytest.raises(Refused) as refused:
            d.check_sale_order(status)
        assert refused.value.code == code
    d.check_sale_order(d.APPRAISED)


def test_surplus_and_shortfall_to_the_fen() -> None:
    above = d.sale_figures(100_000_00, 1_000_00, 250_00, 90_000_01)
    assert (above.net_fen, above.applied_fen, above.surplus_fen, above.shortfall_fen) == (
        98_750_00, 90_000_01, 8_749_99, 0)
    below = d.sale_figures(50_000_00, 0, 0, 90_000_01)
    assert (below.applied_fen, below.surplus_fen, below.shortfall_fen) == (
        50_000_00, 0, 40_000_01)
    with pytest.raises(Refused):
        d.sale_figures(1_00, 1_00, 1, 10)


@given(st.integers(1, 10**10), st.integers(0, 10**8), st.integers(0, 10**7),
       st.integers(1, 10**10))
def test_the_parts_always_add_up(price: int, fees: int, storage: int, owed: int) -> None:
    if price - fees - storage < 0:
        return
    f = d.sale_figures(price, fees, storage, owed)
    assert f.net_fen == price - fees - storage == f.applied_fen + f.surplus_fen
    assert f.owed_fen == f.applied_fen + f.shortfall_fen
    assert min(f.applied_fen, f.surplus_fen, f.shortfall_fen) >= 0
    assert f.surplus_fen == 0 or f.shortfall_fen == 0
