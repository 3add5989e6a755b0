"""Field-level encryption, lookup hashes and masking for borrowers' personal data.

Why field by field: a database dump, a backup or a read-only analyst account must not expose
ID numbers, phones, addresses or bank cards, while the rest of a loan (amounts, dates) stays
queryable in plain SQL. Each value is sealed on its own with AES-256-GCM:

    blob = version (1 byte) | key-id length (1 byte) | key id (UTF-8) | nonce (12 bytes)
           | ciphertext with the 16-byte GCM tag

- The key id travels inside the blob, so keys can rotate without a flag day: the first key of
  `Settings.field_keys` encrypts, every listed key decrypts, and `FieldCipher.rotate` moves an old
  blob to the current key. A key may be removed only after no blob names it any more.
- The field name is the associated data, so a blob copied from the ID-number column into the
  phone column fails authentication instead of showing someone's ID number as a phone.
- The nonce is random (12 bytes from the OS). With one key this is safe for far more values than a
  lender will ever store (the usual bound is about 2^32 encryptions per key).

Equality search ("is this ID number already a borrower?") cannot use the ciphertext, which is
randomised. A keyed hash (HMAC-SHA256) sits beside it: without the key, the hash of an 18-digit ID
number could be brute-forced from its small space, which is why it is keyed and not a plain
SHA-256. The HMAC key is derived with HKDF from each field key, so lookups need no extra secret;
during a rotation `lookup_hashes` gives the candidates under every configured key.

Masking helpers show just enough for a person to recognise the value (last digits, province),
as screens, logs and exports do for roles that do not need the full value.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tailguard.infra.settings import Settings

FORMAT_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
_LOOKUP_INFO = b"tailguard/lookup-hash/v1"


class DecryptionError(Exception):
    """A blob cannot be opened: malformed, unknown key id, wrong field, or tampered with.

    `reason` is one of "malformed", "version", "unknown-key", "authentication".
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class SealedHeader:
    """The clear part of a blob: which format and which key sealed it."""

    version: int
    key_id: str


def _check_keys(keys: Sequence[tuple[str, bytes]]) -> tuple[tuple[str, bytes], ...]:
    if not keys:
        raise ValueError("at least one field key is needed")
    seen: set[str] = set()
    for key_id, key in keys:
        encoded = key_id.encode("utf-8")
        if not encoded or len(encoded) > 255:
            raise ValueError("a key id is 1 to 255 bytes of UTF-8")
        if key_id in seen:
            raise ValueError(f"key id {key_id!r} is listed twice")
        if len(key) != KEY_BYTES:
            raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes for AES-256")
        seen.add(key_id)
    return tuple(keys)


def _derive_lookup_key(key_id: str, key: bytes) -> bytes:
    """One HMAC key per field key; HKDF keeps the encryption key from being used twice."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=_LOOKUP_INFO + b"/" + key_id.encode("utf-8"),
    )
    return hkdf.derive(key)


def read_header(blob: bytes) -> SealedHeader:
    """Parse the version and key id without decrypting (e.g. to find blobs still to rotate)."""
    if len(blob) < 2:
        raise DecryptionError("malformed", "sealed value is too short")
    version = blob[0]
    if version != FORMAT_VERSION:
        raise DecryptionError("version", f"unknown sealed-value version {version}")
    id_length = blob[1]
    end = 2 + id_length
    if id_length == 0 or len(blob) < end + NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("malformed", "sealed value is truncated")
    try:
        key_id = blob[2:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecryptionError("malformed", "key id is not UTF-8") from exc
    return SealedHeader(version=version, key_id=key_id)


class FieldCipher:
    """Seal and open personal-data fields with the configured keys.

    Built from `Settings.field_keys` (or any list of (key id, 32-byte key)); the first key is the
    current one. Holds no other state, so one instance can be shared by threads.
    """

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        self._keys = _check_keys(keys)
        self._aead = {key_id: AESGCM(key) for key_id, key in self._keys}
        self._lookup = {key_id: _derive_lookup_key(key_id, key) for key_id, key in self._keys}

    @classmethod
    def from_settings(cls, settings: Settings) -> FieldCipher:
        return cls(settings.field_keys)

    @property
    def current_key_id(self) -> str:
        return self._keys[0][0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key_id for key_id, _ in self._keys)

    def encrypt(self, field: str, plaintext: str) -> bytes:
        """Seal `plaintext` for column `field` under the current key."""
        key_id = self.current_key_id
        encoded_id = key_id.encode("utf-8")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[key_id].encrypt(nonce, plaintext.encode("utf-8"), field.encode())
        return bytes([FORMAT_VERSION, len(encoded_id)]) + encoded_id + nonce + sealed

    def decrypt(self, field: str, blob: bytes) -> str:
        """Open a blob sealed for `field` under any configured key."""
        header = read_header(blob)
        aead = self._aead.get(header.key_id)
        if aead is None:
            raise DecryptionError(
                "unknown-key", f"sealed with key {header.key_id!r}, which is not configured"
            )
        start = 2 + len(header.key_id.encode("utf-8"))
        nonce = blob[start : start + NONCE_BYTES]
        try:
            plain = aead.decrypt(nonce, blob[start + NONCE_BYTES :], field.encode("utf-8"))
        except InvalidTag as exc:
            raise DecryptionError(
                "authentication",
                f"sealed value does not open as field {field!r} (wrong field or tampered)",
            ) from exc
        return plain.decode("utf-8")

    def needs_rotation(self, blob: bytes) -> bool:
        """Whether the blob was sealed under a key other than the current one."""
        return read_header(blob).key_id != self.current_key_id

    def rotate(self, blob: bytes, field: str) -> bytes:
        """Re-seal a blob under the current key, with a fresh nonce.

        The field name is needed because it is the associated data: a blob cannot be opened,
        and so cannot be re-sealed, without it. Always re-encrypts; use `needs_rotation` to skip
        blobs that are already current in a batch.
        """
        return self.encrypt(field, self.decrypt(field, blob))

    def lookup_hash(self, field: str, value: str) -> str:
        """Hex HMAC-SHA256 of `value` for `field` under the current key, for equality search.

        Callers pass the canonical form (an ID number upper-cased, a phone in E.164), since the
        hash of two spellings of the same number differs.
        """
        return self._hash(self.current_key_id, field, value)

    def lookup_hashes(self, field: str, value: str) -> tuple[str, ...]:
        """The hash under every configured key, current first: search with `IN (...)` while
        rows written before a rotation still carry hashes under the older key."""
        return tuple(self._hash(key_id, field, value) for key_id in self.key_ids)

    def _hash(self, key_id: str, field: str, value: str) -> str:
        # The field name is part of the message, so equal strings in two columns do not share
        # a hash (a phone number cannot be matched against the bank-card column).
        message = field.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self._lookup[key_id], message, hashlib.sha256).hexdigest()


def mask_id_number(number: str) -> str:
    """`110105194912310029` → `110105********0029`: region kept for regional review."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_phone(phone: str) -> str:
    """`13800138000` or `+8613800138000` → `138****8000`, as Chinese apps show it."""
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_bank_card(card: str) -> str:
    """Only the last four digits, which is what a borrower recognises a card by."""
    digits = "".join(ch for ch in card if not ch.isspace())
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_address(address: str) -> str:
    """Keep the first six characters (province and city, e.g. `浙江省杭州市`), hide the rest."""
    if len(address) <= 6:
        return address[:1] + "***" if address else ""
    return address[:6] + "***"


def mask_name(name: str) -> str:
    """Keep the surname: `张三` → `张*`, `张三丰` → `张**`."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)
