"""Loan stories: whole servicing lives told in the story notation of `story.py`.

Expected amounts are worked by hand in the comments (rate × multiplier / 360 × days for
penalty; the schedule's own instalments for what falls due), not read back from the code.
"""

from __future__ import annotations

import warnings

import pytest

from tailguard.calendar import CalendarFallbackWarning
from tests.scenarios.story import run_story

pytestmark = pytest.mark.filterwarnings("ignore", category=CalendarFallbackWarning)


def test_on_time_payer_owes_nothing_after_the_last_instalment() -> None:
    story = run_story("""
        loan auto-equal-installment principal=100000 rate=6 term=12 start=2026-01-15
        2026-02-15 expect dpd=0 bucket=C
    """ + "\n".join(
        f"{d} pay-due {n}"
        for n, d in enumerate(
            ["2026-02-15", "2026-03-15", "2026-04-15", "2026-05-15", "2026-06-15",
             "2026-07-15", "2026-08-15", "2026-09-15", "2026-10-15", "2026-11-15",
             "2026-12-15", "2027-01-15"], start=1)
    ) + """
        2027-01-15 expect paid-off penalty=0 principal=0 dpd=0
    """)
    assert story.account is not None


def test_late_payment_owes_penalty_from_the_due_date() -> None:
    # 200,000 at 4.75 %, 36 months, 30 % balloon: instalment 2 (due Tue 2026-03-10) is
    # 4,417.73 of which principal 3,640.42. Penalty 3,640.42 × 4.75 % × 1.5 / 360 a day:
    # 15 days = 10.81, 16 days = 11.53.
    run_story("""
        loan auto-balloon principal=200000 rate=4.75 term=36 start=2026-01-10 balloon=30%
        2026-02-10 pay-due 1
        2026-03-10 expect dpd=0 bucket=C arrears=4417.73
        2026-03-11 expect dpd=1 bucket=M1 penalty=0.72
        2026-03-25 expect dpd=15 bucket=M1 penalty=10.81 arrears=4428.54
        2026-03-26 pay 4429.26
        2026-03-26 expect dpd=0 bucket=C penalty=0 credit=0 arrears=0
    """)


def test_partial_payment_lowers_penalty_and_reversal_restores_everything() -> None:
    run_story("""
        loan auto-balloon principal=200000 rate=4.75 term=36 start=2026-01-10 balloon=30%
        2026-02-10 pay-due 1
        2026-03-20 pay 1000.00 id=bounce
        2026-03-20 pay 2000.00 id=good
        2026-03-21 reverse bounce
        # as if only 2,000 had been paid on 03-20: penalty 10 days on 3,640.42 is 7.204998…
        # = 7.20; the 2,000 settles penalty 7.20, interest 777.31 and principal 1,215.49; then
        # one more day on 2,424.93 of principal = 0.48.
        2026-03-21 expect dpd=11 penalty=0.48 overdue-principal=2424.93
    """)


def test_holiday_due_date_grace_to_next_working_day() -> None:
    # Due 2026-10-01, National Day; the holiday runs to 10-07 and 10-08 is a working day.
    run_story("""
        loan auto-equal-installment principal=100000 rate=6 term=12 start=2026-09-01
        2026-10-08 expect dpd=0 bucket=C penalty=0 arrears=8606.64
        2026-10-08 pay-due 1
        2026-10-09 expect dpd=0 penalty=0 arrears=0
    """)
    # Paid one day after the grace: penalty from the due date, 8 days on 8,106.64 at
    # 6 % × 1.5 / 360 = 2.03 a day → 16.21.
    run_story("""
        loan auto-equal-installment principal=100000 rate=6 term=12 start=2026-09-01
        2026-10-09 expect dpd=8 bucket=M1 penalty=16.21
        2026-10-09 pay 8622.85
        2026-10-09 expect dpd=0 penalty=0 arrears=0 credit=0
    """)


def test_overpayment_waits_as_credit_and_pays_the_next_instalment() -> None:
    run_story("""
        loan auto-equal-installment principal=100000 rate=6 term=12 start=2026-01-15
        2026-02-15 pay 10000.00
        2026-02-15 expect credit=1393.36 arrears=0
        2026-03-15 expect credit=0 arrears=7213.28
    """)


def test_penalty_waiver() -> None:
    run_story("""
        loan auto-balloon principal=200000 rate=4.75 term=36 start=2026-01-10 balloon=30%
        # instalment 1 (due 2026-02-10) has principal 3,626.06: 15 days at 4.75 % × 1.5 / 360
        # = 10.7654… → 10.76
        2026-02-25 expect penalty=10.76 dpd=15
        2026-02-25 waive penalty 5.00
        2026-02-25 expect penalty=5.76
    """)


def test_balloon_settled_at_maturity() -> None:
    lines = ["loan auto-balloon principal=200000 rate=4.75 term=36 start=2026-01-10 balloon=30%"]
    lines += [f"2026-{m:02d}-10 pay-due {m - 1}" for m in range(2, 13)]
    lines += [f"2027-{m:02d}-10 pay-due {m + 11}" for m in range(1, 13)]
    lines += [f"2028-{m:02d}-10 pay-due {m + 23}" for m in range(1, 13)]
    lines += [
        # The final instalment: 64,163.71 principal (60,000 balloon) + 253.98 interest.
        "2029-01-10 expect arrears=64417.69 principal=64163.71",
        "2029-01-10 settle",
        "2029-01-10 expect paid-off principal=0",
    ]
    run_story("\n".join(lines))


def test_extension_within_and_beyond_the_legal_caps() -> None:
    base = "loan auto-balloon principal=200000 rate=4.75 term=36 start=2026-01-10 balloon=30%\n"
    run_story(base + """
        # 36-month new-car loan: Art. 12 allows 18 months, the 60-month total allows 24.
        2028-12-20 extend 19 -> refused EXTENSION_OVER_CAP
        2028-12-20 extend 12 guarantor=yes -> refused GUARANTOR_CONSENT_MISSING
        2028-12-20 extend 12 guarantor=yes consent=yes
        2028-12-20 expect installments=48 version=2
        2028-12-20 extend 7 -> refused EXTENSION_OVER_CAP
    """)
    # A used car: at most 36 months in total, so a 36-month loan cannot be extended at all.
    run_story("""
        loan auto-balloon principal=200000 rate=4.75 term=36 start=2026-01-10 balloon=30% used=yes
        2028-12-20 extend 1 -> refused EXTENSION_OVER_CAP
    """)


def test_refinance_the_balloon_into_new_instalments() -> None:
    run_story("""
        loan auto-balloon principal=200000 rate=4.75 term=36 start=2026-01-10 balloon=30%
        2028-12-20 refinance 40 at 6 -> refused REFINANCE_TERM_OUT_OF_RANGE
        2028-12-20 refinance 12 at 6
        2028-12-20 expect installments=48 version=2
        2029-01-11 expect principal=200000.00
    """)


def test_return_the_car_with_a_shortfall_restructured() -> None:
    run_story("""
        loan auto-balloon principal=200000 rate=4.75 term=36 start=2026-01-10 balloon=30%
        2029-01-10 return-car 50000 -> refused RETURN_NOT_ALLOWED
    """)
    lines = [
        "loan auto-balloon-choose-later principal=200000 rate=4.75 term=36 start=2026-01-10"
        " balloon=30%"
    ]
    lines += [f"2026-{m:02d}-10 pay-due {m - 1}" for m in range(2, 13)]
    lines += [f"2027-{m:02d}-10 pay-due {m + 11}" for m in range(1, 13)]
    lines += [f"2028-{m:02d}-10 pay-due {m + 23}" for m in range(1, 13)]
    lines += [
        # Owed at maturity: the final instalment, 64,417.69. The car fetches 70,000.
        "2029-01-10 return-car 70000",
        "2029-01-10 expect paid-off surplus=5582.31 shortfall=0",
    ]
    run_story("\n".join(lines))
    lines[-2:] = [
        "2029-01-10 return-car 50000 shortfall-months=6",
        "2029-01-10 expect shortfall=14417.69 arrears=0 principal=14417.69 version=3",
    ]
    run_story("\n".join(lines))


def test_partial_prepayment_shortens_the_term() -> None:
    run_story("""
        loan auto-equal-installment principal=100000 rate=6 term=12 start=2026-01-15
        2026-02-15 pay-due 1
        2026-03-15 pay-due 2
        2026-03-15 prepay 30000 shorten-term
        2026-03-15 expect arrears=0 credit=0
        2026-03-16 expect dpd=0
    """)


def test_restructure_of_arrears() -> None:
    run_story("""
        loan auto-equal-installment principal=100000 rate=6 term=12 start=2026-01-15
        # oldest unpaid due date 2026-02-15: 28 + 31 + 30 + 5 = 94 days
        2026-05-20 expect dpd=94 bucket=M4
        2026-05-20 restructure 24 rate=6
        2026-05-20 expect dpd=0 bucket=C arrears=0 version=2
    """)


def test_warnings_module_is_quiet_for_known_years() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalendarFallbackWarning)
        run_story("""
            loan auto-equal-installment principal=100000 rate=6 term=12 start=2025-01-15
            2025-03-01 expect dpd=14
        """)
