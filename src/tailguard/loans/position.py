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

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from tailguard.calendar import BusinessCalendar, WeekendCalendar
from tailguard.calendar.business_days import CalendarKey, cached_next_working_day
from tailguard.loans.delinquency import bucket_for
from tailguard.loans.events import (
    ChargeWaived,
    Component,
    CreditRefunded,
    LoanEvent,
    PaymentReceived,
    PaymentReversed,
)
from tailguard.loans.products import HolidayRule, Product, WaterfallOrder
from tailguard.loans.schedule import Installment, Schedule
from tailguard.loans.waterfall import COMPONENT_ORDER, AllocationPart, Claim, allocate
from tailguard.money.rounding import RoundingMode, round_ratio

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
    """The day penalty was last accrued to; on a settled row, the day it was settled (its
    penalty base is gone from then on)."""
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
    return _grace_end(due, product.grace_days, product.holiday_rule, CalendarKey(calendar))


@lru_cache(maxsize=65_536)
def _grace_end(due: date, grace_days: int, rule: HolidayRule, calendar: CalendarKey) -> date:
    """`grace_end` from the only inputs it reads, remembered: every replay of a loan asks it
    for every instalment, and a national calendar lookup is far dearer than a cache hit."""
    end = due + timedelta(days=grace_days)
    if rule is HolidayRule.GRACE_TO_NEXT_WORKING_DAY:
        end = max(end, cached_next_working_day(calendar, due))
    return end


@lru_cache(maxsize=4096)
def _grace_ends(dues: tuple[date, ...], grace_days: int, rule: HolidayRule,
                calendar: CalendarKey) -> tuple[date, ...]:
    """The grace ends of a whole schedule's due dates: one cache look-up per replay instead
    of one per instalment (loans booked on the same day share their due dates)."""
    return tuple(_grace_end(due, grace_days, rule, calendar) for due in dues)


@lru_cache(maxsize=1024)
def _daily_penalty_rate(annual_rate: Decimal, multiplier: Decimal, year_days: int
                        ) -> tuple[int, int]:
    """Penalty per fen per overdue day as (numerator, denominator) in lowest terms.

    The same value `Fraction(rate) × Fraction(multiplier) / year_days` the replay used to build
    per instalment and per replay; a loan book has a handful of distinct rates, so it is
    computed once per rate. Equal Decimals (`1.5`, `1.50`) give the same exact fraction."""
    rate = Fraction(annual_rate) * Fraction(multiplier) / year_days
    return rate.numerator, rate.denominator


# Slots of the per-component counters of `_Working`, in waterfall (and `Component`) order.
_PENALTY, _FEE, _INTEREST, _PRINCIPAL = range(4)
_SLOT = {component: k for k, component in enumerate(COMPONENTS)}
assert COMPONENTS == COMPONENT_ORDER, "claims are built in component order, unsorted"


class _Working:
    """Mutable per-instalment state used only inside one replay.

    Plain slots and lists indexed by `_SLOT` rather than dicts keyed by `Component`: the
    replay reads and writes these counters for every due instalment on every event, and a
    list index is several times cheaper than a dict built per row and an enum lookup.
    """

    __slots__ = (
        "_rounded", "_rounded_at", "accrued_to", "due", "fen_days", "forgiven", "grace_end",
        "inst", "left", "number", "owed", "paid", "rate_denominator", "rate_numerator",
        "settled_on", "waived",
    )

    def __init__(self, inst: Installment, grace: date, rate: tuple[int, int]) -> None:
        self.inst = inst
        self.number = inst.number
        self.due = inst.due_date
        self.grace_end = grace
        # What the schedule asks per component; penalty is accrued, not scheduled.
        self.owed = [0, inst.fee_fen, inst.interest_fen, inst.principal_fen]
        self.paid = [0, 0, 0, 0]
        self.waived = [0, 0, 0, 0]
        self.left = inst.principal_fen + inst.interest_fen + inst.fee_fen
        """Fee, interest and principal still owed (penalty aside), kept up to date by `add`."""
        # Penalty per fen per overdue day: the row's contract rate × multiplier / year days.
        self.rate_numerator, self.rate_denominator = rate
        self.fen_days = 0
        """Σ overdue base × days so far. The rate is fixed per row, so penalty is exactly
        `rate × fen_days`: integer sums in the loop, one fraction when it is read."""
        self.accrued_to: date | None = None
        self.settled_on: date | None = None
        self.forgiven = False
        # Nothing accrued rounds to nothing in every mode: most rows never need `round_ratio`.
        self._rounded_at = 0
        self._rounded = 0

    def add(self, counters: list[int], slot: int, amount: int) -> None:
        """Record `amount` paid or waived on `slot` (`counters` is `paid` or `waived`)."""
        counters[slot] += amount
        if slot != _PENALTY:
            self.left -= amount

    @property
    def penalty_exact(self) -> Fraction:
        return Fraction(self.rate_numerator * self.fen_days, self.rate_denominator)

    def rounded_penalty(self, mode: RoundingMode) -> int:
        """The accrued penalty rounded once; remembered until more accrues (the mode is the
        product's, fixed for the replay)."""
        if self._rounded_at != self.fen_days:
            # Rounding needs no reduced fraction: numerator and denominator as they are.
            self._rounded = round_ratio(self.rate_numerator * self.fen_days,
                                        self.rate_denominator, mode)
            self._rounded_at = self.fen_days
        return self._rounded


class _Replay:
    def __init__(
        self, product: Product, annual_rate: Decimal, schedule: Schedule,
        calendar: BusinessCalendar,
    ) -> None:
        self.product = product
        self.rounding = product.rounding
        self.compound = product.compound_overdue_interest
        multiplier, year_days = product.penalty_multiplier, product.day_count.year_days
        installments = schedule.installments
        grace_ends = _grace_ends(tuple(inst.due_date for inst in installments),
                                 product.grace_days, product.holiday_rule, CalendarKey(calendar))
        rates: dict[Decimal | None, tuple[int, int]] = {}  # a schedule has one or two rates
        self.rows = []
        for inst, grace in zip(installments, grace_ends, strict=True):
            rate = rates.get(inst.contract_rate)
            if rate is None:
                rate = rates[inst.contract_rate] = _daily_penalty_rate(
                    annual_rate if inst.contract_rate is None else inst.contract_rate,
                    multiplier, year_days,
                )
            self.rows.append(_Working(inst, grace, rate))
        self.credit = 0
        self.refunded = 0
        self.refund_shortfall = 0
        self.allocations: list[Allocation] = []
        self.first_open = 0

    # -- penalty ------------------------------------------------------------------------
    def accrue_to(self, day: date) -> None:
        """Accrue penalty on every overdue instalment up to `day` (exclusive of later days).

        Rows before `first_open` are settled, so their penalty base is zero for good."""
        compound = self.compound
        rows = self.rows
        for index in range(self.first_open, len(rows)):
            row = rows[index]
            if row.due >= day:
                break
            start = row.accrued_to or row.due
            if day > start:
                paid = row.paid
                base = row.owed[_PRINCIPAL] - paid[_PRINCIPAL]
                if compound:
                    base += row.owed[_INTEREST] - paid[_INTEREST] - row.waived[_INTEREST]
                if base > 0:
                    row.fen_days += base * (day - start).days
                row.accrued_to = day

    def penalty_owed(self, row: _Working, day: date) -> int:
        """Penalty owed on `day`: nothing inside the grace window or when forgiven."""
        if row.forgiven or day <= row.grace_end or not row.fen_days:
            return 0
        return row.rounded_penalty(self.rounding)

    def outstanding(self, row: _Working, slot: int, day: date) -> int:
        owed = self.penalty_owed(row, day) if slot == _PENALTY else row.owed[slot]
        return owed - row.paid[slot] - row.waived[slot]

    # -- events -------------------------------------------------------------------------
    def _claims(self, day: date) -> Iterable[Claim]:
        """What is owed on `day`, in the product's waterfall order, without sorting.

        Rows are visited by number and each row's components in `COMPONENT_ORDER`, so the
        claims come out already in oldest-first order (what `order_claims` would return); they
        are yielded one by one, so the rows after the one that exhausts a payment are never
        visited. By-component order gathers the same claims per component first."""
        if self.product.waterfall is WaterfallOrder.OLDEST_FIRST:
            return self._row_claims(day)
        columns: tuple[list[Claim], ...] = ([], [], [], [])
        for claim in self._row_claims(day):
            columns[_SLOT[claim.component]].append(claim)
        return [claim for column in columns for claim in column]

    def _row_claims(self, day: date) -> Iterator[Claim]:
        rows = self.rows
        rounding = self.rounding
        for index in range(self.first_open, len(rows)):
            row = rows[index]
            if row.due > day:
                break
            found = False
            paid, waived = row.paid, row.waived
            if row.forgiven or day <= row.grace_end or not row.fen_days:
                left = -paid[_PENALTY] - waived[_PENALTY]
            else:
                left = row.rounded_penalty(rounding) - paid[_PENALTY] - waived[_PENALTY]
            if left > 0:
                found = True
                yield Claim(row.number, Component.PENALTY, left)
            owed = row.owed
            for slot in (_FEE, _INTEREST, _PRINCIPAL):
                left = owed[slot] - paid[slot] - waived[slot]
                if left > 0:
                    found = True
                    yield Claim(row.number, COMPONENTS[slot], left)
            # A settled row past its grace (or forgiven) owes nothing more, ever: skip it next
            # time. Rows before `first_open` are all such rows. (While claims are being taken
            # no row changes: the parts are booked after `allocate` returns.)
            if not found and index == self.first_open and row.settled_on is not None and (
                row.forgiven or day > row.grace_end
            ):
                self.first_open += 1

    def settle_check(self, day: date) -> None:
        rows = self.rows
        for index in range(self.first_open, len(rows)):
            row = rows[index]
            if row.due > day:
                break
            if row.settled_on is None and row.left == 0:
                row.settled_on = day
                if day <= row.grace_end:
                    row.forgiven = True
                    row.fen_days = 0

    def apply_money(self, payment_id: str, day: date, amount_fen: int) -> None:
        parts, left = allocate(amount_fen, self._claims(day))
        rows = self.rows
        for part in parts:
            row = rows[part.installment_number - 1]
            row.add(row.paid, _SLOT[part.component], part.amount_fen)
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
        slot = _SLOT[event.component]
        for row in self.rows:
            if row.due > day and event.installment_number is None:
                break
            if event.installment_number not in (None, row.number):
                continue
            take = min(left, max(0, self.outstanding(row, slot, day)))
            row.add(row.waived, slot, take)
            left -= take
            if left == 0:
                break
        self.settle_check(day)

    def freeze(self, as_of: date, schedule: Schedule) -> Position:
        # A settled row's penalty base is gone: its accrual date is the day it was settled,
        # whatever day the replay ends on and whichever rows `accrue_to` still visited (the
        # position stays independent of the order facts were entered in). Moving it to
        # `as_of` instead would rewrite every settled row of the loan's cached state at each
        # payment, for a date nothing reads.
        states = []
        for row in self.rows:
            pending = 0
            accrued = self.penalty_owed(row, as_of)
            if not row.forgiven and as_of <= row.grace_end:
                pending = row.rounded_penalty(self.rounding)
            paid, waived = row.paid, row.waived
            states.append(
                InstallmentState(
                    installment=row.inst,
                    grace_end=row.grace_end,
                    principal_paid_fen=paid[_PRINCIPAL],
                    interest_paid_fen=paid[_INTEREST],
                    fee_paid_fen=paid[_FEE],
                    penalty_paid_fen=paid[_PENALTY],
                    penalty_accrued_fen=accrued,
                    penalty_pending_fen=pending,
                    interest_waived_fen=waived[_INTEREST],
                    fee_waived_fen=waived[_FEE],
                    penalty_waived_fen=waived[_PENALTY],
                    settled_on=row.settled_on,
                    penalty_exact=row.penalty_exact if row.fen_days else _ZERO,
                    penalty_accrued_to=row.accrued_to if row.settled_on is None
                    else row.settled_on,
                    forgiven=row.forgiven,
                )
            )
        dpd = 0
        for row in self.rows:
            if row.due > as_of:
                break
            if row.left > 0:
                dpd = (as_of - row.due).days if as_of > row.grace_end else 0
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


_ZERO = Fraction(0)


_WEEKENDS = WeekendCalendar()
"""The default calendar, one instance so its grace ends are remembered across replays."""


def _timeline_key(item: tuple[date, int, int, LoanEvent | None]) -> tuple[date, int, int]:
    return item[0], item[1], item[2]


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
    replay = _Replay(product, annual_rate, schedule, calendar or _WEEKENDS)

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
        if row.due <= as_of:
            timeline.append((row.due, 0, -1, None))
    # Keys are unique but for identical due-date entries, so the events are never compared.
    timeline.sort(key=_timeline_key)

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
