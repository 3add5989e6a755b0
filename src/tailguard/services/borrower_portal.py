"""What the borrower app does: the borrower's own loans, the schedule and what is paid, the
balloon ahead and the options open, payments through the payment gateway, uploads, the inbox.

Ownership is decided here, once: a party owns the loans whose borrower has the same ID number
(the same person, even when booked twice as two party rows). Every loan-level use case starts
with `require_own_loan`, which answers `NotFound` for a loan that does not exist and for one
that is someone else's alike, so an id typed into the address reveals nothing.

Money use cases follow the house rules: a payment order is recorded before the borrower goes to
the gateway; the gateway's signed callback is verified, then posted through
`payments.post_payment` (or `servicing.settle_loan` for a payoff) with the gateway's
transaction id as the idempotency key, so a callback delivered twice posts once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tailguard.errors import InvalidInput, NotFound, Refused
from tailguard.infra.db import tables
from tailguard.infra.db.tables_engagement import in_app_messages
from tailguard.infra.db.tables_web import borrower_uploads, payment_orders
from tailguard.infra.document_store import DocumentStore
from tailguard.infra.payment_gateway import Notification, PaymentGateway
from tailguard.loans.account import LoanAccount
from tailguard.loans.events import Channel
from tailguard.loans.maturity import (
    BalloonPlan,
    extension_cap_months,
    plan_extension,
    plan_refinance,
)
from tailguard.loans.payoff import PayoffQuote, quote_payoff
from tailguard.money import AmountError, parse_major, yuan
from tailguard.services import approvals, servicing
from tailguard.services.payments import post_payment
from tailguard.services.platform import Platform

UPLOAD_MAX_BYTES = 5 * 1024 * 1024
UPLOAD_KINDS = ("income", "id-card", "vehicle", "insurance", "other")
UPLOAD_TYPES = {
    "application/pdf": (b"%PDF-", "pdf"),
    "image/jpeg": (b"\xff\xd8\xff", "jpg"),
    "image/png": (b"\x89PNG\r\n\x1a\n", "png"),
}
"""Accepted types, each with the magic bytes the file must start with (the declared type alone
is the browser's guess) and the extension it is stored under."""
PAYMENT_MAX_FEN = 5_000_000_00
"""No single app payment above 5 million yuan: a typo guard, far above any balloon."""


def _person_loans(party_id: str) -> Any:
    parties, loans = tables.parties, tables.loans
    same_person = select(parties.c.id).where(parties.c.id_number_hash == select(
        parties.c.id_number_hash).where(parties.c.id == party_id).scalar_subquery())
    return loans.c.borrower_id.in_(same_person)


def owned_loans(platform: Platform, party_id: str) -> list[dict[str, Any]]:
    """The borrower's loans with today's cached state, in one query."""
    loans, state = tables.loans, tables.loan_state
    with platform.engine.connect() as conn:
        rows = conn.execute(
            select(loans.c.id, loans.c.status, loans.c.principal_fen, loans.c.term_months,
                   loans.c.disbursement_date, state.c.principal_outstanding_fen, state.c.dpd,
                   state.c.bucket, state.c.next_due_date, state.c.balloon_due_date,
                   state.c.balloon_fen, state.c.paid_off)
            .join(state, state.c.loan_id == loans.c.id, isouter=True)
            .where(_person_loans(party_id)).order_by(loans.c.disbursement_date, loans.c.id)
        ).mappings().all()
    return [dict(r) for r in rows]


def require_own_loan(platform: Platform, party_id: str, loan_id: str) -> None:
    with platform.engine.connect() as conn:
        found = conn.execute(select(tables.loans.c.id).where(
            tables.loans.c.id == loan_id, _person_loans(party_id))).scalar_one_or_none()
    if found is None:
        raise NotFound(f"loan {loan_id} does not exist")


@dataclass(frozen=True)
class InstallmentLine:
    number: int
    due_date: date
    kind: str
    payment_fen: int
    paid_fen: int
    outstanding_fen: int
    settled_on: date | None
    overdue: bool


@dataclass(frozen=True)
class BalloonView:
    due_date: date
    amount_fen: int
    days_left: int


@dataclass(frozen=True)
class LoanOverview:
    loan_id: str
    as_of: date
    status: str
    principal_fen: int
    annual_rate: str
    term_months: int
    principal_outstanding_fen: int
    arrears_fen: int
    dpd: int
    paid_off: bool
    lines: tuple[InstallmentLine, ...]
    next_line: InstallmentLine | None
    suggested_payment_fen: int
    balloon: BalloonView | None
    paid_count: int


def loan_overview(platform: Platform, party_id: str, loan_id: str) -> LoanOverview:
    require_own_loan(platform, party_id, loan_id)
    account = servicing.load_account(platform, loan_id)
    today = platform.today()
    position = account.position(today)
    lines = []
    for s in position.installments:
        inst = s.installment
        paid = (s.principal_paid_fen + s.interest_paid_fen + s.fee_paid_fen
                + s.penalty_paid_fen)
        lines.append(InstallmentLine(
            s.number, s.due_date, inst.kind.value, inst.payment_fen, paid,
            s.total_outstanding_fen, s.settled_on,
            s.due_date <= today and s.total_outstanding_fen > 0))
    upcoming = next((line for line in lines if line.outstanding_fen > 0), None)
    if position.arrears_fen > 0:
        suggested = position.arrears_fen
    elif upcoming is not None:
        suggested = max(0, upcoming.outstanding_fen - position.credit_balance_fen)
    else:
        suggested = 0
    final = account.schedule.balloon_installment()
    balloon = None
    if final is not None and not position.paid_off:
        state = position.state_of(final.number)
        if state.total_outstanding_fen > 0:
            balloon = BalloonView(final.due_date, final.balloon_fen, (final.due_date - today).days)
    with platform.engine.connect() as conn:
        status = conn.execute(select(tables.loans.c.status).where(
            tables.loans.c.id == loan_id)).scalar_one()
    return LoanOverview(
        loan_id, today, status, account.terms.principal_fen, str(account.annual_rate),
        account.terms.term_months, position.principal_outstanding_fen, position.arrears_fen,
        position.dpd, position.paid_off, tuple(lines), upcoming, suggested, balloon,
        sum(1 for line in lines if line.settled_on is not None))


@dataclass(frozen=True)
class BalloonOption:
    option: str
    available: bool
    months: int | None = None
    monthly_payment_fen: int | None = None
    total_fen: int | None = None
    reason: str | None = None


def _plan_option(account: LoanAccount, plan: Callable[[], BalloonPlan], option: str
                 ) -> BalloonOption:
    try:
        result = plan()
    except Refused as refused:
        return BalloonOption(option, False, reason=refused.message)
    new = [i for i in result.schedule.installments
           if i.due_date > account.schedule.maturity_date]
    return BalloonOption(option, True, len(new), new[0].payment_fen if new else None)


def balloon_options(platform: Platform, party_id: str, loan_id: str
                    ) -> tuple[PayoffQuote, list[BalloonOption]]:
    """Today's payoff quote and each balloon option with its figures or why it is closed."""
    require_own_loan(platform, party_id, loan_id)
    account = servicing.load_account(platform, loan_id)
    today = platform.today()
    quote = quote_payoff(account, today)
    policy = account.product.maturity
    cap = extension_cap_months(account) - account.extended_months
    options = [BalloonOption("settle", True, total_fen=quote.total_fen)]
    options.append(_plan_option(account, lambda: plan_refinance(
        account, today, policy.refinance_term_months_max, account.annual_rate), "refinance"))
    options.append(_plan_option(account, lambda: plan_extension(
        account, today, min(12, max(1, cap))), "extend"))
    options.append(BalloonOption("trade-in", True))
    options.append(BalloonOption("return-vehicle", policy.allows_vehicle_return))
    return quote, options


def request_option(platform: Platform, party_id: str, loan_id: str, option: str,
                   months_text: str) -> approvals.Approval:
    """A refinancing or extension request from the borrower: an approval for servicing."""
    require_own_loan(platform, party_id, loan_id)
    if option not in ("refinance", "extend"):
        raise InvalidInput.one("option", "unknown", "choose refinance or extend")
    text = months_text.strip()
    if not text.isdigit() or not 1 <= int(text) <= 60:
        raise InvalidInput.one("months", "format", "a whole number of months from 1 to 60")
    return approvals.request_approval(platform, f"borrower:{party_id}", option, loan_id,
                                      {"months": int(text), "requested_in": "borrower-app"})


def pending_requests(platform: Platform, party_id: str, loan_id: str) -> list[dict[str, Any]]:
    require_own_loan(platform, party_id, loan_id)
    a = tables.approvals
    with platform.engine.connect() as conn:
        rows = conn.execute(select(a.c.id, a.c.action, a.c.status, a.c.recorded_at).where(
            a.c.loan_id == loan_id, a.c.maker == f"borrower:{party_id}").order_by(
            a.c.recorded_at.desc())).mappings().all()
    return [dict(r) for r in rows]


# -- payments through the gateway ---------------------------------------------------------
@dataclass(frozen=True)
class PaymentOrder:
    order_id: str
    loan_id: str
    amount_fen: int
    purpose: str
    status: str
    payment_id: str | None


def _order(conn: Connection, order_id: str) -> PaymentOrder | None:
    row = conn.execute(select(payment_orders).where(
        payment_orders.c.id == order_id)).mappings().first()
    if row is None:
        return None
    return PaymentOrder(row["id"], row["loan_id"], row["amount_fen"], row["purpose"],
                        row["status"], row["payment_id"])


def start_payment(platform: Platform, party_id: str, loan_id: str, amount_text: str,
                  purpose: str, gateway: PaymentGateway) -> tuple[PaymentOrder, str]:
    """Record a payment order and answer where the borrower pays it (the cashier URL)."""
    require_own_loan(platform, party_id, loan_id)
    if purpose not in ("instalment", "settle"):
        raise InvalidInput.one("purpose", "unknown", "instalment or settle")
    try:
        amount_fen = parse_major(amount_text.strip()) if amount_text.strip() else 0
    except AmountError as exc:
        raise InvalidInput.one("amount", "format", "an amount in yuan, e.g. 4417.73") from exc
    if amount_fen <= 0:
        raise InvalidInput.one("amount", "not_positive", "enter an amount above zero")
    if amount_fen > PAYMENT_MAX_FEN:
        raise InvalidInput.one("amount", "too_large", f"at most {yuan(PAYMENT_MAX_FEN)} at once")
    order_id = "ord-" + uuid.uuid4().hex[:20]
    with platform.uow(f"borrower:{party_id}") as uow:
        uow.connection.execute(insert(payment_orders).values(
            id=order_id, loan_id=loan_id, party_id=party_id, amount_fen=amount_fen,
            purpose=purpose, status="pending", gateway=gateway.name, gateway_txn_id=None,
            payment_id=None, recorded_at=uow.clock.now(), completed_at=None))
        uow.audit("payment_order.create", "loan", loan_id, {
            "order": order_id, "amount": yuan(amount_fen), "purpose": purpose})
        uow.emit("PaymentOrderCreated", loan_id, {
            "order_id": order_id, "loan_id": loan_id, "amount_fen": amount_fen,
            "purpose": purpose, "gateway": gateway.name})
        uow.commit()
    return (PaymentOrder(order_id, loan_id, amount_fen, purpose, "pending", None),
            gateway.cashier_url(order_id))


def pending_order(platform: Platform, order_id: str) -> PaymentOrder:
    """An order still waiting for the gateway (the sandbox cashier shows it)."""
    with platform.engine.connect() as conn:
        order = _order(conn, order_id)
    if order is None or order.status != "pending":
        raise NotFound(f"order {order_id} does not exist or is not pending")
    return order


def own_order(platform: Platform, party_id: str, order_id: str) -> PaymentOrder:
    with platform.engine.connect() as conn:
        order = _order(conn, order_id)
        owner = conn.execute(select(payment_orders.c.party_id).where(
            payment_orders.c.id == order_id)).scalar_one_or_none()
    if order is None or owner is None:
        raise NotFound(f"order {order_id} does not exist")
    require_own_loan(platform, party_id, order.loan_id)
    return order


class BadSignature(Refused):
    def __init__(self) -> None:
        super().__init__("BAD_SIGNATURE", "the callback signature does not verify")


def complete_payment(platform: Platform, gateway: PaymentGateway, body: bytes,
                     signature: str | None) -> PaymentOrder:
    """The gateway's callback: verify, then post the money exactly once."""
    if not gateway.verify(body, signature):
        raise BadSignature()
    try:
        note = Notification.from_body(body)
    except ValueError as exc:
        raise InvalidInput.one("body", "format", str(exc)) from exc
    with platform.engine.connect() as conn:
        order = _order(conn, note.order_id)
    if order is None:
        raise NotFound(f"order {note.order_id} does not exist")
    if note.amount_fen != order.amount_fen:
        raise Refused("AMOUNT_MISMATCH", "the gateway reports another amount than the order")
    actor = f"gateway:{gateway.name}"
    key = f"gateway:{gateway.name}:{note.transaction_id}"
    payment_id: str | None = None
    if note.status == "paid":
        today = platform.today()
        if order.purpose == "settle":
            try:
                outcome = servicing.settle_loan(platform, actor, order.loan_id,
                                                order.amount_fen, Channel.APP, key)
            except Refused:
                # The quote moved since the order (a day passed): the money is still the
                # borrower's and is posted as a payment, never lost.
                outcome = post_payment(platform, actor, order.loan_id, order.amount_fen,
                                       today, Channel.APP, key)
        else:
            outcome = post_payment(platform, actor, order.loan_id, order.amount_fen, today,
                                   Channel.APP, key)
        payment_id = outcome.payment_id
    status = "paid" if note.status == "paid" else "failed"
    with platform.uow(actor) as uow:
        changed = uow.connection.execute(
            update(payment_orders).where(payment_orders.c.id == order.order_id,
                                         payment_orders.c.status == "pending")
            .values(status=status, gateway_txn_id=note.transaction_id, payment_id=payment_id,
                    completed_at=uow.clock.now())).rowcount
        if changed:
            uow.audit("payment_order.complete", "loan", order.loan_id, {
                "order": order.order_id, "status": status, "transaction": note.transaction_id,
                "payment": payment_id})
            uow.emit("PaymentOrderCompleted", order.loan_id, {
                "order_id": order.order_id, "status": status, "payment_id": payment_id,
                "transaction_id": note.transaction_id})
        uow.commit()
    with platform.engine.connect() as conn:
        done = _order(conn, order.order_id)
    assert done is not None
    return done


# -- uploads ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Upload:
    upload_id: str
    kind: str
    filename: str
    size_bytes: int
    sha256: str


def upload_document(platform: Platform, party_id: str, loan_id: str, kind: str,
                    filename: str, content_type: str, data: bytes,
                    store: DocumentStore) -> Upload:
    """Store a borrower's document (PDF, JPEG or PNG up to 5 MiB) and record it."""
    require_own_loan(platform, party_id, loan_id)
    if kind not in UPLOAD_KINDS:
        raise InvalidInput.one("kind", "unknown", f"one of {', '.join(UPLOAD_KINDS)}")
    if not data:
        raise InvalidInput.one("file", "required", "choose a file")
    if len(data) > UPLOAD_MAX_BYTES:
        raise InvalidInput.one("file", "too_large", "at most 5 MB")
    accepted = UPLOAD_TYPES.get(content_type)
    if accepted is None or not data.startswith(accepted[0]):
        raise InvalidInput.one("file", "type", "a PDF, JPEG or PNG file")
    name = "".join(c for c in filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
                   if c.isprintable())[:200] or "upload"
    upload_id = "upl-" + uuid.uuid4().hex[:20]
    key = f"uploads/{loan_id}/{upload_id}.{accepted[1]}"
    digest = hashlib.sha256(data).hexdigest()
    store.put(key, data, content_type)  # write-once; an orphan file if the commit fails
    with platform.uow(f"borrower:{party_id}") as uow:
        uow.connection.execute(insert(borrower_uploads).values(
            id=upload_id, loan_id=loan_id, party_id=party_id, kind=kind, filename=name,
            content_type=content_type, size_bytes=len(data), sha256=digest, storage_key=key,
            recorded_at=uow.clock.now()))
        uow.audit("borrower.upload", "loan", loan_id, {"upload": upload_id, "kind": kind,
                                                       "sha256": digest})
        uow.emit("BorrowerDocumentUploaded", loan_id, {
            "upload_id": upload_id, "loan_id": loan_id, "kind": kind, "sha256": digest})
        uow.commit()
    return Upload(upload_id, kind, name, len(data), digest)


def uploads_of(platform: Platform, loan_id: str) -> list[Upload]:
    u = borrower_uploads
    with platform.engine.connect() as conn:
        rows = conn.execute(select(u.c.id, u.c.kind, u.c.filename, u.c.size_bytes, u.c.sha256)
                            .where(u.c.loan_id == loan_id).order_by(u.c.recorded_at)).all()
    return [Upload(*r) for r in rows]


# -- inbox ---------------------------------------------------------------------------------
def messages_of(platform: Platform, party_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The in-app messages of the engagement context for this person, newest first."""
    m, parties = in_app_messages, tables.parties
    same_person = select(parties.c.id).where(parties.c.id_number_hash == select(
        parties.c.id_number_hash).where(parties.c.id == party_id).scalar_subquery())
    with platform.engine.connect() as conn:
        rows = conn.execute(select(m.c.id, m.c.loan_id, m.c.subject, m.c.body,
                                   m.c.recorded_at, m.c.read_at)
                            .where(m.c.borrower_id.in_(same_person))
                            .order_by(m.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]
