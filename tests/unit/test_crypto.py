"""Field encryption, lookup hashes and masks.

The layout test opens a blob with cryptography's AESGCM directly, from the documented format,
so a change to the format (or to the associated data) fails here even if encrypt and decrypt
changed together.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tailguard.infra.crypto import (
    DecryptionError,
    FieldCipher,
    mask_address,
    mask_bank_card,
    mask_id_number,
    mask_name,
    mask_phone,
    read_header,
)
from tailguard.infra.settings import load_settings

OLD = ("2024-01", bytes(range(32)))
NEW = ("2025-06", bytes(range(100, 132)))
ID_NUMBER = "11010519491231002X"


def test_round_trip_and_random_nonce() -> None:
    cipher = FieldCipher([NEW])
    first = cipher.encrypt("id_number", ID_NUMBER)
    second = cipher.encrypt("id_number", ID_NUMBER)
    assert first != second
    assert cipher.decrypt("id_number", first) == ID_NUMBER
    assert cipher.decrypt("id_number", second) == ID_NUMBER
    assert ID_NUMBER.encode() not in first


def test_unicode_round_trip() -> None:
    cipher = FieldCipher([NEW])
    address = "浙江省杭州市西湖区文三路 90 号"
    assert cipher.decrypt("address", cipher.encrypt("address", address)) == address


def test_blob_layout_opens_with_plain_aesgcm() -> None:
    key_id, key = NEW
    blob = FieldCipher([NEW]).encrypt("phone", "+8613800138000")
    assert blob[0] == 1
    assert blob[1] == len(key_id)
    assert blob[2 : 2 + len(key_id)] == key_id.encode()
    nonce = blob[2 + len(key_id) : 14 + len(key_id)]
    body = blob[14 + len(key_id) :]
    assert len(body) == len("+8613800138000") + 16
    assert AESGCM(key).decrypt(nonce, body, b"phone") == b"+8613800138000"


def test_field_name_is_bound_so_columns_cannot_be_swapped() -> None:
    cipher = FieldCipher([NEW])
    blob = cipher.encrypt("id_number", ID_NUMBER)
    with pytest.raises(DecryptionError) as caught:
        cipher.decrypt("phone", blob)
    assert caught.value.reason == "authentication"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "authentication"),  # tag
        (lambda b: b[:20] + bytes([b[20] ^ 0x80]) + b[21:], "authentication"),  # nonce/body
        (lambda b: bytes([2]) + b[1:], "version"),
        (lambda b: b[:2] + b"X" + b[3:], "unknown-key"),  # key id "X025-06"
        (lambda b: b[:10], "malformed"),
        (lambda b: b"", "malformed"),
        (lambda b: bytes([1, 0]) + b[2:], "malformed"),
    ],
)
def test_tampering_is_refused(mutate: object, reason: str) -> None:
    cipher = FieldCipher([NEW])
    blob = cipher.encrypt("bank_card", "6222020200112233445")
    assert callable(mutate)
    with pytest.raises(DecryptionError) as caught:
        cipher.decrypt("bank_card", mutate(blob))
    assert caught.value.reason == reason


def test_rotation_encrypts_with_first_key_and_decrypts_with_any() -> None:
    before = FieldCipher([OLD])
    during = FieldCipher([NEW, OLD])
    after = FieldCipher([NEW])
    old_blob = before.encrypt("phone", "+8613800138000")
    assert read_header(old_blob).key_id == OLD[0]
    assert during.decrypt("phone", old_blob) == "+8613800138000"
    assert during.needs_rotation(old_blob)
    rotated = during.rotate(old_blob, "phone")
    assert read_header(rotated).key_id == NEW[0]
    assert not during.needs_rotation(rotated)
    assert after.decrypt("phone", rotated) == "+8613800138000"
    with pytest.raises(DecryptionError) as caught:
        after.decrypt("phone", old_blob)
    assert caught.value.reason == "unknown-key"
    with pytest.raises(DecryptionError):
        during.rotate(old_blob, "id_number")


def test_lookup_hash_is_keyed_per_field_and_survives_rotation() -> None:
    before = FieldCipher([OLD])
    during = FieldCipher([NEW, OLD])
    digest = before.lookup_hash("id_number", ID_NUMBER)
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert digest == FieldCipher([OLD]).lookup_hash("id_number", ID_NUMBER)
    assert digest != hashlib.sha256(ID_NUMBER.encode()).hexdigest()
    assert digest != hmac.new(OLD[1], ID_NUMBER.encode(), hashlib.sha256).hexdigest()
    assert digest != before.lookup_hash("phone", ID_NUMBER)
    assert digest != before.lookup_hash("id_number", "110105194912310029")
    assert during.lookup_hash("id_number", ID_NUMBER) != digest
    assert during.lookup_hashes("id_number", ID_NUMBER) == (
        during.lookup_hash("id_number", ID_NUMBER),
        digest,
    )


def test_keys_are_checked() -> None:
    with pytest.raises(ValueError):
        FieldCipher([])
    with pytest.raises(ValueError):
        FieldCipher([("short", b"x" * 16)])
    with pytest.raises(ValueError):
        FieldCipher([OLD, (OLD[0], NEW[1])])
    with pytest.raises(ValueError):
        FieldCipher([("", NEW[1])])


def test_from_settings_uses_configured_keys() -> None:
    settings = load_settings({})
    cipher = FieldCipher.from_settings(settings)
    assert cipher.current_key_id == "dev"
    assert cipher.decrypt("name", cipher.encrypt("name", "张三")) == "张三"


@pytest.mark.parametrize(
    ("mask", "value", "shown"),
    [
        (mask_id_number, "11010519491231002X", "110105********002X"),
        (mask_id_number, "330106199001010017", "330106********0017"),
        (mask_id_number, "12345", "*****"),
        (mask_phone, "13800138000", "138****8000"),
        (mask_phone, "+8613800138000", "138****8000"),
        (mask_phone, "123456", "******"),
        (mask_bank_card, "6222020200112233445", "***************3445"),
        (mask_bank_card, "6222 0202 0011 2233", "************2233"),
        (mask_bank_card, "123", "***"),
        (mask_address, "浙江省杭州市西湖区文三路90号", "浙江省杭州市***"),
        (mask_address, "北京市朝阳区建国路1号", "北京市朝阳区***"),
        (mask_address, "北京", "北***"),
        (mask_address, "", ""),
        (mask_name, "张三", "张*"),
        (mask_name, "张三丰", "张**"),
        (mask_name, "李", "李*"),
        (mask_name, "", ""),
    ],
)
def test_masks(mask: object, value: str, shown: str) -> None:
    assert callable(mask)
    assert mask(value) == shown
