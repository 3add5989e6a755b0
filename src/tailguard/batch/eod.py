"""End of day (日终): accrue interest and penalty, age delinquency, emit events — for every
active loan, column-wise, in chunks, restartable.

Per business day, loans are processed in chunks of `chunk_size` in loan-id order. Each chunk is
one transaction: a fixed number of reads (state, open instalments, next periods, booked flows),
the numpy step of `tailguard.loans.nightly`, and bulk writes (state, instalments, one journal
entry, booked flows, outbox events, the chunk's completion row). A loan is done for a day when
its state's `as_of` is that day, so a rerun skips it, and a run killed half-way resumes with
the remaining loans, which fall into the same chunks in the same order: the books come out row
for row the same. Missed days are caught up in order. The cost of a night does not grow with
the age of a loan: only open instalments and the current period are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, func, insert, select, text, update

from tailguard.infra.db import bulk, tables
from tailguard.infra.db import ledger_repository as ledger
from tailguard.infra.db.codecs import product_from_json
from tailguard.infra.db.loan_repository import LoanRepository
from tailguard.infra.db.uow import to_json
from tailguard.ledger.flows import (
    FEE_INCOME,
    FEE_RECEIVABLE,
    INTEREST_INCOME,
    INTEREST_RECEIVABLE,
    PENALTY_INCOME,
    PENALTY_RECEIVABLE,
)
from tailguard.loans.delinquency import LoanChangedBucket, bucket_change
from tailguard.loans.nightly import Loans, OpenRows, advance
from tailguard.loans.products import Product
from tailguard.services.loan_books import sync_books
from tailguard.services.platform import Platform

CHUNK_SIZE = 5_000
STATE_COLUMNS = {
    "loan_id": "varchar", "as_of": "date", "dpd": "integer", "bucket": "varchar",
    "accrued_interest_fen": "bigint", "penalty_outstanding_fen": "bigint",
    "overdue_principal_fen": "bigint", "overdue_interest_fen": "bigint",
    "overdue_fee_fen": "bigint", "next_due_date": "date", "period_start": "date",
    "period_opening_fen": "bigint", "period_interest_fen": "bigint",
    "period_rate_numerator": "bigint", "period_rate_denominator": "bigint",
    "interest_due_fen": "bigint", "fee_due_fen": "bigint",
}
"""The loan_state columns the nightly step rewrites, with their PostgreSQL types."""
BALLOON_WARNING_DAYS = (120, 90, 60, 30)
EPOCH = date(1970, 1, 1)


def _days(value: date | None, default: int = -1) -> int:
    return default if value is None else (value - EPOCH).days


def _date(days: int) -> date:
    return EPOCH + timedelta(days=int(days))


@dataclass(frozen=True)
class DayReport:
    as_of: date
    loans: int
    chunks: int
    replayed: int
    bucket_changes: int
    balloon_warnings: int


@dataclass(frozen=True)
class RunReport:
    days: tuple[DayReport, ...]

    @property
    def loans(self) -> int:
        return sum(d.loans for d in self.days)


def last_completed(connection: Connection) -> date | None:
    value = connection.execute(
        select(func.max(tables.eod_runs.c.as_of)).where(tables.eod_runs.c.status == "done")
    ).scalar_one()
    return value if value is None or isinstance(value, date) else date.fromisoformat(str(value))


def status(platform: Platform) -> dict[str, Any]:
    with platform.engine.connect() as conn:
        runs = conn.execute(
            select(tables.eod_runs).order_by(tables.eod_runs.c.as_of.desc()).limit(5)
        ).mappings().all()
        pending = conn.execute(
            select(func.count()).select_from(tables.loan_state)
            .join(tables.loans, tables.loans.c.id == tables.loan_state.c.loan_id)
            .where(tables.loans.c.status == "active")
            .where(tables.loan_state.c.as_of < platform.today())
        ).scalar_one()
    return {"last_completed": runs[0]["as_of"] if runs and runs[0]["status"] == "done" else None,
            "runs": [dict(r) for r in runs], "loans_behind_today": int(pending)}


def run(
    platform: Platform,
    as_of: date,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[date, int], None] | None = None,
    stop_after_chunks: int | None = None,
) -> RunReport:
    """Run every day up to and including `as_of` that some active loan has not reached yet."""
    with platform.engine.connect() as conn:
        earliest = conn.execute(
            select(func.min(tables.loan_state.c.as_of))
            .join(tables.loans, tables.loans.c.id == tables.loan_state.c.loan_id)
            .where(tables.loans.c.status == "active")
        ).scalar_one()
    if earliest is None:
        return RunReport(())
    first = earliest + timedelta(days=1)
    reports = []
    day = first
    chunks_left = stop_after_chunks
    while day <= as_of:
        report = run_day(platform, day, chunk_size, progress, chunks_left)
        reports.append(report)
        if chunks_left is not None:
            chunks_left -= report.chunks
            if chunks_left <= 0:
                break
        day += timedelta(days=1)
    return RunReport(tuple(reports))


def run_day(
    platform: Platform,
    day: date,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[date, int], None] | None = None,
    stop_after_chunks: int | None = None,
) -> DayReport:
    """Advance every active loan behind `day` to it, chunk by chunk.

    The day's bookkeeping rides in the chunks' own transactions (its run row with the first,
    its completion with the last), so a night of one chunk commits once. A chunk shorter
    than `chunk_size` is the last: the keyset scan found no loan after it."""
    products = platform.products  # a stored product version never changes (ADR 0009)
    loans = chunks = replayed = changes = warnings = 0
    finished = False
    after: str | None = None  # keyset: chunks are taken in loan-id order, so scan onward
    chunk_no: int | None = None  # chunks recorded for the day, earlier runs included
    while not finished and (stop_after_chunks is None or chunks < stop_after_chunks):
        with platform.uow("eod") as uow:
            conn = uow.connection
            if conn.dialect.name == "postgresql":
                # A chunk lost in a crash is redone by the rerun (its loans are still behind),
                # so the batch need not wait for each commit to reach the disk.
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            if chunk_no is None:
                chunk_no = _begin_day(conn, day, uow.clock.now())
            done = _chunk(platform, conn, day, chunk_size, products, uow.clock.now(), after)
            if done is not None:
                conn.execute(insert(tables.eod_chunks).values(
                    as_of=day, chunk=chunk_no, loans=done[0], recorded_at=uow.clock.now()))
                chunk_no += 1
                after = done[4]
                loans += done[0]
                replayed += done[1]
                changes += done[2]
                warnings += done[3]
                chunks += 1
            finished = done is None or done[0] < chunk_size
            if finished:
                conn.execute(
                    update(tables.eod_runs).where(tables.eod_runs.c.as_of == day)
                    .values(status="done", chunks_total=chunks, finished_at=uow.clock.now()))
                uow.audit("eod.day", "eod", day.isoformat(), {"loans": loans, "chunks": chunks})
            uow.commit()
        if progress and done is not None:
            progress(day, done[0])
    return DayReport(day, loans, chunks, replayed, changes, warnings)


def _begin_day(conn: Connection, day: date, now: Any) -> int:
    """Record the day's run as running unless a row is there; the chunks it has already."""
    existing = conn.execute(
        select(tables.eod_runs.c.status).where(tables.eod_runs.c.as_of == day)
    ).scalar_one_or_none()
    if existing is None:
        conn.execute(insert(tables.eod_runs).values(
            as_of=day, status="running", chunks_total=0, started_at=now))
    return int(conn.execute(
        select(func.count()).select_from(tables.eod_chunks).where(tables.eod_chunks.c.as_of == day)
    ).scalar_one())


def _emit_bucket_change(
    conn: Connection, loan_id: str, day: date, previous_dpd: int, dpd: int, product: Product,
    now: Any,
) -> int:
    """Queue a LoanChangedBucket event when the bucket moved; 1 if it did, else 0."""
    change = bucket_change(loan_id, day, previous_dpd, dpd, product.buckets)
    if change is None:
        return 0
    conn.execute(insert(tables.outbox), [_bucket_event(loan_id, day, change, now)])
    return 1


def _bucket_event(loan_id: str, day: date, change: LoanChangedBucket, now: Any
                  ) -> dict[str, Any]:
    return {"event_type": "LoanChangedBucket", "aggregate_id": loan_id,
            "payload": to_json(change.__dict__), "business_date": day,
            "dedupe_key": f"bucket:{loan_id}:{day.isoformat()}", "recorded_at": now,
            "dispatched_at": None}


def _product(conn: Connection, cache: dict[tuple[str, int], Product], code: str,
             version: int) -> Product:
    key = (code, version)
    if key not in cache:
        text = conn.execute(select(tables.products.c.definition).where(
            tables.products.c.code == code, tables.products.c.version == version)).scalar_one()
        cache[key] = product_from_json(text)
    return cache[key]


STATE_READ = (
    "loan_id", "as_of", "dpd", "bucket", "credit_balance_fen", "accrued_interest_fen",
    "penalty_outstanding_fen", "overdue_principal_fen", "overdue_interest_fen",
    "overdue_fee_fen", "next_due_date", "period_start", "period_opening_fen",
    "period_interest_fen", "period_rate_numerator", "period_rate_denominator",
    "interest_due_fen", "fee_due_fen", "settled_penalty_fen", "settled_penalty_left_fen",
    "balloon_due_date", "balloon_fen",
)
"""The loan_state columns the nightly step reads."""
OPEN_READ = (
    "loan_id", "number", "due_date", "grace_end", "principal_fen", "principal_paid_fen",
    "interest_fen", "interest_paid_fen", "interest_waived_fen", "fee_fen", "fee_paid_fen",
    "fee_waived_fen", "penalty_numerator", "penalty_denominator", "penalty_rate_numerator",
    "accrued_to", "forgiven", "penalty_paid_fen", "penalty_waived_fen",
)
NEXT_READ = ("loan_id", "number", "period_start", "due_date", "balance_after_fen",
             "principal_fen", "interest_fen", "rate_numerator", "rate_denominator")
QUIET_COLUMNS = {"loan_id": "varchar", "as_of": "date", "accrued_interest_fen": "bigint"}
"""What changes on most nights for a loan paying on time: the day and the accrued interest."""
IN_LIST_MAX = 500
EARNED_FLOWS = ("earned:interest", "earned:penalty", "earned:fee")
EARNED_ACCOUNTS = ((INTEREST_RECEIVABLE, INTEREST_INCOME), (PENALTY_RECEIVABLE, PENALTY_INCOME),
                   (FEE_RECEIVABLE, FEE_INCOME))
"""Per earned flow, the accounts its nightly accrual debits and credits."""
BOOK_COLUMNS = {"loan_id": "varchar", "flow": "varchar", "amount_fen": "bigint"}


def _driver_rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A query's rows as the driver's plain tuples, in the connection's transaction: no Row
    objects and no per-value type processing (`sql` takes `:name` parameters)."""
    if conn.dialect.name == "postgresql":
        sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _day_numbers(values: Any) -> tuple[np.ndarray[Any, np.dtype[np.int64]],
                                        np.ndarray[Any, np.dtype[np.bool_]]]:
    """Dates (date objects or ISO text, as the driver returns them) as days since the epoch,
    and where they were NULL (their days are then -1)."""
    stamps = np.array(list(values), dtype="datetime64[D]")
    null = np.isnat(stamps)
    return np.where(null, -1, stamps.astype(np.int64)), null


def _ints(values: Any) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.array([0 if v is None else v for v in values], dtype=np.int64)


def _columns(rows: Sequence[Any], names: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """Row tuples as one tuple of values per column."""
    if not rows:
        return {name: () for name in names}
    return dict(zip(names, zip(*rows, strict=True), strict=True))


def _chunk(
    platform: Platform, conn: Connection, day: date, size: int,
    products: dict[tuple[str, int], Product], now: Any, after: str | None = None,
) -> tuple[int, int, int, int, str] | None:
    """One chunk of loans advanced by one day, read and written column by column: plain
    driver rows (no per-row type processing), numpy for the arithmetic, and writes of only
    what moved (a loan whose night changed nothing but its accrued interest gets a
    three-column update; open instalments the night did not move are not written)."""
    keyset = "AND s.loan_id > :after " if after is not None else ""
    state_rows = _driver_rows(
        conn,
        f"SELECT {', '.join('s.' + c for c in STATE_READ)}, l.product_code, "
        f"l.product_version FROM loan_state s JOIN loans l ON l.id = s.loan_id "
        f"WHERE l.status = 'active' AND s.as_of < :day {keyset}"
        f"ORDER BY s.loan_id LIMIT :size",
        {"day": day, "size": size, **({"after": after} if after is not None else {})})
    if not state_rows:
        return None
    st = _columns(state_rows, (*STATE_READ, "product_code", "product_version"))
    ids: list[str] = list(st["loan_id"])
    first, last = ids[0], ids[-1]
    index = {loan_id: k for k, loan_id in enumerate(ids)}
    d = _days(day)
    n = len(ids)
    prods = [_product(conn, products, code, version)
             for code, version in zip(st["product_code"], st["product_version"], strict=True)]
    credit = _ints(st["credit_balance_fen"])
    next_due, _ = _day_numbers(st["next_due_date"])
    as_of, _ = _day_numbers(st["as_of"])
    rolling = next_due == d
    exceptional = rolling & (credit > 0)
    exceptional |= as_of < d - 1  # a loan more than a day behind is replayed to the day

    # Open instalments: not settled, due by the day (sorted by loan, then number). They are
    # read through the partial index of unsettled rows by due date, which holds only such
    # rows; SQLite, without statistics, would take the loan-ordered index for the id range
    # and scan every instalment of the chunk, so it is told.
    hint = " INDEXED BY ix_installment_state_due" if conn.dialect.name == "sqlite" else ""
    open_rows = sorted(
        (r for r in _driver_rows(
            conn,
            f"SELECT {', '.join(OPEN_READ)} FROM installment_state{hint} "
            f"WHERE loan_id >= :first AND loan_id <= :last AND settled_on IS NULL "
            f"AND due_date <= :day", {"first": first, "last": last, "day": day})
         if r[0] in index),
        key=lambda r: (r[0], r[1]))
    op = _columns(open_rows, OPEN_READ)
    row_loan = np.array([index[loan_id] for loan_id in op["loan_id"]], dtype=np.int64)
    row_due, _ = _day_numbers(op["due_date"])
    row_grace, _ = _day_numbers(op["grace_end"])
    row_accrued, accrued_null = _day_numbers(op["accrued_to"])

    # The next period of loans whose instalment falls due today.
    upcoming: dict[str, Any] = {}
    rolling_ids = [ids[k] for k in np.flatnonzero(rolling).tolist()]
    for start in range(0, len(rolling_ids), IN_LIST_MAX):
        for r in conn.execute(text(
            f"SELECT {', '.join(NEXT_READ)} FROM installment_state "
            f"WHERE loan_id IN :ids AND due_date > :day ORDER BY loan_id, number"
        ).bindparams(bindparam("ids", expanding=True)),
                {"ids": rolling_ids[start:start + IN_LIST_MAX], "day": day}).all():
            upcoming.setdefault(r[0], r)

    interest_due = _ints(st["interest_due_fen"])
    fee_due = _ints(st["fee_due_fen"])
    period_start, period_start_null = _day_numbers(st["period_start"])
    period_due = next_due.copy()
    opening = _ints(st["period_opening_fen"])
    period_interest = _ints(st["period_interest_fen"])
    rate_num = _ints(st["period_rate_numerator"])
    rate_den = _ints(st["period_rate_denominator"])
    falling = (row_due == d) & rolling[row_loan]
    np.add.at(interest_due, row_loan[falling], _ints(op["interest_fen"])[falling])
    np.add.at(fee_due, row_loan[falling], _ints(op["fee_fen"])[falling])
    for k in np.flatnonzero(rolling).tolist():
        nxt = upcoming.get(ids[k])
        if nxt is None:
            period_start[k], period_due[k] = d, -1
            opening[k] = period_interest[k] = 0
        else:
            nxt_days, _ = _day_numbers((nxt[2], nxt[3]))
            period_start[k], period_due[k] = nxt_days
            opening[k] = nxt[4] + nxt[5]
            period_interest[k] = nxt[6]
            rate_num[k] = nxt[7]
            rate_den[k] = nxt[8] * prods[k].day_count.year_days
    start_moved = period_start_null | (period_start != _day_numbers(st["period_start"])[0])

    loans = Loans(
        compound=np.array([p.compound_overdue_interest for p in prods], dtype=bool),
        rounding=tuple(p.rounding for p in prods),
        period_start=period_start,
        period_due=period_due,
        period_opening=opening,
        period_interest=period_interest,
        period_rate_numerator=rate_num,
        period_rate_denominator=rate_den,
        interest_due=interest_due,
        settled_penalty=_ints(st["settled_penalty_fen"]),
        settled_penalty_left=_ints(st["settled_penalty_left_fen"]),
    )
    penalty_numerator = _ints(op["penalty_numerator"])
    forgiven = np.array([bool(v) for v in op["forgiven"]], dtype=bool)
    rows = OpenRows(
        loan=row_loan,
        due=row_due,
        grace_end=row_grace,
        principal_left=_ints(op["principal_fen"]) - _ints(op["principal_paid_fen"]),
        interest_left=(_ints(op["interest_fen"]) - _ints(op["interest_paid_fen"])
                       - _ints(op["interest_waived_fen"])),
        fee_left=_ints(op["fee_fen"]) - _ints(op["fee_paid_fen"]) - _ints(op["fee_waived_fen"]),
        penalty_numerator=penalty_numerator,
        penalty_denominator=_ints(op["penalty_denominator"]),
        penalty_rate_numerator=_ints(op["penalty_rate_numerator"]),
        accrued_to=np.where(accrued_null, row_due, row_accrued),
        forgiven=forgiven,
        penalty_paid_waived=_ints(op["penalty_paid_fen"]) + _ints(op["penalty_waived_fen"]),
    )
    night = advance(d, loans, rows, prods[0].buckets)

    # Books: the earned flows against what was booked, one entry for the chunk, computed as
    # columns (loans × flows) and posted without an object per posting.
    booked = np.zeros((n, len(EARNED_FLOWS)), dtype=np.int64)
    present = np.zeros((n, len(EARNED_FLOWS)), dtype=bool)
    for loan_id, flow, amount in _driver_rows(
            conn, "SELECT loan_id, flow, amount_fen FROM loan_books WHERE loan_id >= :first "
                  "AND loan_id <= :last AND flow IN ('earned:interest', 'earned:penalty', "
                  "'earned:fee')", {"first": first, "last": last}):
        at = index.get(loan_id)
        if at is not None:
            f = EARNED_FLOWS.index(flow)
            booked[at, f] = amount
            present[at, f] = True
    wanted = np.column_stack((night.earned_interest, night.earned_penalty, fee_due))
    delta = wanted - booked
    # Row-major: loan by loan in id order, each loan's flows in EARNED_FLOWS order.
    loan_at, flow_at = np.nonzero((delta != 0) & ~exceptional[:, None])
    moved_by = delta[loan_at, flow_at]
    amounts = np.empty(2 * len(moved_by), dtype=np.int64)
    amounts[0::2], amounts[1::2] = moved_by, -moved_by
    accounts = np.array(EARNED_ACCOUNTS, dtype=object)[flow_at].ravel()
    id_column = np.array(ids, dtype=object)
    loan_ids = id_column[loan_at]
    ledger.post_entry_columns(
        conn, ledger.Entry(f"eod:{day.isoformat()}:chunk:{first}", day, "EOD_ACCRUAL", "eod",
                           day.isoformat(), (), now),
        accounts.tolist(), amounts.tolist(), np.repeat(loan_ids, 2).tolist())
    book_rows = list(zip(loan_ids.tolist(), np.array(EARNED_FLOWS, dtype=object)[flow_at]
                         .tolist(), wanted[loan_at, flow_at].tolist(), strict=True))
    stored = present[loan_at, flow_at].tolist()
    bulk.update_values(conn, "loan_books", ("loan_id", "flow"), BOOK_COLUMNS,
                       [row for row, there in zip(book_rows, stored, strict=True) if there])
    bulk.insert_values(conn, "loan_books", tuple(BOOK_COLUMNS),
                       [row for row, there in zip(book_rows, stored, strict=True) if not there])

    # Open instalments: penalty state, and those settled today with nothing to pay; a row
    # the night left as it was (due today, nothing settled) is not written.
    keeps_accrual = row_due >= d
    new_accrued = np.where(keeps_accrual, row_accrued, night.accrued_to)
    new_forgiven = forgiven | (night.settled_today & (d <= row_grace))
    moved = ((night.penalty_numerator != penalty_numerator) | night.settled_today
             | (new_forgiven != forgiven)
             | (~keeps_accrual & (accrued_null | (night.accrued_to != row_accrued))))
    row_updates = [
        (op["loan_id"][j], op["number"][j], int(night.penalty_numerator[j]),
         op["accrued_to"][j] if keeps_accrual[j] else _date(int(new_accrued[j])),
         day if night.settled_today[j] else None, bool(new_forgiven[j]))
        for j in np.flatnonzero(moved & ~exceptional[row_loan]).tolist()
    ]
    bulk.update_values(conn, "installment_state", ("loan_id", "number"), {
        "loan_id": "varchar", "number": "integer", "penalty_numerator": "bigint",
        "accrued_to": "date", "settled_on": "date", "forgiven": "boolean",
    }, row_updates)

    # Events: bucket moves (only a loan whose DPD moved can change bucket) and balloon
    # warnings, queued in loan order as one statement.
    outbox: list[dict[str, Any]] = []
    changes = warnings = 0
    dpd_before = _ints(st["dpd"])
    balloon_due, balloon_null = _day_numbers(st["balloon_due_date"])
    to_balloon = balloon_due - d
    warn = ~balloon_null & np.isin(to_balloon, BALLOON_WARNING_DAYS) & ~exceptional
    dpd_moved = (night.dpd != dpd_before) & ~exceptional
    for k in np.flatnonzero(dpd_moved | warn).tolist():
        if dpd_moved[k]:
            change = bucket_change(ids[k], day, int(dpd_before[k]), int(night.dpd[k]),
                                   prods[k].buckets)
            if change is not None:
                changes += 1
                outbox.append(_bucket_event(ids[k], day, change, now))
        if warn[k]:
            warnings += 1
            days_left = int(to_balloon[k])
            outbox.append({
                "event_type": "BalloonApproaching", "aggregate_id": ids[k],
                "payload": to_json({"loan_id": ids[k], "days": days_left,
                                    "balloon_fen": st["balloon_fen"][k],
                                    "due_date": _date(int(balloon_due[k]))}),
                "business_date": day, "dedupe_key": f"balloon:{ids[k]}:{days_left}",
                "recorded_at": now, "dispatched_at": None})
    if outbox:
        conn.execute(insert(tables.outbox), outbox)

    # Loan state: the full set of nightly columns where more than the day and the accrued
    # interest moved, those two alone elsewhere.
    due_null = period_due < 0
    labels = night.bucket
    louder = (
        (night.dpd != dpd_before)
        | np.array([a != b for a, b in zip(labels, st["bucket"], strict=True)], dtype=bool)
        | (night.penalty_outstanding != _ints(st["penalty_outstanding_fen"]))
        | (night.overdue_principal != _ints(st["overdue_principal_fen"]))
        | (night.overdue_interest != _ints(st["overdue_interest_fen"]))
        | (night.overdue_fee != _ints(st["overdue_fee_fen"]))
        | (due_null != np.array([v is None for v in st["next_due_date"]], dtype=bool))
        | (~due_null & (period_due != next_due))
        | start_moved
        | (opening != _ints(st["period_opening_fen"]))
        | (period_interest != _ints(st["period_interest_fen"]))
        | (rate_num != _ints(st["period_rate_numerator"]))
        | (rate_den != _ints(st["period_rate_denominator"]))
        | (interest_due != _ints(st["interest_due_fen"]))
        | (fee_due != _ints(st["fee_due_fen"]))
    )
    accrued_list = night.accrued_interest.tolist()
    quiet = ~louder & ~exceptional
    # SQLite keeps a date as its ISO text: the text itself spares a date adapter per row.
    day_value = day.isoformat() if conn.dialect.name == "sqlite" else day
    quiet_updates = list(zip(id_column[quiet].tolist(),
                             [day_value] * int(quiet.sum()),
                             night.accrued_interest[quiet].tolist(), strict=True))
    state_updates = [
        (ids[k], day_value, int(night.dpd[k]), labels[k], accrued_list[k],
         int(night.penalty_outstanding[k]), int(night.overdue_principal[k]),
         int(night.overdue_interest[k]), int(night.overdue_fee[k]),
         None if due_null[k] else _date(int(period_due[k])), _date(int(period_start[k])),
         int(opening[k]), int(period_interest[k]), int(rate_num[k]), int(rate_den[k]),
         int(interest_due[k]), int(fee_due[k]))
        for k in np.flatnonzero(louder & ~exceptional).tolist()
    ]
    bulk.update_values(conn, "loan_state", ("loan_id",), QUIET_COLUMNS, quiet_updates)
    bulk.update_values(conn, "loan_state", ("loan_id",), STATE_COLUMNS, state_updates)

    # The few loans only the replay can move: a credit to apply, or days to catch up.
    replayed = 0
    repo = LoanRepository(conn, platform.calendar_for, platform.products, platform.schedules)
    for k in np.flatnonzero(exceptional).tolist():
        account = repo.get(ids[k], for_update=True)
        assert account is not None
        position = sync_books(conn, account, day, f"eod:{day.isoformat()}:replay:{ids[k]}", now,
                              "EOD_ACCRUAL")
        changes += _emit_bucket_change(conn, ids[k], day, int(dpd_before[k]), position.dpd,
                                       prods[k], now)
        if position.paid_off:  # a waiting credit settled the last instalment
            repo.set_status(ids[k], "closed")
            conn.execute(insert(tables.outbox).values(
                event_type="LoanPaidOff", aggregate_id=ids[k],
                payload=to_json({"loan_id": ids[k]}), business_date=day,
                dedupe_key=f"paid-off:{ids[k]}", recorded_at=now))
        replayed += 1
    return n, replayed, changes, warnings, last
