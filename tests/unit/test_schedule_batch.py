"""Examples for the column-wise schedule kernel: layout, dates, overflow path, refusals.

The property test in tests/property/test_schedule_batch_matches.py proves the numbers equal to
`build_schedule`; these examples pin down what a reader of the output relies on: rows in input
order, empty cells past a shorter term, read-only columns, month-end clamping, the exact path
for numbers too large for int64, and errors naming the column.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from tailguard.errors import InvalidInput
from tailguard.loans.products import RepaymentMethod
from tailguard.loans.schedule import build_schedule, level_payment_fen
from tailguard.loans.schedule_batch import INT64_PRODUCT_MAX, build_schedule_batch


def batch_of(**overrides: object) -> dict[str, object]:
    columns: dict[str, object] = {
        "principal_fen": [20_000_000, 12_345_678, 30_000_000],
        "balloon_fen": [6_000_000, 0, 15_000_000],
        "annual_rate": [Decimal("0.0475"), Decimal("0.0399"), Decimal("0.0475")],
        "term_months": [36, 12, 36],
        "start": [date(2026, 1, 31), date(2024, 2, 29), date(2026, 3, 15)],
    }
    columns.update(overrides)
    return columns


def test_rows_follow_the_input_and_shorter_terms_leave_empty_cells() -> None:
    batch = build_schedule_batch(**batch_of())  # type: ignore[arg-type]
    assert (batch.loans, batch.periods) == (3, 36)
    assert batch.term_months.tolist() == [36, 12, 36]
    assert np.isnat(batch.due_date[1, 12:]).all()
    assert not batch.payment_fen[1, 12:].any()
    assert batch.in_term.sum(axis=1).tolist() == [36, 12, 36]
    assert batch.level_payment_fen.tolist() == [
        level_payment_fen(20_000_000, 6_000_000, Decimal("0.0475"), 36),
        level_payment_fen(12_345_678, 0, Decimal("0.0399"), 12),
        level_payment_fen(30_000_000, 15_000_000, Decimal("0.0475"), 36),
    ]


def test_balloon_is_repaid_with_the_last_instalment_and_principal_sums_exactly() -> None:
    batch = build_schedule_batch(**batch_of())  # type: ignore[arg-type]
    assert batch.principal_fen.sum(axis=1).tolist() == [20_000_000, 12_345_678, 30_000_000]
    # The last instalment is one more level payment plus the balloon, give or take the fen
    # that per-period rounding moves into it (at most a few over 36 periods).
    final_without_balloon = int(batch.payment_fen[0, 35]) - 6_000_000
    assert abs(final_without_balloon - int(batch.level_payment_fen[0])) <= 5
    assert batch.principal_fen[0, 35] == batch.balance_after_fen[0, 34] > 6_000_000
    assert batch.balance_after_fen[:, -1].tolist() == [0, 0, 0]


def test_due_dates_keep_the_contract_day_and_clamp_to_month_end() -> None:
    batch = build_schedule_batch(**batch_of())  # type: ignore[arg-type]
    assert batch.due_date[0, :5].astype(str).tolist() == [
        "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30",
    ]
    # Started on 29 February 2024: the 29th every month, and 28 February in 2025.
    assert batch.due_date[1, [0, 10, 11]].astype(str).tolist() == [
        "2024-03-29", "2025-01-29", "2025-02-28",
    ]


def test_columns_are_read_only() -> None:
    batch = build_schedule_batch(**batch_of())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="read-only"):
        batch.interest_fen[0, 0] = 0


def test_order_of_loans_does_not_change_any_row() -> None:
    forward = build_schedule_batch(**batch_of())  # type: ignore[arg-type]
    columns = batch_of()
    reversed_columns = {name: list(values)[::-1] for name, values in columns.items()}  # type: ignore[call-overload]
    backward = build_schedule_batch(**reversed_columns)  # type: ignore[arg-type]
    assert np.array_equal(forward.principal_fen, backward.principal_fen[::-1])
    assert np.array_equal(forward.interest_fen, backward.interest_fen[::-1])
    assert np.array_equal(forward.due_date.astype(str), backward.due_date[::-1].astype(str))


def test_broken_first_period_uses_day_interest_on_the_given_day_count() -> None:
    batch = build_schedule_batch(
        principal_fen=[10_000_000, 10_000_000],
        balloon_fen=[0, 0],
        annual_rate=[Decimal("0.0475"), Decimal("0.0475")],
        term_months=[12, 12],
        start=[date(2026, 1, 25), date(2026, 1, 25)],
        contract_day=[5, 25],
        first_due_date=np.array(["2026-03-05", "NaT"], dtype="datetime64[D]"),
    )
    # 39 days on act/360: 10,000,000 × 0.0475 × 39 / 360 = 51,458.33 fen; a regular month is
    # 10,000,000 × 0.0475 / 12 = 39,583.33 fen.
    assert batch.interest_fen[:, 0].tolist() == [51_458, 39_583]
    # The principal part of the broken period is what a regular period would repay.
    assert batch.principal_fen[0, 0] == batch.principal_fen[1, 0]
    assert batch.due_date[0, :2].astype(str).tolist() == ["2026-03-05", "2026-04-05"]


def test_numbers_too_large_for_int64_take_the_exact_path() -> None:
    principal_fen, rate, days = 10**12, Decimal("0.359999"), 60
    assert principal_fen * 359_999 * days >= INT64_PRODUCT_MAX  # would overflow int64
    batch = build_schedule_batch(
        principal_fen=[principal_fen, 1_000_000],
        balloon_fen=[10**11, 0],
        annual_rate=[rate, rate],
        term_months=[24, 24],
        start=[date(2024, 1, 15), date(2024, 1, 15)],
        first_due_date=[date(2024, 3, 15), date(2024, 3, 15)],
    )
    for row, (principal, balloon) in enumerate([(principal_fen, 10**11), (1_000_000, 0)]):
        expected = build_schedule(
            principal_fen=principal,
            balloon_fen=balloon,
            annual_rate=rate,
            method=RepaymentMethod.BALLOON,
            term_months=24,
            start=date(2024, 1, 15),
            first_due_date=date(2024, 3, 15),
        )
        assert batch.interest_fen[row].tolist() == [i.interest_fen for i in expected]
        assert batch.principal_fen[row].tolist() == [i.principal_fen for i in expected]
    # 10^12 × 0.359999 × 60 / 360 fen: really the large loan's interest, not a wrapped number.
    assert batch.interest_fen[0, 0] == 59_999_833_333


def test_an_empty_batch_is_empty() -> None:
    batch = build_schedule_batch(
        principal_fen=np.array([], dtype=np.int64),
        balloon_fen=np.array([], dtype=np.int64),
        annual_rate=[],
        term_months=np.array([], dtype=np.int64),
        start=np.array([], dtype="datetime64[D]"),
    )
    assert (batch.loans, batch.periods) == (0, 0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"principal_fen": [1, 2]}, "balloon_fen"),
        ({"principal_fen": [0, 12_345_678, 30_000_000]}, "principal_fen"),
        ({"balloon_fen": [6_000_000, -1, 0]}, "balloon_fen"),
        ({"balloon_fen": [6_000_000, 12_345_679, 0]}, "balloon_fen"),
        ({"term_months": [36, 0, 36]}, "term_months"),
        ({"term_months": [36, 601, 36]}, "term_months"),
        ({"annual_rate": [Decimal("0.0475")]}, "annual_rate"),
        ({"annual_rate": [Decimal("-0.01"), Decimal(0), Decimal(0)]}, "annual_rate"),
        ({"principal_fen": [1.5, 2.5, 3.5]}, "principal_fen"),
        ({"contract_day": [31, 32, 1]}, "contract_day"),
        ({"first_due_date": [date(2026, 1, 31), None, None]}, "first_due_date"),
        ({"start": [date(2026, 1, 31), None, date(2026, 1, 1)]}, "start"),
    ],
)
def test_bad_columns_are_refused_by_name(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_schedule_batch(**batch_of(**overrides))  # type: ignore[arg-type]
    assert caught.value.errors[0].field == field
