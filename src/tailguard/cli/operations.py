"""Operations on the command line: database, loans, payments, ledger, reconciliation.

Each command only translates: options into a service call on a `Platform` built from the
environment (TAILGUARD_DATABASE_URL, …), and the result into a table or, with `--json`, one
JSON object for scripts. Amounts are yuan strings with two decimals.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import click

from tailguard.cli.errors import reports_errors
from tailguard.errors import InvalidInput, Refused
from tailguard.infra.db.migrate import current_revision
from tailguard.infra.settings import SettingsError
from tailguard.loans.events import Channel
from tailguard.money import AmountError, parse_major, yuan
from tailguard.services import queries, servicing
from tailguard.services.documents import loan_document, trial_balance_document
from tailguard.services.platform import Platform, bootstrap
from tailguard.services.setup import initialise


def platform() -> Platform:
    """The platform from the environment, refusing a database that was never migrated."""
    try:
        plat = bootstrap()
        plat.settings.check_for_production()
    except SettingsError as exc:
        raise Refused("CONFIGURATION", str(exc)) from exc
    if current_revision(plat.engine) is None:
        raise Refused(
            "DATABASE_NOT_INITIALISED",
            f"no tailguard schema at {plat.engine.url.render_as_string(hide_password=True)}: "
            "run `tailguard db upgrade` (or `tailguard demo`) first",
        )
    return plat


def emit(document: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str) if as_json
               else text)


def parse_day(text: str | None, field: str, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput.one(field, "invalid_date", f"{text!r} is not a valid date") from None


# -- db ---------------------------------------------------------------------------------
@click.group("db")
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@reports_errors
def db_upgrade() -> None:
    """Apply all migrations (SQLite or PostgreSQL, from TAILGUARD_DATABASE_URL) and load the
    regions and products that are missing."""
    plat = bootstrap()
    regions = initialise(plat)
    click.echo(f"database at revision {current_revision(plat.engine)}; {regions} regions loaded")


# -- loans ------------------------------------------------------------------------------
@click.group("loan")
def loan() -> None:
    """Loans: list and show."""


def _loan_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "product": row["product_code"], "status": row["status"],
        "principal": yuan(row["principal_fen"]), "annual_rate": str(row["annual_rate"]),
        "term_months": row["term_months"], "disbursement_date": row["disbursement_date"],
        "region": row["region_code"], "as_of": row["as_of"],
        "principal_outstanding": yuan(row["principal_outstanding_fen"] or 0),
        "dpd": row["dpd"], "bucket": row["bucket"], "next_due_date": row["next_due_date"],
        "balloon_due_date": row["balloon_due_date"], "balloon": yuan(row["balloon_fen"] or 0),
    }


@loan.command("list")
@click.option("--status", help="booked, active, closed or written-off.")
@click.option("--bucket", help="C, M1, M2 …")
@click.option("--region", help="GB/T 2260 code prefix, e.g. 44 for Guangdong.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0)
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def loan_list(status: str | None, bucket: str | None, region: str | None, limit: int,
              offset: int, as_json: bool) -> None:
    """List loans with their days past due and bucket."""
    plat = platform()
    with plat.engine.connect() as conn:
        rows = [_loan_row(r) for r in queries.list_loans(
            conn, queries.LoanFilter(status, bucket, region, limit, offset))]
    text = "\n".join(
        f"{r['id']:<14} {r['product']:<28} {r['status']:<8} {r['principal_outstanding']:>12} "
        f"DPD {r['dpd'] if r['dpd'] is not None else '-':>4} {r['bucket'] or '-':<4}"
        for r in rows
    ) or "no loans"
    emit({"loans": rows, "count": len(rows)}, as_json, text)


@loan.command("show")
@click.argument("loan_id")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def loan_show(loan_id: str, as_json: bool) -> None:
    """Terms, schedule, balances, days past due and bucket of one loan."""
    doc = loan_document(platform(), loan_id)
    lines = [
        f"loan {doc['id']} ({doc['terms']['product']}) as of {doc['as_of']}: DPD {doc['dpd']} "
        f"{doc['bucket']}, principal outstanding {doc['principal_outstanding']}, arrears "
        f"{doc['arrears']}, credit {doc['credit_balance']}",
        *(f"  {i['number']:>3} {i['due_date']} {i['kind']:<10} {i['payment']:>12} "
          f"outstanding {i['outstanding']:>12}" for i in doc["schedule"]),
    ]
    emit(doc, as_json, "\n".join(lines))


# -- payments ---------------------------------------------------------------------------
@click.group("payment")
def payment() -> None:
    """Post and reverse payments."""


@payment.command("post")
@click.option("--loan", "loan_id", required=True)
@click.option("--amount", required=True, metavar="YUAN")
@click.option("--value-date", metavar="YYYY-MM-DD", help="[default: today]")
@click.option("--channel", type=click.Choice([c.value for c in Channel if c.is_cash]),
              default=Channel.BANK_TRANSFER.value, show_default=True)
@click.option("--key", "idempotency_key", help="Idempotency key [default: a new one].")
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options={"amount": "--amount", "value_date": "--value-date"})
def payment_post(loan_id: str, amount: str, value_date: str | None, channel: str,
                 idempotency_key: str | None, as_json: bool) -> None:
    """Post a payment to a loan, exactly once per key."""
    plat = platform()
    try:
        amount_fen = parse_major(amount)
    except AmountError as exc:
        raise InvalidInput.one("amount", "malformed", str(exc)) from None
    day = parse_day(value_date, "value_date", plat.today())
    outcome = servicing.post_payment(plat, "cli", loan_id, amount_fen, day, Channel(channel),
                                     idempotency_key or uuid.uuid4().hex)
    doc = outcome.to_dict() | {"amount": yuan(outcome.amount_fen),
                               "arrears": yuan(outcome.arrears_fen),
                               "credit_balance": yuan(outcome.credit_balance_fen)}
    emit(doc, as_json, f"{outcome.status} {outcome.payment_id}: DPD {outcome.dpd} "
         f"{outcome.bucket}, arrears {doc['arrears']}, credit {doc['credit_balance']}")


@payment.command("reverse")
@click.option("--loan", "loan_id", required=True)
@click.option("--payment", "payment_id", required=True)
@click.option("--reason", default="bounced", show_default=True)
@click.option("--key", "idempotency_key", help="Idempotency key [default: a new one].")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def payment_reverse(loan_id: str, payment_id: str, reason: str, idempotency_key: str | None,
                    as_json: bool) -> None:
    """Reverse a payment (a bounced debit)."""
    outcome = servicing.reverse_payment(platform(), "cli", loan_id, payment_id, reason,
                                        idempotency_key or uuid.uuid4().hex)
    emit(outcome.to_dict(), as_json, f"reversed {payment_id}: DPD {outcome.dpd}")


@payment.command("refund")
@click.option("--loan", "loan_id", required=True)
@click.option("--amount", required=True, metavar="YUAN")
@click.option("--key", "idempotency_key", help="Idempotency key [default: a new one].")
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options={"amount": "--amount"})
def payment_refund(loan_id: str, amount: str, idempotency_key: str | None,
                   as_json: bool) -> None:
    """Pay a borrower's credit balance (an overpayment) back to them."""
    try:
        amount_fen = parse_major(amount)
    except AmountError as exc:
        raise InvalidInput.one("amount", "malformed", str(exc)) from None
    outcome = servicing.refund_credit(platform(), "cli", loan_id, amount_fen,
                                      idempotency_key or uuid.uuid4().hex)
    emit(outcome.to_dict() | {"amount": yuan(outcome.amount_fen),
                              "credit_balance": yuan(outcome.credit_balance_fen)},
         as_json, f"refunded {yuan(outcome.amount_fen)}: credit now "
                  f"{yuan(outcome.credit_balance_fen)}")


# -- ledger -----------------------------------------------------------------------------
@click.group("ledger")
def ledger_group() -> None:
    """The double-entry books."""


@ledger_group.command("trial-balance")
@click.option("--as-of", metavar="YYYY-MM-DD", help="[default: today]")
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options={"as_of": "--as-of"})
def trial_balance(as_of: str | None, as_json: bool) -> None:
    """Debits and credits per account; balanced must be true."""
    plat = platform()
    doc = trial_balance_document(plat, parse_day(as_of, "as_of", plat.today()))
    lines = [f"trial balance as of {doc['as_of']}: debits {doc['debits']} credits "
             f"{doc['credits']} balanced {doc['balanced']}"]
    lines += [f"  {a['account']:<18} {a['name']:<36} {a['balance']:>16}" for a in doc["accounts"]]
    emit(doc, as_json, "\n".join(lines))


@click.command("reconcile")
@click.option("--json", "as_json", is_flag=True)
@reports_errors
def reconcile(as_json: bool) -> None:
    """Compare every loan's ledger balances with its servicing state; exit 1 on differences."""
    plat = platform()
    with plat.engine.connect() as conn:
        differences = queries.reconcile(conn)
        tb = queries.trial_balance(conn, date.max)
    rows = [
        {"loan_id": d.loan_id, "account": d.account, "ledger": yuan(d.ledger_fen),
         "servicing": yuan(d.servicing_fen)}
        for d in differences
    ]
    doc = {"balanced": tb.balanced, "differences": rows}
    text = "\n".join([f"trial balance balanced: {tb.balanced}",
                      f"{len(differences)} difference(s)",
                      *(f"  {d['loan_id']} {d['account']}: ledger {d['ledger']} servicing "
                        f"{d['servicing']}" for d in rows)])
    emit(doc, as_json, text)
    if differences or not tb.balanced:
        raise SystemExit(1)


@click.command("eod")
@click.option("--as-of", metavar="YYYY-MM-DD", help="Business day to run to [default: yesterday].")
@click.option("--chunk-size", type=int, default=5_000, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@reports_errors(field_options={"as_of": "--as-of"})
def eod(as_of: str | None, chunk_size: int, as_json: bool) -> None:
    """End of day: accrue, age and emit events for every active loan, catching up missed days.

    Idempotent: a day already run is skipped; a run interrupted half-way resumes.
    """
    from datetime import timedelta

    from tailguard.batch import eod as end_of_day

    plat = platform()
    day = parse_day(as_of, "as_of", plat.today() - timedelta(days=1))
    if day > plat.today():
        raise InvalidInput.one("as_of", "in_future", "cannot run the end of day for the future")
    if chunk_size < 1:
        raise InvalidInput.one("chunk_size", "not_positive", "must be at least 1")

    def show(d: date, loans: int) -> None:
        if not as_json:
            click.echo(f"  {d.isoformat()}: {loans} loans", err=True)

    report = end_of_day.run(plat, day, chunk_size, progress=show)
    doc = {
        "as_of": day.isoformat(),
        "days": [
            {"as_of": d.as_of.isoformat(), "loans": d.loans, "chunks": d.chunks,
             "replayed": d.replayed, "bucket_changes": d.bucket_changes,
             "balloon_warnings": d.balloon_warnings}
            for d in report.days
        ],
    }
    emit(doc, as_json, f"end of day to {day.isoformat()}: {len(report.days)} day(s), "
         f"{report.loans} loan-days")


@click.command("demo")
@click.option("--loans", type=int, default=300, show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@reports_errors
def demo(loans: int, seed: int) -> None:
    """Set up the database and fill it with a demo portfolio (once)."""
    from tailguard.simulation.demo import run_demo  # numpy and the simulator: only here

    if not 1 <= loans <= 100_000:
        raise InvalidInput.one("loans", "out_of_range", "must be between 1 and 100000")
    try:
        plat = bootstrap()
    except SettingsError as exc:
        raise Refused("CONFIGURATION", str(exc)) from exc
    initialise(plat)
    with click.progressbar(length=1, label="booking the demo portfolio", file=None) as bar:
        booked, payments, skipped = run_demo(plat, loans, seed)
        bar.update(1)
    if skipped:
        click.echo("the database already holds loans: demo left as it is")
    else:
        click.echo(f"booked {booked} demo loans with {payments} payments")
