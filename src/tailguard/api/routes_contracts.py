"""Contract documents and log receipts over HTTP.

- `GET /loans/{id}/documents`: the loan's contract and addenda (identifiers and hashes only).
- `GET /loans/{id}/contract`: a document's PDF. It names the borrower in full (ID number
  included), so only the roles that may see an ID number unmasked (`infra.pii.UNMASK_POLICY`)
  get it: credit officer, compliance, and the borrower for their own loan. Each download is
  audited (`contract.read`).
- `GET /loans/{id}/contract/receipt`, `GET /payments/{pid}/receipt`: `c2sp.org/tlog-proof@v1`
  receipts, checkable offline with `tailguard log verify` and the log's verifier key.
- `POST /log/checkpoints`: integrate the log and sign a checkpoint now (also done on a
  schedule by `tailguard serve`).

A borrower asking about another borrower's loan or payment gets 404, as elsewhere.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select

from tailguard.api.deps import STAFF_READ, PlatformDep, allow
from tailguard.contracts.receipt import RECEIPT_FILE_SUFFIX
from tailguard.errors import NotFound
from tailguard.infra.auth import Role, TokenClaims
from tailguard.infra.db import tables
from tailguard.services import contract_documents, transparency
from tailguard.services.platform import Platform

router = APIRouter(prefix="/api/v1")

DOCUMENT_READERS = (Role.CREDIT_OFFICER, Role.COMPLIANCE, Role.BORROWER)
RECEIPT_READERS = (*STAFF_READ, Role.BORROWER)
Version = Annotated[int | None, Query(ge=1, le=10_000)]


def _borrower_of(platform: Platform, loan_id: str) -> str | None:
    with platform.engine.connect() as conn:
        borrower: str | None = conn.execute(select(tables.loans.c.borrower_id).where(
            tables.loans.c.id == loan_id)).scalar_one_or_none()
    return borrower


def _visible(platform: Platform, user: TokenClaims, loan_id: str) -> None:
    if user.role is not Role.BORROWER:
        return
    if _borrower_of(platform, loan_id) != user.borrower_id:
        raise NotFound(f"loan {loan_id} does not exist")


@router.get("/loans/{loan_id}/documents", tags=["contracts"])
def list_documents(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*RECEIPT_READERS))],
) -> list[dict[str, Any]]:
    _visible(platform, user, loan_id)
    return [d.to_dict() for d in contract_documents.documents_of(platform, loan_id)]


@router.get("/loans/{loan_id}/contract", tags=["contracts"],
            response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def get_contract(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*DOCUMENT_READERS))],
    version: Version = None,
) -> Response:
    """The PDF exactly as stored and logged (the latest version unless one is named)."""
    _visible(platform, user, loan_id)
    issued, data = contract_documents.document_bytes(platform, user.subject, loan_id, version)
    filename = issued.document_id.replace("/", "-") + ".pdf"
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Document-Id": issued.document_id, "X-Document-SHA256": issued.sha256})


@router.get("/loans/{loan_id}/contract/receipt", tags=["contracts"])
def contract_receipt(
    loan_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*RECEIPT_READERS))],
    version: Version = None,
) -> dict[str, Any]:
    """The receipt of a contract document: save `receipt` as a `.tlog-proof` file and check it
    with the PDF (`GET …/contract`) by `tailguard log verify`."""
    _visible(platform, user, loan_id)
    proof = transparency.receipt_for_contract(platform, loan_id, version)
    return {"document_id": proof.document_id, "version": proof.version,
            "sha256": proof.sha256, "receipt": proof.receipt,
            "filename": proof.document_id.replace("/", "-") + RECEIPT_FILE_SUFFIX}


@router.get("/payments/{payment_id}/receipt", tags=["contracts"])
def payment_receipt(
    payment_id: str, platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(*RECEIPT_READERS))],
) -> dict[str, Any]:
    """The receipt of a payment's cash entry, with the entry's canonical bytes (the document
    the leaf commits to)."""
    with platform.engine.connect() as conn:
        loan_id = conn.execute(select(tables.loan_events.c.loan_id).where(
            tables.loan_events.c.reference == payment_id,
            tables.loan_events.c.kind == "payment").limit(1)).scalar_one_or_none()
    if loan_id is None:
        raise NotFound(f"payment {payment_id} does not exist")
    _visible(platform, user, loan_id)
    proof = transparency.receipt_for_entry(platform, f"{payment_id}:receipt")
    return {"entry_id": proof.entry_id, "loan_id": loan_id, "receipt": proof.receipt,
            "document": proof.document.decode()}


@router.post("/log/checkpoints", tags=["contracts"])
def checkpoint_now(
    platform: PlatformDep,
    user: Annotated[TokenClaims, Depends(allow(Role.COMPLIANCE, Role.ADMINISTRATOR))],
) -> dict[str, Any]:
    """Integrate what is not yet logged, sign a checkpoint and anchor it, now."""
    result = transparency.integrate(platform)
    return {"leaves_added": result.leaves_added, "tree_size": result.tree_size,
            "checkpoint": result.signed_checkpoint, "anchored": result.anchored,
            "anchor_error": result.anchor_error}
