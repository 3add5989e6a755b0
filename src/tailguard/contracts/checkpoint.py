"""C2SP tlog-checkpoint: the log's signed statement "my tree of N leaves has root R".

A checkpoint is the text of a signed note (see `signed_note`) made of at least three lines::

    <origin>\\n
    <tree size in decimal, no leading zeros>\\n
    <base64 of the 32-byte root hash>\\n
    [<extension line>\\n ...]

The origin names the log (tailguard uses a schema-less URL such as ``tailguard.example/contracts``)
and must be non-empty; extension lines are opaque and must be non-empty. The checkpoint is what
gets signed, anchored with a notary, and embedded in every receipt. Parsing is strict (canonical
decimal and base64, exactly 32 bytes of root) because two spellings of one checkpoint would be two
different signed texts.

A client must check the origin as well as the signature whenever one key signs for more than one
log; `open_checkpoint` takes the expected origin for that reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from tailguard.contracts.errors import TransparencyLogError
from tailguard.contracts.merkle import HASH_SIZE_BYTES
from tailguard.contracts.signed_note import (
    NoteSignature,
    SignerKey,
    VerifierKey,
    decode_base64_canonical,
    encode_base64,
    open_note,
    sign_note,
)

MAX_TREE_SIZE = 2**64 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class CheckpointReason(StrEnum):
    """Why a checkpoint was refused."""

    MALFORMED_CHECKPOINT = "malformed-checkpoint"
    WRONG_ORIGIN = "wrong-origin"


class CheckpointError(TransparencyLogError):
    """A checkpoint text that does not follow tlog-checkpoint, or one from another log."""

    reason: CheckpointReason

    def __init__(self, reason: CheckpointReason, message: str) -> None:
        super().__init__(reason, message)


def _refuse(message: str) -> CheckpointError:
    return CheckpointError(CheckpointReason.MALFORMED_CHECKPOINT, message)


def _check_line(line: str, what: str) -> None:
    if not line:
        raise _refuse(f"{what} must not be empty")
    if any(char < " " for char in line):
        raise _refuse(f"{what} contains a control character or newline")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Origin, size and root of one state of the log, plus optional extension lines."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.tree_size <= MAX_TREE_SIZE:
            raise _refuse(f"tree size {self.tree_size} out of range")
        if len(self.root_hash) != HASH_SIZE_BYTES:
            raise _refuse(f"root hash is {len(self.root_hash)} bytes, not {HASH_SIZE_BYTES}")
        for line in self.extensions:
            _check_line(line, "extension line")

    def text(self) -> str:
        """The note text that gets signed."""
        lines = [self.origin, str(self.tree_size), encode_base64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Read the note text of a checkpoint (the part above the blank line)."""
    if not text.endswith("\n"):
        raise _refuse("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise _refuse("a checkpoint has at least three lines")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text):
        raise _refuse(f"tree size {size_text[:30]!r} is not a canonical decimal")
    try:
        root = decode_base64_canonical(root_text)
    except ValueError as error:
        raise _refuse(str(error)) from error
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[SignerKey]) -> str:
    """The signed checkpoint note; the log's key name should equal its origin."""
    return sign_note(checkpoint.text(), signers)


@dataclass(frozen=True, slots=True)
class VerifiedCheckpoint:
    """A checkpoint whose signature was checked, with who signed it."""

    checkpoint: Checkpoint
    verified: tuple[NoteSignature, ...]

    @property
    def signer_names(self) -> tuple[str, ...]:
        return tuple(sig.name for sig in self.verified)


def open_checkpoint(
    signed_checkpoint: str | bytes,
    verifiers: Iterable[VerifierKey],
    *,
    expected_origin: str | None = None,
) -> VerifiedCheckpoint:
    """Verify the signatures of a signed checkpoint, then parse it and check its origin.

    Raises `signed_note.NoteError` for signature problems and `CheckpointError` for a malformed
    body or an unexpected origin.
    """
    opened = open_note(signed_checkpoint, verifiers)
    checkpoint = parse_checkpoint(opened.text)
    if expected_origin is not None and checkpoint.origin != expected_origin:
        raise CheckpointError(
            CheckpointReason.WRONG_ORIGIN,
            f"checkpoint of {checkpoint.origin!r}, expected {expected_origin!r}",
        )
    return VerifiedCheckpoint(checkpoint, opened.verified)
