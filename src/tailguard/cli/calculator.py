"""`tailguard schedule`: the repayment calculator.

It serves borrowers and staff who want to see a schedule before a loan exists, and doubles as a
way to check tailguard's arithmetic against any bank calculator, mortgage-sized terms included.
The command only translates: option text is parsed into the core's values, the loan is checked
against the limits of `calculator_product(method)` by `validate_request` (the same check a
booking gets), the schedule is built by `build_schedule`, and the result is printed as a table
or as one JSON object whose amounts are yuan strings with two decimals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import click

from tailguard.cli.errors import reports_errors
from tailguard.errors import FieldError, InvalidInput
from tailguard.loans.products import RepaymentMethod, calculator_product
from tailguard.loans.schedule import Installment, level_payment_fen, period_interest_fen
from tailguard.loans.terms import LoanRequest, LoanTerms, validate_request
from tailguard.money import AmountError, RateError, parse_major, parse_percent, yuan

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China keeps UTC+8 all year, so a fixed offset is exact and needs no time-zone database."""

FIELD_OPTIONS = {
    "method": "--method",
    "principal": "--principal",
    "annual_rate": "--annual-rate",
    "term": "--term",
    "balloon": "--balloon-percent",
    "start": "--start",
    "first_due_date": "--first-due",
    "contract_day": "--first-due",
}
"""Field names of `validate_request` and of this module, by the option the user typed."""

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class CalculatorRequest:
    """The calculator's options, parsed but not yet checked against the product."""

    method: RepaymentMethod
    loan: LoanRequest
    annual_rate_percent: Decimal


def parse_options(
    *,
    method: str,
    principal: str,
    annual_rate: str,
    term: int,
    balloon_percent: str | None,
    start: str,
    first_due: str | None,
) -> CalculatorRequest:
    """Option text to core values, or `InvalidInput` naming every option that is malformed."""
    errors: list[FieldError] = []
    try:
        repayment = RepaymentMethod(method)
    except ValueError:
        choices = ", ".join(m.value for m in RepaymentMethod)
        errors.append(FieldError("method", "unknown", f"{method!r} is not one of {choices}"))
        repayment = RepaymentMethod.EQUAL_INSTALLMENT

    principal_fen = 0
    try:
        principal_fen = parse_major(principal)
    except AmountError as exc:
        errors.append(FieldError("principal", "malformed", str(exc)))

    rate = Decimal(0)
    try:
        rate = parse_percent(annual_rate)
    except RateError as exc:
        errors.append(FieldError("annual_rate", "malformed", str(exc)))

    balloon_share: Decimal | None = None
    if balloon_percent is not None and repayment is not RepaymentMethod.BALLOON:
        errors.append(
            FieldError("balloon", "not_allowed", f"only with --method balloon, not {method}")
        )
    elif balloon_percent is None and repayment is RepaymentMethod.BALLOON:
        errors.append(FieldError("balloon", "missing", "required with --method balloon"))
    elif balloon_percent is not None:
        try:
            balloon_share = parse_percent(balloon_percent)
        except RateError as exc:
            errors.append(FieldError("balloon", "malformed", str(exc)))

    start_date = _parse_date(start, "start", errors)
    first_due_date = _parse_date(first_due, "first_due_date", errors) if first_due else None

    if errors:
        raise InvalidInput(errors)
    assert start_date is not None
    return CalculatorRequest(
        method=repayment,
        loan=LoanRequest(
            principal_fen=principal_fen,
            annual_rate=rate,
            term_months=term,
            disbursement_date=start_date,
            first_due_date=first_due_date,
            balloon_share=balloon_share,
        ),
        annual_rate_percent=Decimal(annual_rate.strip()),
    )


def _parse_date(text: str, field: str, errors: list[FieldError]) -> date | None:
    """An ISO calendar date; impossible dates such as 2026-02-30 are named, not crashed on."""
    stripped = text.strip()
    if _ISO_DATE.match(stripped):
        try:
            return date.fromisoformat(stripped)
        except ValueError:
            pass
    errors.append(FieldError(field, "invalid_date", f"{text!r} is not a valid date (YYYY-MM-DD)"))
    return None


def percent_text(percent: Decimal) -> str:
    """The percent as given, without trailing zeros or exponent: 4.750 → "4.75", 10.0 → "10"."""
    return format(percent.normalize(), "f")


def headline_payment(terms: LoanTerms, installments: tuple[Installment, ...]) -> tuple[str, int]:
    """What a borrower asks first, "how much a month?", answered per method."""
    method = terms.product.method
    if method in (RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.BALLOON):
        level = level_payment_fen(
            terms.principal_fen,
            terms.balloon_fen,
            terms.annual_rate,
            terms.term_months,
            terms.product.rounding,
        )
        return "monthly payment", level
    if method is RepaymentMethod.INTEREST_ONLY:
        interest = period_interest_fen(
            terms.principal_fen, terms.annual_rate, terms.product.rounding
        )
        return "monthly interest", interest
    return "first payment (then decreasing)", installments[0].payment_fen


def schedule_document(
    terms: LoanTerms, installments: tuple[Installment, ...], annual_rate_percent: Decimal
) -> dict[str, Any]:
    """The JSON object of item 8 of the issue; every amount a yuan string with two decimals."""
    return {
        "method": terms.product.method.value,
        "principal": yuan(terms.principal_fen),
        "annual_rate": percent_text(annual_rate_percent),
        "term_months": terms.term_months,
        "balloon": yuan(terms.balloon_fen),
        "installments": [
            {
                "number": inst.number,
                "due_date": inst.due_date.isoformat(),
                "payment": yuan(inst.payment_fen),
                "principal": yuan(inst.principal_fen),
                "interest": yuan(inst.interest_fen),
                "balance_after": yuan(inst.balance_after_fen),
            }
            for inst in installments
        ],
        "total_payment": yuan(sum(inst.payment_fen for inst in installments)),
        "total_interest": yuan(sum(inst.interest_fen for inst in installments)),
    }


def schedule_table(
    terms: LoanTerms, installments: tuple[Installment, ...], annual_rate_percent: Decimal
) -> str:
    """A header line, one aligned row per instalment and a totals row."""
    label, headline_fen = headline_payment(terms, installments)
    header = (
        f"method: {terms.product.method.value} | principal: {yuan(terms.principal_fen)} | "
        f"annual rate: {percent_text(annual_rate_percent)}% | term: {terms.term_months} months | "
        f"balloon: {yuan(terms.balloon_fen)} | {label}: {yuan(headline_fen)} | "
        f"annualised rate (IRR): {(terms.annualised_rate() * 100).quantize(Decimal('0.01'))}%"
    )
    titles = ("No.", "Due date", "Payment", "Principal", "Interest", "Balance")
    rows = [
        (
            str(inst.number),
            inst.due_date.isoformat(),
            yuan(inst.payment_fen),
            yuan(inst.principal_fen),
            yuan(inst.interest_fen),
            yuan(inst.balance_after_fen),
        )
        for inst in installments
    ]
    totals = (
        "Total",
        "",
        yuan(sum(inst.payment_fen for inst in installments)),
        yuan(sum(inst.principal_fen for inst in installments)),
        yuan(sum(inst.interest_fen for inst in installments)),
        "",
    )
    widths = [max(len(row[c]) for row in (titles, *rows, totals)) for c in range(len(titles))]
    # Numbers and amounts align right, the date left; the totals label starts the line.
    align_left = (False, True, False, False, False, False)

    def line(cells: tuple[str, ...], first_left: bool = False) -> str:
        padded = [
            cell.ljust(width) if left or (k == 0 and first_left) else cell.rjust(width)
            for k, (cell, width, left) in enumerate(zip(cells, widths, align_left, strict=True))
        ]
        return "  ".join(padded).rstrip()

    body = [line(titles), *(line(row) for row in rows), line(totals, first_left=True)]
    return "\n".join([header, "", *body])


def today_in_china() -> date:
    """The calculator's default disbursement date; read here, at the edge, never in the core."""
    return datetime.now(CHINA_STANDARD_TIME).date()


def loan_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options that describe a loan, shared by `schedule` and `payoff`."""
    decorators = [
        click.option(
            "--method",
            required=True,
            type=click.Choice([m.value for m in RepaymentMethod]),
            help="equal-installment (等额本息), equal-principal (等额本金), balloon (弹性尾款) "
            "or interest-only (先息后本).",
        ),
        click.option(
            "--principal", required=True, metavar="YUAN", help="Financed amount, e.g. 200000.00."
        ),
        click.option(
            "--annual-rate", required=True, metavar="PERCENT", help="Contract rate, e.g. 4.75."
        ),
        click.option("--term", required=True, type=int, metavar="MONTHS", help="1 to 360 months."),
        click.option(
            "--balloon-percent",
            metavar="PERCENT",
            help="Balloon as a percent of the principal, 0 to 50; only with --method balloon.",
        ),
        click.option(
            "--start",
            metavar="YYYY-MM-DD",
            help="Disbursement date [default: today in China].",
        ),
        click.option(
            "--first-due",
            metavar="YYYY-MM-DD",
            help="First due date when it is not one month after --start (a broken first "
            "period); later instalments fall on the same day of the month.",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


@click.command("schedule")
@loan_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@reports_errors(field_options=FIELD_OPTIONS)
def schedule(
    method: str,
    principal: str,
    annual_rate: str,
    term: int,
    balloon_percent: str | None,
    start: str | None,
    first_due: str | None,
    as_json: bool,
) -> None:
    """Print the repayment schedule of a loan."""
    request = parse_options(
        method=method,
        principal=principal,
        annual_rate=annual_rate,
        term=term,
        balloon_percent=balloon_percent,
        start=start if start is not None else today_in_china().isoformat(),
        first_due=first_due,
    )
    terms = validate_request(calculator_product(request.method), request.loan)
    installments = terms.initial_schedule().installments
    if as_json:
        document = schedule_document(terms, installments, request.annual_rate_percent)
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        click.echo(schedule_table(terms, installments, request.annual_rate_percent))
