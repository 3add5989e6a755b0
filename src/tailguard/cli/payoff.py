"""`tailguard payoff`: what settles a calculator loan on a given day.

It answers the borrower's question "what do I pay to finish my loan on that date?" for a loan
described by the same options as `tailguard schedule`, assuming the instalments due before that
date were paid on their due dates (or only the first `--paid-installments` of them). The quote
comes from the core's `quote_payoff`, the same rule servicing applies to a booked loan: overdue
amounts and their penalty interest, the principal not yet due, the interest accrued in the
current period and the product's prepayment fee.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import click

from tailguard.cli.calculator import FIELD_OPTIONS, loan_options, parse_options, today_in_china
from tailguard.cli.errors import reports_errors
from tailguard.errors import InvalidInput
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import PaymentReceived
from tailguard.loans.payoff import PayoffQuote, SettlementReason, quote_payoff
from tailguard.loans.products import calculator_product
from tailguard.loans.terms import validate_request
from tailguard.money import yuan

PAYOFF_FIELDS = FIELD_OPTIONS | {"on": "--on", "paid_installments": "--paid-installments"}


def payoff_document(quote: PayoffQuote, paid: int) -> dict[str, Any]:
    return {
        "as_of": quote.as_of.isoformat(),
        "installments_paid": paid,
        "principal": yuan(quote.principal_fen),
        "interest": yuan(quote.interest_fen),
        "fee": yuan(quote.fee_fen),
        "penalty": yuan(quote.penalty_fen),
        "prepayment_fee": yuan(quote.prepayment_fee_fen),
        "credit": yuan(quote.credit_fen),
        "total": yuan(quote.total_fen),
    }


def _parse_on(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput.one("on", "invalid_date", f"{text!r} is not a valid date") from None


@click.command("payoff")
@loan_options
@click.option("--on", "on", required=True, metavar="YYYY-MM-DD", help="The settlement day.")
@click.option(
    "--paid-installments",
    type=int,
    metavar="N",
    help="How many instalments were paid on their due dates [default: all due before --on].",
)
@click.option(
    "--reason",
    type=click.Choice([r.value for r in SettlementReason]),
    default=SettlementReason.VOLUNTARY.value,
    show_default=True,
    help="A trade-in or vehicle return may waive the prepayment fee.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@reports_errors(field_options=PAYOFF_FIELDS)
def payoff(
    method: str,
    principal: str,
    annual_rate: str,
    term: int,
    balloon_percent: str | None,
    start: str | None,
    first_due: str | None,
    on: str,
    paid_installments: int | None,
    reason: str,
    as_json: bool,
) -> None:
    """Quote the amount that settles a loan on a given day."""
    request = parse_options(
        method=method,
        principal=principal,
        annual_rate=annual_rate,
        term=term,
        balloon_percent=balloon_percent,
        start=start if start is not None else today_in_china().isoformat(),
        first_due=first_due,
    )
    settle_on = _parse_on(on)
    terms = validate_request(calculator_product(request.method), request.loan)
    if settle_on < terms.disbursement_date:
        raise InvalidInput.one("on", "before_start", "must not be before --start")
    account = LoanAccount.open("calculator", terms)
    due_before = [i for i in account.schedule.installments if i.due_date < settle_on]
    if paid_installments is None:
        paid = len(due_before)
    elif not 0 <= paid_installments <= len(due_before):
        raise InvalidInput.one(
            "paid_installments", "out_of_range",
            f"must be between 0 and {len(due_before)} (instalments due before --on)",
        )
    else:
        paid = paid_installments
    for inst in due_before[:paid]:
        if inst.payment_fen:
            account = account.with_event(
                PaymentReceived(f"p{inst.number}", inst.due_date, inst.payment_fen)
            )
    quote = quote_payoff(account, settle_on, SettlementReason(reason))
    document = payoff_document(quote, paid)
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    labels = {
        "principal": "principal", "interest": "interest", "fee": "fees due",
        "penalty": "penalty interest", "prepayment_fee": "  of which prepayment fee",
        "credit": "less credit balance", "total": "TOTAL to pay",
    }
    click.echo(f"payoff on {document['as_of']} after {paid} instalments paid on time")
    width = max(len(v) for v in labels.values())
    for key, label in labels.items():
        click.echo(f"{label.ljust(width)}  {document[key]:>14}")
