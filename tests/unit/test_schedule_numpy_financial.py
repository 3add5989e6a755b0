"""Schedules checked against numpy-financial, a reference nobody on this team wrote.

How the comparison is made fair. numpy-financial computes in binary floating point and never
rounds; a real schedule rounds its payment once and the interest of every period once, and the
balance carries those rounded numbers forward. So "equal to the fen" means different things for
different quantities, and each test below states which one it checks:

1. The level payment is computed once from the loan's terms, so it must equal numpy-financial's
   `pmt` rounded half-up to the fen exactly (with a balloon: `pmt` with fv = −balloon).
2. Each period's interest and principal, given the balance the schedule actually carries into
   that period and the schedule's rounded payment, must equal `ipmt`/`ppmt` of that same period
   rounded half-up, exactly. The period is posed to numpy-financial as the first period of an
   annuity on the carried balance over the remaining term whose future value (`npf.fv`) makes its
   payment our rounded payment: that is the same period under the same payment, without our
   rounding of earlier periods.
3. Against numpy-financial's own unrounded run of the whole loan (`ipmt`/`ppmt` with per = k on
   the original principal), the schedule may drift, because the rounding of the payment (δ, at
   most half a fen) and of each period's interest (at most half a fen) compounds at the monthly
   rate: after k periods the balances differ by at most (|δ| + ½)·((1 + r)^k − 1)/r fen. That
   bound is derived, not fitted, and the test asserts it period by period.

A float cannot decide a rounding when its value lies within about 1e-6 fen of a half fen; every
case in the table is checked to be clear of that, so the comparisons are exact, not lucky.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import numpy_financial as npf
import pytest

from tailguard.loans.products import RepaymentMethod
from tailguard.loans.schedule import build_schedule, level_payment_fen

TIE_MARGIN_FEN = 1e-6

# numpy-financial evaluates its rate-zero formula and its general one and then picks; the
# discarded general branch divides by the zero rate. The chosen value is exact.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in divide")

# principal (fen), annual rate, term (months): auto loans, the 1–5 year band, and mortgage sizes.
PLAIN_LOANS = [
    (20_000_000, "0.0475", 36),
    (15_000_000, "0.0399", 60),
    (8_888_888, "0.1288", 24),
    (5_000_000, "0.24", 12),
    (1_000_000, "0.36", 6),
    (33_333_333, "0.0725", 48),
    (123_456_789, "0.0588", 180),
    (10_000_000, "0.049", 120),
    (63_000_000, "0.049", 360),
    (100_000_000, "0.049", 360),
    (300_000_000, "0.0325", 300),
    (250_000_000, "0.0655", 360),
    (1_000_001, "0", 12),
]

# principal (fen), balloon (fen), annual rate, term (months).
BALLOON_LOANS = [
    (20_000_000, 6_000_000, "0.0475", 12),
    (20_000_000, 6_000_000, "0.0475", 36),
    (25_000_000, 12_500_000, "0.0599", 48),
    (18_765_432, 1_876_543, "0.0888", 24),
    (30_000_000, 12_000_000, "0.0399", 36),
    (9_999_999, 4_999_999, "0.1999", 60),
    (50_000_000, 15_000_000, "0", 36),
]


def half_up(value: float) -> int:
    """numpy-financial's float, rounded half-up to whole fen, refusing undecidable ties."""
    fraction = abs(value) % 1
    assert abs(fraction - 0.5) > TIE_MARGIN_FEN, f"{value} is too close to a tie to decide"
    return int(Decimal(value).quantize(Decimal(1), ROUND_HALF_UP))


def monthly(rate_text: str) -> float:
    return float(rate_text) / 12


@pytest.mark.parametrize(("principal_fen", "rate", "term"), PLAIN_LOANS)
def test_level_payment_is_pmt_rounded_to_the_fen(principal_fen: int, rate: str, term: int) -> None:
    expected = half_up(-npf.pmt(monthly(rate), term, principal_fen))
    assert level_payment_fen(principal_fen, 0, Decimal(rate), term) == expected


@pytest.mark.parametrize(("principal_fen", "balloon_fen", "rate", "term"), BALLOON_LOANS)
def test_balloon_payment_is_pmt_with_the_balloon_as_future_value(
    principal_fen: int, balloon_fen: int, rate: str, term: int
) -> None:
    expected = half_up(-npf.pmt(monthly(rate), term, principal_fen, fv=-balloon_fen))
    assert level_payment_fen(principal_fen, balloon_fen, Decimal(rate), term) == expected


def plain_schedule(principal_fen: int, rate: str, term: int) -> list[tuple[int, int, int]]:
    """(opening balance, interest, principal) of each period of an equal-instalment loan."""
    installments = build_schedule(
        principal_fen=principal_fen,
        annual_rate=Decimal(rate),
        method=RepaymentMethod.EQUAL_INSTALLMENT,
        term_months=term,
        start=date(2026, 1, 15),
    )
    opening = [principal_fen] + [i.balance_after_fen for i in installments[:-1]]
    return [
        (balance, i.interest_fen, i.principal_fen)
        for balance, i in zip(opening, installments, strict=True)
    ]


@pytest.mark.parametrize(("principal_fen", "rate", "term"), PLAIN_LOANS)
def test_every_period_is_ipmt_and_ppmt_of_that_period_on_the_carried_balance(
    principal_fen: int, rate: str, term: int
) -> None:
    r = monthly(rate)
    payment_fen = level_payment_fen(principal_fen, 0, Decimal(rate), term)
    periods = plain_schedule(principal_fen, rate, term)
    for k, (balance, interest, principal) in enumerate(periods[:-1], start=1):
        remaining = term - k + 1
        future_value = npf.fv(r, remaining, -payment_fen, balance)
        assert interest == half_up(-npf.ipmt(r, 1, remaining, balance, future_value)), k
        assert principal == half_up(-npf.ppmt(r, 1, remaining, balance, future_value)), k
    # The last period repays the carried balance in full: one period, no future value.
    balance, interest, principal = periods[-1]
    assert interest == half_up(-npf.ipmt(r, 1, 1, balance))
    assert principal == half_up(-npf.ppmt(r, 1, 1, balance)) == balance


@pytest.mark.parametrize(("principal_fen", "rate", "term"), PLAIN_LOANS)
def test_whole_loan_stays_within_the_proven_rounding_drift_of_numpy_financial(
    principal_fen: int, rate: str, term: int
) -> None:
    r = monthly(rate)
    exact_payment = -npf.pmt(r, term, principal_fen)
    delta = abs(level_payment_fen(principal_fen, 0, Decimal(rate), term) - exact_payment)
    assert delta <= 0.5

    def drift_bound(k: int) -> float:
        """Largest balance difference after k periods (see the module docstring)."""
        return (delta + 0.5) * (((1 + r) ** k - 1) / r if r else k)

    per = np.arange(1, term + 1)
    npf_interest = -npf.ipmt(r, per, term, principal_fen)
    npf_principal = -npf.ppmt(r, per, term, principal_fen)
    npf_opening = principal_fen - np.concatenate(([0.0], np.cumsum(npf_principal)[:-1]))
    periods = plain_schedule(principal_fen, rate, term)
    for k, (balance, interest, principal) in enumerate(periods, start=1):
        bound = drift_bound(k - 1) + 1e-6
        assert abs(balance - npf_opening[k - 1]) <= bound, k
        assert abs(interest - npf_interest[k - 1]) <= 0.5 + r * bound, k
        if k < term:
            assert abs(principal - npf_principal[k - 1]) <= delta + 0.5 + r * bound, k
    # Short loans (up to five years) stay within one fen of numpy-financial in every period.
    if term <= 60:
        interest_fen = np.array([interest for _, interest, _ in periods])
        assert np.all(np.abs(interest_fen - npf_interest) < 1)
