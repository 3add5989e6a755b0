"""The column-wise cache of each loan's replayed position (`loan_state`, `installment_state`).

Services rewrite a loan's rows after every change from the replay; the end-of-day run advances
all loans' rows column-wise from one day to the next. Penalty interest is stored exactly as a
numerator over a per-instalment denominator (contract rate × multiplier / year days), so the
nightly run continues the very fraction the replay computes and both agree to the fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from tailguard.infra.db import bulk, tables
from tailguard.loans.account import LoanAccount
from tailguard.loans.position import Position


@dataclass(frozen=True)
class PenaltyRate:
    """Daily penalty as base × numerator / denominator fen."""

    numerator: int
    denominator: int


def penalty_rate(account: LoanAccount, contract_rate: Any) -> PenaltyRate:
    rate = Fraction(contract_rate if contract_rate is not None else account.annual_rate)
    multiplier = Fraction(account.product.penalty_multiplier)
    year_days = account.product.day_count.year_days
    return PenaltyRate(
        rate.numerator * multiplier.numerator,
        rate.denominator * multiplier.denominator * year_days,
    )


def installment_rows(account: LoanAccount, position: Position) -> list[dict[str, Any]]:
    rows = []
    for state in position.installments:
        inst = state.installment
        rate = penalty_rate(account, inst.contract_rate)
        scaled = state.penalty_exact * rate.denominator
        assert scaled.denominator == 1, "penalty must be a whole number of 1/denominator fen"
        contract = Fraction(inst.contract_rate if inst.contract_rate is not None
                            else account.annual_rate)
        rows.append({
            "loan_id": account.loan_id,
            "number": inst.number,
            "period_start": inst.period_start,
            "due_date": inst.due_date,
            "grace_end": state.grace_end,
            "balance_after_fen": inst.balance_after_fen,
            "rate_numerator": contract.numerator,
            "rate_denominator": contract.denominator,
            "principal_fen": inst.principal_fen,
            "interest_fen": inst.interest_fen,
            "fee_fen": inst.fee_fen,
            "principal_paid_fen": state.principal_paid_fen,
            "interest_paid_fen": state.interest_paid_fen,
            "fee_paid_fen": state.fee_paid_fen,
            "penalty_paid_fen": state.penalty_paid_fen,
            "penalty_waived_fen": state.penalty_waived_fen,
            "interest_waived_fen": state.interest_waived_fen,
            "fee_waived_fen": state.fee_waived_fen,
            "penalty_numerator": scaled.numerator,
            "penalty_denominator": rate.denominator,
            "penalty_rate_numerator": rate.numerator,
            "accrued_to": state.penalty_accrued_to,
            "settled_on": state.settled_on,
            "forgiven": state.forgiven,
        })
    return rows


def loan_state_row(
    account: LoanAccount, position: Position, accrued_interest_fen: int
) -> dict[str, Any]:
    schedule = account.schedule
    balloon = schedule.balloon_installment()
    next_due = position.next_due()
    period = next_due.installment if next_due else None
    rate = Fraction(
        period.contract_rate if period and period.contract_rate is not None
        else account.annual_rate
    )
    due = position.due()
    return {
        "loan_id": account.loan_id,
        "as_of": position.as_of,
        "principal_outstanding_fen": position.principal_outstanding_fen,
        "overdue_principal_fen": position.overdue_principal_fen,
        "overdue_interest_fen": position.overdue_interest_fen,
        "overdue_fee_fen": position.overdue_fee_fen,
        "penalty_outstanding_fen": position.penalty_outstanding_fen,
        "settled_penalty_fen": sum(
            s.penalty_accrued_fen for s in position.installments if s.settled_on is not None
        ),
        "settled_penalty_left_fen": sum(
            s.penalty_outstanding_fen for s in position.installments
            if s.settled_on is not None
        ),
        "accrued_interest_fen": accrued_interest_fen,
        "credit_balance_fen": position.credit_balance_fen,
        "dpd": position.dpd,
        "bucket": position.bucket,
        "next_due_date": next_due.due_date if next_due else None,
        "period_start": period.period_start if period else None,
        "period_opening_fen": period.balance_after_fen + period.principal_fen if period else 0,
        "period_interest_fen": period.interest_fen if period else 0,
        "period_rate_numerator": rate.numerator,
        "period_rate_denominator": rate.denominator * account.product.day_count.year_days,
        "interest_due_fen": sum(s.installment.interest_fen for s in due),
        "fee_due_fen": sum(s.installment.fee_fen for s in due),
        "balloon_due_date": balloon.due_date if balloon else None,
        "balloon_fen": balloon.balloon_fen if balloon else 0,
        "maturity_date": schedule.maturity_date,
        "paid_off": position.paid_off,
    }


def save_state(
    connection: Connection, account: LoanAccount, position: Position, accrued_interest_fen: int
) -> None:
    """Replace one loan's cached state with its replay."""
    save_states(connection, [(account, position, accrued_interest_fen)])


def save_states(
    connection: Connection, items: list[tuple[LoanAccount, Position, int]]
) -> None:
    """Replace the cached state of several loans in a constant number of statements."""
    if not items:
        return
    ids = [account.loan_id for account, _, _ in items]
    connection.execute(delete(tables.installment_state).where(
        tables.installment_state.c.loan_id.in_(ids)))
    connection.execute(delete(tables.loan_state).where(tables.loan_state.c.loan_id.in_(ids)))
    connection.execute(
        insert(tables.loan_state),
        [loan_state_row(account, position, accrued) for account, position, accrued in items],
    )
    rows = [row for account, position, _ in items for row in installment_rows(account, position)]
    if rows:  # a loan has some dozens of instalments: COPY on PostgreSQL when many
        bulk.insert_rows(connection, "installment_state", tuple(rows[0]), rows)


def state_of(connection: Connection, loan_id: str) -> dict[str, Any] | None:
    row = connection.execute(
        select(tables.loan_state).where(tables.loan_state.c.loan_id == loan_id)
    ).mappings().one_or_none()
    return None if row is None else dict(row)


def states_of(connection: Connection, loan_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The cached state rows of several loans in one query; loans without one are left out."""
    if not loan_ids:
        return {}
    rows = connection.execute(
        select(tables.loan_state).where(tables.loan_state.c.loan_id.in_(list(loan_ids)))
    ).mappings().all()
    return {row["loan_id"]: dict(row) for row in rows}


def last_state_date(connection: Connection, loan_id: str) -> date | None:
    state = state_of(connection, loan_id)
    return None if state is None else state["as_of"]
