"""What happens to a loan after booking, as dated facts the servicing rules replay.

A loan's position on any date is a pure function of its terms, its current schedule version and
these facts, replayed in value-date order. That is what makes backdated payments and reversals
exact: a payment entered today with last week's value date is simply replayed in its place, and
a reversed payment is left out of the replay, so the state is exactly as if it had never been.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum


class Component(Enum):
    """The parts of what an instalment owes, in the default waterfall order."""

    PENALTY = "penalty"
    FEE = "fee"
    INTEREST = "interest"
    PRINCIPAL = "principal"

    # Members are singletons, so identity hashing is exact; Enum's own __hash__ is a Python
    # call, and the replay looks components up in dicts hundreds of times per loan.
    __hash__ = object.__hash__


class Channel(Enum):
    """Where money came from. Non-cash channels move debt without moving cash."""

    AUTO_DEBIT = "auto-debit"
    BANK_TRANSFER = "bank-transfer"
    APP = "app"
    COUNTER = "counter"
    VEHICLE_PROCEEDS = "vehicle-proceeds"
    """The appraised value of a returned or traded-in vehicle, applied to the debt."""
    RESTRUCTURE = "restructure"
    """Arrears converted into a new schedule version (non-cash)."""
    INCENTIVE = "incentive"
    """A rebate or cash back the lender grants (non-cash: its cost is an expense)."""

    @property
    def is_cash(self) -> bool:
        return self not in (Channel.RESTRUCTURE, Channel.VEHICLE_PROCEEDS, Channel.INCENTIVE)


@dataclass(frozen=True)
class PaymentReceived:
    payment_id: str
    value_date: date
    amount_fen: int
    channel: Channel = Channel.BANK_TRANSFER

    def __post_init__(self) -> None:
        assert self.amount_fen > 0, "a payment is a positive amount"


@dataclass(frozen=True)
class PaymentReversed:
    """A payment that did not happen after all (a bounced debit, a mistaken posting)."""

    payment_id: str
    value_date: date
    reason: str = "bounced"


@dataclass(frozen=True)
class ChargeWaived:
    """Part of what is owed forgiven (penalty, fee or interest): one instalment or oldest first."""

    waiver_id: str
    value_date: date
    amount_fen: int
    component: Component = Component.PENALTY
    installment_number: int | None = None

    def __post_init__(self) -> None:
        assert self.amount_fen > 0, "a waiver is a positive amount"
        assert self.component is not Component.PRINCIPAL, "principal is written off, not waived"


@dataclass(frozen=True)
class CreditRefunded:
    """Money paid back to the borrower out of their credit balance (an overpayment)."""

    refund_id: str
    value_date: date
    amount_fen: int

    def __post_init__(self) -> None:
        assert self.amount_fen > 0, "a refund is a positive amount"


LoanEvent = PaymentReceived | PaymentReversed | ChargeWaived | CreditRefunded
