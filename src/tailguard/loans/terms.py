"""The terms of one loan, checked against its product's limits field by field.

`LoanRequest` is what an officer or the calculator asks for; `validate_request` either returns
the `LoanTerms` of a bookable loan or raises `InvalidInput` naming every field that is wrong,
so a form can show all mistakes at once rather than one per attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tailguard.calendar import add_months
from tailguard.errors import FieldError, InvalidInput
from tailguard.loans.annualised_rate import annualised_rate
from tailguard.loans.products import Product, RepaymentMethod
from tailguard.loans.schedule import Schedule, build_schedule
from tailguard.money import round_fen
from tailguard.money.rates import percent_text
from tailguard.money.rounding import CONTEXT


@dataclass(frozen=True)
class LoanRequest:
    """A loan as asked for. Either `balloon_fen` or `balloon_share` may be given."""

    principal_fen: int
    annual_rate: Decimal
    term_months: int
    disbursement_date: date
    first_due_date: date | None = None
    contract_day: int | None = None
    balloon_fen: int | None = None
    balloon_share: Decimal | None = None
    vehicle_used: bool = False


@dataclass(frozen=True)
class LoanTerms:
    """The agreed terms of a booked loan."""

    product: Product
    principal_fen: int
    """Financed amount, financed fees included."""
    annual_rate: Decimal
    term_months: int
    disbursement_date: date
    first_due_date: date
    contract_day: int
    balloon_fen: int = 0
    vehicle_used: bool = False

    @property
    def financed_fees_fen(self) -> int:
        return sum(f.amount_fen for f in self.product.fees if f.financed)

    @property
    def upfront_fees_fen(self) -> int:
        return sum(f.amount_fen for f in self.product.fees if not f.financed)

    def annualised_rate(self) -> Decimal:
        """The rate Chinese rules require beside the contract rate: 12 × the monthly IRR of
        what the borrower really receives (the financed amount less fees financed into it and
        fees paid up front) against every scheduled payment."""
        received_fen = self.principal_fen - self.financed_fees_fen - self.upfront_fees_fen
        payments = [i.payment_fen for i in self.initial_schedule().installments]
        return annualised_rate(received_fen, payments)

    def initial_schedule(self) -> Schedule:
        product = self.product
        return Schedule(
            build_schedule(
                principal_fen=self.principal_fen,
                annual_rate=self.annual_rate,
                method=product.method,
                term_months=self.term_months,
                start=self.disbursement_date,
                first_due_date=self.first_due_date,
                contract_day=self.contract_day,
                balloon_fen=self.balloon_fen,
                day_count=product.day_count,
                rounding=product.rounding,
                residual_to=product.residual_to,
            ),
            version=1,
            effective_date=self.disbursement_date,
            reason="booking",
        )


def financed_amount_fen(vehicle_price_fen: int, down_payment_fen: int, product: Product) -> int:
    """What the loan finances: the price less the down payment, plus the fees financed."""
    financed = sum(f.amount_fen for f in product.fees if f.financed)
    return vehicle_price_fen - down_payment_fen + financed


def balloon_from_share(principal_fen: int, share: Decimal, product: Product) -> int:
    """The balloon for a share of the financed amount, rounded with the product's mode."""
    return round_fen(CONTEXT.multiply(Decimal(principal_fen), share), product.rounding)


def validate_request(product: Product, request: LoanRequest) -> LoanTerms:
    """The terms of `request` under `product`, or `InvalidInput` naming each bad field."""
    limits = product.limits
    errors: list[FieldError] = []

    def bad(field: str, code: str, message: str) -> None:
        errors.append(FieldError(field, code, message))

    if not limits.principal_fen_min <= request.principal_fen <= limits.principal_fen_max:
        bad(
            "principal", "out_of_range",
            f"must be between {limits.principal_fen_min / 100:.2f} and "
            f"{limits.principal_fen_max / 100:.2f} yuan",
        )
    if not limits.annual_rate_min <= request.annual_rate <= limits.annual_rate_max:
        bad(
            "annual_rate", "out_of_range",
            f"must be between {percent_text(limits.annual_rate_min, 2)} and "
            f"{percent_text(limits.annual_rate_max, 2)} percent, "
            f"got {percent_text(request.annual_rate, 2)}",
        )
    if not limits.term_months_min <= request.term_months <= limits.term_months_max:
        bad(
            "term", "out_of_range",
            f"must be between {limits.term_months_min} and {limits.term_months_max} months, "
            f"got {request.term_months}",
        )

    balloon_fen = 0
    if request.balloon_fen is not None and request.balloon_share is not None:
        bad("balloon", "ambiguous", "give the balloon as an amount or as a share, not both")
    elif request.balloon_fen is not None or request.balloon_share is not None:
        if product.method is not RepaymentMethod.BALLOON:
            if request.balloon_fen or request.balloon_share:
                bad("balloon", "not_allowed", f"a {product.method.value} loan has no balloon")
        else:
            if request.balloon_share is not None:
                share = request.balloon_share
                balloon_fen = balloon_from_share(request.principal_fen, share, product)
            else:
                assert request.balloon_fen is not None
                balloon_fen = request.balloon_fen
                share = (
                    CONTEXT.divide(Decimal(balloon_fen), Decimal(request.principal_fen))
                    if request.principal_fen > 0
                    else Decimal(0)
                )
            if balloon_fen < 0 or share < 0:
                bad("balloon", "negative", "cannot be negative")
            elif share > limits.balloon_share_max:
                bad(
                    "balloon", "above_maximum",
                    f"at most {percent_text(limits.balloon_share_max, 2)} percent of the "
                    f"financed amount for {product.key}, got {percent_text(share, 2)}",
                )

    contract_day = request.contract_day
    if contract_day is None:
        contract_day = (
            request.first_due_date.day if request.first_due_date else request.disbursement_date.day
        )
    if not 1 <= contract_day <= 31:
        bad("contract_day", "out_of_range", f"must be 1–31, got {contract_day}")
        contract_day = request.disbursement_date.day
    first_due = request.first_due_date or add_months(
        request.disbursement_date, 1, contract_day
    )
    if first_due <= request.disbursement_date:
        bad("first_due_date", "not_after_start", "must be after the disbursement date")
    elif (first_due - request.disbursement_date).days > 62:
        bad("first_due_date", "too_far", "must be within two months of the disbursement date")

    if errors:
        raise InvalidInput(errors)
    return LoanTerms(
        product=product,
        principal_fen=request.principal_fen,
        annual_rate=request.annual_rate,
        term_months=request.term_months,
        disbursement_date=request.disbursement_date,
        first_due_date=first_due,
        contract_day=contract_day,
        balloon_fen=balloon_fen,
        vehicle_used=request.vehicle_used,
    )
