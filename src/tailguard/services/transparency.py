"""The transparency log of money movements: every journal entry becomes a leaf, checkpoints are
signed, receipts prove inclusion offline, and an audit finds any entry edited after the fact.

Entries are integrated in their commit order (`journal_entries.seq`) by a batch step, not by
each posting, so money commands never wait on the log and never serialise on it; the signed
checkpoint that follows is what makes an entry's inclusion provable. The leaf of an entry is
`contracts.receipt.journal_entry_leaf(entry id, canonical bytes)`, where the canonical bytes are
the entry as compact JSON with sorted keys (see `canonical_entry`), so anyone holding the
entry can rebuild its leaf.

Contract documents (`contract_documents`, issued by `services.contract_documents`) join the
same log in the same run, after the entries of each batch: the leaf of a document is
`contract_document_leaf(document id, the stored PDF's bytes)`, built from the SHA-256 recorded
when it was issued. `log_leaves.source_seq` is the record's sequence in its own table
(`journal_entries.seq` or `contract_documents.seq`), told apart by `kind`.

Every signed checkpoint is then handed to the notary (`infra.notary`, anchoring); one the
notary did not take is retried by the next run, and `log_anchors` records each reference.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, insert, select

from tailguard.contracts.checkpoint import Checkpoint, sign_checkpoint
from tailguard.contracts.merkle import leaf_hash, root_hash, verify_consistency
from tailguard.contracts.receipt import (
    LeafKind,
    LeafRecord,
    build_receipt,
    journal_entry_leaf,
)
from tailguard.contracts.signed_note import SignerKey, VerifierKey
from tailguard.contracts.tree_store import AppendOnlyTree
from tailguard.errors import NotFound
from tailguard.infra.db import tables
from tailguard.infra.db.log_store import SqlNodeStore
from tailguard.infra.db.tables_contracts import contract_documents, log_anchors
from tailguard.infra.document_store import DocumentStore
from tailguard.infra.notary import Notary, notary_from_settings
from tailguard.infra.settings import Settings
from tailguard.services.platform import Platform

log = logging.getLogger("tailguard.transparency")

KIND_ENTRY = "journal-entry"
KIND_CONTRACT = "contract-document"
BATCH_ENTRIES = 5_000
DEVELOPMENT_SEED = hashlib.sha256(b"tailguard development log key, never for production").digest()


def signers(settings: Settings) -> list[SignerKey]:
    """The log's signing keys: the first signs; development uses a published seed."""
    if settings.log_signing_keys:
        return [SignerKey.parse(text) for text in settings.log_signing_keys]
    return [SignerKey(settings.log_origin, DEVELOPMENT_SEED)]


def verifiers(settings: Settings) -> list[VerifierKey]:
    return [key.verifier for key in signers(settings)]


def _canonical(entry: dict[str, Any], postings: Sequence[tuple[str, str | None, int]]) -> bytes:
    document = {
        "id": entry["id"],
        "value_date": entry["value_date"].isoformat()
        if isinstance(entry["value_date"], date) else str(entry["value_date"]),
        "reason_code": entry["reason_code"],
        "reference_type": entry["reference_type"],
        "reference_id": entry["reference_id"],
        "reverses": entry["reverses"],
        "memo": entry["memo"],
        "postings": [[account, loan, amount] for account, loan, amount in postings],
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


def _entries(connection: Connection, seqs: Sequence[int]) -> dict[int, tuple[str, bytes]]:
    """Canonical bytes of the entries with these sequence numbers (two queries)."""
    if not seqs:
        return {}
    entries = {
        r["seq"]: dict(r) for r in connection.execute(
            select(tables.journal_entries).where(tables.journal_entries.c.seq.in_(seqs))
        ).mappings()
    }
    postings: dict[int, list[tuple[str, str | None, int]]] = {}
    for row in connection.execute(
        select(tables.postings.c.entry_seq, tables.postings.c.account_code,
               tables.postings.c.loan_id, tables.postings.c.amount_fen)
        .where(tables.postings.c.entry_seq.in_(seqs))
        .order_by(tables.postings.c.id)
    ):
        postings.setdefault(row.entry_seq, []).append(
            (row.account_code, row.loan_id, int(row.amount_fen)))
    return {seq: (e["id"], _canonical(e, postings.get(seq, []))) for seq, e in entries.items()}


def canonical_entry(connection: Connection, entry_id: str) -> bytes:
    seq = connection.execute(select(tables.journal_entries.c.seq).where(
        tables.journal_entries.c.id == entry_id)).scalar_one_or_none()
    if seq is None:
        raise NotFound(f"journal entry {entry_id} does not exist")
    return _entries(connection, [seq])[seq][1]


@dataclass(frozen=True)
class Integration:
    leaves_added: int
    tree_size: int
    signed_checkpoint: str | None
    anchored: int = 0
    anchor_error: str | None = None


def contract_leaf(document_id: str, sha256_hex: str) -> bytes:
    """The leaf bytes of a contract document from its recorded hash: the same bytes as
    `receipt.contract_document_leaf(document_id, pdf_bytes)`."""
    return LeafRecord(LeafKind.CONTRACT_DOCUMENT, document_id, bytes.fromhex(sha256_hex)).encode()


def _last_seq(connection: Connection, kind: str) -> int:
    return int(connection.execute(
        select(func.max(tables.log_leaves.c.source_seq))
        .where(tables.log_leaves.c.kind == kind)).scalar_one() or 0)


def _tree_size(connection: Connection) -> int:
    return int(connection.execute(
        select(func.count()).select_from(tables.log_leaves)).scalar_one())


def integrate(platform: Platform, notary: Notary | None = None) -> Integration:
    """Append every journal entry and contract document not yet in the log, each kind in
    commit order, sign a checkpoint per batch, and anchor the checkpoints with the notary."""
    added = 0
    signed: str | None = None
    while True:
        with platform.uow("log") as uow:
            conn = uow.connection
            size = _tree_size(conn)
            seqs = list(conn.execute(
                select(tables.journal_entries.c.seq)
                .where(tables.journal_entries.c.seq > _last_seq(conn, KIND_ENTRY))
                .order_by(tables.journal_entries.c.seq).limit(BATCH_ENTRIES)
            ).scalars())
            documents = conn.execute(
                select(contract_documents.c.seq, contract_documents.c.id,
                       contract_documents.c.sha256)
                .where(contract_documents.c.seq > _last_seq(conn, KIND_CONTRACT))
                .order_by(contract_documents.c.seq).limit(BATCH_ENTRIES)
            ).all()
            if not seqs and not documents:
                break
            canon = _entries(conn, seqs)
            leaves: list[tuple[str, str, int, bytes]] = [
                (KIND_ENTRY, canon[s][0], s, leaf_hash(journal_entry_leaf(*canon[s])))
                for s in seqs
            ]
            leaves.extend(
                (KIND_CONTRACT, d.id, int(d.seq), leaf_hash(contract_leaf(d.id, d.sha256)))
                for d in documents)
            tree = AppendOnlyTree(SqlNodeStore(conn), size)
            indexes = tree.extend([leaf[3] for leaf in leaves])
            conn.execute(insert(tables.log_leaves), [
                {"leaf_index": index, "kind": kind, "reference_id": reference,
                 "source_seq": seq, "leaf_hash": h, "recorded_at": uow.clock.now()}
                for index, (kind, reference, seq, h) in zip(indexes, leaves, strict=True)
            ])
            signed = _checkpoint(platform, conn, tree, uow.clock.now())
            uow.audit("log.integrate", "log", str(tree.size),
                      {"leaves": len(leaves), "documents": len(documents)})
            uow.commit()
            added += len(leaves)
    with platform.engine.connect() as conn:
        size = _tree_size(conn)
    anchored, error = anchor_pending(platform, notary)
    return Integration(added, size, signed, anchored, error)


def anchor_pending(platform: Platform, notary: Notary | None = None) -> tuple[int, str | None]:
    """Hand every signed checkpoint the notary has not received yet to it, oldest first.

    A notary that fails stops the round (the rest wait for the next run, in order); the error
    is returned and logged, never raised: the log itself is already committed and sound."""
    notary = notary or notary_from_settings(platform.settings)
    if notary.name == "none":
        return 0, None
    with platform.engine.connect() as conn:
        done = select(log_anchors.c.tree_size).where(log_anchors.c.notary == notary.name)
        pending = conn.execute(
            select(tables.log_checkpoints.c.tree_size, tables.log_checkpoints.c.signed_note)
            .where(tables.log_checkpoints.c.tree_size.not_in(done))
            .order_by(tables.log_checkpoints.c.tree_size)
        ).all()
    anchored = 0
    for size, note in pending:
        try:
            reference = notary.anchor(int(size), note)
        except Exception as exc:  # an outside service: report, retry next run
            log.warning("notary %s did not take checkpoint %s: %s", notary.name, size, exc)
            return anchored, f"{notary.name}: {exc}"
        with platform.uow("log") as uow:
            uow.connection.execute(insert(log_anchors).values(
                tree_size=int(size), notary=notary.name, reference=reference,
                recorded_at=uow.clock.now()))
            uow.audit("log.anchor", "log", str(size), {"notary": notary.name,
                                                       "reference": reference})
            uow.commit()
        anchored += 1
    return anchored, None


def _checkpoint(platform: Platform, conn: Connection, tree: AppendOnlyTree, now: Any) -> str:
    previous = conn.execute(
        select(tables.log_checkpoints.c.tree_size)
        .order_by(tables.log_checkpoints.c.tree_size.desc()).limit(1)
    ).scalar_one_or_none()
    checkpoint = Checkpoint(platform.settings.log_origin, tree.size, tree.root())
    signed = sign_checkpoint(checkpoint, signers(platform.settings)[:1])
    proof = None
    if previous:
        proof = "\n".join(base64.b64encode(h).decode()
                          for h in tree.consistency_proof(previous, tree.size))
    conn.execute(insert(tables.log_checkpoints).values(
        tree_size=tree.size, root_hash=checkpoint.root_hash, signed_note=signed,
        consistency_from=previous, consistency_proof=proof, recorded_at=now))
    return signed


@dataclass(frozen=True)
class EntryReceipt:
    entry_id: str
    receipt: str
    document: bytes
    """The entry's canonical bytes: the document the receipt's leaf commits to."""


def _receipt(conn: Connection, kind: str, reference_id: str, what: str) -> str:
    """The receipt of the leaf logged for `reference_id` under the latest checkpoint; the
    `extra` line names the kind and the identifier the leaf was built with."""
    index = conn.execute(select(tables.log_leaves.c.leaf_index).where(
        tables.log_leaves.c.reference_id == reference_id,
        tables.log_leaves.c.kind == kind)).scalar_one_or_none()
    if index is None:
        raise NotFound(f"{what} {reference_id} is not in the log yet (run the integration)")
    row = conn.execute(
        select(tables.log_checkpoints.c.tree_size, tables.log_checkpoints.c.signed_note)
        .order_by(tables.log_checkpoints.c.tree_size.desc()).limit(1)
    ).one()
    tree = AppendOnlyTree(SqlNodeStore(conn), int(row.tree_size))
    proof = tree.inclusion_proof(int(index), int(row.tree_size))
    return build_receipt(int(index), proof, row.signed_note, f"{kind} {reference_id}".encode())


def receipt_for_entry(platform: Platform, entry_id: str) -> EntryReceipt:
    """A `c2sp.org/tlog-proof@v1` receipt for a journal entry under the latest checkpoint."""
    with platform.engine.connect() as conn:
        text = _receipt(conn, KIND_ENTRY, entry_id, "journal entry")
        document = canonical_entry(conn, entry_id)
    return EntryReceipt(entry_id, text, document)


@dataclass(frozen=True)
class ContractReceipt:
    document_id: str
    version: int
    receipt: str
    sha256: str
    """SHA-256 of the stored PDF: the document the receipt's leaf commits to."""


def receipt_for_contract(
    platform: Platform, loan_id: str, version: int | None = None
) -> ContractReceipt:
    """The receipt of a loan's contract document (the latest version unless one is named)."""
    with platform.engine.connect() as conn:
        query = select(contract_documents.c.id, contract_documents.c.version,
                       contract_documents.c.sha256).where(
            contract_documents.c.loan_id == loan_id)
        if version is not None:
            query = query.where(contract_documents.c.version == version)
        row = conn.execute(query.order_by(contract_documents.c.version.desc()).limit(1)).first()
        if row is None:
            raise NotFound(f"loan {loan_id} has no contract document"
                           + (f" version {version}" if version is not None else ""))
        text = _receipt(conn, KIND_CONTRACT, row.id, "contract document")
    return ContractReceipt(row.id, int(row.version), text, row.sha256)


@dataclass(frozen=True)
class Finding:
    code: str  # edited, deleted, inserted-out-of-order, root-mismatch, inconsistent-checkpoint
    reference: str
    message: str


def _audit_documents(conn: Connection, leaves: Sequence[Any],
                     store: DocumentStore | None) -> list[Finding]:
    """Contract leaves against `contract_documents` (and, given a store, the stored files)."""
    findings: list[Finding] = []
    rows = {int(r["seq"]): r for r in conn.execute(select(contract_documents)).mappings()}
    logged = set()
    for leaf in leaves:
        seq = int(leaf["source_seq"])
        logged.add(seq)
        row = rows.get(seq)
        name = leaf["reference_id"]
        if row is None:
            findings.append(Finding("deleted", name, f"contract document {name} (leaf "
                                    f"{leaf['leaf_index']}) is no longer recorded"))
            continue
        if row["id"] != name or leaf_hash(contract_leaf(row["id"], row["sha256"])) != bytes(
                leaf["leaf_hash"]):
            findings.append(Finding("edited", name, f"contract document {name} (leaf "
                                    f"{leaf['leaf_index']}) differs from what was logged"))
            continue
        if store is not None:
            try:
                data = store.get(row["storage_key"])
            except NotFound:
                findings.append(Finding("document-missing", name,
                                        f"{row['storage_key']} is not in the document store"))
                continue
            if hashlib.sha256(data).hexdigest() != row["sha256"]:
                findings.append(Finding("document-changed", name,
                                        f"the stored file {row['storage_key']} is not the "
                                        "logged document"))
    last = max(logged, default=0)
    for seq, row in sorted(rows.items()):
        if seq < last and seq not in logged:
            findings.append(Finding("inserted-out-of-order", row["id"],
                                    f"contract document {row['id']} sits before logged "
                                    "documents but was never logged"))
    return findings


def audit(platform: Platform, store: DocumentStore | None = None) -> list[Finding]:
    """Rebuild each leaf from the stored records and the tree from the leaves; name what
    differs. Given the document store, also re-hash every logged contract file."""
    findings: list[Finding] = []
    with platform.engine.connect() as conn:
        all_leaves = conn.execute(
            select(tables.log_leaves).order_by(tables.log_leaves.c.leaf_index)).mappings().all()
        leaves = [leaf for leaf in all_leaves if leaf["kind"] == KIND_ENTRY]
        findings.extend(_audit_documents(
            conn, [leaf for leaf in all_leaves if leaf["kind"] == KIND_CONTRACT], store))
        seqs = [int(leaf["source_seq"]) for leaf in leaves]
        canon: dict[int, tuple[str, bytes]] = {}
        for start in range(0, len(seqs), BATCH_ENTRIES):
            canon.update(_entries(conn, seqs[start:start + BATCH_ENTRIES]))
        stored_hashes = [bytes(leaf["leaf_hash"]) for leaf in all_leaves]
        for leaf in leaves:
            stored = bytes(leaf["leaf_hash"])
            seq = int(leaf["source_seq"])
            if seq not in canon:
                findings.append(Finding("deleted", leaf["reference_id"],
                                        f"entry {leaf['reference_id']} (leaf {leaf['leaf_index']}) "
                                        "is no longer in the journal"))
                continue
            entry_id, document = canon[seq]
            if entry_id != leaf["reference_id"] or leaf_hash(
                    journal_entry_leaf(entry_id, document)) != stored:
                findings.append(Finding("edited", leaf["reference_id"],
                                        f"entry {leaf['reference_id']} (leaf "
                                        f"{leaf['leaf_index']}) differs from what was logged"))
        last_seq = max(seqs, default=0)
        logged = set(seqs)
        for seq, entry_id in conn.execute(
            select(tables.journal_entries.c.seq, tables.journal_entries.c.id)
            .where(tables.journal_entries.c.seq < last_seq)
        ).all():
            if seq not in logged:
                findings.append(Finding("inserted-out-of-order", entry_id,
                                        f"entry {entry_id} sits before logged entries but was "
                                        "never logged"))
        checkpoints = conn.execute(
            select(tables.log_checkpoints).order_by(tables.log_checkpoints.c.tree_size)
        ).mappings().all()
    for cp in checkpoints:
        size = int(cp["tree_size"])
        root = bytes(cp["root_hash"])
        if size <= len(stored_hashes) and root_hash(stored_hashes[:size]) != root:
            findings.append(Finding("root-mismatch", f"checkpoint {size}",
                                    "the stored leaves do not give the root signed at size "
                                    f"{size}"))
        if cp["consistency_from"]:
            proof = [base64.b64decode(line) for line in (cp["consistency_proof"] or "").split()]
            previous = next(c for c in checkpoints if c["tree_size"] == cp["consistency_from"])
            try:
                verify_consistency(int(previous["tree_size"]), size, bytes(previous["root_hash"]),
                                   bytes(cp["root_hash"]), proof)
            except Exception as exc:
                findings.append(Finding("inconsistent-checkpoint", f"checkpoint {size}",
                                        f"not provably an extension of {previous['tree_size']}: "
                                        f"{exc}"))
    return findings
