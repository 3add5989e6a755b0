"""Read models of the staff console: the morning dashboard, loan search, and the pieces of a
loan page that `services/documents.py` does not already give.

Every dashboard figure is an aggregate computed by the database (`GROUP BY`, conditional
sums) over `loans` and the `loan_state` cache; no loan is loaded into Python, so the dashboard
costs the same handful of queries for a hundred loans or a hundred thousand
(`benchmarks/bench_dashboard.py`). Definitions follow docs/glossary.md and the simulator's
report (simulation/report.py), so the console and the simulation say the same thing:

- 30+ DPD ratio: principal outstanding of active loans 30 or more days past due over the
  principal outstanding of all active loans.
- balloon clearance rate: of the balloons that fell due in the twelve months up to
  `CLEARANCE_DAYS` ago, the share whose loan is closed (settled, refinanced into a closed loan,
  or closed by a vehicle trade-in or return). A refinanced or extended balloon moves its due
  date, so it leaves this window; the cache keeps no history of the original date (the
  simulator measures those from its own records).
- roll-rate matrix: for active loans booked before the comparison day (the same day last
  month), the bucket on that day (rows) against today's bucket (columns). The bucket on that
  day is the `from_bucket` of the loan's first `LoanChangedBucket` event after it (the outbox
  keeps every bucket change with its business date); a loan with no change since then was in
  today's bucket already. Movers are grouped in SQL too (the JSON payload is read with the
  database's own JSON function).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import JSON, Connection, and_, case, cast, func, literal, or_, select

from tailguard.calendar.months import add_months
from tailguard.infra.db import tables
from tailguard.loans.products import DEFAULT_BUCKETS

CLEARANCE_DAYS = 30
APPROACHING_DAYS = (30, 60, 90, 120)
BUCKETS = tuple(b.label for b in DEFAULT_BUCKETS)
SEARCH_LIMIT_MAX = 500
EXPORT_LIMIT_MAX = 100_000


@dataclass(frozen=True)
class ProvinceFigures:
    province_code: str  # two digits
    loans: int
    principal_outstanding_fen: int
    dpd30_principal_fen: int

    @property
    def dpd30_ratio(self) -> float | None:
        if not self.principal_outstanding_fen:
            return None
        return self.dpd30_principal_fen / self.principal_outstanding_fen


@dataclass(frozen=True)
class Dashboard:
    as_of: date
    active_loans: int
    principal_outstanding_fen: int
    dpd30_principal_fen: int
    balloons_due: int
    balloons_cleared: int
    approaching: tuple[tuple[int, int, int], ...]
    """(within days, loans, balloon fen) for 0–30, 31–60, 61–90, 91–120 days ahead."""
    by_bucket: dict[str, tuple[int, int]]
    """bucket -> (loans, principal outstanding fen), active loans."""
    roll_from: date
    roll: dict[tuple[str, str], int]
    """(bucket on `roll_from`, bucket today) -> loans."""
    provinces: tuple[ProvinceFigures, ...]

    @property
    def dpd30_ratio(self) -> float | None:
        if not self.principal_outstanding_fen:
            return None
        return self.dpd30_principal_fen / self.principal_outstanding_fen

    @property
    def balloon_clearance_rate(self) -> float | None:
        return self.balloons_cleared / self.balloons_due if self.balloons_due else None


def _from_bucket(connection: Connection) -> Any:
    payload = tables.outbox.c.payload
    if connection.dialect.name == "postgresql":
        return func.json_extract_path_text(cast(payload, JSON), literal("from_bucket"))
    return func.json_extract(payload, literal("$.from_bucket"))


def _roll(connection: Connection, since: date) -> dict[tuple[str, str], int]:
    loans, state, outbox = tables.loans, tables.loan_state, tables.outbox
    first = (select(outbox.c.aggregate_id.label("loan_id"), func.min(outbox.c.id).label("id"))
             .where(outbox.c.event_type == "LoanChangedBucket", outbox.c.business_date > since)
             .group_by(outbox.c.aggregate_id).subquery())
    cohort = and_(loans.c.status == "active", loans.c.disbursement_date <= since)
    roll: dict[tuple[str, str], int] = {}
    stayers = connection.execute(
        select(state.c.bucket, func.count())
        .select_from(loans.join(state, state.c.loan_id == loans.c.id)
                     .outerjoin(first, first.c.loan_id == loans.c.id))
        .where(cohort, first.c.loan_id.is_(None)).group_by(state.c.bucket))
    for bucket, count in stayers:
        roll[(bucket, bucket)] = int(count)
    before = _from_bucket(connection).label("before")
    movers = connection.execute(
        select(before, state.c.bucket, func.count())
        .select_from(first.join(outbox, outbox.c.id == first.c.id)
                     .join(loans, loans.c.id == first.c.loan_id)
                     .join(state, state.c.loan_id == loans.c.id))
        .where(cohort).group_by(before, state.c.bucket))
    for was, now, count in movers:
        key = (str(was), str(now))
        roll[key] = roll.get(key, 0) + int(count)
    return roll


def dashboard(connection: Connection, as_of: date) -> Dashboard:
    """The morning dashboard as of `as_of` (the business date), in five aggregate queries."""
    loans, state = tables.loans, tables.loan_state
    active = loans.c.status == "active"
    dpd30 = func.coalesce(func.sum(case((state.c.dpd >= 30, state.c.principal_outstanding_fen),
                                        else_=0)), 0)
    joined = loans.join(state, state.c.loan_id == loans.c.id)

    buckets: dict[str, tuple[int, int]] = {}
    total_loans = total_principal = total_dpd30 = 0
    for bucket, count, principal, late in connection.execute(
            select(state.c.bucket, func.count(),
                   func.coalesce(func.sum(state.c.principal_outstanding_fen), 0), dpd30)
            .select_from(joined).where(active).group_by(state.c.bucket)):
        buckets[bucket] = (int(count), int(principal))
        total_loans += int(count)
        total_principal += int(principal)
        total_dpd30 += int(late)

    due_to = as_of - timedelta(days=CLEARANCE_DAYS)
    due_from = due_to - timedelta(days=365)
    cleared_case = case((or_(loans.c.status == "closed", state.c.paid_off.is_(True)), 1),
                        else_=0)
    due, cleared = connection.execute(
        select(func.count(), func.coalesce(func.sum(cleared_case), 0)).select_from(joined)
        .where(state.c.balloon_due_date > due_from, state.c.balloon_due_date <= due_to)
    ).one()

    limits = [as_of + timedelta(days=d) for d in APPROACHING_DAYS]
    window = case(*[(state.c.balloon_due_date <= limit, days)
                    for limit, days in zip(limits, APPROACHING_DAYS, strict=True)],
                  else_=0).label("window")
    near: dict[int, tuple[int, int]] = {}
    for days, count, amount in connection.execute(
            select(window, func.count(), func.coalesce(func.sum(state.c.balloon_fen), 0))
            .select_from(joined)
            .where(active, state.c.paid_off.is_(False), state.c.balloon_due_date > as_of,
                   state.c.balloon_due_date <= limits[-1])
            .group_by(window)):
        near[int(days)] = (int(count), int(amount))
    approaching = tuple((d, *near.get(d, (0, 0))) for d in APPROACHING_DAYS)

    province = func.substr(loans.c.region_code, 1, 2).label("province")
    provinces = tuple(
        ProvinceFigures(str(code), int(count), int(principal), int(late))
        for code, count, principal, late in connection.execute(
            select(province, func.count(),
                   func.coalesce(func.sum(state.c.principal_outstanding_fen), 0), dpd30)
            .select_from(joined).where(active, loans.c.region_code.is_not(None))
            .group_by(province).order_by(province))
    )
    since = add_months(as_of, -1)
    return Dashboard(as_of, total_loans, total_principal, total_dpd30, int(due), int(cleared),
                     approaching, buckets, since, _roll(connection, since), provinces)


# -- search and export -----------------------------------------------------------------------
@dataclass(frozen=True)
class Search:
    loan_id: str = ""
    region: str = ""
    bucket: str = ""
    status: str = ""
    limit: int = 50
    offset: int = 0


def _search_query(flt: Search) -> Any:
    loans, state = tables.loans, tables.loan_state
    query = (select(loans.c.id, loans.c.product_code, loans.c.principal_fen, loans.c.annual_rate,
                    loans.c.term_months, loans.c.disbursement_date, loans.c.status,
                    loans.c.region_code, state.c.principal_outstanding_fen, state.c.dpd,
                    state.c.bucket, state.c.next_due_date, state.c.balloon_due_date,
                    state.c.balloon_fen)
             .join(state, state.c.loan_id == loans.c.id, isouter=True))
    if flt.loan_id:
        query = query.where(loans.c.id.like(flt.loan_id.replace("%", "").replace("_", "")
                                            + "%"))
    if flt.region:
        query = query.where(loans.c.region_code.like(f"{flt.region}%"))
    if flt.bucket:
        query = query.where(state.c.bucket == flt.bucket)
    if flt.status:
        query = query.where(loans.c.status == flt.status)
    return query


def search_loans(connection: Connection, flt: Search) -> tuple[int, list[dict[str, Any]]]:
    """The matching loans' count and one page of them (id order)."""
    query = _search_query(flt)
    total = connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = connection.execute(query.order_by(tables.loans.c.id)
                              .limit(min(max(flt.limit, 1), SEARCH_LIMIT_MAX))
                              .offset(max(flt.offset, 0))).mappings().all()
    return int(total), [dict(r) for r in rows]


def export_rows(connection: Connection, flt: Search) -> list[dict[str, Any]]:
    """Every matching loan (up to `EXPORT_LIMIT_MAX`) for the Excel export, streamed."""
    query = _search_query(flt).order_by(tables.loans.c.id).limit(EXPORT_LIMIT_MAX)
    return [dict(r) for r in connection.execute(query).mappings()]


# -- loan page ------------------------------------------------------------------------------
def loan_exists(connection: Connection, loan_id: str) -> bool:
    return connection.execute(select(tables.loans.c.id).where(
        tables.loans.c.id == loan_id)).scalar_one_or_none() is not None


def loan_facts(connection: Connection, loan_id: str) -> list[dict[str, Any]]:
    """Payments, reversals and waivers of a loan in the order they were recorded."""
    e = tables.loan_events
    return [dict(r) for r in connection.execute(
        select(e.c.kind, e.c.reference, e.c.value_date, e.c.amount_fen, e.c.channel,
               e.c.component, e.c.reason, e.c.recorded_at)
        .where(e.c.loan_id == loan_id).order_by(e.c.id)).mappings()]


def loan_outbox_events(connection: Connection, loan_id: str, limit: int = 200
                       ) -> list[dict[str, Any]]:
    o = tables.outbox
    return [dict(r) for r in connection.execute(
        select(o.c.id, o.c.event_type, o.c.business_date, o.c.payload, o.c.recorded_at,
               o.c.dispatched_at)
        .where(o.c.aggregate_id == loan_id).order_by(o.c.id.desc()).limit(limit)).mappings()]


def loan_borrower_region(connection: Connection, loan_id: str) -> dict[str, Any]:
    loans, parties, regions = tables.loans, tables.parties, tables.regions
    row = connection.execute(
        select(loans.c.region_code, parties.c.residence_region_code, parties.c.id_region_code,
               regions.c.name.label("region_name"))
        .join(parties, parties.c.id == loans.c.borrower_id)
        .join(regions, regions.c.code == loans.c.region_code, isouter=True)
        .where(loans.c.id == loan_id)).mappings().first()
    return dict(row) if row else {}
