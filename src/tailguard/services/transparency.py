"""The transparency log of money movements: every journal entry becomes a leaf, checkpoints are
signed, receipts prove inclusion offline, and an audit finds any entry edited after the fact.

Entries are integrated in their commit order (`journal_entries.seq`) by a batch step, not by
each posting, so money commands never wait on the log and never serialise on it; the signed
checkpoint that follows is what makes an entry's inclusion provable. The leaf of an entry is
`contracts.receipt.journal_entry_leaf(entry id, canonical bytes)`, where the canonical bytes are
the entry as compact JSON with sorted keys (see `canonical_entry`), so anyone holding the
entry can rebuild its leaf.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, insert, select

from tailguard.contracts.checkpoint import Checkpoint, sign_checkpoint
from tailguard.contracts.merkle import leaf_hash, root_hash, verify_consistency
from tailguard.contracts.receipt import build_receipt, journal_entry_leaf
from tailguard.contracts.signed_note import SignerKey, VerifierKey
from tailguard.contracts.tree_store import AppendOnlyTree
from tailguard.errors import NotFound
from tailguard.infra.db import tables
from tailguard.infra.db.log_store import SqlNodeStore
from tailguard.infra.settings import Settings
from tailguard.services.platform import Platform

KIND_ENTRY = "journal-entry"
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


def _tree_size(connection: Connection) -> int:
    return int(connection.execute(
        select(func.count()).select_from(tables.log_leaves)).scalar_one())


def integrate(platform: Platform) -> Integration:
    """Append every journal entry not yet in the log, in commit order, and sign a checkpoint."""
    added = 0
    signed: str | None = None
    while True:
        with platform.uow("log") as uow:
            conn = uow.connection
            size = _tree_size(conn)
            last_seq = conn.execute(
                select(func.max(tables.log_leaves.c.source_seq))).scalar_one() or 0
            seqs = list(conn.execute(
                select(tables.journal_entries.c.seq)
                .where(tables.journal_entries.c.seq > last_seq)
                .order_by(tables.journal_entries.c.seq).limit(BATCH_ENTRIES)
            ).scalars())
            if not seqs:
                break
            canon = _entries(conn, seqs)
            tree = AppendOnlyTree(SqlNodeStore(conn), size)
            hashes = [leaf_hash(journal_entry_leaf(canon[s][0], canon[s][1])) for s in seqs]
            indexes = tree.extend(hashes)
            conn.execute(insert(tables.log_leaves), [
                {"leaf_index": index, "kind": KIND_ENTRY, "reference_id": canon[s][0],
                 "source_seq": s, "leaf_hash": h, "recorded_at": uow.clock.now()}
                for index, s, h in zip(indexes, seqs, hashes, strict=True)
            ])
            signed = _checkpoint(platform, conn, tree, uow.clock.now())
            uow.audit("log.integrate", "log", str(tree.size), {"leaves": len(seqs)})
            uow.commit()
            added += len(seqs)
    with platform.engine.connect() as conn:
        size = _tree_size(conn)
    return Integration(added, size, signed)


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


def receipt_for_entry(platform: Platform, entry_id: str) -> EntryReceipt:
    """A `c2sp.org/tlog-proof@v1` receipt for a journal entry under the latest checkpoint."""
    with platform.engine.connect() as conn:
        index = conn.execute(select(tables.log_leaves.c.leaf_index).where(
            tables.log_leaves.c.reference_id == entry_id)).scalar_one_or_none()
        if index is None:
            raise NotFound(f"journal entry {entry_id} is not in the log yet (run the integration)")
        row = conn.execute(
            select(tables.log_checkpoints.c.tree_size, tables.log_checkpoints.c.signed_note)
            .order_by(tables.log_checkpoints.c.tree_size.desc()).limit(1)
        ).one()
        tree = AppendOnlyTree(SqlNodeStore(conn), int(row.tree_size))
        proof = tree.inclusion_proof(int(index), int(row.tree_size))
        document = canonical_entry(conn, entry_id)
    extra = f"{KIND_ENTRY} {entry_id}".encode()
    return EntryReceipt(entry_id, build_receipt(int(index), proof, row.signed_note, extra),
                        document)


@dataclass(frozen=True)
class Finding:
    code: str  # edited, deleted, inserted-out-of-order, root-mismatch, inconsistent-checkpoint
    reference: str
    message: str


def audit(platform: Platform) -> list[Finding]:
    """Rebuild each leaf from the stored records and the tree from the leaves; name what
    differs."""
    findings: list[Finding] = []
    with platform.engine.connect() as conn:
        leaves = conn.execute(
            select(tables.log_leaves).order_by(tables.log_leaves.c.leaf_index)).mappings().all()
        seqs = [int(leaf["source_seq"]) for leaf in leaves]
        canon: dict[int, tuple[str, bytes]] = {}
        for start in range(0, len(seqs), BATCH_ENTRIES):
            canon.update(_entries(conn, seqs[start:start + BATCH_ENTRIES]))
        stored_hashes: list[bytes] = []
        for leaf in leaves:
            stored = bytes(leaf["leaf_hash"])
            stored_hashes.append(stored)
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
