"""Schedules checked against published bank-calculator results for 等额本息 and 等额本金.

Sources. Chinese banks' mortgage calculators print the monthly payment, the first months'
interest and principal, and for 等额本金 the first payment and the monthly decrease; their
results for the classic 4.90 % rate (the PBoC 5-year-plus benchmark until 2019) are reproduced
on many Chinese question-and-answer pages. The examples used here, as retrieved:

- A: 100,000 yuan, 10 years, 4.90 %, 等额本息: monthly 1,055.77; first month interest 408.33 and
  principal 647.44; second month interest 405.69 and principal 650.08.
  http://m.789yingshi.cn/wenda/244196.html
- B: 1,000,000 yuan, 20 years, 4.90 %, 等额本息: monthly 6,544.44; first month interest 4,083.33
  and principal 2,461.11. http://372181.com/wenda/229816.html
- C: 630,000 yuan, 30 years, 4.90 %: 等额本息 monthly 3,343.58; 等额本金 first payment 4,322.50,
  then 7.15 less each month, total interest 464,336.25. http://vdgb.cn/wenda/220578.html
- D: 1,000,000 yuan, 30 years, 4.90 %, the most widely reproduced example (no single page is cited
  for it): 等额本息 monthly 5,307.27, first month interest 4,083.33 and principal 1,223.94;
  等额本金 first payment 6,861.11, then 11.34 less each month.

Every number asserted was recomputed independently before being written down (the comments
show the arithmetic). Totals of 等额本息 are not asserted: the pages compute them from the
unrounded payment (C prints 1,203,688.2, not 360 × 3,343.58), which no booked schedule can show.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import pairwise

import pytest

from tailguard.loans.products import RepaymentMethod, ResidualTo
from tailguard.loans.schedule import Installment, build_schedule

RATE = Decimal("0.049")


def schedule(
    principal_yuan: int,
    years: int,
    method: RepaymentMethod,
    residual_to: ResidualTo = ResidualTo.LAST,
) -> tuple[Installment, ...]:
    return build_schedule(
        principal_fen=principal_yuan * 100,
        annual_rate=RATE,
        method=method,
        term_months=years * 12,
        start=date(2026, 1, 15),
        residual_to=residual_to,
    )


@pytest.mark.parametrize(
    ("principal_yuan", "years", "payment_fen", "first_months"),
    [
        # A: 100,000 × 0.049 / 12 = 408.333 → 408.33; 1,055.77 − 408.33 = 647.44;
        #    (100,000 − 647.44) × 0.049 / 12 = 405.689 → 405.69; 1,055.77 − 405.69 = 650.08.
        (100_000, 10, 105_577, [(40_833, 64_744), (40_569, 65_008)]),
        # B: 1,000,000 × 0.049 / 12 = 4,083.333 → 4,083.33; 6,544.44 − 4,083.33 = 2,461.11.
        (1_000_000, 20, 654_444, [(408_333, 246_111)]),
        # C: 630,000 × 0.049 / 12 = 2,572.50 exactly; 3,343.58 − 2,572.50 = 771.08.
        (630_000, 30, 334_358, [(257_250, 77_108)]),
        # D: 4,083.33 as in B; 5,307.27 − 4,083.33 = 1,223.94.
        (1_000_000, 30, 530_727, [(408_333, 122_394)]),
    ],
    ids=["A-100k-10y", "B-1m-20y", "C-630k-30y", "D-1m-30y"],
)
def test_equal_installment_matches_published_calculators(
    principal_yuan: int, years: int, payment_fen: int, first_months: list[tuple[int, int]]
) -> None:
    installments = schedule(principal_yuan, years, RepaymentMethod.EQUAL_INSTALLMENT)
    assert all(i.payment_fen == payment_fen for i in installments[:-1])
    for installment, (interest_fen, principal_fen) in zip(installments, first_months, strict=False):
        assert (installment.interest_fen, installment.principal_fen) == (
            interest_fen,
            principal_fen,
        )


def test_equal_principal_630k_matches_the_published_calculator() -> None:
    installments = schedule(630_000, 30, RepaymentMethod.EQUAL_PRINCIPAL)
    # 630,000 / 360 = 1,750.00 exactly, so no convention for leftover fen is involved.
    assert {i.principal_fen for i in installments} == {175_000}
    # 1,750.00 + 630,000 × 0.049 / 12 = 1,750.00 + 2,572.50 = 4,322.50.
    assert installments[0].payment_fen == 432_250
    # The published decrease is 1,750 × 0.049 / 12 = 7.1458 → 7.15; a schedule that rounds each
    # month's interest separately decreases by 7.14 or 7.15, averaging the exact 7.1458.
    decreases = [a.payment_fen - b.payment_fen for a, b in pairwise(installments)]
    assert set(decreases) == {714, 715}
    assert abs(Decimal(sum(decreases)) / len(decreases) - Decimal("714.583")) < 1
    # The published total interest, 464,336.25, is the unrounded sum 1,750 × 0.049/12 × Σk
    # (k = 1..360). Each booked month rounds once, by at most half a fen.
    total_interest_fen = sum(i.interest_fen for i in installments)
    assert abs(total_interest_fen - 46_433_625) <= 360 // 2


def test_equal_principal_1m_interest_side_matches_the_published_calculator() -> None:
    installments = schedule(1_000_000, 30, RepaymentMethod.EQUAL_PRINCIPAL)
    # First month interest 1,000,000 × 0.049 / 12 = 4,083.33, as in D.
    assert installments[0].interest_fen == 408_333
    # Published: 11.34 less each month (2,777.78 × 0.049 / 12 = 11.3426). With each month's
    # interest rounded on its own the decrease is 11.34 or 11.35, up to the month before the
    # last (the last instalment takes the leftover fen of the principal split).
    decreases = [a.payment_fen - b.payment_fen for a, b in pairwise(installments[:-1])]
    assert set(decreases) == {1134, 1135}


def test_equal_principal_1m_first_payment_matches_the_published_calculator() -> None:
    installments = schedule(1_000_000, 30, RepaymentMethod.EQUAL_PRINCIPAL)
    assert installments[0].principal_fen == 277_778
    assert installments[0].payment_fen == 686_111
