"""A loan's position on a date: the replay of its schedule and its dated facts.

Rules applied, each once, here:
- An instalment is owed from its due date. Money received before then waits as a credit
  balance and is applied on the due date, as an auto-debit would take it.
- Penalty interest (罚息) accrues daily from the due date on overdue principal (and on overdue
  interest when the product compounds) at the contract rate times the product's multiplier, on
  the product's day count. It is kept exact and rounded once, when it is owed or reported.
- Grace: an instalment settled by its grace end (the product's grace days, and with the
  `grace-to-next-working-day` rule the next working day after a non-working due date, in the
  servicing region's calendar) owes no penalty and never counts as past due. One settled later
  owes penalty from the due date.
- Days past due count from the oldest unsettled due date once its grace has ended.
- Payments are replayed in value-date order (entry order within a day); reversed payments are
  left out entirely, so a reversal restores exactly the state without the payment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from tailguard.calendar import BusinessCalendar, WeekendCalendar, next_working_day
from tailguard.loans.delinquency import bucket_for
from tailguard.loans.events import (
    ChargeWaived,
    Component,
    CreditRefunded,
    LoanEvent,
    PaymentReceived,
    PaymentReversed,
)
from tailguard.loans.products import HolidayRule, Product
from tailguard.loans.schedule import Installment, Schedule
from tailguard.loans.waterfall import AllocationPart, Claim, allocate, order_claims
from tailguard.money.rounding import round_ratio

COMPONENTS = tuple(Component)
"""Iterating a tuple is cheaper than iterating the enum, and the replay does it often."""

CREDIT_APPLICATION = "credit-balance"
"""The prefix of the allocation id under which a waiting credit balance is applied on a due
date: `credit-balance@2026-03-15`, one id per application so each can be told apart."""


def credit_application_id(day: date) -> str:
    return f"{CREDIT_APPLICATION}@{day.isoformat()}"


def is_credit_application(allocation_id: str) -> bool:
    return allocation_id.startswith(CREDIT_APPLICATION + "@")


@dataclass(frozen=True)
class InstallmentState:
    """What one instalment owed and what has been settled, as of the position's date."""

    installment: Installment
    grace_end: date
    principal_paid_fen: int = 0
    interest_paid_fen: int = 0
    fee_paid_fen: int = 0
    penalty_paid_fen: int = 0
    penalty_accrued_fen: int = 0
    """Penalty interest owed in total (rounded once), after grace; paid and waived included."""
    penalty_pending_fen: int = 0
    """Penalty accrued inside the grace window: owed only if grace ends unsettled."""
    interest_waived_fen: int = 0
    fee_waived_fen: int = 0
    penalty_waived_fen: int = 0
    settled_on: date | None = None
    penalty_exact: Fraction = Fraction(0)
    """Penalty interest accrued so far, exact (in fen), before rounding and grace."""
    penalty_accrued_to: date | None = None
    forgiven: bool = False
    """Settled within grace: no penalty is owed, whatever accrued."""

    @property
    def number(self) -> int:
        return self.installment.number

    @property
    def due_date(self) -> date:
        return self.installment.due_date

    @property
    def principal_outstanding_fen(self) -> int:
        return self.installment.principal_fen - self.principal_paid_fen

    @property
    def interest_outstanding_fen(self) -> int:
        return self.installment.interest_fen - self.interest_paid_fen - self.interest_waived_fen

    @property
    def fee_outstanding_fen(self) -> int:
        return self.installment.fee_fen - self.fee_paid_fen - self.fee_waived_fen

    @property
    def penalty_outstanding_fen(self) -> int:
        return self.penalty_accrued_fen - self.penalty_paid_fen - self.penalty_waived_fen

    @property
    def contractual_outstanding_fen(self) -> int:
        """Principal, interest and fee still owed (penalty apart)."""
        return (
            self.principal_outstanding_fen
            + self.interest_outstanding_fen
            + self.fee_outstanding_fen
        )

    @property
    def total_outstanding_fen(self) -> int:
        return self.contractual_outstanding_fen + self.penalty_outstanding_fen

    def outstanding(self, component: Component) -> int:
        return {
            Component.PENALTY: self.penalty_outstanding_fen,
            Component.FEE: self.fee_outstanding_fen,
            Component.INTEREST: self.interest_outstanding_fen,
            Component.PRINCIPAL: self.principal_outstanding_fen,
        }[component]


@dataclass(frozen=True)
class Allocation:
    """How one payment (or the application of a credit balance) was shared out."""

    payment_id: str
    value_date: date
    amount_fen: int
    parts: tuple[AllocationPart, ...]
    to_credit_fen: int

    def by_component(self) -> dict[Component, int]:
        totals = dict.fromkeys(Component, 0)
        for part in self.parts:
            totals[part.component] += part.amount_fen
        return totals


@dataclass(frozen=True)
class Position:
    """The whole state of a loan on `as_of`, end of day."""

    as_of: date
    schedule_version: int
    installments: tuple[InstallmentState, ...]
    credit_balance_fen: int
    allocations: tuple[Allocation, ...]
    dpd: int
    bucket: str
    refunded_fen: int = 0
    """Credit balance paid back to the borrower so far."""
    refund_shortfall_fen: int = 0
    """Refunds the credit balance at their date could not cover (after a reversal): the
    account refuses facts that would leave this above zero."""

    def due(self) -> tuple[InstallmentState, ...]:
        """Instalments whose due date has come."""
        return tuple(s for s in self.installments if s.due_date <= self.as_of)

    def overdue(self) -> tuple[InstallmentState, ...]:
        """Due instalments not fully settled (penalty included)."""
        return tuple(s for s in self.due() if s.total_outstanding_fen > 0)

    def state_of(self, number: int) -> InstallmentState:
        return self.installments[number - 1]

    @property
    def principal_outstanding_fen(self) -> int:
        """All principal not yet repaid, due or not."""
        return sum(s.principal_outstanding_fen for s in self.installments)

    @property
    def overdue_principal_fen(self) -> int:
        return sum(s.principal_outstanding_fen for s in self.due())

    @property
    def overdue_interest_fen(self) -> int:
        return sum(s.interest_outstanding_fen for s in self.due())

    @property
    def overdue_fee_fen(self) -> int:
        return sum(s.fee_outstanding_fen for s in self.due())

    @property
    def penalty_outstanding_fen(self) -> int:
        return sum(s.penalty_outstanding_fen for s in self.installments)

    @property
    def arrears_fen(self) -> int:
        """Everything due and unpaid, penalty included, less any waiting credit."""
        return max(0, sum(s.total_outstanding_fen for s in self.due()) - self.credit_balance_fen)

    @property
    def paid_off(self) -> bool:
        return all(s.total_outstanding_fen == 0 for s in self.installments)

    def next_due(self) -> InstallmentState | None:
        for state in self.installments:
            if state.due_date > self.as_of:
                return state
        return None


def grace_end(product: Product, due: date, calendar: BusinessCalendar) -> date:
    """The last day an instalment may be settled without penalty or delinquency."""
    end = due + timedelta(days=product.grace_days)
    if product.holiday_rule is HolidayRule.GRACE_TO_NEXT_WORKING_DAY:
        end = max(end, next_working_day(calendar, due))
    return end


@dataclass
class _Working:
    """Mutable per-instalment state used only inside one replay."""

    inst: Installment
    grace_end: date
    paid: dict[Component, int] = field(default_factory=lambda: dict.fromkeys(Component, 0))
    waived: dict[Component, int] = field(default_factory=lambda: dict.fromkeys(Component, 0))
    daily_rate: Fraction = Fraction(0)
    """Penalty per fen per overdue day: the row's contract rate × multiplier / year days."""
    fen_days: int = 0
    """Σ overdue base × days so far. The rate is fixed per row, so penalty is exactly
    `daily_rate × fen_days`: integer sums in the loop, one fraction when it is read."""
    accrued_to: date | None = None
    settled_on: date | None = None
    forgiven: bool = False

    @property
    def penalty_exact(self) -> Fraction:
        return self.daily_rate * self.fen_days

    def owed(self, component: Component) -> int:
        if component is Component.PRINCIPAL:
            return self.inst.principal_fen
        if component is Component.INTEREST:
            return self.inst.interest_fen
        return self.inst.fee_fen

    def contractual_left(self) -> int:
        """Fee, interest and principal still owed (penalty aside)."""
        paid, waived = self.paid, self.waived
        return (self.inst.principal_fen + self.inst.interest_fen + self.inst.fee_fen
                - paid[Component.FEE] - paid[Component.INTEREST] - paid[Component.PRINCIPAL]
                - waived[Component.FEE] - waived[Component.INTEREST]
                - waived[Component.PRINCIPAL])


class _Replay:
    def __init__(
        self, product: Product, annual_rate_penalty: Fraction, schedule: Schedule,
        calendar: BusinessCalendar,
    ) -> None:
        self.product = product
        self.multiplier = Fraction(product.penalty_multiplier)
        self.penalty_daily = annual_rate_penalty / product.day_count.year_days
        daily_by_rate: dict[Decimal, Fraction] = {}  # a schedule has one or two rates

        def daily(rate: Decimal | None) -> Fraction:
            if rate is None:
                return self.penalty_daily
            if rate not in daily_by_rate:
                daily_by_rate[rate] = (Fraction(rate) * self.multiplier
                                       / product.day_count.year_days)
            return daily_by_rate[rate]

        self.rows = [
            _Working(inst, grace_end(product, inst.due_date, calendar),
                     daily_rate=daily(inst.contract_rate))
            for inst in schedule.installments
        ]
        self.credit = 0
        self.refunded = 0
        self.refund_shortfall = 0
        self.allocations: list[Allocation] = []
        self.first_open = 0

    # -- penalty ------------------------------------------------------------------------
    def _penalty_base(self, row: _Working) -> int:
        base = row.inst.principal_fen - row.paid[Component.PRINCIPAL]
        if self.product.compound_overdue_interest:
            base += row.inst.interest_fen - row.paid[Component.INTEREST]
            base -= row.waived[Component.INTEREST]
        return base

    def accrue_to(self, day: date) -> None:
        """Accrue penalty on every overdue instalment up to `day` (exclusive of later days).

        Rows before `first_open` are settled, so their penalty base is zero for good."""
        for index in range(self.first_open, len(self.rows)):
            row = self.rows[index]
            if row.inst.due_date >= day:
                break
            start = row.accrued_to or row.inst.due_date
            if day > start:
                base = self._penalty_base(row)
                if base > 0:
                    row.fen_days += base * (day - start).days
                row.accrued_to = day

    def penalty_owed(self, row: _Working, day: date) -> int:
        """Penalty owed on `day`: nothing inside the grace window or when forgiven."""
        if row.forgiven or day <= row.grace_end or not row.fen_days:
            return 0
        return self._rounded_penalty(row)

    def _rounded_penalty(self, row: _Working) -> int:
        # Rounding needs no reduced fraction: numerator and denominator are used as they are.
        rate = row.daily_rate
        return round_ratio(rate.numerator * row.fen_days, rate.denominator,
                           self.product.rounding)

    def outstanding(self, row: _Working, component: Component, day: date) -> int:
        if component is Component.PENALTY:
            return self.penalty_owed(row, day) - row.paid[component] - row.waived[component]
        return row.owed(component) - row.paid[component] - row.waived[component]

    # -- events -------------------------------------------------------------------------
    def _claims(self, day: date) -> list[Claim]:
        claims = []
        for index in range(self.first_open, len(self.rows)):
            row = self.rows[index]
            if row.inst.due_date > day:
                break
            found = False
            for component in COMPONENTS:
                left = self.outstanding(row, component, day)
                if left > 0:
                    claims.append(Claim(row.inst.number, component, left))
                    found = True
            # A settled row past its grace (or forgiven) owes nothing more, ever: skip it next
            # time. Rows before `first_open` are all such rows.
            if not found and index == self.first_open and row.settled_on is not None and (
                row.forgiven or day > row.grace_end
            ):
                self.first_open += 1
        return order_claims(claims, self.product.waterfall)

    def settle_check(self, day: date) -> None:
        for index in range(self.first_open, len(self.rows)):
            row = self.rows[index]
            if row.inst.due_date > day:
                break
            if row.settled_on is None and row.contractual_left() == 0:
                row.settled_on = day
                if day <= row.grace_end:
                    row.forgiven = True
                    row.fen_days = 0

    def apply_money(self, payment_id: str, day: date, amount_fen: int) -> None:
        parts, left = allocate(amount_fen, self._claims(day))
        for part in parts:
            self.rows[part.installment_number - 1].paid[part.component] += part.amount_fen
        self.settle_check(day)
        if is_credit_application(payment_id):
            # The waiting credit is what `amount_fen` was; what is left of it keeps waiting.
            self.credit = left
            if parts:
                self.allocations.append(
                    Allocation(payment_id, day, amount_fen - left, tuple(parts), 0)
                )
            return
        self.credit += left
        self.allocations.append(Allocation(payment_id, day, amount_fen, tuple(parts), left))

    def refund(self, event: CreditRefunded) -> None:
        paid_back = min(event.amount_fen, self.credit)
        self.credit -= paid_back
        self.refunded += paid_back
        self.refund_shortfall += event.amount_fen - paid_back

    def waive(self, event: ChargeWaived) -> None:
        day = event.value_date
        left = event.amount_fen
        for row in self.rows:
            if row.inst.due_date > day and event.installment_number is None:
                break
            if event.installment_number not in (None, row.inst.number):
                continue
            take = min(left, max(0, self.outstanding(row, event.component, day)))
            row.waived[event.component] += take
            left -= take
            if left == 0:
                break
        self.settle_check(day)

    def freeze(self, as_of: date, schedule: Schedule) -> Position:
        # `accrue_to` skips the settled rows before `first_open` (nothing accrues on them);
        # their accrual date is the last accrual day, as if they had been visited.
        for row in self.rows[:self.first_open]:
            row.accrued_to = as_of
        states = []
        for row in self.rows:
            pending = 0
            accrued = self.penalty_owed(row, as_of)
            if not row.forgiven and as_of <= row.grace_end:
                pending = self._rounded_penalty(row)
            states.append(
                InstallmentState(
                    installment=row.inst,
                    grace_end=row.grace_end,
                    principal_paid_fen=row.paid[Component.PRINCIPAL],
                    interest_paid_fen=row.paid[Component.INTEREST],
                    fee_paid_fen=row.paid[Component.FEE],
                    penalty_paid_fen=row.paid[Component.PENALTY],
                    penalty_accrued_fen=accrued,
                    penalty_pending_fen=pending,
                    interest_waived_fen=row.waived[Component.INTEREST],
                    fee_waived_fen=row.waived[Component.FEE],
                    penalty_waived_fen=row.waived[Component.PENALTY],
                    settled_on=row.settled_on,
                    penalty_exact=row.penalty_exact,
                    penalty_accrued_to=row.accrued_to,
                    forgiven=row.forgiven,
                )
            )
        dpd = 0
        for row in self.rows:
            if row.inst.due_date > as_of:
                break
            if row.contractual_left() > 0:
                dpd = (as_of - row.inst.due_date).days if as_of > row.grace_end else 0
                break
        return Position(
            as_of=as_of,
            schedule_version=schedule.version,
            installments=tuple(states),
            credit_balance_fen=self.credit,
            allocations=tuple(self.allocations),
            dpd=dpd,
            bucket=bucket_for(dpd, self.product.buckets),
            refunded_fen=self.refunded,
            refund_shortfall_fen=self.refund_shortfall,
        )


def evaluate(
    product: Product,
    annual_rate: Decimal,
    schedule: Schedule,
    events: Sequence[LoanEvent],
    as_of: date,
    calendar: BusinessCalendar | None = None,
) -> Position:
    """Replay `events` over `schedule` and return the position at the end of `as_of`.

    `annual_rate` is the contract rate; penalty interest runs at it times the product's
    multiplier. Events after `as_of` are ignored; a reversal dated on or before `as_of`
    removes its payment from the replay.
    """
    calendar = calendar or WeekendCalendar()
    penalty_rate = Fraction(annual_rate) * Fraction(product.penalty_multiplier)
    replay = _Replay(product, penalty_rate, schedule, calendar)

    reversed_ids = {
        e.payment_id for e in events if isinstance(e, PaymentReversed) and e.value_date <= as_of
    }
    # Within a day: instalments fall due (and waiting credit is applied) first, then payments
    # and waivers in the order they were entered.
    timeline: list[tuple[date, int, int, LoanEvent | None]] = []
    for seq, event in enumerate(events):
        if event.value_date > as_of or isinstance(event, PaymentReversed):
            continue
        if isinstance(event, PaymentReceived) and event.payment_id in reversed_ids:
            continue
        timeline.append((event.value_date, 1, seq, event))
    for row in replay.rows:
        if row.inst.due_date <= as_of:
            timeline.append((row.inst.due_date, 0, -1, None))
    timeline.sort(key=lambda item: (item[0], item[1], item[2]))

    for day, _, _, step in timeline:
        replay.accrue_to(day)
        if step is None:
            replay.settle_check(day)
            if replay.credit:
                replay.apply_money(credit_application_id(day), day, replay.credit)
        elif isinstance(step, PaymentReceived):
            replay.apply_money(step.payment_id, day, step.amount_fen)
        elif isinstance(step, ChargeWaived):
            replay.waive(step)
        elif isinstance(step, CreditRefunded):
            replay.refund(step)
    # Penalty for the end of `as_of` itself: a day overdue counts once the day has passed.
    replay.accrue_to(as_of)
    return replay.freeze(as_of, schedule)
