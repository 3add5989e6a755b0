"""The platform's own compliance checks, registered into `registry.REGISTRY` on import.

Each reads what it needs in a constant number of queries (no per-loan round trips):

- `contract-missing`: a booked loan without its contract document;
- `contract-clauses`: a stored document without a clause its kind must carry (from the clause
  ids recorded when it was generated, `contracts.documents.MANDATORY_CLAUSES`);
- `extension-cap`: cumulative extension (展期) beyond the caps of `loans.maturity`
  (贷款通则 Art. 12 and the 5-year / 3-year total term);
- `ledger-reconciled`: the ledger disagrees with servicing (`services.queries.reconcile`);
- `log-consistent`: the transparency log audit names an edited, deleted or out-of-order
  record, a changed contract file or an inconsistent checkpoint;
- `log-coverage`: records of the review date or before not yet in the log, and signed
  checkpoints not anchored with the notary;
- `pii-read-reason`: an unmasked personal-data read (`pii.read` audit row) without a reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from tailguard.compliance.registry import REGISTRY, CheckContext, Finding, Severity
from tailguard.contracts.documents import DocumentKind, missing_clauses
from tailguard.infra.db import tables
from tailguard.infra.db.loan_repository import LoanRepository
from tailguard.infra.db.tables_contracts import contract_documents, log_anchors
from tailguard.infra.pii import MIN_REASON_LENGTH
from tailguard.loans.account import LoanAccount
from tailguard.loans.maturity import extension_cap_months
from tailguard.loans.terms import LoanTerms
from tailguard.money import yuan
from tailguard.services import queries, transparency

CONTRACT_MISSING = "contract-missing"
CONTRACT_CLAUSES = "contract-clauses"
EXTENSION_CAP = "extension-cap"
LEDGER_RECONCILED = "ledger-reconciled"
LOG_CONSISTENT = "log-consistent"
LOG_COVERAGE = "log-coverage"
PII_READ_REASON = "pii-read-reason"


def _end_of(ctx: CheckContext) -> datetime:
    """Records up to the end of the review date (UTC; a few hours' slack either way is
    immaterial to a periodic review)."""
    return datetime.combine(ctx.as_of + timedelta(days=1), time(0), tzinfo=UTC)


def _finding(name: str, reference: str, message: str,
             severity: Severity | None = None) -> Finding:
    check = REGISTRY.get(name)
    return check.finding(reference, message, severity)


@REGISTRY.check(CONTRACT_MISSING, Severity.HIGH,
                "every booked loan has its signed contract document")
def contract_missing(ctx: CheckContext) -> Iterator[Finding]:
    loans = tables.loans
    with ctx.platform.engine.connect() as conn:
        has = select(contract_documents.c.loan_id).where(
            contract_documents.c.kind == DocumentKind.CONTRACT.value)
        rows = conn.execute(
            select(loans.c.id, loans.c.disbursement_date)
            .where(loans.c.disbursement_date <= ctx.as_of, loans.c.id.not_in(has))
            .order_by(loans.c.id)
        ).all()
    for loan_id, day in rows:
        yield _finding(CONTRACT_MISSING, loan_id,
                       f"loan {loan_id}, booked {day}, has no contract document")


@REGISTRY.check(CONTRACT_CLAUSES, Severity.HIGH,
                "every contract and addendum carries the mandatory clauses of its kind")
def contract_clauses(ctx: CheckContext) -> Iterator[Finding]:
    with ctx.platform.engine.connect() as conn:
        rows = conn.execute(
            select(contract_documents.c.id, contract_documents.c.kind,
                   contract_documents.c.clauses)
            .where(contract_documents.c.recorded_at < _end_of(ctx))
            .order_by(contract_documents.c.seq)
        ).all()
    for doc_id, kind, clauses in rows:
        try:
            present = json.loads(clauses)
            document_kind = DocumentKind(kind)
        except ValueError:
            yield _finding(CONTRACT_CLAUSES, doc_id, f"{doc_id}: unreadable clause record")
            continue
        missing = missing_clauses(document_kind, present)
        if missing:
            yield _finding(CONTRACT_CLAUSES, doc_id, f"{doc_id} lacks the mandatory clause(s) "
                           + ", ".join(c.value for c in missing))


@REGISTRY.check(EXTENSION_CAP, Severity.HIGH,
                "no loan is extended beyond 贷款通则 Art. 12 and the auto-loan term caps")
def extension_cap(ctx: CheckContext) -> Iterator[Finding]:
    loans = tables.loans
    with ctx.platform.engine.connect() as conn:
        rows = conn.execute(
            select(loans).where(loans.c.extended_months > 0).order_by(loans.c.id)
        ).mappings().all()
        repo = LoanRepository(conn, ctx.platform.calendar_for)
        for row in rows:
            terms = LoanTerms(
                repo.product(row["product_code"], int(row["product_version"])),
                int(row["principal_fen"]), row["annual_rate"], int(row["term_months"]),
                row["disbursement_date"], row["first_due_date"], int(row["contract_day"]),
                int(row["balloon_fen"]), bool(row["vehicle_used"]))
            cap = extension_cap_months(LoanAccount(row["id"], terms, ()))
            extended = int(row["extended_months"])
            if extended > cap:
                yield _finding(EXTENSION_CAP, row["id"],
                               f"loan {row['id']} is extended by {extended} months; the cap "
                               f"for its {row['term_months']}-month term is {cap}")


@REGISTRY.check(LEDGER_RECONCILED, Severity.HIGH,
                "every loan's ledger balances agree with its servicing state")
def ledger_reconciled(ctx: CheckContext) -> Iterator[Finding]:
    with ctx.platform.engine.connect() as conn:
        differences = queries.reconcile(conn)
    for d in differences:
        yield _finding(LEDGER_RECONCILED, d.loan_id,
                       f"loan {d.loan_id} {d.account}: ledger {yuan(d.ledger_fen)}, servicing "
                       f"{yuan(d.servicing_fen)}")


@REGISTRY.check(LOG_CONSISTENT, Severity.CRITICAL,
                "the transparency log rebuilds from the records and every contract file")
def log_consistent(ctx: CheckContext) -> Iterator[Finding]:
    for f in transparency.audit(ctx.platform, ctx.store):
        yield _finding(LOG_CONSISTENT, f.reference, f"{f.code}: {f.message}")


@REGISTRY.check(LOG_COVERAGE, Severity.MEDIUM,
                "records of the review date are logged and checkpoints anchored")
def log_coverage(ctx: CheckContext) -> Iterator[Finding]:
    end = _end_of(ctx)
    leaves = tables.log_leaves
    with ctx.platform.engine.connect() as conn:
        unlogged: dict[str, Any] = {
            "journal entries": conn.execute(
                select(func.count()).select_from(tables.journal_entries).where(
                    tables.journal_entries.c.recorded_at < end,
                    tables.journal_entries.c.id.not_in(select(leaves.c.reference_id)))
            ).scalar_one(),
            "contract documents": conn.execute(
                select(func.count()).select_from(contract_documents).where(
                    contract_documents.c.recorded_at < end,
                    contract_documents.c.id.not_in(select(leaves.c.reference_id)))
            ).scalar_one(),
        }
        unanchored = conn.execute(
            select(tables.log_checkpoints.c.tree_size).where(
                tables.log_checkpoints.c.recorded_at < end,
                tables.log_checkpoints.c.tree_size.not_in(select(log_anchors.c.tree_size)))
            .order_by(tables.log_checkpoints.c.tree_size)
        ).scalars().all()
    for what, count in unlogged.items():
        if count:
            yield _finding(LOG_COVERAGE, what, f"{count} {what} recorded by {ctx.as_of} are not "
                           "in the log yet (run `tailguard log integrate`)")
    if unanchored and ctx.platform.settings.notary != "none":
        yield _finding(LOG_COVERAGE, f"checkpoint {unanchored[0]}",
                       f"{len(unanchored)} signed checkpoint(s) not anchored with a notary, "
                       f"from size {unanchored[0]}")


@REGISTRY.check(PII_READ_REASON, Severity.HIGH,
                "every unmasked read of personal data records who, which fields and why")
def pii_read_reason(ctx: CheckContext) -> Iterator[Finding]:
    audit = tables.audit_log
    with ctx.platform.engine.connect() as conn:
        rows = conn.execute(
            select(audit.c.id, audit.c.actor, audit.c.entity_id, audit.c.detail,
                   audit.c.recorded_at)
            .where(audit.c.action == "pii.read", audit.c.recorded_at < _end_of(ctx))
            .order_by(audit.c.id)
        ).all()
    for row_id, actor, party, detail, recorded in rows:
        try:
            data = json.loads(detail or "{}")
        except ValueError:
            data = {}
        reason = str(data.get("reason") or "").strip() if isinstance(data, dict) else ""
        fields = data.get("fields") if isinstance(data, dict) else None
        if len(reason) < MIN_REASON_LENGTH or not fields:
            yield _finding(PII_READ_REASON, f"audit row {row_id}",
                           f"{actor} read personal data of party {party} at {recorded} "
                           "without a recorded reason and fields")
