"""The column-wise cache of each loan's replayed position (`loan_state`, `installment_state`).

Services rewrite a loan's rows after every change from the replay; the end-of-day run advances
all loans' rows column-wise from one day to the next. Penalty interest is stored exactly as a
numerator over a per-instalment denominator (contract rate × multiplier / year days), so the
nightly run continues the very fraction the replay computes and both agree to the fen.

Writing the cache is a diff, not a rewrite: a payment changes a few instalments of a loan of
dozens, so `save_states` reads what is stored (two queries for the whole batch), compares row
by row, and writes only what differs: new rows inserted, vanished rows deleted, changed rows
updated in only their changed columns, unchanged rows and loans not touched at all. The rows
end up exactly as a delete-and-insert would leave them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, select

from tailguard.infra.db import bulk, tables
from tailguard.loans.account import LoanAccount
from tailguard.loans.position import Position


@dataclass(frozen=True)
class PenaltyRate:
    """Daily penalty as base × numerator / denominator fen."""

    numerator: int
    denominator: int


@lru_cache(maxsize=4096)
def _fraction(rate: Decimal) -> Fraction:
    """A rate as an exact fraction; cached because a portfolio has few distinct rates."""
    return Fraction(rate)


@lru_cache(maxsize=4096)
def _penalty_rate(rate: Decimal, multiplier: Decimal, year_days: int) -> PenaltyRate:
    """Keyed by the very values the rate is made of, so a new product version with another
    multiplier or day count can never be served an old rate."""
    r = _fraction(rate)
    m = _fraction(multiplier)
    return PenaltyRate(r.numerator * m.numerator, r.denominator * m.denominator * year_days)


def penalty_rate(account: LoanAccount, contract_rate: Any) -> PenaltyRate:
    product = account.product
    rate = contract_rate if contract_rate is not None else account.annual_rate
    return _penalty_rate(Decimal(rate), Decimal(product.penalty_multiplier),
                         product.day_count.year_days)


INSTALLMENT_COLUMNS = (
    "loan_id", "number", "period_start", "due_date", "grace_end", "balance_after_fen",
    "rate_numerator", "rate_denominator", "principal_fen", "interest_fen", "fee_fen",
    "principal_paid_fen", "interest_paid_fen", "fee_paid_fen", "penalty_paid_fen",
    "penalty_waived_fen", "interest_waived_fen", "fee_waived_fen", "penalty_numerator",
    "penalty_denominator", "penalty_rate_numerator", "accrued_to", "settled_on", "forgiven",
)
INSTALLMENT_TYPES = {
    name: ("varchar" if name == "loan_id" else "date" if name in (
        "period_start", "due_date", "grace_end", "accrued_to", "settled_on")
        else "boolean" if name == "forgiven" else "bigint")
    for name in INSTALLMENT_COLUMNS
}
"""PostgreSQL types of the columns, for the bulk UPDATE through a temporary table."""
LOAN_COLUMNS = (
    "loan_id", "as_of", "principal_outstanding_fen", "overdue_principal_fen",
    "overdue_interest_fen", "overdue_fee_fen", "penalty_outstanding_fen",
    "settled_penalty_fen", "settled_penalty_left_fen", "accrued_interest_fen",
    "credit_balance_fen", "dpd", "bucket", "next_due_date", "period_start",
    "period_opening_fen", "period_interest_fen", "period_rate_numerator",
    "period_rate_denominator", "interest_due_fen", "fee_due_fen", "balloon_due_date",
    "balloon_fen", "maturity_date", "paid_off",
)
LOAN_TYPES = {
    name: ("varchar" if name in ("loan_id", "bucket") else "date" if name in (
        "as_of", "next_due_date", "period_start", "balloon_due_date", "maturity_date")
        else "boolean" if name == "paid_off" else "integer" if name == "dpd" else "bigint")
    for name in LOAN_COLUMNS
}


def installment_rows(account: LoanAccount, position: Position) -> list[dict[str, Any]]:
    return [dict(zip(INSTALLMENT_COLUMNS, values, strict=True))
            for values in installment_values(account, position)]


def installment_values(account: LoanAccount, position: Position, iso_dates: bool = False
                       ) -> list[tuple[Any, ...]]:
    """The instalment rows as tuples in `INSTALLMENT_COLUMNS` order; `iso_dates` gives dates
    as ISO text, the form SQLite stores and returns them in."""
    rows = []
    loan_id = account.loan_id
    annual_rate = account.annual_rate
    # A loan has one or two distinct contract rates: each rate's fractions made once per call
    # (the same values as per row; a save compares millions of rows in a long run).
    by_rate: dict[Any, tuple[PenaltyRate, Fraction]] = {}
    for state in position.installments:
        inst = state.installment
        rates = by_rate.get(inst.contract_rate)
        if rates is None:
            rates = by_rate[inst.contract_rate] = (
                penalty_rate(account, inst.contract_rate),
                _fraction(Decimal(inst.contract_rate if inst.contract_rate is not None
                                  else annual_rate)))
        rate, contract = rates
        exact = state.penalty_exact
        # exact × denominator as an integer (the same value Fraction arithmetic would give).
        times, rest = divmod(rate.denominator, exact.denominator)
        assert rest == 0, "penalty must be a whole number of 1/denominator fen"
        start: Any = inst.period_start
        due: Any = inst.due_date
        grace: Any = state.grace_end
        accrued_to: Any = state.penalty_accrued_to
        settled_on: Any = state.settled_on
        if iso_dates:
            start, due, grace = start.isoformat(), due.isoformat(), grace.isoformat()
            accrued_to, settled_on = _iso(accrued_to), _iso(settled_on)
        rows.append((
            loan_id, inst.number, start, due, grace,
            inst.balance_after_fen, contract.numerator, contract.denominator,
            inst.principal_fen, inst.interest_fen, inst.fee_fen,
            state.principal_paid_fen, state.interest_paid_fen, state.fee_paid_fen,
            state.penalty_paid_fen, state.penalty_waived_fen, state.interest_waived_fen,
            state.fee_waived_fen, exact.numerator * times, rate.denominator, rate.numerator,
            accrued_to, settled_on, state.forgiven,
        ))
    return rows


def loan_state_row(
    account: LoanAccount, position: Position, accrued_interest_fen: int
) -> dict[str, Any]:
    schedule = account.schedule
    balloon = schedule.balloon_installment()
    as_of = position.as_of
    # One pass over the instalments for every sum (the Position properties each take one).
    principal = overdue_principal = overdue_interest = overdue_fee = penalty = 0
    settled_penalty = settled_left = interest_due = fee_due = 0
    next_due = None
    for s in position.installments:
        inst = s.installment
        left = s.penalty_accrued_fen - s.penalty_paid_fen - s.penalty_waived_fen
        principal_left = inst.principal_fen - s.principal_paid_fen
        principal += principal_left
        penalty += left
        if s.settled_on is not None:
            settled_penalty += s.penalty_accrued_fen
            settled_left += left
        if inst.due_date <= as_of:
            overdue_principal += principal_left
            overdue_interest += inst.interest_fen - s.interest_paid_fen - s.interest_waived_fen
            overdue_fee += inst.fee_fen - s.fee_paid_fen - s.fee_waived_fen
            interest_due += inst.interest_fen
            fee_due += inst.fee_fen
        elif next_due is None:
            next_due = s
    period = next_due.installment if next_due else None
    rate = _fraction(Decimal(
        period.contract_rate if period and period.contract_rate is not None
        else account.annual_rate
    ))
    return {
        "loan_id": account.loan_id,
        "as_of": as_of,
        "principal_outstanding_fen": principal,
        "overdue_principal_fen": overdue_principal,
        "overdue_interest_fen": overdue_interest,
        "overdue_fee_fen": overdue_fee,
        "penalty_outstanding_fen": penalty,
        "settled_penalty_fen": settled_penalty,
        "settled_penalty_left_fen": settled_left,
        "accrued_interest_fen": accrued_interest_fen,
        "credit_balance_fen": position.credit_balance_fen,
        "dpd": position.dpd,
        "bucket": position.bucket,
        "next_due_date": next_due.installment.due_date if next_due else None,
        "period_start": period.period_start if period else None,
        "period_opening_fen": period.balance_after_fen + period.principal_fen if period else 0,
        "period_interest_fen": period.interest_fen if period else 0,
        "period_rate_numerator": rate.numerator,
        "period_rate_denominator": rate.denominator * account.product.day_count.year_days,
        "interest_due_fen": interest_due,
        "fee_due_fen": fee_due,
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


IN_LIST_MAX = 500
"""Loan ids per IN list: well under SQLite's bound on parameters in one statement."""


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _sqlite_loan(v: tuple[Any, ...]) -> tuple[Any, ...]:
    return (v[0], v[1].isoformat(), *v[2:13], _iso(v[13]), _iso(v[14]), *v[15:21],
            _iso(v[21]), v[22], v[23].isoformat(), v[24])


def _loan_form(connection: Connection) -> Any:
    """How a loan_state row reads back through the driver, for comparing with what we would
    write: SQLite keeps dates as ISO text (and booleans as 0/1, equal to False/True); psycopg
    returns `date` and `bool`, so rows compare as they are."""
    return _sqlite_loan if connection.dialect.name == "sqlite" else None


def _stored(connection: Connection, table: str, columns: Sequence[str], ids: Sequence[str]
            ) -> list[tuple[Any, ...]]:
    """The rows of `ids` in `table`, as the driver returns them (no type processing)."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), IN_LIST_MAX):
        chunk = ids[start:start + IN_LIST_MAX]
        mark = "%(id{})s" if connection.dialect.name == "postgresql" else ":id{}"
        marks = ", ".join(mark.format(k) for k in range(len(chunk)))
        sql = f"SELECT {', '.join(columns)} FROM {table} WHERE loan_id IN ({marks})"
        params = {f"id{k}": loan_id for k, loan_id in enumerate(chunk)}
        # The driver's own cursor, in the same transaction: plain tuples, no Row objects.
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            rows.extend(cursor.fetchall())
        finally:
            cursor.close()
    return rows


def _diff(columns: Sequence[str], keys: int, values: tuple[Any, ...], new: tuple[Any, ...],
          old: tuple[Any, ...], changes: list[tuple[tuple[str, ...], dict[str, Any]]]) -> None:
    """Queue the update of a row (`values`; `new` is it as the driver would return it) in
    the columns where it differs from the stored `old`, if any."""
    if new == old:
        return
    moved = [c for c in range(keys, len(columns)) if new[c] != old[c]]
    if moved:
        changes.append((tuple(columns[c] for c in moved),
                        {columns[c]: values[c] for c in (*range(keys), *moved)}))


def _write_changes(connection: Connection, table: str, keys: tuple[str, ...],
                   types: dict[str, str], changes: list[tuple[tuple[str, ...], dict[str, Any]]]
                   ) -> None:
    """UPDATE each row in only its changed columns, one statement per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for changed, row in changes:
        groups.setdefault(changed, []).append(row)
    for changed, rows in groups.items():
        bulk.update_rows(connection, table, keys,
                         {name: types[name] for name in (*keys, *changed)}, rows)


def save_states(
    connection: Connection, items: list[tuple[LoanAccount, Position, int]]
) -> None:
    """Bring the cached state of several loans to their replay in a constant number of
    statements, writing only the rows and columns that differ from what is stored."""
    if not items:
        return
    ids = sorted({account.loan_id for account, _, _ in items})
    loan_form = _loan_form(connection)
    # Instalment rows are built in the driver's own form (ISO dates on SQLite), so they
    # compare with what is stored as they are and are written as they are.
    iso_dates = connection.dialect.name == "sqlite"
    stored_loans = {row[0]: row for row in _stored(connection, "loan_state", LOAN_COLUMNS, ids)}
    stored_rows: dict[str, dict[int, tuple[Any, ...]]] = {}
    for row in _stored(connection, "installment_state", INSTALLMENT_COLUMNS, ids):
        stored_rows.setdefault(row[0], {})[row[1]] = row
    loan_inserts: list[dict[str, Any]] = []
    loan_changes: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    row_inserts: list[dict[str, Any]] = []
    row_changes: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    kept: dict[str, set[int]] = {}
    for account, position, accrued in items:
        state = loan_state_row(account, position, accrued)
        old = stored_loans.get(account.loan_id)
        if old is None:
            loan_inserts.append(state)
        else:
            new = tuple(state.values())
            _diff(LOAN_COLUMNS, 1, new, new if loan_form is None else loan_form(new), old,
                  loan_changes)
        stored = stored_rows.get(account.loan_id, {})
        numbers = kept.setdefault(account.loan_id, set())
        for values in installment_values(account, position, iso_dates):
            numbers.add(values[1])
            old = stored.get(values[1])
            if old is None:
                row_inserts.append(dict(zip(INSTALLMENT_COLUMNS, values, strict=True)))
            elif values != old:  # most rows of a loan did not move: compared here, no call
                _diff(INSTALLMENT_COLUMNS, 2, values, values, old, row_changes)
    gone = [{"loan_id": loan_id, "number": number}
            for loan_id, rows in stored_rows.items() for number in rows
            if number not in kept.get(loan_id, ())]
    bulk.executemany(connection, "DELETE FROM installment_state "
                                 "WHERE loan_id = :loan_id AND number = :number", gone)
    _write_changes(connection, "loan_state", ("loan_id",), LOAN_TYPES, loan_changes)
    bulk.insert_rows(connection, "loan_state", LOAN_COLUMNS, loan_inserts)
    _write_changes(connection, "installment_state", ("loan_id", "number"), INSTALLMENT_TYPES,
                   row_changes)
    # a loan has some dozens of instalments: COPY on PostgreSQL when many
    bulk.insert_rows(connection, "installment_state", INSTALLMENT_COLUMNS, row_inserts)


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
