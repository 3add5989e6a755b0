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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, insert, select, update

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
from tailguard.loans.delinquency import bucket_change
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
    with platform.uow("eod") as uow:
        existing = uow.connection.execute(
            select(tables.eod_runs.c.status).where(tables.eod_runs.c.as_of == day)
        ).scalar_one_or_none()
        if existing is None:
            uow.connection.execute(insert(tables.eod_runs).values(
                as_of=day, status="running", chunks_total=0, started_at=uow.clock.now()))
            uow.commit()
    products: dict[tuple[str, int], Product] = {}
    loans = chunks = replayed = changes = warnings = 0
    finished = False
    after: str | None = None  # keyset: chunks are taken in loan-id order, so scan onward
    while stop_after_chunks is None or chunks < stop_after_chunks:
        with platform.uow("eod") as uow:
            if uow.connection.dialect.name == "postgresql":
                # A chunk lost in a crash is redone by the rerun (its loans are still behind),
                # so the batch need not wait for each commit to reach the disk.
                uow.connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
            done = _chunk(platform, uow.connection, day, chunk_size, products, uow.clock.now(),
                          after)
            if done is None:
                finished = True
                break
            chunk_no = uow.connection.execute(
                select(func.count()).select_from(tables.eod_chunks)
                .where(tables.eod_chunks.c.as_of == day)
            ).scalar_one()
            uow.connection.execute(insert(tables.eod_chunks).values(
                as_of=day, chunk=chunk_no, loans=done[0], recorded_at=uow.clock.now()))
            uow.commit()
        after = done[4]
        loans += done[0]
        replayed += done[1]
        changes += done[2]
        warnings += done[3]
        chunks += 1
        if progress:
            progress(day, done[0])
    if finished:
        with platform.uow("eod") as uow:
            uow.connection.execute(
                update(tables.eod_runs).where(tables.eod_runs.c.as_of == day)
                .values(status="done", chunks_total=chunks, finished_at=uow.clock.now()))
            uow.audit("eod.day", "eod", day.isoformat(), {"loans": loans, "chunks": chunks})
            uow.commit()
    return DayReport(day, loans, chunks, replayed, changes, warnings)


def _emit_bucket_change(
    conn: Connection, loan_id: str, day: date, previous_dpd: int, dpd: int, product: Product,
    now: Any,
) -> int:
    """Queue a LoanChangedBucket event when the bucket moved; 1 if it did, else 0."""
    change = bucket_change(loan_id, day, previous_dpd, dpd, product.buckets)
    if change is None:
        return 0
    conn.execute(insert(tables.outbox).values(
        event_type="LoanChangedBucket", aggregate_id=loan_id, payload=to_json(change.__dict__),
        business_date=day, dedupe_key=f"bucket:{loan_id}:{day.isoformat()}", recorded_at=now))
    return 1


def _product(conn: Connection, cache: dict[tuple[str, int], Product], code: str,
             version: int) -> Product:
    key = (code, version)
    if key not in cache:
        text = conn.execute(select(tables.products.c.definition).where(
            tables.products.c.code == code, tables.products.c.version == version)).scalar_one()
        cache[key] = product_from_json(text)
    return cache[key]


def _chunk(
    platform: Platform, conn: Connection, day: date, size: int,
    products: dict[tuple[str, int], Product], now: Any, after: str | None = None,
) -> tuple[int, int, int, int, str] | None:
    s, ln = tables.loan_state, tables.loans
    query = (
        select(s, ln.c.product_code, ln.c.product_version)
        .join(ln, ln.c.id == s.c.loan_id)
        .where(ln.c.status == "active", s.c.as_of < day)
        .order_by(s.c.loan_id)
        .limit(size)
    )
    if after is not None:
        query = query.where(s.c.loan_id > after)
    state_rows = conn.execute(query).mappings().all()
    if not state_rows:
        return None
    ids = [r["loan_id"] for r in state_rows]
    first, last = ids[0], ids[-1]
    index = {loan_id: k for k, loan_id in enumerate(ids)}
    d = _days(day)
    n = len(ids)
    prods = [_product(conn, products, r["product_code"], r["product_version"])
             for r in state_rows]
    credit = np.array([r["credit_balance_fen"] for r in state_rows], dtype=np.int64)
    next_due = np.array([_days(r["next_due_date"]) for r in state_rows], dtype=np.int64)
    rolling = next_due == d
    exceptional = rolling & (credit > 0)
    catch_up = np.array([(day - r["as_of"]).days > 1 for r in state_rows])
    exceptional |= catch_up  # a loan more than a day behind is replayed to the day

    i = tables.installment_state
    open_rows = conn.execute(
        select(i).where(i.c.loan_id >= first, i.c.loan_id <= last, i.c.settled_on.is_(None),
                        i.c.due_date <= day)
        .order_by(i.c.loan_id, i.c.number)
    ).mappings().all()
    open_rows = [r for r in open_rows if r["loan_id"] in index]
    next_rows = conn.execute(
        select(i).join(s, s.c.loan_id == i.c.loan_id)
        .where(i.c.loan_id >= first, i.c.loan_id <= last, s.c.next_due_date == day,
               i.c.due_date > day)
        .order_by(i.c.loan_id, i.c.number)
    ).mappings().all()
    upcoming: dict[str, Any] = {}
    for r in next_rows:
        upcoming.setdefault(r["loan_id"], r)

    interest_due = np.array([r["interest_due_fen"] for r in state_rows], dtype=np.int64)
    fee_due = np.array([r["fee_due_fen"] for r in state_rows], dtype=np.int64)
    period = {
        "start": [_days(r["period_start"]) for r in state_rows],
        "due": next_due.tolist(),
        "opening": [r["period_opening_fen"] for r in state_rows],
        "interest": [r["period_interest_fen"] for r in state_rows],
        "num": [r["period_rate_numerator"] for r in state_rows],
        "den": [r["period_rate_denominator"] for r in state_rows],
    }
    for r in open_rows:
        k = index[r["loan_id"]]
        if r["due_date"] == day and rolling[k]:
            interest_due[k] += r["interest_fen"]
            fee_due[k] += r["fee_fen"]
    for k in np.flatnonzero(rolling).tolist():
        nxt = upcoming.get(ids[k])
        year_days = prods[k].day_count.year_days
        if nxt is None:
            period["start"][k], period["due"][k] = d, -1
            period["opening"][k] = period["interest"][k] = 0
        else:
            period["start"][k] = _days(nxt["period_start"])
            period["due"][k] = _days(nxt["due_date"])
            period["opening"][k] = nxt["balance_after_fen"] + nxt["principal_fen"]
            period["interest"][k] = nxt["interest_fen"]
            period["num"][k] = nxt["rate_numerator"]
            period["den"][k] = nxt["rate_denominator"] * year_days

    loans = Loans(
        compound=np.array([p.compound_overdue_interest for p in prods], dtype=bool),
        rounding=tuple(p.rounding for p in prods),
        period_start=np.array(period["start"], dtype=np.int64),
        period_due=np.array(period["due"], dtype=np.int64),
        period_opening=np.array(period["opening"], dtype=np.int64),
        period_interest=np.array(period["interest"], dtype=np.int64),
        period_rate_numerator=np.array(period["num"], dtype=np.int64),
        period_rate_denominator=np.array(period["den"], dtype=np.int64),
        interest_due=interest_due,
        settled_penalty=np.array([r["settled_penalty_fen"] for r in state_rows], dtype=np.int64),
        settled_penalty_left=np.array([r["settled_penalty_left_fen"] for r in state_rows],
                                      dtype=np.int64),
    )

    def col(name: str, default: int = 0) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.array([r[name] if r[name] is not None else default for r in open_rows],
                        dtype=np.int64)

    rows = OpenRows(
        loan=np.array([index[r["loan_id"]] for r in open_rows], dtype=np.int64),
        due=np.array([_days(r["due_date"]) for r in open_rows], dtype=np.int64),
        grace_end=np.array([_days(r["grace_end"]) for r in open_rows], dtype=np.int64),
        principal_left=col("principal_fen") - col("principal_paid_fen"),
        interest_left=col("interest_fen") - col("interest_paid_fen") - col("interest_waived_fen"),
        fee_left=col("fee_fen") - col("fee_paid_fen") - col("fee_waived_fen"),
        penalty_numerator=col("penalty_numerator"),
        penalty_denominator=col("penalty_denominator"),
        penalty_rate_numerator=col("penalty_rate_numerator"),
        accrued_to=np.array([_days(r["accrued_to"] or r["due_date"]) for r in open_rows],
                            dtype=np.int64),
        forgiven=np.array([bool(r["forgiven"]) for r in open_rows], dtype=bool),
        penalty_paid_waived=col("penalty_paid_fen") + col("penalty_waived_fen"),
    )
    night = advance(d, loans, rows, prods[0].buckets)

    # Books: the earned flows against what was booked, one entry for the chunk.
    books = tables.loan_books
    booked_rows = conn.execute(
        select(books).where(books.c.loan_id >= first, books.c.loan_id <= last,
                            books.c.flow.in_(("earned:interest", "earned:penalty",
                                              "earned:fee")))
    ).all()
    booked: dict[tuple[str, str], int] = {(r.loan_id, r.flow): r.amount_fen for r in booked_rows}
    legs: list[ledger.Leg] = []
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    pairs = {
        "earned:interest": (INTEREST_RECEIVABLE, INTEREST_INCOME, night.earned_interest),
        "earned:penalty": (PENALTY_RECEIVABLE, PENALTY_INCOME, night.earned_penalty),
        "earned:fee": (FEE_RECEIVABLE, FEE_INCOME, fee_due),
    }
    for k, loan_id in enumerate(ids):
        if exceptional[k]:
            continue
        for flow, (debit, credit_account, target) in pairs.items():
            have = booked.get((loan_id, flow))
            want = int(target[k])
            delta = want - (have or 0)
            if delta:
                legs += [ledger.Leg(debit, delta, loan_id),
                         ledger.Leg(credit_account, -delta, loan_id)]
                if have is None:
                    inserts.append({"loan_id": loan_id, "flow": flow, "amount_fen": want})
                else:
                    updates.append({"loan_id": loan_id, "flow": flow, "amount_fen": want})
    if legs:
        ledger.post_entry(conn, entry_id=f"eod:{day.isoformat()}:chunk:{first}", value_date=day,
                          reason_code="EOD_ACCRUAL", reference_type="eod",
                          reference_id=day.isoformat(), legs=legs, recorded_at=now)
    bulk.update_rows(conn, "loan_books", ("loan_id", "flow"),
                     {"loan_id": "varchar", "flow": "varchar", "amount_fen": "bigint"}, updates)
    bulk.insert_rows(conn, "loan_books", ("loan_id", "flow", "amount_fen"), inserts)

    # Open instalments: penalty state, and those settled today with nothing to pay.
    row_updates = [
        {"loan_id": r["loan_id"], "number": r["number"],
         "penalty_numerator": int(night.penalty_numerator[j]),
         "accrued_to": (r["accrued_to"] if r["due_date"] >= day
                        else _date(int(night.accrued_to[j]))),
         "settled_on": day if night.settled_today[j] else None,
         "forgiven": bool(r["forgiven"] or (night.settled_today[j]
                                            and day <= r["grace_end"]))}
        for j, r in enumerate(open_rows) if not exceptional[index[r["loan_id"]]]
    ]
    bulk.update_rows(conn, "installment_state", ("loan_id", "number"), {
        "loan_id": "varchar", "number": "integer", "penalty_numerator": "bigint",
        "accrued_to": "date", "settled_on": "date", "forgiven": "boolean",
    }, row_updates)

    # Loan state and events.
    state_updates = []
    changes = warnings = 0
    for k, r in enumerate(state_rows):
        if exceptional[k]:
            continue
        dpd = int(night.dpd[k])
        changes += _emit_bucket_change(conn, ids[k], day, r["dpd"], dpd, prods[k], now)
        balloon_due = r["balloon_due_date"]
        if balloon_due is not None and (balloon_due - day).days in BALLOON_WARNING_DAYS:
            warnings += 1
            days_left = (balloon_due - day).days
            conn.execute(insert(tables.outbox).values(
                event_type="BalloonApproaching", aggregate_id=ids[k],
                payload=to_json({"loan_id": ids[k], "days": days_left,
                                 "balloon_fen": r["balloon_fen"], "due_date": balloon_due}),
                business_date=day, dedupe_key=f"balloon:{ids[k]}:{days_left}",
                recorded_at=now))
        state_updates.append({
            "loan_id": ids[k], "as_of": day, "dpd": dpd, "bucket": night.bucket[k],
            "accrued_interest_fen": int(night.accrued_interest[k]),
            "penalty_outstanding_fen": int(night.penalty_outstanding[k]),
            "overdue_principal_fen": int(night.overdue_principal[k]),
            "overdue_interest_fen": int(night.overdue_interest[k]),
            "overdue_fee_fen": int(night.overdue_fee[k]),
            "next_due_date": _date(period["due"][k]) if period["due"][k] >= 0 else None,
            "period_start": _date(period["start"][k]),
            "period_opening_fen": period["opening"][k],
            "period_interest_fen": period["interest"][k],
            "period_rate_numerator": period["num"][k],
            "period_rate_denominator": period["den"][k],
            "interest_due_fen": int(interest_due[k]), "fee_due_fen": int(fee_due[k]),
        })
    bulk.update_rows(conn, "loan_state", ("loan_id",), STATE_COLUMNS, state_updates)

    # The few loans only the replay can move: a credit to apply, or days to catch up.
    replayed = 0
    repo = LoanRepository(conn, platform.calendar_for, platform.products)
    for k in np.flatnonzero(exceptional).tolist():
        account = repo.get(ids[k], for_update=True)
        assert account is not None
        position = sync_books(conn, account, day, f"eod:{day.isoformat()}:replay:{ids[k]}", now,
                              "EOD_ACCRUAL")
        changes += _emit_bucket_change(conn, ids[k], day, state_rows[k]["dpd"], position.dpd,
                                       prods[k], now)
        if position.paid_off:  # a waiting credit settled the last instalment
            repo.set_status(ids[k], "closed")
            conn.execute(insert(tables.outbox).values(
                event_type="LoanPaidOff", aggregate_id=ids[k],
                payload=to_json({"loan_id": ids[k]}), business_date=day,
                dedupe_key=f"paid-off:{ids[k]}", recorded_at=now))
        replayed += 1
    return n, replayed, changes, warnings, last
