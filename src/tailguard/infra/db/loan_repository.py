"""Loading and storing loan accounts: rows in, immutable `LoanAccount` values out.

The repository never decides anything: services hand it what a pure rule returned. Schedules
are stored version by version and never updated; facts (payments, reversals, waivers) are
appended. Loading a loan is a fixed number of queries whatever its age.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from tailguard.calendar import BusinessCalendar
from tailguard.infra.db import tables
from tailguard.infra.db.codecs import product_from_json, product_to_json
from tailguard.infra.db.schedule_cache import ScheduleCache
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import (
    Channel,
    ChargeWaived,
    Component,
    CreditRefunded,
    LoanEvent,
    PaymentReceived,
    PaymentReversed,
)
from tailguard.loans.products import Product
from tailguard.loans.schedule import Installment, InstallmentKind, Schedule
from tailguard.loans.terms import LoanTerms


@dataclass(frozen=True)
class LoanRecord:
    """The parties and objects around a loan, beside its servicing account."""

    loan_id: str
    borrower_id: str
    guarantor_id: str | None
    dealer_id: str | None
    vehicle_id: str | None
    region_code: str | None
    status: str


IN_LIST_MAX = 500
"""Loan ids per IN list in the hand-written queries (SQLite bounds parameters)."""


def _memo(decode: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """`decode` (a column type's result processor, None when the driver's value is final)
    applied once per distinct raw value."""
    if decode is None:
        return lambda value: value
    seen: dict[Any, Any] = {None: None}

    def memo(value: Any) -> Any:
        if value not in seen:
            seen[value] = decode(value)
        return seen[value]
    return memo


@lru_cache(maxsize=256)
def _product_from_text(text: str) -> Product:
    """Decoded once per distinct definition: the same text is the same (frozen) product."""
    return product_from_json(text)


class LoanRepository:
    def __init__(
        self,
        connection: Connection,
        calendar_for: Callable[[str | None], BusinessCalendar],
        products: dict[tuple[str, int], Product] | None = None,
        schedules: ScheduleCache | None = None,
    ) -> None:
        self.connection = connection
        self._schedule_cache = schedules
        """Committed schedule versions (a version never changes), shared by the platform."""
        self.calendar_for = calendar_for
        self._products: dict[tuple[str, int], Product] = {} if products is None else products
        """Product versions already read; may be shared beyond this unit of work because a
        stored version never changes."""
        self._records: dict[str, LoanRecord] = {}
        """Records read by `get` in this unit of work, so `record` needs no second query."""

    # -- products -----------------------------------------------------------------------
    def save_product(self, product: Product, recorded_at: datetime) -> None:
        existing = self.connection.execute(
            select(tables.products.c.definition).where(
                tables.products.c.code == product.code,
                tables.products.c.version == product.version,
            )
        ).scalar_one_or_none()
        text = product_to_json(product)
        if existing is not None:
            assert existing == text, f"product {product.key} exists with other terms"
            return
        self.connection.execute(
            insert(tables.products).values(
                code=product.code, version=product.version, definition=text,
                recorded_at=recorded_at,
            )
        )

    def product(self, code: str, version: int) -> Product:
        key = (code, version)
        if key not in self._products:
            text = self.connection.execute(
                select(tables.products.c.definition).where(
                    tables.products.c.code == code, tables.products.c.version == version
                )
            ).scalar_one()
            self._products[key] = product_from_json(text)
        return self._products[key]

    def latest_product(self, code: str) -> Product | None:
        row = self.connection.execute(
            select(tables.products.c.definition)
            .where(tables.products.c.code == code)
            .order_by(tables.products.c.version.desc())
            .limit(1)
        ).scalar_one_or_none()
        return None if row is None else _product_from_text(row)

    # -- loans --------------------------------------------------------------------------
    def add(self, account: LoanAccount, record: LoanRecord, recorded_at: datetime) -> None:
        terms = account.terms
        self.connection.execute(
            insert(tables.loans).values(
                id=account.loan_id,
                borrower_id=record.borrower_id,
                guarantor_id=record.guarantor_id,
                dealer_id=record.dealer_id,
                vehicle_id=record.vehicle_id,
                product_code=terms.product.code,
                product_version=terms.product.version,
                principal_fen=terms.principal_fen,
                annual_rate=terms.annual_rate,
                term_months=terms.term_months,
                disbursement_date=terms.disbursement_date,
                first_due_date=terms.first_due_date,
                contract_day=terms.contract_day,
                balloon_fen=terms.balloon_fen,
                vehicle_used=terms.vehicle_used,
                region_code=record.region_code,
                status=record.status,
                schedule_version=account.schedule.version,
                extended_months=account.extended_months,
                annual_rate_override=account.annual_rate_override,
                lock_version=0,
                recorded_at=recorded_at,
            )
        )
        for schedule in account.schedules:
            self._insert_schedule(account.loan_id, schedule, recorded_at)
        for event in account.events:
            self.append_event(account.loan_id, event, recorded_at)

    def _insert_schedule(self, loan_id: str, schedule: Schedule, recorded_at: datetime) -> None:
        self.connection.execute(
            insert(tables.schedule_versions).values(
                loan_id=loan_id, version=schedule.version, replaces=schedule.replaces,
                effective_date=schedule.effective_date, reason=schedule.reason,
                recorded_at=recorded_at,
            )
        )
        self.connection.execute(
            insert(tables.installments),
            [
                {
                    "loan_id": loan_id, "version": schedule.version, "number": i.number,
                    "period_start": i.period_start, "due_date": i.due_date,
                    "principal_fen": i.principal_fen, "interest_fen": i.interest_fen,
                    "fee_fen": i.fee_fen, "balloon_fen": i.balloon_fen,
                    "balance_after_fen": i.balance_after_fen, "kind": i.kind.value,
                    "contract_rate": i.contract_rate,
                }
                for i in schedule.installments
            ],
        )

    def add_schedule(self, account: LoanAccount, recorded_at: datetime) -> None:
        """Store the account's newest schedule version and put it in force."""
        self._insert_schedule(account.loan_id, account.schedule, recorded_at)
        self.connection.execute(
            update(tables.loans)
            .where(tables.loans.c.id == account.loan_id)
            .values(
                schedule_version=account.schedule.version,
                extended_months=account.extended_months,
                annual_rate_override=account.annual_rate_override,
            )
        )

    def append_event(self, loan_id: str, event: LoanEvent, recorded_at: datetime) -> None:
        self.append_events([(loan_id, event)], recorded_at)

    def append_events(
        self, events: Sequence[tuple[str, LoanEvent]], recorded_at: datetime
    ) -> None:
        """Append facts in the given order (their ids keep that order for the replay)."""
        if events:
            self.connection.execute(
                insert(tables.loan_events),
                [event_row(loan_id, event, recorded_at) for loan_id, event in events],
            )

    def set_status(self, loan_id: str, status: str) -> None:
        self.connection.execute(
            update(tables.loans).where(tables.loans.c.id == loan_id).values(status=status)
        )
        self._records.pop(loan_id, None)

    def record(self, loan_id: str) -> LoanRecord | None:
        if loan_id in self._records:
            return self._records[loan_id]
        row = self.connection.execute(
            select(tables.loans).where(tables.loans.c.id == loan_id)
        ).mappings().one_or_none()
        if row is None:
            return None
        return LoanRecord(row["id"], row["borrower_id"], row["guarantor_id"], row["dealer_id"],
                          row["vehicle_id"], row["region_code"], row["status"])

    def get(self, loan_id: str, for_update: bool = False) -> LoanAccount | None:
        """The loan as an account value; `for_update` locks its row until commit."""
        return self.get_many([loan_id], for_update).get(loan_id)

    def get_many(
        self, loan_ids: Iterable[str], for_update: bool = False
    ) -> dict[str, LoanAccount]:
        """Several loans in four queries whatever their number; the missing are left out.

        Rows are locked in loan-id order, so two batches locking overlapping loans queue
        behind each other instead of deadlocking."""
        wanted = sorted(set(loan_ids))
        if not wanted:
            return {}
        query = select(tables.loans).where(tables.loans.c.id.in_(wanted)).order_by(
            tables.loans.c.id)
        if for_update:
            query = query.with_for_update()
        rows = self.connection.execute(query).mappings().all()
        found = [row["id"] for row in rows]
        schedules = self._schedules(found)
        events = self._events(found)
        accounts: dict[str, LoanAccount] = {}
        for row in rows:
            loan_id = row["id"]
            self._records[loan_id] = LoanRecord(
                loan_id, row["borrower_id"], row["guarantor_id"], row["dealer_id"],
                row["vehicle_id"], row["region_code"], row["status"],
            )
            terms = LoanTerms(
                product=self.product(row["product_code"], row["product_version"]),
                principal_fen=row["principal_fen"],
                annual_rate=Decimal(row["annual_rate"]).normalize(),
                term_months=row["term_months"],
                disbursement_date=row["disbursement_date"],
                first_due_date=row["first_due_date"],
                contract_day=row["contract_day"],
                balloon_fen=row["balloon_fen"],
                vehicle_used=row["vehicle_used"],
            )
            override = row["annual_rate_override"]
            accounts[loan_id] = LoanAccount(
                loan_id=loan_id,
                terms=terms,
                schedules=schedules.get(loan_id, ()),
                events=events.get(loan_id, ()),
                calendar=self.calendar_for(row["region_code"]),
                extended_months=row["extended_months"],
                annual_rate_override=None if override is None else Decimal(override).normalize(),
            )
        return accounts

    def _schedules(self, loan_ids: Sequence[str]) -> dict[str, tuple[Schedule, ...]]:
        if not loan_ids:
            return {}
        sv = tables.schedule_versions
        versions = self.connection.execute(
            select(sv.c.loan_id, sv.c.version, sv.c.replaces, sv.c.effective_date, sv.c.reason)
            .where(sv.c.loan_id.in_(loan_ids))
            .order_by(sv.c.loan_id, sv.c.version)
        ).all()
        cache = self._schedule_cache
        found: dict[tuple[str, int], Schedule] = {}
        if cache is not None:
            for loan_id, version, replaces, effective_date, reason in versions:
                hit = cache.get((loan_id, version))
                if hit is not None and (hit.replaces, hit.effective_date, hit.reason) == (
                        replaces, effective_date, reason):
                    found[(loan_id, version)] = hit
        unread = sorted({row[0] for row in versions if (row[0], row[1]) not in found})
        by_version = self._installments(unread)
        read: list[tuple[tuple[str, int], Schedule]] = []
        result: dict[str, list[Schedule]] = {}
        for loan_id, version, replaces, effective_date, reason in versions:
            schedule = found.get((loan_id, version))
            if schedule is None:
                schedule = Schedule(
                    installments=tuple(by_version[(loan_id, version)]),
                    version=version,
                    replaces=replaces,
                    effective_date=effective_date,
                    reason=reason,
                )
                read.append(((loan_id, version), schedule))
            result.setdefault(loan_id, []).append(schedule)
        if cache is not None and read:
            cache.offer(self.connection, read)
        return {loan_id: tuple(loaded) for loan_id, loaded in result.items()}

    def _installments(self, loan_ids: Sequence[str]
                      ) -> dict[tuple[str, int], list[Installment]]:
        """Every schedule version's instalments of `loan_ids`, by (loan id, version)."""
        if not loan_ids:
            return {}
        it = tables.installments
        # Driver rows, and each distinct date, rate and kind decoded once (with the column
        # types' own decoders, so the values are the ones a typed query gives): a batch reads
        # tens of thousands of instalment rows, and decoding each value costs more than the
        # query.
        columns = (it.c.loan_id, it.c.version, it.c.number, it.c.period_start, it.c.due_date,
                   it.c.principal_fen, it.c.interest_fen, it.c.balance_after_fen, it.c.fee_fen,
                   it.c.balloon_fen, it.c.kind, it.c.contract_rate)
        dialect = self.connection.dialect
        if dialect.name == "sqlite":  # dates come as text and rates as floats: decode here
            rows: list[Any] = []
            for start in range(0, len(loan_ids), IN_LIST_MAX):
                part = loan_ids[start:start + IN_LIST_MAX]
                rows.extend(self.connection.exec_driver_sql(
                    f"SELECT {', '.join(c.name for c in columns)} FROM installments "
                    f"WHERE loan_id IN ({', '.join('?' for _ in part)}) "
                    f"ORDER BY loan_id, version, number", tuple(part)).fetchall())
            date_of = _memo(it.c.due_date.type.dialect_impl(dialect).result_processor(
                dialect, None))
            rate_of = _memo(it.c.contract_rate.type.dialect_impl(dialect).result_processor(
                dialect, None))
        else:  # the driver's values are final
            rows = list(self.connection.execute(
                select(*columns).where(it.c.loan_id.in_(loan_ids))
                .order_by(it.c.loan_id, it.c.version, it.c.number)).all())
            date_of = rate_of = _memo(None)
        rates: dict[Any, Decimal | None] = {None: None}
        kinds: dict[str, InstallmentKind] = {}
        by_version: dict[tuple[str, int], list[Installment]] = {}
        for (loan_id, version, number, period_start, due_date, principal, interest, balance,
             fee, balloon, kind, raw_rate) in rows:
            rate = rate_of(raw_rate)
            if rate not in rates:
                rates[rate] = Decimal(rate).normalize()
            if kind not in kinds:
                kinds[kind] = InstallmentKind(kind)
            by_version.setdefault((loan_id, version), []).append(
                Installment(
                    number=number, period_start=date_of(period_start),
                    due_date=date_of(due_date),
                    principal_fen=principal, interest_fen=interest,
                    balance_after_fen=balance, fee_fen=fee,
                    balloon_fen=balloon, kind=kinds[kind],
                    contract_rate=rates[rate],
                )
            )
        return by_version

    def _events(self, loan_ids: Sequence[str]) -> dict[str, tuple[LoanEvent, ...]]:
        if not loan_ids:
            return {}
        e = tables.loan_events
        columns = (e.c.loan_id, e.c.kind, e.c.reference, e.c.value_date, e.c.amount_fen,
                   e.c.channel, e.c.reason, e.c.component, e.c.installment_number)
        dialect = self.connection.dialect
        if dialect.name == "sqlite":  # driver rows, each distinct date decoded once
            rows: list[Any] = []
            for start in range(0, len(loan_ids), IN_LIST_MAX):
                part = loan_ids[start:start + IN_LIST_MAX]
                rows.extend(self.connection.exec_driver_sql(
                    f"SELECT {', '.join(c.name for c in columns)} FROM loan_events "
                    f"WHERE loan_id IN ({', '.join('?' for _ in part)}) ORDER BY id",
                    tuple(part)).fetchall())
            date_of = _memo(e.c.value_date.type.dialect_impl(dialect).result_processor(
                dialect, None))
        else:
            rows = list(self.connection.execute(
                select(*columns).where(e.c.loan_id.in_(loan_ids)).order_by(e.c.id)).all())
            date_of = _memo(None)
        events: dict[str, list[LoanEvent]] = {}
        for loan_id, kind, *values in rows:
            values[1] = date_of(values[1])
            events.setdefault(loan_id, []).append(event_from_values(kind, *values))
        return {loan_id: tuple(found) for loan_id, found in events.items()}


def event_row(loan_id: str, event: LoanEvent, recorded_at: datetime) -> dict[str, object]:
    values: dict[str, object] = {
        "loan_id": loan_id, "value_date": event.value_date, "recorded_at": recorded_at,
        "amount_fen": None, "channel": None, "reason": None, "component": None,
        "installment_number": None,
    }
    if isinstance(event, PaymentReceived):
        values |= {"kind": "payment", "reference": event.payment_id,
                   "amount_fen": event.amount_fen, "channel": event.channel.value}
    elif isinstance(event, PaymentReversed):
        values |= {"kind": "reversal", "reference": event.payment_id, "reason": event.reason}
    elif isinstance(event, CreditRefunded):
        values |= {"kind": "refund", "reference": event.refund_id,
                   "amount_fen": event.amount_fen}
    else:
        values |= {"kind": "waiver", "reference": event.waiver_id,
                   "amount_fen": event.amount_fen, "component": event.component.value,
                   "installment_number": event.installment_number}
    return values


def event_from_row(r: RowMapping) -> LoanEvent:
    return event_from_values(r["kind"], r["reference"], r["value_date"], r["amount_fen"],
                             r["channel"], r["reason"], r["component"], r["installment_number"])


def event_from_values(kind: str, reference: str, value_date: date, amount_fen: int | None,
                      channel: str | None, reason: str | None, component: str | None,
                      installment_number: int | None) -> LoanEvent:
    if kind == "payment":
        assert amount_fen is not None and channel is not None
        return PaymentReceived(reference, value_date, amount_fen, Channel(channel))
    if kind == "reversal":
        return PaymentReversed(reference, value_date, reason)  # type: ignore[arg-type]
    if kind == "refund":
        assert amount_fen is not None
        return CreditRefunded(reference, value_date, amount_fen)
    assert amount_fen is not None and component is not None
    return ChargeWaived(reference, value_date, amount_fen, Component(component),
                        installment_number)
