"""Signal use cases: ingest signals (from the API, the bus or a bank statement), evaluate the
early-warning rules on each, and raise or repeat alerts, all in one unit of work per batch.

Why one unit of work per batch and not per signal: the cost of a signal is the commit and the
reads around it (the loans' features, the rule set in force, the alerts each rule last raised),
and all of them are done once per batch with `IN` queries; evaluation itself is microseconds.
So the bus consumer drains whatever has arrived (up to `Consumer.batch`) and the API takes a
list, and a burst of signals costs a few commits, not thousands, while a lone signal still goes
through at once: nobody waits for a batch to fill.

A signal is stored before its rules are evaluated, in the same transaction, so an alert always
points at a stored signal. A signal the same source sent before (same `external_id`) is
recognised and skipped: the bus delivers at least once. Telematics signals are refused for
loans without GPS consent on record. Signals for loans that do not exist are refused too; from
the API with the batch otherwise accepted, from the bus acknowledged and logged (a message that
can never succeed must not block the stream).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tailguard.errors import FieldError, InvalidInput, NotFound, Refused
from tailguard.infra.bus import Delivery, Handler, SignalBus
from tailguard.infra.clock import SHANGHAI
from tailguard.infra.db import tables
from tailguard.infra.db.tables_monitoring import (
    alert_rule_sets,
    alerts,
    gps_consents,
    signals,
    statement_lines,
)
from tailguard.infra.db.uow import UnitOfWork, to_json
from tailguard.money.amount import AmountError, parse_major
from tailguard.monitoring.lifecycle import AlertStatus
from tailguard.monitoring.rules import DEFAULT_RULES, Match, RuleSet, dedupe, evaluate, parse_rules
from tailguard.monitoring.signals import Direction, Signal, SignalKind, parse_signal
from tailguard.risk import behavioural_models as bh
from tailguard.services import behavioural_scores
from tailguard.services.platform import Platform

log = logging.getLogger(__name__)
MAX_BATCH = 5_000
SOURCES = ("api", "bus", "statement", "balloon-watch")


@dataclass
class IngestResult:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    alerts_raised: list[dict[str, Any]] = field(default_factory=list)
    alerts_repeated: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected, "alerts_raised": self.alerts_raised,
                "alerts_repeated": sorted(set(self.alerts_repeated))}


# -- the rule set in force -----------------------------------------------------------------
_RULE_CACHE: dict[tuple[str, int], RuleSet] = {}
"""Parsed rule sets by (database, version); a stored version never changes, so one parse per
process is enough."""


def current_rules(conn: Connection, engine_key: str) -> RuleSet:
    """The highest stored version, or the built-in defaults as version 0 when none is."""
    row = conn.execute(select(alert_rule_sets.c.version, alert_rule_sets.c.definition)
                       .order_by(alert_rule_sets.c.version.desc()).limit(1)).first()
    version = 0 if row is None else int(row.version)
    cached = _RULE_CACHE.get((engine_key, version))
    if cached is None:
        data = DEFAULT_RULES if row is None else json.loads(row.definition)
        cached = parse_rules(data, version)
        if len(_RULE_CACHE) > 256:
            _RULE_CACHE.clear()
        _RULE_CACHE[(engine_key, version)] = cached
    return cached


def engine_key(platform: Platform) -> str:
    return platform.engine.url.render_as_string(hide_password=True)


# -- the features rules can name -----------------------------------------------------------
def _province(code: str | None) -> str | None:
    return None if not code else code[:2] + "0000"


def loan_features(conn: Connection, loan_ids: Iterable[str], today: date
                  ) -> dict[str, dict[str, Any]]:
    """Per loan, the `loan.*` features of the rules (see `monitoring.rules.LOAN_FEATURES`) and
    whether GPS consent is on record, read with one query per 1,000 loans."""
    ids = sorted(set(loan_ids))
    out: dict[str, dict[str, Any]] = {}
    loans, state, parties = tables.loans, tables.loan_state, tables.parties
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        rows = conn.execute(
            select(loans.c.id, loans.c.status, loans.c.region_code, loans.c.balloon_fen,
                   state.c.dpd, state.c.bucket, state.c.balloon_due_date,
                   state.c.balloon_fen.label("state_balloon_fen"),
                   parties.c.residence_region_code, parties.c.id_region_code,
                   gps_consents.c.granted_at, gps_consents.c.revoked_at)
            .select_from(loans.join(parties, parties.c.id == loans.c.borrower_id)
                         .outerjoin(state, state.c.loan_id == loans.c.id)
                         .outerjoin(gps_consents, gps_consents.c.loan_id == loans.c.id))
            .where(loans.c.id.in_(chunk))
        ).all()
        dpd_scores = behavioural_scores.latest_scores(conn, chunk, bh.DPD30_MODEL)
        balloon_scores = behavioural_scores.latest_scores(conn, chunk, bh.BALLOON_MODEL)
        for r in rows:
            province = _province(r.region_code)
            homes = {p for p in (_province(r.residence_region_code),
                                 _province(r.id_region_code)) if p}
            balloon = int(r.state_balloon_fen if r.state_balloon_fen is not None
                          else r.balloon_fen)
            days_left = ((r.balloon_due_date - today).days
                         if r.balloon_due_date is not None and balloon > 0 else None)
            out[r.id] = {
                "dpd": r.dpd, "bucket": r.bucket, "region": r.region_code,
                "province": province,
                "residence_province": _province(r.residence_region_code),
                "cross_region": bool(province and homes and any(h != province for h in homes)),
                "balloon_days_left": days_left, "balloon_fen": balloon,
                "behaviour_score": dpd_scores.get(r.id, {}).get("pd"),
                "behaviour_band": dpd_scores.get(r.id, {}).get("band"),
                "balloon_risk": balloon_scores.get(r.id, {}).get("pd"),
                "status": r.status,
                "_gps_consent": r.granted_at is not None and r.revoked_at is None,
            }
    return out


# -- ingestion -----------------------------------------------------------------------------
def _last_alerts(conn: Connection, loan_ids: Sequence[str]
                 ) -> dict[tuple[str, str], tuple[int, datetime]]:
    """The newest alert not closed of each (rule, loan) for these loans: what dedupe compares."""
    last: dict[tuple[str, str], tuple[int, datetime]] = {}
    for start in range(0, len(loan_ids), 1000):
        chunk = list(loan_ids[start:start + 1000])
        rows = conn.execute(
            select(alerts.c.id, alerts.c.rule_id, alerts.c.loan_id, alerts.c.raised_at)
            .where(alerts.c.loan_id.in_(chunk), alerts.c.status != AlertStatus.CLOSED.value)
            .order_by(alerts.c.raised_at, alerts.c.id)
        ).all()
        for r in rows:
            last[(r.rule_id, r.loan_id)] = (int(r.id), _aware(r.raised_at))
    return last


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC; PostgreSQL aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def ingest_in(uow: UnitOfWork, platform: Platform, parsed: Sequence[tuple[int, Signal]],
              result: IngestResult) -> None:
    """Store and evaluate checked signals inside the caller's unit of work (it commits).
    `parsed` pairs each signal with its position in the caller's batch, for the answer."""
    if not parsed:
        return
    conn = uow.connection
    now = uow.clock.now()
    today = now.astimezone(SHANGHAI).date()
    features = loan_features(conn, (s.loan_id for _, s in parsed), today)

    keyed = [(s.source, s.external_id) for _, s in parsed if s.external_id is not None]
    seen: set[tuple[str, str]] = set()
    for start in range(0, len(keyed), 1000):
        chunk = keyed[start:start + 1000]
        ids_by_source: dict[str, list[str]] = {}
        for source, external in chunk:
            assert external is not None
            ids_by_source.setdefault(source, []).append(external)
        for source, externals in ids_by_source.items():
            seen.update((source, e) for e in conn.execute(
                select(signals.c.external_id).where(signals.c.source == source,
                                                    signals.c.external_id.in_(externals))
            ).scalars())

    to_store: list[tuple[int, Signal]] = []
    for index, signal in parsed:
        loan = features.get(signal.loan_id)
        key = None if signal.external_id is None else (signal.source, signal.external_id)
        if loan is None:
            result.rejected.append({"index": index, "field": "loan_id", "code": "not_found",
                                    "message": f"loan {signal.loan_id} does not exist"})
        elif signal.kind.requires_gps_consent and not loan["_gps_consent"]:
            result.rejected.append({"index": index, "field": "kind", "code": "no_gps_consent",
                                    "message": f"loan {signal.loan_id} has no GPS consent "
                                               "on record: telematics is not accepted"})
        elif key is not None and key in seen:
            result.duplicates.append({"index": index, "external_id": signal.external_id})
        else:
            if key is not None:
                seen.add(key)
            to_store.append((index, signal))
    if not to_store:
        return
    alerted = sorted({s.loan_id for _, s in to_store})
    # Two batches for the same loan at the same moment must not both see "no alert yet" and
    # raise two. On PostgreSQL each locks its loans' rows, in id order, before its insert
    # (whose foreign-key check would otherwise share-lock them first and let two batches
    # deadlock) until it commits; SQLite's single writer already serialises them.
    for start in range(0, len(alerted), 1000):
        conn.execute(select(tables.loans.c.id).where(
            tables.loans.c.id.in_(alerted[start:start + 1000])
        ).order_by(tables.loans.c.id).with_for_update())

    stored = conn.execute(
        insert(signals).returning(signals.c.id, sort_by_parameter_order=True),
        [{"kind": s.kind.value, "loan_id": s.loan_id, "occurred_at": s.occurred_at,
          "source": s.source, "external_id": s.external_id,
          "attributes": to_json(dict(s.attributes)), "actor": uow.actor, "recorded_at": now}
         for _, s in to_store],
    ).scalars().all()

    rules = current_rules(conn, engine_key(platform))
    last = _last_alerts(conn, alerted)
    new_alerts: list[dict[str, Any]] = []
    repeats: list[tuple[int, int]] = []  # (alert id or -(position in new_alerts)-1, signal id)
    for (index, signal), signal_id in zip(to_store, stored, strict=True):
        loan = features[signal.loan_id]
        fired: list[str] = []
        for rule in evaluate(rules, signal, loan):
            match: Match = dedupe(rule, signal.loan_id, now, last)
            if match.repeat_of is not None:
                repeats.append((match.repeat_of, int(signal_id)))
                fired.append(rule.id)
                continue
            placeholder = -len(new_alerts) - 1
            new_alerts.append({
                "loan_id": signal.loan_id, "rule_id": rule.id, "rule_version": rules.version,
                "rule_name": rule.name, "severity": rule.severity.value, "queue": rule.queue,
                "status": AlertStatus.OPEN.value, "signal_id": int(signal_id),
                "last_signal_id": int(signal_id), "repeats": 0, "raised_at": now,
                "last_seen_at": now,
                "detail": to_json({"signal": signal.to_dict(),
                                   "loan": {k: v for k, v in loan.items()
                                            if not k.startswith("_")}}),
            })
            last[(rule.id, signal.loan_id)] = (placeholder, now)
            fired.append(rule.id)
        result.accepted.append({"index": index, "signal_id": int(signal_id), "rules": fired})

    new_ids: list[int] = []
    if new_alerts:
        new_ids = [int(i) for i in conn.execute(
            insert(alerts).returning(alerts.c.id, sort_by_parameter_order=True), new_alerts
        ).scalars().all()]
    counts: dict[int, list[int]] = {}
    for alert_ref, signal_id in repeats:
        alert_id = new_ids[-alert_ref - 1] if alert_ref < 0 else alert_ref
        counts.setdefault(alert_id, []).append(signal_id)
    for alert_id, signal_ids in counts.items():
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
            repeats=alerts.c.repeats + len(signal_ids), last_signal_id=max(signal_ids),
            last_seen_at=now))
        result.alerts_repeated.append(alert_id)
    for alert_id, row in zip(new_ids, new_alerts, strict=True):
        result.alerts_raised.append({"alert_id": alert_id, "loan_id": row["loan_id"],
                                     "rule_id": row["rule_id"], "severity": row["severity"],
                                     "queue": row["queue"]})
    uow.audit("signals.ingest", "signals", None, {
        "accepted": len(to_store), "alerts_raised": new_ids, "rules_version": rules.version,
        "sources": sorted({s.source for _, s in to_store})})
    uow.audit_many([("alert.raise", "loan", row["loan_id"],
                     {"alert_id": alert_id, "rule_id": row["rule_id"],
                      "rule_version": row["rule_version"], "queue": row["queue"]})
                    for alert_id, row in zip(new_ids, new_alerts, strict=True)])
    uow.emit_many([("AlertRaised", row["loan_id"],
                    {"alert_id": alert_id, "rule_id": row["rule_id"],
                     "severity": row["severity"], "queue": row["queue"]}, today)
                   for alert_id, row in zip(new_ids, new_alerts, strict=True)])


def _parse_all(raws: Sequence[Any], source: str, strict: bool, internal: bool,
               result: IngestResult) -> list[tuple[int, Signal]]:
    parsed: list[tuple[int, Signal]] = []
    errors: list[FieldError] = []
    for index, raw in enumerate(raws):
        try:
            parsed.append((index, parse_signal(raw, source=source, where=f"signals[{index}].",
                                               internal=internal)))
        except InvalidInput as exc:
            if strict:
                errors.extend(exc.errors)
            else:
                first = exc.errors[0]
                result.rejected.append({"index": index, "field": first.field,
                                        "code": first.code, "message": str(exc)})
    if errors:
        raise InvalidInput(errors)
    return parsed


def ingest(platform: Platform, actor: str, raws: Sequence[Any], *, source: str = "api",
           strict: bool = True, internal: bool = False) -> IngestResult:
    """Check, store and evaluate a batch of signals in one unit of work.

    `strict` (the API): any malformed signal refuses the whole batch with every wrong field
    named (`signals[3].attributes.hours`); otherwise (the bus) malformed ones are rejected one
    by one and the rest go on."""
    if source not in SOURCES:
        raise InvalidInput.one("source", "invalid", f"one of {', '.join(SOURCES)}")
    if not raws:
        raise InvalidInput.one("signals", "empty", "give at least one signal")
    if len(raws) > MAX_BATCH:
        raise InvalidInput.one("signals", "too_many", f"at most {MAX_BATCH} per batch")
    for attempt in range(3):
        result = IngestResult()
        parsed = _parse_all(raws, source, strict, internal, result)
        try:
            with platform.uow(actor) as uow:
                ingest_in(uow, platform, parsed, result)
                uow.commit()
            return result
        except IntegrityError:
            # The same (source, external id) committed by a concurrent request between our
            # duplicate check and our insert: again, in a new transaction, it is a duplicate.
            if attempt == 2:
                raise Refused("SIGNAL_RACE", "the same signals are being ingested by another "
                               "request; send them again") from None
    raise AssertionError("unreachable")


def publish(bus: SignalBus, raws: Sequence[Mapping[str, Any]]) -> list[str]:
    """Put signals on the bus as they are (the consumer checks them)."""
    return bus.publish_many(raws)


def bus_handler(platform: Platform, actor: str = "signal-bus") -> Handler:
    """The consumer's handler: one batch of deliveries → one `ingest`; a message that can never
    be accepted is logged and acknowledged with the batch."""

    def handle(deliveries: list[Delivery]) -> None:
        result = ingest(platform, actor, [d.payload for d in deliveries], source="bus",
                        strict=False)
        for item in result.rejected:
            log.warning("signal %s rejected: %s", deliveries[item["index"]].id,
                        item["message"])

    return handle


# -- GPS consent ---------------------------------------------------------------------------
def record_gps_consent(platform: Platform, actor: str, loan_id: str, *, granted: bool,
                       evidence: str | None = None) -> dict[str, Any]:
    """Record (or revoke) the borrower's separate consent to tracking for a loan."""
    if granted and (not evidence or len(evidence) > 200):
        raise InvalidInput.one("evidence", "required",
                               "where the consent is (e.g. the signed clause's document id)")
    with platform.uow(actor) as uow:
        conn = uow.connection
        if conn.execute(select(tables.loans.c.id).where(
                tables.loans.c.id == loan_id)).first() is None:
            raise NotFound(f"loan {loan_id} does not exist")
        now = uow.clock.now()
        conn.execute(gps_consents.delete().where(gps_consents.c.loan_id == loan_id)
                     if granted else
                     update(gps_consents).where(gps_consents.c.loan_id == loan_id,
                                                gps_consents.c.revoked_at.is_(None))
                     .values(revoked_at=now))
        if granted:
            assert evidence is not None
            conn.execute(insert(gps_consents).values(loan_id=loan_id, granted_at=now,
                                                     evidence=evidence, actor=actor))
        uow.audit("gps.consent" if granted else "gps.consent.revoke", "loan", loan_id,
                  {"evidence": evidence})
        uow.commit()
    return {"loan_id": loan_id, "gps_consent": granted}


# -- bank statements -----------------------------------------------------------------------
HEADERS = {
    "value_date": ("value_date", "date", "交易日期", "记账日期", "入账日期"),
    "amount": ("amount", "金额", "交易金额", "发生额"),
    "credit": ("credit", "贷方金额", "收入金额", "收入"),
    "debit": ("debit", "借方金额", "支出金额", "支出"),
    "reference": ("reference", "附言", "摘要", "用途", "备注", "交易附言"),
    "counterparty": ("counterparty", "对方户名", "付款人", "对方名称", "付款人名称"),
}
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,39}")


@dataclass(frozen=True)
class StatementLine:
    line_number: int
    value_date: date
    amount_fen: int
    direction: Direction
    reference: str | None
    counterparty: str | None


def _rows_of(content: bytes, filename: str) -> list[list[Any]]:
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises several kinds for a broken file
            raise InvalidInput.one("file", "invalid", f"not a readable Excel file: {exc}"
                                   ) from exc
        sheet = book.worksheets[0]
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        book.close()
        return rows
    if name.endswith((".csv", ".txt")):
        for encoding in ("utf-8-sig", "gb18030"):  # Chinese banks' exports are often GBK
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes any byte string
            raise InvalidInput.one("file", "encoding", "UTF-8 or GB18030 text")
        return [row for row in csv.reader(io.StringIO(text))]
    raise InvalidInput.one("file", "format", "a .csv or .xlsx file")


def _fen(value: Any) -> int:
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, int | Decimal):
        value = str(value)
    return parse_major(str(value).strip().replace("¥", "").replace("￥", ""))


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return date.fromisoformat(text)


def parse_statement(content: bytes, filename: str) -> list[StatementLine]:
    """Lines of a bank statement export (CSV or Excel): a header row naming the columns in
    English or Chinese, then one row per transaction. An amount column signed by direction,
    or separate credit and debit columns, are both understood."""
    rows = [r for r in _rows_of(content, filename)
            if any(c not in (None, "") for c in r)]
    if not rows:
        raise InvalidInput.one("file", "empty", "no header row")
    header = [str(c or "").strip().lower() for c in rows[0]]
    column: dict[str, int] = {}
    for key, names in HEADERS.items():
        for i, title in enumerate(header):
            if title in names:
                column[key] = i
                break
    if "value_date" not in column:
        raise InvalidInput.one("file", "no_date_column", "a date column (value_date or 交易日期)")
    if "amount" not in column and "credit" not in column:
        raise InvalidInput.one("file", "no_amount_column",
                               "an amount column (amount or 金额) or credit/debit columns")
    lines: list[StatementLine] = []
    errors: list[FieldError] = []
    for number, row in enumerate(rows[1:], start=2):
        def cell(key: str, row: list[Any] = row) -> Any:
            i = column.get(key)
            return None if i is None or i >= len(row) or row[i] in (None, "") else row[i]
        try:
            day = _day(cell("value_date"))
        except (TypeError, ValueError):
            errors.append(FieldError(f"line {number}.value_date", "invalid", "a date"))
            continue
        try:
            if "amount" in column:
                amount = _fen(cell("amount"))
                direction = Direction.CREDIT if amount >= 0 else Direction.DEBIT
            elif cell("credit") is not None:
                amount, direction = _fen(cell("credit")), Direction.CREDIT
            else:
                amount, direction = _fen(cell("debit")), Direction.DEBIT
        except (AmountError, InvalidOperation, TypeError, ValueError):
            errors.append(FieldError(f"line {number}.amount", "invalid", "an amount in yuan"))
            continue
        if amount == 0:
            continue
        reference, counterparty = cell("reference"), cell("counterparty")
        lines.append(StatementLine(number, day, abs(amount), direction,
                                   None if reference is None else str(reference)[:200],
                                   None if counterparty is None else str(counterparty)[:120]))
    if errors:
        raise InvalidInput(errors[:50])
    return lines


def _match_lines(conn: Connection, lines: Sequence[StatementLine]
                 ) -> list[tuple[str | None, str]]:
    """Per line, (loan id, how): a loan id named in the reference first; otherwise a credit
    equal to exactly one loan's open instalment due within 40 days of the value date; several
    such loans make the line `ambiguous`, none `none`."""
    tokens = {t for line in lines if line.reference for t in _TOKEN.findall(line.reference)}
    known: set[str] = set()
    token_list = sorted(tokens)
    for start in range(0, len(token_list), 1000):
        known.update(conn.execute(select(tables.loans.c.id).where(
            tables.loans.c.id.in_(token_list[start:start + 1000]))).scalars())
    by_amount: dict[int, list[tuple[str, date]]] = {}
    amounts = sorted({line.amount_fen for line in lines if line.direction is Direction.CREDIT})
    s = tables.installment_state.c
    remaining = (s.principal_fen + s.interest_fen + s.fee_fen - s.principal_paid_fen
                 - s.interest_paid_fen - s.fee_paid_fen - s.interest_waived_fen
                 - s.fee_waived_fen)
    for start in range(0, len(amounts), 1000):
        rows = conn.execute(
            select(s.loan_id, s.due_date, remaining.label("remaining"))
            .where(s.settled_on.is_(None), remaining.in_(amounts[start:start + 1000]))
        ).all()
        for r in rows:
            by_amount.setdefault(int(r.remaining), []).append((r.loan_id, r.due_date))
    out: list[tuple[str | None, str]] = []
    for line in lines:
        named = [t for t in _TOKEN.findall(line.reference or "") if t in known]
        if len(set(named)) == 1:
            out.append((named[0], "reference"))
            continue
        if line.direction is not Direction.CREDIT:
            out.append((None, "none"))
            continue
        near = {loan for loan, due in by_amount.get(line.amount_fen, ())
                if abs((due - line.value_date).days) <= 40}
        if len(near) == 1:
            out.append((near.pop(), "amount"))
        else:
            out.append((None, "ambiguous" if near or len(set(named)) > 1 else "none"))
    return out


def import_statement(platform: Platform, actor: str, content: bytes, filename: str
                     ) -> dict[str, Any]:
    """Import a bank statement: store every line, match credits to loans, and ingest matched
    lines as `statement-line` signals, in one unit of work. Importing the same file again
    changes nothing (the import id is the file's hash)."""
    if not content:
        raise InvalidInput.one("file", "empty", "the file is empty")
    lines = parse_statement(content, filename)
    import_id = hashlib.sha256(content).hexdigest()[:32]
    result = IngestResult()
    with platform.uow(actor) as uow:
        conn = uow.connection
        already = conn.execute(select(func.count()).select_from(statement_lines).where(
            statement_lines.c.import_id == import_id)).scalar_one()
        if already:
            return {"import_id": import_id, "lines": int(already), "already_imported": True,
                    "matched": 0, "unmatched": 0, "ambiguous": 0, "signals": {}}
        matches = _match_lines(conn, lines)
        parsed: list[tuple[int, Signal]] = []
        for position, (line, (loan_id, how)) in enumerate(zip(lines, matches, strict=True)):
            if loan_id is None:
                continue
            attributes: dict[str, Any] = {"amount_fen": line.amount_fen,
                                          "direction": line.direction.value, "match": how}
            if line.reference:
                attributes["reference"] = line.reference
            if line.counterparty:
                attributes["counterparty"] = line.counterparty
            occurred = datetime(line.value_date.year, line.value_date.month,
                                line.value_date.day, tzinfo=SHANGHAI)
            parsed.append((position, Signal(SignalKind.STATEMENT_LINE, loan_id, occurred,
                                            "statement", f"{import_id}:{line.line_number}",
                                            attributes)))
        ingest_in(uow, platform, parsed, result)
        signal_of = {item["index"]: item["signal_id"] for item in result.accepted}
        now = uow.clock.now()
        conn.execute(insert(statement_lines), [
            {"import_id": import_id, "line_number": line.line_number,
             "value_date": line.value_date, "amount_fen": line.amount_fen,
             "direction": line.direction.value, "reference": line.reference,
             "counterparty": line.counterparty, "loan_id": loan_id, "match": how,
             "signal_id": signal_of.get(position), "recorded_at": now}
            for position, (line, (loan_id, how)) in enumerate(zip(lines, matches, strict=True))
        ])
        uow.audit("statement.import", "statement", import_id,
                  {"filename": filename[:120], "lines": len(lines)})
        uow.commit()
    tally = {how: sum(1 for _, h in matches if h == how)
             for how in ("reference", "amount", "ambiguous", "none")}
    return {"import_id": import_id, "lines": len(lines), "already_imported": False,
            "matched": tally["reference"] + tally["amount"], "by_reference": tally["reference"],
            "by_amount": tally["amount"], "ambiguous": tally["ambiguous"],
            "unmatched": tally["none"], "signals": result.to_dict()}


def signals_of(platform: Platform, loan_id: str, limit: int = 200) -> list[dict[str, Any]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(signals).where(signals.c.loan_id == loan_id)
                            .order_by(signals.c.id.desc()).limit(limit)).mappings().all()
    return [{"signal_id": r["id"], "kind": r["kind"], "source": r["source"],
             "occurred_at": _aware(r["occurred_at"]).isoformat(),
             "external_id": r["external_id"], "attributes": json.loads(r["attributes"])}
            for r in rows]

