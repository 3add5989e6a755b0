"""Receipts: offline proof that a contract or journal entry is in the log, and the leaf bytes.

A receipt is a C2SP ``tlog-proof@v1`` file (c2sp.org/tlog-proof), so anyone can check it with a
published tool and the log's public key, without our database::

    c2sp.org/tlog-proof@v1
    [extra <base64 of opaque, unauthenticated data>]
    index <zero-based leaf index, decimal, no leading zeros>
    <base64 proof hash, from the leaf's sibling up to the root's child>   (zero or more lines)
    <empty line>
    <the signed checkpoint, verbatim>

`verify_receipt` opens the checkpoint with the trusted keys, then checks that
SHA-256(0x00 || leaf bytes) sits at the index under the checkpoint's root.

Leaf bytes (format ``tailguard-leaf/v1``)
------------------------------------------

What the log commits to for a document is not the document itself (a PDF stays in the document
store) but four lines of UTF-8 text, each ending in a single ``\\n`` (0x0A)::

    tailguard-leaf/v1
    kind <kind>
    id <identifier>
    sha256 <64 lowercase hex digits: SHA-256 of the exact document bytes>

- ``<kind>`` is ``contract-document`` (a signed contract file, e.g. the PDF) or
  ``ledger-journal-entry`` (the canonical bytes of a journal entry, as the ledger defines them).
- ``<identifier>`` is the business identifier (contract number with its document version, or the
  journal entry ID): non-empty, at most 256 characters, Unicode NFC, no control characters, no
  line separators and no leading or trailing white space. It is written as is; nothing is escaped.
- There are single spaces between label and value, no carriage returns, no byte-order mark, and
  nothing after the last newline.

So a third party holding ``contract.pdf`` and its identifier rebuilds the leaf by hand: take
SHA-256 of the file (``sha256sum contract.pdf``), write the four lines above, and the leaf hash
is SHA-256 of the byte 0x00 followed by those lines. A change of format gets a new first line
(``tailguard-leaf/v2``), never a silent change of v1. `docs/transparency-log.md` has a worked
example with real hashes.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from tailguard.contracts.checkpoint import Checkpoint, open_checkpoint
from tailguard.contracts.errors import TransparencyLogError
from tailguard.contracts.merkle import HASH_SIZE_BYTES, leaf_hash, verify_inclusion
from tailguard.contracts.signed_note import (
    VerifierKey,
    decode_base64_canonical,
    encode_base64,
    parse_note,
)

RECEIPT_HEADER = "c2sp.org/tlog-proof@v1"
RECEIPT_FILE_SUFFIX = ".tlog-proof"
LEAF_FORMAT_LINE = "tailguard-leaf/v1"
MAX_IDENTIFIER_CHARS = 256

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class ReceiptReason(StrEnum):
    """Why a receipt or a leaf encoding was refused."""

    MALFORMED_RECEIPT = "malformed-receipt"
    MALFORMED_LEAF = "malformed-leaf"
    INVALID_IDENTIFIER = "invalid-identifier"


class ReceiptError(TransparencyLogError):
    """A receipt file or leaf text that does not follow its format."""

    reason: ReceiptReason

    def __init__(self, reason: ReceiptReason, message: str) -> None:
        super().__init__(reason, message)


class LeafKind(StrEnum):
    """What a leaf stands for; the value is written into the leaf bytes."""

    CONTRACT_DOCUMENT = "contract-document"
    LEDGER_JOURNAL_ENTRY = "ledger-journal-entry"


def _check_identifier(identifier: str) -> None:
    problem = None
    if not identifier:
        problem = "is empty"
    elif len(identifier) > MAX_IDENTIFIER_CHARS:
        problem = f"is longer than {MAX_IDENTIFIER_CHARS} characters"
    elif unicodedata.normalize("NFC", identifier) != identifier:
        problem = "is not in Unicode NFC"
    elif any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in identifier):
        problem = "contains a control character or line separator"
    elif identifier != identifier.strip():
        problem = "has leading or trailing white space"
    if problem is not None:
        raise ReceiptError(
            ReceiptReason.INVALID_IDENTIFIER, f"identifier {identifier[:40]!r} {problem}"
        )


@dataclass(frozen=True, slots=True)
class LeafRecord:
    """The content of one leaf: what kind of record, which one, and the hash of its bytes."""

    kind: LeafKind
    identifier: str
    document_sha256: bytes

    def __post_init__(self) -> None:
        _check_identifier(self.identifier)
        if len(self.document_sha256) != HASH_SIZE_BYTES:
            raise ReceiptError(ReceiptReason.MALFORMED_LEAF, "document hash must be 32 bytes")

    def encode(self) -> bytes:
        """The exact leaf bytes of the module docstring."""
        return (
            f"{LEAF_FORMAT_LINE}\n"
            f"kind {self.kind.value}\n"
            f"id {self.identifier}\n"
            f"sha256 {self.document_sha256.hex()}\n"
        ).encode()

    @classmethod
    def parse(cls, data: bytes) -> LeafRecord:
        """Read leaf bytes back; refuses anything `encode` would not have produced."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ReceiptError(ReceiptReason.MALFORMED_LEAF, "leaf is not UTF-8") from error
        lines = text.split("\n")
        if len(lines) != 5 or lines[4] != "" or lines[0] != LEAF_FORMAT_LINE:
            raise ReceiptError(ReceiptReason.MALFORMED_LEAF, "not a tailguard-leaf/v1 text")
        kind_text = _labelled(lines[1], "kind")
        identifier = _labelled(lines[2], "id")
        digest_text = _labelled(lines[3], "sha256")
        try:
            kind = LeafKind(kind_text)
        except ValueError as error:
            raise ReceiptError(
                ReceiptReason.MALFORMED_LEAF, f"unknown kind {kind_text!r}"
            ) from error
        if not _SHA256_HEX.fullmatch(digest_text):
            raise ReceiptError(ReceiptReason.MALFORMED_LEAF, "sha256 is not 64 lowercase hex")
        record = cls(kind, identifier, bytes.fromhex(digest_text))
        if record.encode() != data:
            raise ReceiptError(ReceiptReason.MALFORMED_LEAF, "leaf bytes are not canonical")
        return record


def _labelled(line: str, label: str) -> str:
    prefix = label + " "
    if not line.startswith(prefix):
        raise ReceiptError(ReceiptReason.MALFORMED_LEAF, f"expected a {label!r} line")
    return line[len(prefix) :]


def leaf_bytes(kind: LeafKind, identifier: str, document: bytes) -> bytes:
    """The leaf bytes for a record of ``kind`` named ``identifier`` whose bytes are ``document``."""
    return LeafRecord(kind, identifier, hashlib.sha256(document).digest()).encode()


def contract_document_leaf(contract_document_id: str, document: bytes) -> bytes:
    """Leaf bytes of a contract file (e.g. the signed PDF) under its document identifier."""
    return leaf_bytes(LeafKind.CONTRACT_DOCUMENT, contract_document_id, document)


def journal_entry_leaf(journal_entry_id: str, canonical_entry: bytes) -> bytes:
    """Leaf bytes of a ledger journal entry, given the ledger's canonical bytes of the entry."""
    return leaf_bytes(LeafKind.LEDGER_JOURNAL_ENTRY, journal_entry_id, canonical_entry)


def _malformed(message: str) -> ReceiptError:
    return ReceiptError(ReceiptReason.MALFORMED_RECEIPT, message)


@dataclass(frozen=True, slots=True)
class Receipt:
    """The parts of a tlog-proof file: index, inclusion proof, signed checkpoint, extra data."""

    index: int
    proof: tuple[bytes, ...]
    signed_checkpoint: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if self.index < 0:
            raise _malformed(f"negative index {self.index}")
        for position, element in enumerate(self.proof):
            if len(element) != HASH_SIZE_BYTES:
                raise _malformed(f"proof hash {position} is {len(element)} bytes")
        parse_note(self.signed_checkpoint)  # a receipt only carries a well-formed signed note

    def encode(self) -> str:
        """The receipt file text."""
        lines = [RECEIPT_HEADER]
        if self.extra is not None:
            lines.append("extra " + encode_base64(self.extra))
        lines.append(f"index {self.index}")
        lines.extend(encode_base64(element) for element in self.proof)
        return "".join(line + "\n" for line in lines) + "\n" + self.signed_checkpoint


def build_receipt(
    index: int, proof: Sequence[bytes], signed_checkpoint: str, extra: bytes | None = None
) -> str:
    """The receipt text for the leaf at ``index`` with its proof under ``signed_checkpoint``."""
    return Receipt(index, tuple(proof), signed_checkpoint, extra).encode()


def _next_line(text: str, what: str) -> tuple[str, str]:
    line, newline, rest = text.partition("\n")
    if not newline:
        raise _malformed(f"receipt ends before its {what}")
    return line, rest


def parse_receipt(text: str | bytes) -> Receipt:
    """Read a tlog-proof file strictly; the signature is not checked here."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _malformed("receipt is not UTF-8") from error
    header, rest = _next_line(text, "header")
    if header != RECEIPT_HEADER:
        raise _malformed(f"first line must be {RECEIPT_HEADER}")
    line, rest = _next_line(rest, "index line")
    extra = None
    if line.startswith("extra "):
        try:
            extra = decode_base64_canonical(line[len("extra ") :])
        except ValueError as error:
            raise _malformed(f"extra data: {error}") from error
        line, rest = _next_line(rest, "index line")
    index_text = line[len("index ") :]
    if not line.startswith("index ") or not _DECIMAL.fullmatch(index_text):
        raise _malformed(f"expected 'index <decimal>', got {line[:40]!r}")
    proof: list[bytes] = []
    while True:
        line, rest = _next_line(rest, "checkpoint")
        if not line:
            break
        try:
            element = decode_base64_canonical(line)
        except ValueError as error:
            raise _malformed(f"proof line {len(proof)}: {error}") from error
        if len(element) != HASH_SIZE_BYTES:
            raise _malformed(f"proof line {len(proof)} is {len(element)} bytes, not 32")
        proof.append(element)
    try:
        return Receipt(int(index_text), tuple(proof), rest, extra)
    except TransparencyLogError as error:
        raise _malformed(f"embedded checkpoint: {error}") from error


@dataclass(frozen=True, slots=True)
class VerifiedReceipt:
    """What a successful check established: this leaf is at ``index`` of this signed tree."""

    checkpoint: Checkpoint
    index: int
    leaf_hash: bytes
    signer_names: tuple[str, ...]
    extra: bytes | None


def verify_receipt(
    receipt_text: str | bytes,
    leaf_data: bytes,
    verifier_keys: Iterable[VerifierKey],
    *,
    expected_origin: str | None = None,
) -> VerifiedReceipt:
    """Check a receipt for ``leaf_data`` (leaf bytes, e.g. from `contract_document_leaf`).

    First the checkpoint's signatures against ``verifier_keys`` (and its origin, if given), then
    the inclusion of SHA-256(0x00 || leaf_data) at the receipt's index under the checkpoint root.
    Returns what was proven, or raises a `TransparencyLogError` subclass naming the failed check:
    `ReceiptError`, `signed_note.NoteError`, `checkpoint.CheckpointError` or `merkle.ProofError`.
    The ``extra`` data is returned but is not authenticated by anything.
    """
    receipt = parse_receipt(receipt_text)
    verified = open_checkpoint(
        receipt.signed_checkpoint, verifier_keys, expected_origin=expected_origin
    )
    checkpoint = verified.checkpoint
    leaf = leaf_hash(leaf_data)
    verify_inclusion(receipt.index, checkpoint.tree_size, leaf, receipt.proof, checkpoint.root_hash)
    return VerifiedReceipt(checkpoint, receipt.index, leaf, verified.signer_names, receipt.extra)
