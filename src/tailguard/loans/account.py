"""A loan account: terms, every schedule version, and the dated facts — as one value.

The aggregate the servicing rules work on. It is immutable: recording a payment or a new
schedule version returns a new account, so a rule can never half-change a loan, and the
service layer stores exactly what a rule returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from tailguard.calendar import BusinessCalendar, WeekendCalendar
from tailguard.errors import Refused
from tailguard.loans.events import (
    ChargeWaived,
    CreditRefunded,
    LoanEvent,
    PaymentReceived,
    PaymentReversed,
)
from tailguard.loans.position import Position, evaluate
from tailguard.loans.products import Product
from tailguard.loans.schedule import Schedule
from tailguard.loans.terms import LoanTerms


@dataclass(frozen=True)
class LoanAccount:
    loan_id: str
    terms: LoanTerms
    schedules: tuple[Schedule, ...]
    events: tuple[LoanEvent, ...] = ()
    calendar: BusinessCalendar = field(default_factory=WeekendCalendar)
    extended_months: int = 0
    """Months of extension (展期) granted so far, for the Art. 12 caps."""
    annual_rate_override: Decimal | None = None
    """The contract rate after a refinance or restructure at a new rate."""

    @classmethod
    def open(
        cls, loan_id: str, terms: LoanTerms, calendar: BusinessCalendar | None = None
    ) -> LoanAccount:
        return cls(loan_id, terms, (terms.initial_schedule(),), (), calendar or WeekendCalendar())

    @property
    def product(self) -> Product:
        return self.terms.product

    @property
    def schedule(self) -> Schedule:
        """The schedule version in force."""
        return self.schedules[-1]

    @property
    def annual_rate(self) -> Decimal:
        return (
            self.annual_rate_override
            if self.annual_rate_override is not None
            else self.terms.annual_rate
        )

    def position(self, as_of: date) -> Position:
        return evaluate(
            self.product, self.annual_rate, self.schedule, self.events, as_of, self.calendar
        )

    def with_event(self, event: LoanEvent) -> LoanAccount:
        """The account with one more fact; refuses facts the replay could not make sense of.

        Money dated before the schedule version in force is refused: that version was built
        from the debt as it stood on its effective date (arrears converted, a settlement
        quoted), so a payment or waiver slipped in before it would be counted against debt the
        new version already accounts for. Such a correction goes in on or after that date.
        Conversions and vehicle proceeds are part of a version change, so only a new version
        undoes them, never a reversal.
        """
        effective = self.schedule.effective_date
        if isinstance(event, PaymentReceived | ChargeWaived | CreditRefunded) \
                and effective is not None \
                and event.value_date < effective:
            raise Refused(
                "BEFORE_SCHEDULE_VERSION",
                f"value date {event.value_date} is before {effective}, when schedule version "
                f"{self.schedule.version} took effect; date it on or after that day",
            )
        if isinstance(event, PaymentReceived):
            assert event.payment_id not in self.payment_ids(), "payment ids are unique"
        if isinstance(event, PaymentReversed):
            assert event.payment_id in self.payment_ids(), "only a posted payment is reversed"
            assert event.payment_id not in self.reversed_ids(), "a payment is reversed once"
            original = next(e for e in self.events
                            if isinstance(e, PaymentReceived) and e.payment_id == event.payment_id)
            if not original.channel.is_cash:
                raise Refused("NOT_A_CASH_PAYMENT", f"{event.payment_id} is a "
                              f"{original.channel.value}; only a new schedule version undoes it")
        updated = replace(self, events=(*self.events, event))
        if isinstance(event, CreditRefunded | PaymentReversed) and updated.events:
            # A refund pays out credit that must exist at its date; a reversal must not take
            # away credit that was already paid back.
            last = max(e.value_date for e in updated.events)
            if updated.position(last).refund_shortfall_fen:
                raise Refused(
                    "REFUND_OVER_CREDIT" if isinstance(event, CreditRefunded)
                    else "CREDIT_ALREADY_REFUNDED",
                    "the credit balance on that date does not cover what was refunded",
                )
        return updated

    def with_schedule(
        self,
        schedule: Schedule,
        extended_months: int | None = None,
        annual_rate: Decimal | None = None,
    ) -> LoanAccount:
        assert schedule.replaces == self.schedule.version, "a version replaces the current one"
        return replace(
            self,
            schedules=(*self.schedules, schedule),
            extended_months=self.extended_months if extended_months is None else extended_months,
            annual_rate_override=annual_rate if annual_rate is not None
            else self.annual_rate_override,
        )

    def payment_ids(self) -> set[str]:
        return {e.payment_id for e in self.events if isinstance(e, PaymentReceived)}

    def reversed_ids(self) -> set[str]:
        return {e.payment_id for e in self.events if isinstance(e, PaymentReversed)}
