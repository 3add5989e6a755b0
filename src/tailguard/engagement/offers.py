"""Offers: the repayment options a borrower may be offered, with their eligibility,
affordability and regulatory caps, as pure rules over a loan account and a few facts.

An offer is one of:

| kind | accepting it | applied through |
| --- | --- | --- |
| `due-date-change` | instalments ahead fall on another day | servicing (schedule) |
| `deferral` | the next 1–3 months skipped; all moves out | approval `defer` |
| `arrears-plan` | arrears spread over the instalments ahead | approval `arrears-plan` |
| `balloon-settle` | paid off at today's payoff quote | servicing `settle_loan` |
| `balloon-refinance` | the balloon becomes instalments (尾款分期) | approval `refinance` |
| `balloon-extend` | the balloon over more months (展期), capped | approval `extend` |
| `balloon-trade-in`, `-return` | the appraisal settles the loan | servicing `dispose_vehicle` |

Why the rules sit here and not in the services: an offer is a promise made to a borrower, so
the same facts must give the same answer in the quote, in the message and at acceptance; the
service gathers the facts (one read), this module decides. The checks run in a fixed order and
the first that fails names the reason (`Refused.code`), so a refusal can be shown to the
borrower and counted.

Caps. A deferral moves the maturity by its months, which is an extension (展期) under 贷款通则
Art. 12, so it is counted with balloon extensions against `loans.maturity.extension_cap_months`
(half the original term for 1–5 year loans, and under the strict default reading at most 5
years in total for a new car and 3 for a used one; see
`../shared/reference/china-auto-finance.md`). Balloon refinancing is not an extension (a new
instalment plan at the product's refinancing terms) and keeps the product's own term range.

Affordability: when the borrower's monthly income is stated, the new regular instalment may be
at most `affordability_share` of it (a house number, 50 % by default). Without a stated income
the check is skipped rather than guessed, and the quote says so (`affordability: "unknown"`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from tailguard.calendar import add_months
from tailguard.errors import Refused
from tailguard.loans.account import LoanAccount
from tailguard.loans.maturity import (
    extension_cap_months,
    plan_extension,
    plan_refinance,
    plan_settlement,
)
from tailguard.loans.payoff import SettlementReason, quote_payoff
from tailguard.loans.products import RepaymentMethod
from tailguard.loans.restructure import RestructurePlan, plan_restructure
from tailguard.loans.schedule import (
    Installment,
    InstallmentKind,
    Schedule,
    build_schedule,
    day_interest_fen,
)
from tailguard.money.rounding import CONTEXT


class OfferKind(Enum):
    DUE_DATE_CHANGE = "due-date-change"
    DEFERRAL = "deferral"
    ARREARS_PLAN = "arrears-plan"
    SETTLE = "balloon-settle"
    REFINANCE = "balloon-refinance"
    EXTEND = "balloon-extend"
    TRADE_IN = "balloon-trade-in"
    RETURN_VEHICLE = "balloon-return"

    @property
    def is_balloon(self) -> bool:
        return self.value.startswith("balloon-")


BALLOON_KINDS = tuple(k for k in OfferKind if k.is_balloon)
APPROVAL_ACTION = {
    OfferKind.DEFERRAL: "defer",
    OfferKind.ARREARS_PLAN: "arrears-plan",
    OfferKind.REFINANCE: "refinance",
    OfferKind.EXTEND: "extend",
}
"""Kinds that change what is owed: servicing applies them only after a second person approves
(services/approvals.py); the borrower's acceptance is the request."""
BORROWER_MAY_ACCEPT = frozenset({OfferKind.DUE_DATE_CHANGE, OfferKind.DEFERRAL,
                                 OfferKind.ARREARS_PLAN, OfferKind.REFINANCE, OfferKind.EXTEND})
"""Kinds a borrower may accept or decline themselves (API and app alike): not a settlement
(the borrower pays the payoff in the app) nor a trade-in or return (servicing applies those with
the vehicle's appraisal)."""


class OfferStatus(Enum):
    QUOTED = "quoted"
    SENT = "sent"
    ACCEPTING = "accepting"
    """An acceptance claimed the offer and is applying it (a crash leaves it to be replayed)."""
    ACCEPTED = "accepted"
    """Accepted, waiting for the checker's approval."""
    APPLIED = "applied"
    DECLINED = "declined"
    EXPIRED = "expired"
    REJECTED = "rejected"
    """The checker did not approve what the borrower accepted."""


OPEN_STATUSES = (OfferStatus.QUOTED, OfferStatus.SENT, OfferStatus.ACCEPTING,
                 OfferStatus.ACCEPTED)
"""An open offer of a kind blocks quoting another of the same kind for the loan."""


@dataclass(frozen=True)
class OfferPolicy:
    """The lender's numbers for offers (house numbers; the legal caps come from the product)."""

    valid_days: int = 14
    affordability_share: Decimal = Decimal("0.5")
    due_date_change_max_dpd: int = 0
    due_date_change_min_months_on_book: int = 3
    due_date_changes_max: int = 1
    deferral_months_max: int = 3
    deferral_max_dpd: int = 30
    deferral_min_months_on_book: int = 6
    deferrals_max: int = 2
    arrears_plan_min_dpd: int = 1
    arrears_plan_max_dpd: int = 90
    arrears_plan_min_months_on_book: int = 3
    balloon_window_days: int = 120
    """Balloon options are offered from this many days before the balloon falls due…"""
    balloon_grace_days: int = 30
    """…until this many days after it."""
    balloon_option_max_dpd: int = 30
    """Refinancing and extension only for a borrower at most this late (the balloon included)."""


DEFAULT_POLICY = OfferPolicy()


@dataclass(frozen=True)
class OfferFacts:
    """What the service read about the loan and its borrower, apart from the account."""

    as_of: date
    active: bool
    dpd: int
    months_on_book: int
    open_kinds: frozenset[str] = frozenset()
    previous_deferrals: int = 0
    previous_due_date_changes: int = 0
    monthly_income_fen: int | None = None
    has_guarantor: bool = False
    guarantor_consent: bool = False


@dataclass(frozen=True)
class OfferRequest:
    kind: OfferKind
    months: int | None = None
    """Deferral months, refinancing or extension term, arrears plan instalments."""
    new_day: int | None = None
    """The new day of the month, for a due-date change (1–28, so every month has it)."""
    annual_rate: Decimal | None = None
    """Refinancing rate; the contract rate if not given."""


@dataclass(frozen=True)
class Quote:
    kind: OfferKind
    as_of: date
    valid_until: date
    terms: dict[str, Any] = field(default_factory=dict)


def months_between(start: date, end: date) -> int:
    """Whole months from `start` to `end` (months on book)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


def valid_until(as_of: date, policy: OfferPolicy = DEFAULT_POLICY) -> date:
    return as_of + timedelta(days=policy.valid_days)


def is_expired(valid_until_date: date, end_of_day: date) -> bool:
    """At the end of `end_of_day` an offer valid until that day (or before) lapses."""
    return valid_until_date <= end_of_day


# -- eligibility ---------------------------------------------------------------------------
def _balloon_due(account: LoanAccount) -> date | None:
    final = account.schedule.balloon_installment()
    return final.due_date if final is not None else None


def check_eligibility(kind: OfferKind, account: LoanAccount, facts: OfferFacts,
                      policy: OfferPolicy = DEFAULT_POLICY) -> None:
    """Raise `Refused` with the first rule the loan fails for `kind`; return if eligible."""
    if not facts.active:
        raise Refused("LOAN_NOT_ACTIVE", "the loan is closed or not yet active")
    if kind.value in facts.open_kinds:
        raise Refused("OFFER_OPEN", f"an offer of {kind.value} is already open for this loan")
    if kind is OfferKind.DUE_DATE_CHANGE:
        _max_dpd(facts, policy.due_date_change_max_dpd)
        _min_months(facts, policy.due_date_change_min_months_on_book)
        if facts.previous_due_date_changes >= policy.due_date_changes_max:
            raise Refused("TOO_MANY_DUE_DATE_CHANGES",
                          f"the due date was already changed {facts.previous_due_date_changes} "
                          f"time(s); at most {policy.due_date_changes_max}")
    elif kind is OfferKind.DEFERRAL:
        _max_dpd(facts, policy.deferral_max_dpd)
        _min_months(facts, policy.deferral_min_months_on_book)
        if facts.previous_deferrals >= policy.deferrals_max:
            raise Refused("TOO_MANY_DEFERRALS",
                          f"{facts.previous_deferrals} deferral(s) already granted; at most "
                          f"{policy.deferrals_max} over the life of the loan")
    elif kind is OfferKind.ARREARS_PLAN:
        if facts.dpd < policy.arrears_plan_min_dpd:
            raise Refused("NOT_IN_ARREARS", "an instalment plan is for arrears; none are owed")
        _max_dpd(facts, policy.arrears_plan_max_dpd)
        _min_months(facts, policy.arrears_plan_min_months_on_book)
    else:
        balloon_due = _balloon_due(account)
        if account.product.method is not RepaymentMethod.BALLOON or balloon_due is None:
            raise Refused("NO_BALLOON", "the loan has no balloon left")
        opens = balloon_due - timedelta(days=policy.balloon_window_days)
        closes = balloon_due + timedelta(days=policy.balloon_grace_days)
        if facts.as_of < opens:
            raise Refused("BALLOON_NOT_NEAR",
                          f"balloon options open {policy.balloon_window_days} days before the "
                          f"balloon falls due ({balloon_due}), from {opens}")
        if facts.as_of > closes:
            raise Refused("BALLOON_WINDOW_CLOSED",
                          f"balloon options closed on {closes}, {policy.balloon_grace_days} "
                          "days after the balloon fell due")
        if kind in (OfferKind.REFINANCE, OfferKind.EXTEND):
            _max_dpd(facts, policy.balloon_option_max_dpd)
        if kind is OfferKind.RETURN_VEHICLE and not account.product.maturity.allows_vehicle_return:
            raise Refused("RETURN_NOT_ALLOWED",
                          f"product {account.product.key} does not take the car back")


def _max_dpd(facts: OfferFacts, limit: int) -> None:
    if facts.dpd > limit:
        raise Refused("DPD_TOO_HIGH", f"{facts.dpd} days past due; this offer allows {limit}")


def _min_months(facts: OfferFacts, minimum: int) -> None:
    if facts.months_on_book < minimum:
        raise Refused("TOO_NEW_ON_BOOK",
                      f"{facts.months_on_book} month(s) on book; at least {minimum} needed")


# -- schedule rules the core does not have -------------------------------------------------
@dataclass(frozen=True)
class ReschedulePlan:
    """A due-date change or deferral: the same debt on new dates, and the months it moved."""

    schedule: Schedule
    extension_months: int

    def apply(self, account: LoanAccount) -> LoanAccount:
        return account.with_schedule(
            self.schedule, extended_months=account.extended_months + self.extension_months)


def _reschedule(account: LoanAccount, as_of: date, first_due: date, contract_day: int,
                reason: str) -> Schedule:
    """What falls due after `as_of` re-amortised from the current period's start to new dates.

    The principal at the start of the current period, the number of instalments and the
    balloon stay as they are; only the dates move, so the interest of the current period runs
    to the new first due date (longer or shorter) and is paid with it. Instalments due on or
    before `as_of` are kept unchanged.
    """
    schedule = account.schedule
    later = [i for i in schedule.installments if i.due_date > as_of]
    if not later:
        raise Refused("NOTHING_AHEAD", "no instalment falls due after today")
    if any(i.fee_fen for i in later):
        raise Refused("FEES_AHEAD", "instalments with fees are rescheduled by servicing")
    if len({i.contract_rate for i in later}) > 1:
        raise Refused("MIXED_RATES", "the instalments ahead run at different rates")
    today = [i for i in schedule.installments if i.due_date == as_of]
    first = later[0]
    opening = first.principal_fen + first.balance_after_fen
    balloon = sum(i.balloon_fen for i in later)
    product = account.product
    method = RepaymentMethod.BALLOON if balloon else (
        product.method if product.method is not RepaymentMethod.BALLOON
        else RepaymentMethod.EQUAL_INSTALLMENT)
    rate = first.contract_rate if first.contract_rate is not None else account.annual_rate
    future = list(build_schedule(
        principal_fen=opening, annual_rate=rate, method=method, term_months=len(later),
        start=first.period_start, first_due_date=first_due, contract_day=contract_day,
        balloon_fen=balloon, day_count=product.day_count, rounding=product.rounding,
        residual_to=product.residual_to,
    ))
    if first_due != first.due_date:
        # The current period now ends on another day: its interest is for the days it really
        # runs (a broken period), whichever way the date moved.
        days = (first_due - first.period_start).days
        future[0] = replace(future[0], interest_fen=day_interest_fen(
            opening, rate, days, product.day_count, product.rounding))
    return schedule.supersede([*today, *future], as_of, reason)


def plan_due_date_change(account: LoanAccount, as_of: date, new_day: int) -> ReschedulePlan:
    """Move every instalment after today to day `new_day` of its month.

    The next instalment moves to `new_day` of its own month when that is still after today,
    else of the next month. The loan's contract day on record is not changed (the schedule
    version carries the new dates).
    """
    if not 1 <= new_day <= 28:
        raise Refused("DAY_OUT_OF_RANGE", "the new due day is 1–28, so every month has it")
    later = [i for i in account.schedule.installments if i.due_date > as_of]
    if not later:
        raise Refused("NOTHING_AHEAD", "no instalment falls due after today")
    if later[0].due_date.day == new_day:
        raise Refused("SAME_DUE_DAY", f"instalments already fall on day {new_day}")
    first_due = add_months(later[0].due_date, 0, new_day)
    if first_due <= as_of:
        first_due = add_months(later[0].due_date, 1, new_day)
    return ReschedulePlan(_reschedule(account, as_of, first_due, new_day, "offer:due-date"), 0)


def plan_deferral(account: LoanAccount, as_of: date, months: int,
                  max_months: int = DEFAULT_POLICY.deferral_months_max) -> ReschedulePlan:
    """Skip the next `months` instalments: everything ahead, balloon included, moves out.

    The maturity moves `months` later, an extension (展期) counted against the legal cap.
    Interest keeps running on the unpaid principal through the break and is due with the
    first instalment after it (no interest is charged on it).
    """
    if not 1 <= months <= max_months:
        raise Refused("DEFERRAL_MONTHS_OUT_OF_RANGE",
                      f"a deferral is 1–{max_months} months, asked {months}")
    cap = extension_cap_months(account)
    total = account.extended_months + months
    if total > cap:
        raise Refused("EXTENSION_OVER_CAP",
                      f"a {months}-month deferral makes {total} months of extension; the cap "
                      f"for this {account.terms.term_months}-month "
                      f"{'used' if account.terms.vehicle_used else 'new'}-car loan is {cap}")
    later = [i for i in account.schedule.installments if i.due_date > as_of]
    if not later:
        raise Refused("NOTHING_AHEAD", "no instalment falls due after today")
    day = account.terms.contract_day
    first_due = add_months(later[0].due_date, months, day)
    return ReschedulePlan(_reschedule(account, as_of, first_due, day, "offer:deferral"), months)


def plan_arrears(account: LoanAccount, as_of: date, months: int | None,
                 conversion_id: str) -> RestructurePlan:
    """The arrears (penalty included) spread over the instalments ahead, the balloon kept.

    `months` defaults to the number of instalments still ahead, so the maturity stays where
    it was; more months move it and count against the extension cap.
    """
    later = [i for i in account.schedule.installments if i.due_date > as_of]
    count = months if months is not None else max(1, len(later))
    moved = count - len(later)
    if moved > 0 and account.extended_months + moved > extension_cap_months(account):
        raise Refused("EXTENSION_OVER_CAP",
                      f"{count} instalments move the maturity {moved} month(s), over the cap "
                      f"of {extension_cap_months(account)} months")
    final = account.schedule.balloon_installment()
    balloon = final.balloon_fen if final is not None and final.due_date > as_of else 0
    method = RepaymentMethod.BALLOON if balloon else RepaymentMethod.EQUAL_INSTALLMENT
    return plan_restructure(account, as_of, count, conversion_id, method=method,
                            balloon_fen=balloon, reason="offer:arrears-plan")


# -- quotes ---------------------------------------------------------------------------------
def _regular_payment(installments: list[Installment]) -> int:
    """The instalment a borrower will pay month after month under the new plan: the second
    regular one (the first may carry a broken period), balloons excluded."""
    regular = [i for i in installments if i.kind in (InstallmentKind.REGULAR,
                                                     InstallmentKind.FINAL)]
    payments = [i.payment_fen - i.balloon_fen for i in regular]
    if not payments:
        return 0
    return payments[1] if len(payments) > 1 else payments[0]


def _affordability(payment_fen: int, facts: OfferFacts, policy: OfferPolicy) -> str:
    if facts.monthly_income_fen is None or facts.monthly_income_fen <= 0:
        return "unknown"
    limit = int(CONTEXT.multiply(Decimal(facts.monthly_income_fen), policy.affordability_share))
    if payment_fen > limit:
        raise Refused("UNAFFORDABLE",
                      f"the new instalment of {payment_fen} fen is more than "
                      f"{policy.affordability_share:%} of the stated monthly income "
                      f"({limit} fen)")
    return "ok"


def quote(account: LoanAccount, facts: OfferFacts, request: OfferRequest,
          policy: OfferPolicy = DEFAULT_POLICY) -> Quote:
    """Eligibility, caps, terms and affordability of one offer; `Refused` names what failed.

    The terms are computed by the same servicing rules that apply the offer on acceptance
    (loans.maturity, loans.restructure, the rescheduling rules above), so what the borrower is
    told is what they get if they accept on the day of the quote.
    """
    kind = request.kind
    as_of = facts.as_of
    check_eligibility(kind, account, facts, policy)
    terms: dict[str, Any]
    payment: int | None = None
    if kind is OfferKind.DUE_DATE_CHANGE:
        if request.new_day is None:
            raise Refused("DAY_MISSING", "a due-date change needs the new day of the month")
        plan = plan_due_date_change(account, as_of, request.new_day)
        new = [i for i in plan.schedule.installments if i.due_date > as_of]
        payment = _regular_payment(new)
        terms = {"new_day": request.new_day, "first_due_date": new[0].due_date.isoformat(),
                 "first_payment_fen": new[0].payment_fen - new[0].balloon_fen,
                 "monthly_payment_fen": payment, "instalments": len(new)}
    elif kind is OfferKind.DEFERRAL:
        months = request.months or 1
        plan = plan_deferral(account, as_of, months, policy.deferral_months_max)
        new = [i for i in plan.schedule.installments if i.due_date > as_of]
        payment = _regular_payment(new)
        terms = {"months": months, "first_due_date": new[0].due_date.isoformat(),
                 "first_payment_fen": new[0].payment_fen - new[0].balloon_fen,
                 "monthly_payment_fen": payment,
                 "maturity_date": plan.schedule.maturity_date.isoformat(),
                 "extension_months_after": account.extended_months + months,
                 "extension_cap_months": extension_cap_months(account)}
    elif kind is OfferKind.ARREARS_PLAN:
        restructure = plan_arrears(account, as_of, request.months, "quote")
        new = [i for i in restructure.schedule.installments if i.due_date > as_of]
        payment = _regular_payment(new)
        terms = {"months": len(new), "converted_arrears_fen": restructure.converted_arrears_fen,
                 "principal_fen": restructure.principal_fen,
                 "annual_rate": str(restructure.annual_rate), "monthly_payment_fen": payment,
                 "maturity_date": restructure.schedule.maturity_date.isoformat()}
    elif kind is OfferKind.SETTLE:
        payoff = plan_settlement(account, as_of)
        terms = {"payoff_fen": payoff.total_fen, "quote_date": as_of.isoformat()}
    elif kind in (OfferKind.REFINANCE, OfferKind.EXTEND):
        policy_m = account.product.maturity
        if kind is OfferKind.REFINANCE:
            months = request.months or policy_m.refinance_term_months_max
            rate = request.annual_rate or account.annual_rate
            balloon_plan = plan_refinance(account, as_of, months, rate, "quote")
        else:
            cap_left = extension_cap_months(account) - account.extended_months
            months = request.months or min(12, max(1, cap_left))
            balloon_plan = plan_extension(account, as_of, months, facts.has_guarantor,
                                          facts.guarantor_consent, "quote")
        new = [i for i in balloon_plan.schedule.installments
               if i.due_date > account.schedule.maturity_date]
        if balloon_plan.restructure is not None:  # after the due date: a restructure
            new = [i for i in balloon_plan.schedule.installments if i.due_date > as_of]
        payment = new[0].payment_fen if new else 0
        terms = {"months": months, "annual_rate": str(balloon_plan.annual_rate),
                 "balloon_fen": balloon_plan.balloon_fen, "monthly_payment_fen": payment,
                 "maturity_date": balloon_plan.schedule.maturity_date.isoformat()}
        if kind is OfferKind.EXTEND:
            terms["extension_cap_months"] = extension_cap_months(account)
            terms["extension_months_after"] = account.extended_months + months
    else:
        reason = (SettlementReason.TRADE_IN if kind is OfferKind.TRADE_IN
                  else SettlementReason.VEHICLE_RETURN)
        payoff = quote_payoff(account, as_of, reason)
        terms = {"payoff_fen": payoff.total_fen, "quote_date": as_of.isoformat(),
                 "needs_appraisal": True}
    if payment is not None:
        terms["affordability"] = _affordability(payment, facts, policy)
    return Quote(kind, as_of, valid_until(as_of, policy), terms)


def with_overrides(policy: OfferPolicy, **changes: Any) -> OfferPolicy:
    """A tenant's policy: the defaults with some numbers changed."""
    return replace(policy, **changes)
