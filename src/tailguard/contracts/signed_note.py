"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, compatible with Go's sumdb/note.

A signed note is UTF-8 text ending in a newline, a blank line, and one line per signature::

    <text>\\n
    \\n
    — <key name> <base64(4-byte key ID || Ed25519 signature over the text)>\\n

The signature covers the text including its final newline, not the blank separator line. The key
ID is the first four bytes, big-endian, of SHA-256(key name || 0x0A || 0x01 || 32-byte public
key); 0x01 is the signature type byte of Ed25519. Keys travel as text in the form Go's
golang.org/x/mod/sumdb/note uses, so an operator can paste them between tools:

- verifier key: ``<name>+<8 hex digits of key ID>+<base64(0x01 || public key)>``
- signer key: ``PRIVATE+KEY+<name>+<8 hex digits of key ID>+<base64(0x01 || 32-byte seed)>``

Opening a note follows the specification's rules, which is what makes key rotation and witness
cosigning work: signatures from unknown keys (by name *and* ID) are ignored; every signature from
a known key must verify, or the whole note is refused; at least one known key must have signed.
Malformed notes (control characters, no blank line before the signatures, a bad signature line,
more than `MAX_SIGNATURES` lines) are refused before any key is consulted.

Two deliberate differences from Go's implementation, both stricter: base64 must be canonical
(re-encoding gives the same text), so one signature has one spelling; and a repeated signature
from a known key is verified again rather than skipped.

Ed25519 signing is deterministic (RFC 8032), so re-signing the same text with the same seed
reproduces a published note byte for byte; the conformance tests rely on that.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tailguard.contracts.errors import TransparencyLogError

ED25519_TYPE = 0x01
ED25519_KEY_SIZE_BYTES = 32
ED25519_SIGNATURE_SIZE_BYTES = 64
KEY_ID_SIZE_BYTES = 4
MAX_SIGNATURES = 100
SIGNATURE_PREFIX = "— "  # U+2014 EM DASH, then a space
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"

_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")


class NoteReason(StrEnum):
    """Why a note, a key or a signature was refused."""

    MALFORMED_NOTE = "malformed-note"
    MALFORMED_KEY = "malformed-key"
    KEY_ID_MISMATCH = "key-id-mismatch"
    UNSUPPORTED_KEY_TYPE = "unsupported-key-type"
    AMBIGUOUS_KEY = "ambiguous-key"
    INVALID_NAME = "invalid-name"
    INVALID_SIGNATURE = "invalid-signature"
    NO_KNOWN_SIGNATURE = "no-known-signature"


class NoteError(TransparencyLogError):
    """A signed note, key or signature that cannot be trusted."""

    reason: NoteReason

    def __init__(self, reason: NoteReason, message: str) -> None:
        super().__init__(reason, message)


def decode_base64_canonical(text: str) -> bytes:
    """Standard base64 (RFC 4648 §4, padded), refusing any text that is not the one encoding.

    Raises `ValueError`; callers turn it into their own typed refusal.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise ValueError(f"not base64: {text[:40]!r}") from error
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError(f"not canonical base64: {text[:40]!r}")
    return raw


def encode_base64(raw: bytes) -> str:
    """Standard padded base64 as text."""
    return base64.b64encode(raw).decode("ascii")


def is_valid_key_name(name: str) -> bool:
    """Non-empty, no Unicode space, no '+': what both the spec and Go's isValidName ask."""
    return bool(name) and "+" not in name and not any(char.isspace() for char in name)


def _check_name(name: str) -> None:
    if not is_valid_key_name(name) or _has_control_character(name):
        raise NoteError(NoteReason.INVALID_NAME, f"invalid key name {name!r}")


def _has_control_character(text: str) -> bool:
    """An ASCII control character other than newline (the spec's rule: below U+0020)."""
    return any(char < " " and char != "\n" for char in text)


def key_id(name: str, public_key: bytes) -> int:
    """The 32-bit key ID of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + public_key
    ).digest()
    return int.from_bytes(digest[:KEY_ID_SIZE_BYTES], "big")


def _split_key_text(text: str, parts: int) -> list[str]:
    # The base64 part may itself contain '+', so split only as often as there are fields.
    fields = text.split("+", parts - 1)
    if len(fields) != parts:
        raise NoteError(NoteReason.MALFORMED_KEY, "too few '+'-separated fields in key")
    return fields


def _decode_typed_key(name: str, id_hex: str, key_base64: str) -> tuple[int, bytes]:
    """Check name, ID and type byte of a key text; return (key ID, 32 raw key bytes)."""
    _check_name(name)
    if not _KEY_ID_HEX.fullmatch(id_hex):
        raise NoteError(NoteReason.MALFORMED_KEY, f"key ID {id_hex!r} is not 8 hex digits")
    try:
        raw = decode_base64_canonical(key_base64)
    except ValueError as error:
        raise NoteError(NoteReason.MALFORMED_KEY, str(error)) from error
    if not raw:
        raise NoteError(NoteReason.MALFORMED_KEY, "empty key")
    if raw[0] != ED25519_TYPE:
        raise NoteError(NoteReason.UNSUPPORTED_KEY_TYPE, f"key type {raw[0]:#04x} is not Ed25519")
    if len(raw) != 1 + ED25519_KEY_SIZE_BYTES:
        raise NoteError(NoteReason.MALFORMED_KEY, f"Ed25519 key of {len(raw) - 1} bytes")
    return int(id_hex, 16), raw[1:]


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A named Ed25519 public key that may sign notes; its text form is public."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != ED25519_KEY_SIZE_BYTES:
            raise NoteError(NoteReason.MALFORMED_KEY, "an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.public_key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read ``<name>+<hex key ID>+<base64(0x01 || public key)>``, checking the key ID."""
        name, id_hex, key_base64 = _split_key_text(text, 3)
        claimed_id, public_key = _decode_typed_key(name, id_hex, key_base64)
        key = cls(name, public_key)
        if key.key_id != claimed_id:
            raise NoteError(NoteReason.KEY_ID_MISMATCH, f"key ID {id_hex} does not match the key")
        return key

    def __str__(self) -> str:
        payload = encode_base64(bytes([ED25519_TYPE]) + self.public_key)
        return f"{self.name}+{self.key_id:08x}+{payload}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != ED25519_SIGNATURE_SIZE_BYTES:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):  # ValueError: a key that is not a curve point
            return False
        return True


@dataclass(frozen=True, slots=True)
class SignerKey:
    """A named Ed25519 private key (its 32-byte seed). Keep its text form secret."""

    name: str
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.seed) != ED25519_KEY_SIZE_BYTES:
            raise NoteError(NoteReason.MALFORMED_KEY, "an Ed25519 seed is 32 bytes")

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        """A new key with a seed from the operating system's random source."""
        return cls(name, os.urandom(ED25519_KEY_SIZE_BYTES))

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Read ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``, checking the ID."""
        if not text.startswith(PRIVATE_KEY_PREFIX):
            raise NoteError(NoteReason.MALFORMED_KEY, "a signer key starts with PRIVATE+KEY+")
        name, id_hex, key_base64 = _split_key_text(text[len(PRIVATE_KEY_PREFIX) :], 3)
        claimed_id, seed = _decode_typed_key(name, id_hex, key_base64)
        key = cls(name, seed)
        if key.key_id != claimed_id:
            raise NoteError(NoteReason.KEY_ID_MISMATCH, f"key ID {id_hex} does not match the key")
        return key

    def encode(self) -> str:
        """The secret text form; deliberately not `__str__`, so it is never printed by accident."""
        payload = encode_base64(bytes([ED25519_TYPE]) + self.seed)
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{self.key_id:08x}+{payload}"

    def _private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> VerifierKey:
        """The public half, under the same name."""
        public = self._private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(self.name, public)

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._private_key().sign(message)


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: who (name and key ID) and the raw signature bytes."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """The signature line, without its newline."""
        payload = encode_base64(self.key_id.to_bytes(KEY_ID_SIZE_BYTES, "big") + self.signature)
        return f"{SIGNATURE_PREFIX}{self.name} {payload}"


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed note: its text (with final newline) and all its signatures, unverified."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def encode(self) -> str:
        return self.text + "\n" + "".join(sig.line() + "\n" for sig in self.signatures)


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose text may be trusted: at least one known key signed it and none failed."""

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]

    @property
    def signer_names(self) -> tuple[str, ...]:
        return tuple(sig.name for sig in self.verified)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError(NoteReason.MALFORMED_NOTE, "note text must end with a newline")
    if _has_control_character(text):
        raise NoteError(NoteReason.MALFORMED_NOTE, "note text contains a control character")


def sign_note(text: str, signers: Sequence[SignerKey]) -> str:
    """The signed note of ``text`` with one signature line per signer, in the given order.

    During a key rotation, sign with the old and the new key; verifiers that know either accept.
    """
    _check_text(text)
    if not signers:
        raise NoteError(NoteReason.NO_KNOWN_SIGNATURE, "a note needs at least one signer")
    message = text.encode("utf-8")
    signatures = tuple(
        NoteSignature(signer.name, signer.key_id, signer.sign(message)) for signer in signers
    )
    return Note(text, signatures).encode()


def _to_text(message: str | bytes) -> str:
    if isinstance(message, str):
        return message
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NoteError(NoteReason.MALFORMED_NOTE, "note is not valid UTF-8") from error


def parse_note(message: str | bytes) -> Note:
    """Split a signed note into text and signature lines, refusing malformed notes.

    Nothing is verified here; use `open_note` before trusting the text.
    """
    message = _to_text(message)
    if _has_control_character(message):
        raise NoteError(NoteReason.MALFORMED_NOTE, "note contains a control character")
    split = message.rfind("\n\n")
    if split < 0:
        raise NoteError(NoteReason.MALFORMED_NOTE, "no blank line before the signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteError(NoteReason.MALFORMED_NOTE, "signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(NoteReason.MALFORMED_NOTE, f"more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(NoteReason.MALFORMED_NOTE, f"not a signature line: {line[:40]!r}")
    name, space, payload = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space or not is_valid_key_name(name):
        raise NoteError(NoteReason.MALFORMED_NOTE, f"bad key name in {line[:40]!r}")
    try:
        raw = decode_base64_canonical(payload)
    except ValueError as error:
        raise NoteError(NoteReason.MALFORMED_NOTE, str(error)) from error
    if len(raw) <= KEY_ID_SIZE_BYTES:
        raise NoteError(NoteReason.MALFORMED_NOTE, f"signature of {name} is too short")
    key_id_value = int.from_bytes(raw[:KEY_ID_SIZE_BYTES], "big")
    return NoteSignature(name, key_id_value, raw[KEY_ID_SIZE_BYTES:])


def _index_keys(keys: Iterable[VerifierKey]) -> dict[tuple[str, int], VerifierKey]:
    index: dict[tuple[str, int], VerifierKey] = {}
    for key in keys:
        slot = (key.name, key.key_id)
        if slot in index and index[slot] != key:
            raise NoteError(NoteReason.AMBIGUOUS_KEY, f"two keys share name and ID {key.name}")
        index[slot] = key
    return index


def open_note(message: str | bytes, verifiers: Iterable[VerifierKey]) -> OpenedNote:
    """Parse and verify a signed note against the trusted keys ``verifiers``.

    Refuses with `NoteError` a malformed note, a failing signature from a known key, and a note
    that no known key signed. Returns the text with the verified and the ignored signatures.
    """
    note = parse_note(message)
    known = _index_keys(verifiers)
    signed_bytes = note.text.encode("utf-8")
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    for signature in note.signatures:
        key = known.get((signature.name, signature.key_id))
        if key is None:
            unverified.append(signature)
            continue
        if not key.verify(signed_bytes, signature.signature):
            raise NoteError(
                NoteReason.INVALID_SIGNATURE,
                f"signature by {signature.name}+{signature.key_id:08x} does not verify",
            )
        if signature not in verified:
            verified.append(signature)
    if not verified:
        raise NoteError(NoteReason.NO_KNOWN_SIGNATURE, "no trusted key signed this note")
    return OpenedNote(note.text, tuple(verified), tuple(unverified))
