"""Repayment schedules: instalment arithmetic, due dates and schedule versions.

Conventions (stated once, used everywhere):
- Instalment arithmetic runs at the monthly rate annual / 12. The level payment of an annuity
  with a balloon B left at the end is r·(P·(1+r)^n − B) / ((1+r)^n − 1), rounded once to fen
  with the product's rounding mode; with B = 0 it is the plain 等额本息 payment.
- Interest of a regular period is balance × annual / 12, rounded once. A broken first period
  (the first due date is not one month after disbursement) earns balance × annual × days /
  year-days on the product's day count instead, while its principal part stays what a regular
  period would repay, so the rest of the amortisation does not move.
- Due dates fall on the contract day of each month, clamped to the end of short months. The
  shown due date never moves for holidays; grace for holidays is applied when payments are
  judged, not here.
- The last instalment repays whatever principal is left, so principal sums exactly to the
  financed amount; for equal principal the product chooses whether the first or the last part
  takes the leftover fen of the split.
- A schedule is never edited. A prepayment, restructure or balloon option yields a new
  `Schedule` version that names the one it replaces and keeps every instalment due before its
  effective date unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from tailguard.calendar import add_months
from tailguard.loans.products import RepaymentMethod, ResidualTo
from tailguard.money import DayCount, RoundingMode, round_fen, round_ratio
from tailguard.money.rounding import CONTEXT

TERM_MONTHS_MAX = 600
"""A bound on every schedule loop; no product comes near it."""


class InstallmentKind(Enum):
    REGULAR = "regular"
    FINAL = "final"
    """The last instalment of the term; carries the balloon, if any."""
    SETTLEMENT = "settlement"
    """Everything outstanding, due on the day of an early settlement."""
    PREPAYMENT = "prepayment"
    """A partial prepayment: accrued interest, fee and the prepaid principal, due that day."""
    SHORTFALL = "shortfall"
    """What remains owed after the vehicle was returned or traded in below the debt."""
    CAPITALISATION = "capitalisation"
    """Interest accrued up to a restructure, due that day and converted into new principal."""


@dataclass(frozen=True, slots=True)
class Installment:
    """One dated amount the borrower owes, by component, and the principal left after it."""

    number: int
    period_start: date
    due_date: date
    principal_fen: int
    interest_fen: int
    balance_after_fen: int
    fee_fen: int = 0
    balloon_fen: int = 0
    """The part of `principal_fen` that is the balloon (尾款)."""
    kind: InstallmentKind = InstallmentKind.REGULAR
    contract_rate: Decimal | None = None
    """The annual rate this instalment's interest was computed at, and its penalty runs on;
    it differs from the loan's original rate after a refinance or restructure."""

    @property
    def payment_fen(self) -> int:
        return self.principal_fen + self.interest_fen + self.fee_fen


@dataclass(frozen=True)
class Schedule:
    """One version of a loan's schedule."""

    installments: tuple[Installment, ...]
    version: int = 1
    replaces: int | None = None
    effective_date: date | None = None
    reason: str = "booking"

    def __post_init__(self) -> None:
        numbers = [i.number for i in self.installments]
        assert numbers == list(range(1, len(numbers) + 1)), "instalments are numbered 1..n"
        dues = [i.due_date for i in self.installments]
        assert dues == sorted(dues), "instalments are in due-date order"

    @property
    def total_principal_fen(self) -> int:
        return sum(i.principal_fen for i in self.installments)

    @property
    def total_interest_fen(self) -> int:
        return sum(i.interest_fen for i in self.installments)

    @property
    def total_payment_fen(self) -> int:
        return sum(i.payment_fen for i in self.installments)

    @property
    def maturity_date(self) -> date:
        return self.installments[-1].due_date

    @property
    def balloon_fen(self) -> int:
        return sum(i.balloon_fen for i in self.installments)

    def balloon_installment(self) -> Installment | None:
        for inst in reversed(self.installments):
            if inst.balloon_fen:
                return inst
        return None

    def principal_due_after(self, day: date) -> int:
        """Scheduled principal falling due strictly after `day` (the balance on that day)."""
        return sum(i.principal_fen for i in self.installments if i.due_date > day)

    def first_due_after(self, day: date) -> Installment | None:
        for inst in self.installments:
            if inst.due_date > day:
                return inst
        return None

    def supersede(
        self, future: Sequence[Installment], effective_date: date, reason: str
    ) -> Schedule:
        """A new version: instalments due before `effective_date` kept, `future` appended.

        `future` instalments are renumbered to follow the kept ones.
        """
        kept = [i for i in self.installments if i.due_date < effective_date]
        assert all(i.due_date >= effective_date for i in future), (
            "a new version may only change what falls due on or after its effective date"
        )
        renumbered = [
            replace(inst, number=len(kept) + k + 1) for k, inst in enumerate(future)
        ]
        return Schedule(
            installments=tuple(kept + renumbered),
            version=self.version + 1,
            replaces=self.version,
            effective_date=effective_date,
            reason=reason,
        )


def level_payment_fen(
    principal_fen: int,
    balloon_fen: int,
    annual_rate: Decimal,
    term_months: int,
    rounding: RoundingMode = RoundingMode.HALF_UP,
) -> int:
    """The equal monthly payment that leaves `balloon_fen` to pay with the last instalment."""
    assert term_months >= 1
    assert 0 <= balloon_fen <= principal_fen
    if annual_rate == 0:
        return round_ratio(principal_fen - balloon_fen, term_months, rounding)
    rate = CONTEXT.divide(annual_rate, Decimal(12))
    growth = CONTEXT.power(CONTEXT.add(Decimal(1), rate), term_months)
    numerator = CONTEXT.multiply(
        rate,
        CONTEXT.subtract(CONTEXT.multiply(Decimal(principal_fen), growth), Decimal(balloon_fen)),
    )
    return round_fen(CONTEXT.divide(numerator, CONTEXT.subtract(growth, Decimal(1))), rounding)


def balloon_for_payment_fen(
    principal_fen: int,
    payment_fen: int,
    annual_rate: Decimal,
    term_months: int,
    rounding: RoundingMode = RoundingMode.HALF_UP,
) -> int:
    """The balloon that a fixed monthly payment leaves: P·(1+r)^n − A·((1+r)^n − 1)/r."""
    if annual_rate == 0:
        return principal_fen - payment_fen * term_months
    rate = CONTEXT.divide(annual_rate, Decimal(12))
    growth = CONTEXT.power(CONTEXT.add(Decimal(1), rate), term_months)
    value = CONTEXT.subtract(
        CONTEXT.multiply(Decimal(principal_fen), growth),
        CONTEXT.divide(
            CONTEXT.multiply(Decimal(payment_fen), CONTEXT.subtract(growth, Decimal(1))), rate
        ),
    )
    return round_fen(value, rounding)


def period_interest_fen(
    balance_fen: int, annual_rate: Decimal, rounding: RoundingMode = RoundingMode.HALF_UP
) -> int:
    """Interest of a regular monthly period: balance × annual / 12, rounded once."""
    rate = Fraction(annual_rate)
    return round_ratio(balance_fen * rate.numerator, rate.denominator * 12, rounding)


def day_interest_fen(
    balance_fen: int,
    annual_rate: Decimal,
    days: int,
    day_count: DayCount,
    rounding: RoundingMode = RoundingMode.HALF_UP,
) -> int:
    """Interest for `days` actual days: balance × annual × days / year-days, rounded once."""
    rate = Fraction(annual_rate)
    return round_ratio(
        balance_fen * rate.numerator * days, rate.denominator * day_count.year_days, rounding
    )


def due_dates(first_due_date: date, count: int, contract_day: int) -> list[date]:
    """`count` monthly due dates from `first_due_date` on the contract day, clamped."""
    return [add_months(first_due_date, k, contract_day) for k in range(count)]


def build_schedule(
    *,
    principal_fen: int,
    annual_rate: Decimal,
    method: RepaymentMethod,
    term_months: int,
    start: date,
    first_due_date: date | None = None,
    contract_day: int | None = None,
    balloon_fen: int = 0,
    day_count: DayCount = DayCount.ACT_360,
    rounding: RoundingMode = RoundingMode.HALF_UP,
    residual_to: ResidualTo = ResidualTo.LAST,
    payment_fen: int | None = None,
) -> tuple[Installment, ...]:
    """The instalments that repay `principal_fen` from `start` over `term_months` periods.

    `payment_fen` fixes the level payment (used when a prepayment keeps the instalment);
    otherwise it is solved from principal, balloon, rate and term.
    """
    assert 1 <= term_months <= TERM_MONTHS_MAX, "term out of range"
    assert principal_fen > 0, "principal must be positive"
    assert annual_rate >= 0, "rate cannot be negative"
    if method is not RepaymentMethod.BALLOON:
        assert balloon_fen == 0, "only balloon schedules carry a balloon"
    assert 0 <= balloon_fen <= principal_fen
    if contract_day is not None:
        day = contract_day
    else:
        day = first_due_date.day if first_due_date is not None else start.day
    first_due = first_due_date if first_due_date is not None else add_months(start, 1, day)
    assert first_due > start, "the first due date must follow the start"
    dates = due_dates(first_due, term_months, day)
    assert dates[0] == first_due, "the first due date must fall on the contract day"
    broken_days = (first_due - start).days if first_due != add_months(start, 1, day) else None

    if method in (RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.BALLOON):
        level = (
            payment_fen
            if payment_fen is not None
            else level_payment_fen(principal_fen, balloon_fen, annual_rate, term_months, rounding)
        )
        principal_parts: list[int] | None = None
    elif method is RepaymentMethod.EQUAL_PRINCIPAL:
        level = 0
        # Banks show P / n rounded as every month's principal; one part absorbs the difference.
        share = round_ratio(principal_fen, term_months, rounding)
        if share * (term_months - 1) > principal_fen:  # tiny principals: no negative part
            share = principal_fen // term_months
        principal_parts = [share] * term_months
        principal_parts[0 if residual_to is ResidualTo.FIRST else -1] += (
            principal_fen - share * term_months
        )
    else:  # interest only
        level = 0
        principal_parts = [0] * (term_months - 1) + [principal_fen]

    installments: list[Installment] = []
    balance = principal_fen
    period_start = start
    for k, due in enumerate(dates):
        nominal_interest = period_interest_fen(balance, annual_rate, rounding)
        if k == 0 and broken_days is not None:
            interest = day_interest_fen(balance, annual_rate, broken_days, day_count, rounding)
        else:
            interest = nominal_interest
        last = k == term_months - 1
        if last:
            principal = balance
        elif principal_parts is not None:
            principal = principal_parts[k]
        else:
            principal = max(0, min(balance - balloon_fen, level - nominal_interest))
        balance -= principal
        installments.append(
            Installment(
                number=k + 1,
                period_start=period_start,
                due_date=due,
                principal_fen=principal,
                interest_fen=interest,
                balance_after_fen=balance,
                balloon_fen=balloon_fen if last else 0,
                kind=InstallmentKind.FINAL if last else InstallmentKind.REGULAR,
                contract_rate=annual_rate,
            )
        )
        period_start = due
    assert balance == 0
    assert sum(i.principal_fen for i in installments) == principal_fen
    return tuple(installments)
