"""Balloon maturity options: settle, refinance, extend, trade in, return the vehicle.

Each option is a pure transformation of a loan account into a new schedule version linked to
the one it replaces (plus, where money or collateral moves, the event that records it); no
schedule is overwritten. Before the balloon falls due, refinancing and extension move only the
balloon out of the final instalment; after it has fallen due they restructure the arrears.

Extension caps (贷款通则 Art. 12, see shared/reference/china-auto-finance.md): cumulative
extension at most the original term for loans up to one year, at most half of it (a product
setting) for loans of one to five years, at most three years beyond that; and, under the strict
reading that is the default, the total term with extensions at most 5 years for a new car and 3
years for a used one. A loan with a guarantor needs the guarantor's written consent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import Enum

from tailguard.errors import Refused
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import Channel, PaymentReceived
from tailguard.loans.payoff import PayoffQuote, SettlementReason, quote_payoff
from tailguard.loans.products import RepaymentMethod
from tailguard.loans.restructure import RestructurePlan, apply_restructure, plan_restructure
from tailguard.loans.schedule import Installment, InstallmentKind, Schedule, build_schedule
from tailguard.money.rounding import CONTEXT

SHORT_TERM_MONTHS_MAX = 12
MEDIUM_TERM_MONTHS_MAX = 60
LONG_TERM_EXTENSION_MONTHS_MAX = 36


class MaturityOption(Enum):
    SETTLE = "settle"
    REFINANCE = "refinance"
    EXTEND = "extend"
    TRADE_IN = "trade-in"
    RETURN_VEHICLE = "return-vehicle"


@dataclass(frozen=True)
class BalloonPlan:
    """A refinance or extension: the new version, or a restructure after the due date."""

    option: MaturityOption
    as_of: date
    balloon_fen: int
    schedule: Schedule
    annual_rate: Decimal
    extension_months: int
    restructure: RestructurePlan | None = None

    def apply(self, account: LoanAccount) -> LoanAccount:
        extended = account.extended_months + self.extension_months
        if self.restructure is not None:
            updated = apply_restructure(account, self.restructure)
            return replace(updated, extended_months=extended)
        return account.with_schedule(
            self.schedule, extended_months=extended, annual_rate=self.annual_rate
        )


@dataclass(frozen=True)
class VehicleDisposition:
    """Trade-in or return: the vehicle's appraised value applied against the payoff."""

    option: MaturityOption
    as_of: date
    appraised_value_fen: int
    quote: PayoffQuote
    proceeds: PaymentReceived
    surplus_fen: int
    """Appraisal above the payoff: refunded, or carried into the next car on a trade-in."""
    shortfall_fen: int
    """Payoff above the appraisal: still owed, due at once unless restructured."""
    shortfall_plan: RestructurePlan | None

    def apply(self, account: LoanAccount) -> LoanAccount:
        updated = account.with_schedule(self.quote.settlement).with_event(self.proceeds)
        if self.shortfall_plan is not None:
            updated = apply_restructure(updated, self.shortfall_plan)
        return updated


def _balloon_installment(account: LoanAccount) -> Installment:
    if account.product.method is not RepaymentMethod.BALLOON:
        raise Refused("NOT_A_BALLOON_LOAN", "this loan has no balloon")
    final = account.schedule.balloon_installment()
    if final is None:
        raise Refused("NO_BALLOON_LEFT", "the balloon has already been refinanced or settled")
    return final


def extension_cap_months(account: LoanAccount) -> int:
    """The most months of cumulative extension the rules allow for this loan."""
    original = account.terms.term_months
    policy = account.product.maturity
    if original <= SHORT_TERM_MONTHS_MAX:
        article_12 = original
    elif original <= MEDIUM_TERM_MONTHS_MAX:
        article_12 = int(CONTEXT.multiply(Decimal(original), policy.extension_share_of_term_max))
    else:
        article_12 = LONG_TERM_EXTENSION_MONTHS_MAX
    if not policy.caps_include_extensions:
        return article_12
    total_max = (
        policy.total_term_months_max_used
        if account.terms.vehicle_used
        else policy.total_term_months_max_new
    )
    return max(0, min(article_12, total_max - original))


def _move_balloon(
    account: LoanAccount,
    as_of: date,
    months: int,
    annual_rate: Decimal,
    option: MaturityOption,
    extension_months: int,
    conversion_id: str,
) -> BalloonPlan:
    final = _balloon_installment(account)
    balloon = final.balloon_fen
    if as_of > final.due_date:
        plan = plan_restructure(
            account, as_of, months, conversion_id, annual_rate,
            reason=f"balloon:{option.value}",
        )
        return BalloonPlan(
            option, as_of, balloon, plan.schedule, annual_rate, extension_months, plan
        )
    product = account.product
    regular_part = replace(
        final,
        principal_fen=final.principal_fen - balloon,
        balance_after_fen=balloon,
        balloon_fen=0,
        kind=InstallmentKind.REGULAR,
    )
    new_installments = build_schedule(
        principal_fen=balloon,
        annual_rate=annual_rate,
        method=RepaymentMethod.EQUAL_INSTALLMENT,
        term_months=months,
        start=final.due_date,
        contract_day=account.terms.contract_day,
        day_count=product.day_count,
        rounding=product.rounding,
    )
    version = account.schedule.supersede(
        [regular_part, *new_installments], final.due_date, f"balloon:{option.value}"
    )
    return BalloonPlan(option, as_of, balloon, version, annual_rate, extension_months)


def plan_refinance(
    account: LoanAccount,
    as_of: date,
    months: int,
    annual_rate: Decimal,
    conversion_id: str = "refinance",
) -> BalloonPlan:
    """尾款分期: the balloon turned into `months` new equal instalments at `annual_rate`."""
    policy = account.product.maturity
    if not policy.refinance_term_months_min <= months <= policy.refinance_term_months_max:
        raise Refused(
            "REFINANCE_TERM_OUT_OF_RANGE",
            f"balloon refinancing runs {policy.refinance_term_months_min}–"
            f"{policy.refinance_term_months_max} months, asked {months}",
        )
    if not account.product.limits.annual_rate_min <= annual_rate <= (
        account.product.limits.annual_rate_max
    ):
        raise Refused("RATE_OUT_OF_RANGE", "the refinancing rate is outside the product's range")
    return _move_balloon(
        account, as_of, months, annual_rate, MaturityOption.REFINANCE, 0, conversion_id
    )


def plan_extension(
    account: LoanAccount,
    as_of: date,
    months: int,
    has_guarantor: bool = False,
    guarantor_consent: bool = False,
    conversion_id: str = "extension",
) -> BalloonPlan:
    """展期: the balloon repaid over `months` more months at the contract rate, within caps."""
    if months < 1:
        raise Refused("EXTENSION_NOT_POSITIVE", "an extension is at least one month")
    if has_guarantor and not guarantor_consent:
        raise Refused(
            "GUARANTOR_CONSENT_MISSING",
            "an extension needs the written consent of the guarantor (贷款通则 Art. 12)",
        )
    cap = extension_cap_months(account)
    total = account.extended_months + months
    if total > cap:
        raise Refused(
            "EXTENSION_OVER_CAP",
            f"cumulative extension of {total} months exceeds the cap of {cap} months for a "
            f"{account.terms.term_months}-month "
            f"{'used' if account.terms.vehicle_used else 'new'}-car loan "
            f"(already extended {account.extended_months})",
        )
    return _move_balloon(
        account, as_of, months, account.annual_rate, MaturityOption.EXTEND, months,
        conversion_id,
    )


def plan_settlement(account: LoanAccount, as_of: date) -> PayoffQuote:
    """Settle in full: on the due date that is the final instalment, earlier a payoff."""
    _balloon_installment(account)
    return quote_payoff(account, as_of, SettlementReason.VOLUNTARY)


def plan_vehicle_disposition(
    account: LoanAccount,
    as_of: date,
    option: MaturityOption,
    appraised_value_fen: int,
    proceeds_id: str,
    shortfall_months: int | None = None,
) -> VehicleDisposition:
    """Trade in (置换) or return the vehicle against its appraisal."""
    if option not in (MaturityOption.TRADE_IN, MaturityOption.RETURN_VEHICLE):
        raise Refused("NOT_A_VEHICLE_OPTION", f"{option.value} does not dispose of the vehicle")
    returning = option is MaturityOption.RETURN_VEHICLE
    if returning and not account.product.maturity.allows_vehicle_return:
        raise Refused("RETURN_NOT_ALLOWED", f"{account.product.key} does not take the car back")
    if appraised_value_fen <= 0:
        raise Refused("APPRAISAL_NOT_POSITIVE", "the appraised value must be positive")
    reason = (
        SettlementReason.TRADE_IN if option is MaturityOption.TRADE_IN
        else SettlementReason.VEHICLE_RETURN
    )
    quote = quote_payoff(account, as_of, reason)
    owed = quote.total_fen
    if owed <= 0:
        raise Refused("NOTHING_OWED", f"{account.loan_id} owes nothing on {as_of}; "
                      "a vehicle is not taken against a settled loan")
    applied = min(appraised_value_fen, owed)
    surplus = appraised_value_fen - applied
    shortfall = owed - applied
    proceeds = PaymentReceived(proceeds_id, as_of, applied, Channel.VEHICLE_PROCEEDS)
    plan = None
    if shortfall and shortfall_months:
        settled = account.with_schedule(quote.settlement).with_event(proceeds)
        plan = plan_restructure(
            settled, as_of, shortfall_months, f"{proceeds_id}:shortfall",
            reason="vehicle-shortfall",
        )
    return VehicleDisposition(
        option, as_of, appraised_value_fen, quote, proceeds, surplus, shortfall, plan
    )
