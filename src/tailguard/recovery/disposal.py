"""Disposal of a repossessed vehicle: storage, appraisal, sale, and what the sale settles.

The order is fixed: a vehicle is stored when it is repossessed, appraised (by a named
appraiser, with the report kept), and sold once. The sale's price less its costs (the sale's
own fees and the storage fees accrued since the vehicle came in) are the net proceeds. They
are applied to the loan the same way a returned or traded-in vehicle's appraisal is
(`loans.maturity.plan_vehicle_disposition`): the loan falls due in full on the sale day (a
payoff without prepayment fee, as for a vehicle return) and the proceeds are a
`VEHICLE_PROCEEDS` payment that the servicing waterfall shares among penalty, interest, fee
and principal. So there is one waterfall, and the ledger's proceeds flows book it.

- net above what is owed: the loan is settled and the rest is owed to the borrower (surplus);
- net below: what is left stays owed, due at once, for collection or a write-off proposal.

Storage fees and sale costs are charged against the proceeds rather than added to the debt:
they are the costs of realising the security, which the borrower bears, and deducting them
keeps the debt arithmetic to one payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tailguard.errors import InvalidInput, Refused
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import Channel, PaymentReceived
from tailguard.loans.payoff import SettlementReason, quote_payoff
from tailguard.loans.position import Position

STORED = "stored"
APPRAISED = "appraised"
SOLD = "sold"
MAX_DAILY_STORAGE_FEE_FEN = 100_000  # 1,000 yuan a day: above it is a typing error


def storage_fees_fen(daily_fee_fen: int, stored_on: date, sold_on: date) -> int:
    """Storage charged per started day from the day the vehicle came in to the sale day
    (the sale day itself not counted: the buyer collects it)."""
    if daily_fee_fen < 0:
        raise InvalidInput.one("storage_daily_fee", "negative", "cannot be below zero")
    return max(0, (sold_on - stored_on).days) * daily_fee_fen


def check_storage(location: str, daily_fee_fen: int) -> None:
    if not location or len(location) > 200:
        raise InvalidInput.one("location", "invalid", "where the vehicle is kept, 1-200 characters")
    if not 0 <= daily_fee_fen <= MAX_DAILY_STORAGE_FEE_FEN:
        raise InvalidInput.one("storage_daily_fee", "out_of_range", "0 to 1,000 yuan a day")


def check_appraisal(status: str, value_fen: int, appraiser: str, appraised_on: date,
                    stored_on: date, today: date) -> None:
    if status == SOLD:
        raise Refused("ALREADY_SOLD", "the vehicle is sold; its appraisal cannot change")
    if value_fen <= 0:
        raise InvalidInput.one("appraised_value", "not_positive", "must be more than zero")
    if not appraiser or len(appraiser) > 120:
        raise InvalidInput.one("appraiser", "invalid", "who appraised it, 1-120 characters")
    if appraised_on > today:
        raise InvalidInput.one("appraised_on", "in_future", "cannot be after today")
    if appraised_on < stored_on:
        raise InvalidInput.one("appraised_on", "before_storage",
                               "the vehicle was appraised before it was repossessed")


def check_sale_order(status: str | None) -> None:
    """A sale needs a stored and appraised vehicle, and happens once."""
    if status is None:
        raise Refused("NOT_REPOSSESSED", "the vehicle has not been repossessed and stored")
    if status == SOLD:
        raise Refused("ALREADY_SOLD", "the vehicle was already sold")
    if status != APPRAISED:
        raise Refused("NOT_APPRAISED", "a vehicle is sold only after an appraisal")


@dataclass(frozen=True)
class SaleFigures:
    """The arithmetic of a sale, in fen: net = price - fees - storage = applied + surplus,
    owed = applied + shortfall."""

    price_fen: int
    fees_fen: int
    storage_fees_fen: int
    net_fen: int
    owed_fen: int
    applied_fen: int
    surplus_fen: int
    shortfall_fen: int


def sale_figures(price_fen: int, fees_fen: int, storage_fen: int, owed_fen: int) -> SaleFigures:
    if price_fen <= 0:
        raise InvalidInput.one("price", "not_positive", "must be more than zero")
    if fees_fen < 0:
        raise InvalidInput.one("fees", "negative", "cannot be below zero")
    net = price_fen - fees_fen - storage_fen
    if net < 0:
        raise Refused("COSTS_EXCEED_PRICE",
                      "the sale's fees and storage exceed its price; record the costs apart")
    applied = min(net, max(owed_fen, 0))
    return SaleFigures(price_fen, fees_fen, storage_fen, net, owed_fen, applied,
                       net - applied, owed_fen - applied)


@dataclass(frozen=True)
class SalePlan:
    figures: SaleFigures
    proceeds: PaymentReceived | None
    accelerated: bool
    """True when the loan's remaining instalments fell due on the sale day."""
    account: LoanAccount
    """The loan after the sale: accelerated, with the proceeds applied."""


def plan_sale(account: LoanAccount, as_of: date, price_fen: int, fees_fen: int,
              storage_fen: int, proceeds_id: str) -> SalePlan:
    """Apply a sale's net proceeds to the loan through the servicing waterfall."""
    try:
        quote = quote_payoff(account, as_of, SettlementReason.VEHICLE_RETURN)
    except Refused as exc:
        if exc.code != "AFTER_MATURITY":
            raise
        accelerated_account = account
        owed = max(0, account.position(as_of).arrears_fen - account.position(as_of)
                   .credit_balance_fen)
        accelerated = False
    else:
        accelerated_account = account.with_schedule(quote.settlement)
        owed = quote.total_fen
        accelerated = True
    if owed <= 0:
        raise Refused("NOTHING_OWED", f"{account.loan_id} owes nothing on {as_of}")
    figures = sale_figures(price_fen, fees_fen, storage_fen, owed)
    proceeds = None
    updated = accelerated_account
    if figures.applied_fen:
        proceeds = PaymentReceived(proceeds_id, as_of, figures.applied_fen,
                                   Channel.VEHICLE_PROCEEDS)
        updated = updated.with_event(proceeds)
    return SalePlan(figures, proceeds, accelerated, updated)


def applied_split(position: Position, proceeds_id: str) -> dict[str, int]:
    """How the waterfall shared the proceeds: component -> fen (zeros left out)."""
    totals: dict[str, int] = {}
    for allocation in position.allocations:
        if allocation.payment_id == proceeds_id:
            for component, amount in allocation.by_component().items():
                if amount:
                    totals[component.value] = totals.get(component.value, 0) + amount
    return totals
