"""Signed notes and checkpoints against the Go sumdb/note and C2SP vectors, and their refusals."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tailguard.contracts.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointReason,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from tailguard.contracts.signed_note import (
    NoteError,
    NoteReason,
    SignerKey,
    VerifierKey,
    key_id,
    open_note,
    parse_note,
    sign_note,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "rfc6962_vectors.json").read_text(encoding="utf-8")
)
GO_VECTOR, SPEC_VECTOR = VECTORS["signed_note_vectors"]["vectors"]
CHECKPOINTS = VECTORS["derived_signed_checkpoints"]
PETER = SignerKey.parse(GO_VECTOR["signer_key"])
PETER_PUBLIC, ENOCH_PUBLIC = (VerifierKey.parse(key) for key in GO_VECTOR["verifier_keys"])


def _note_reason(message: str | bytes, keys: list[VerifierKey]) -> NoteReason:
    with pytest.raises(NoteError) as refused:
        open_note(message, keys)
    return refused.value.reason


def test_go_signer_key_round_trips_and_matches_the_seed() -> None:
    assert PETER.name == "PeterNeumann"
    assert PETER.seed.hex() == GO_VECTOR["signer_seed_hex"]
    assert f"{PETER.key_id:08x}" == "c74f20a3"
    assert PETER.encode() == GO_VECTOR["signer_key"]
    assert str(PETER.verifier) == GO_VECTOR["verifier_keys"][0]
    assert PETER.seed.hex() not in repr(PETER)


@pytest.mark.parametrize(
    "text",
    [*GO_VECTOR["verifier_keys"], *SPEC_VECTOR["verifier_keys"], CHECKPOINTS["verifier_key"]],
)
def test_verifier_keys_round_trip_and_their_ids_are_recomputed(text: str) -> None:
    key = VerifierKey.parse(text)
    assert str(key) == text
    assert key.key_id == key_id(key.name, key.public_key)
    assert text.split("+")[1] == f"{key.key_id:08x}"


def test_re_signing_reproduces_the_published_go_signature_byte_for_byte() -> None:
    signed = sign_note(GO_VECTOR["note_text"], [PETER])
    published_lines = GO_VECTOR["signed_note"].split("\n")
    assert signed == GO_VECTOR["note_text"] + "\n" + published_lines[3] + "\n"
    assert published_lines[3].startswith("— PeterNeumann ")


def test_the_go_note_opens_with_both_keys_and_with_either_alone() -> None:
    both = open_note(GO_VECTOR["signed_note"], [PETER_PUBLIC, ENOCH_PUBLIC])
    assert both.text == GO_VECTOR["note_text"]
    assert both.signer_names == ("PeterNeumann", "EnochRoot")
    assert both.unverified == ()
    only_enoch = open_note(GO_VECTOR["signed_note"].encode(), [ENOCH_PUBLIC])
    assert only_enoch.signer_names == ("EnochRoot",)
    assert [sig.name for sig in only_enoch.unverified] == ["PeterNeumann"]


def test_the_c2sp_specification_example_opens() -> None:
    key = VerifierKey.parse(SPEC_VECTOR["verifier_keys"][0])
    opened = open_note(SPEC_VECTOR["signed_note"], [key])
    assert opened.text == SPEC_VECTOR["note_text"]
    assert opened.signer_names == ("example.com/foo",)


def test_a_note_without_a_known_signer_is_refused() -> None:
    stranger = SignerKey("stranger.example", bytes(range(32))).verifier
    assert _note_reason(GO_VECTOR["signed_note"], [stranger]) is NoteReason.NO_KNOWN_SIGNATURE
    assert _note_reason(GO_VECTOR["signed_note"], []) is NoteReason.NO_KNOWN_SIGNATURE


def test_a_same_named_key_with_another_id_is_ignored_not_trusted() -> None:
    impostor = SignerKey("PeterNeumann", bytes(range(32))).verifier
    assert impostor.key_id != PETER_PUBLIC.key_id
    assert _note_reason(GO_VECTOR["signed_note"], [impostor]) is NoteReason.NO_KNOWN_SIGNATURE


def test_a_changed_text_fails_the_known_signature() -> None:
    tampered = GO_VECTOR["signed_note"].replace("problem,", "problems,", 1)
    assert _note_reason(tampered, [PETER_PUBLIC]) is NoteReason.INVALID_SIGNATURE


def test_one_bad_known_signature_refuses_the_note_even_beside_a_good_one() -> None:
    lines = GO_VECTOR["signed_note"].split("\n")
    raw = bytearray(base64.b64decode(lines[4].split(" ")[2]))
    raw[-1] ^= 1
    lines[4] = "— EnochRoot " + base64.b64encode(bytes(raw)).decode()
    forged = "\n".join(lines)
    assert _note_reason(forged, [PETER_PUBLIC, ENOCH_PUBLIC]) is NoteReason.INVALID_SIGNATURE
    # ... while a verifier that does not know EnochRoot ignores that line.
    assert open_note(forged, [PETER_PUBLIC]).signer_names == ("PeterNeumann",)


def test_key_rotation_sign_with_both_verify_with_either() -> None:
    old = SignerKey("tailguard.example/contracts", bytes(range(32)))
    new = SignerKey("tailguard.example/contracts", bytes(range(1, 33)))
    signed = sign_note("rotation\n", [old, new])
    assert open_note(signed, [old.verifier]).signer_names == (old.name,)
    assert open_note(signed, [new.verifier]).signer_names == (new.name,)
    assert len(open_note(signed, [old.verifier, new.verifier]).verified) == 2
    only_new = sign_note("rotation\n", [new])
    assert _note_reason(only_new, [old.verifier]) is NoteReason.NO_KNOWN_SIGNATURE


MALFORMED_NOTES = {
    "no blank line": "text\n— PeterNeumann AAAAAAA=\n",
    "no final newline": "text\n\n— PeterNeumann x08go/ZJ",
    "hyphen instead of em dash": "text\n\n- PeterNeumann x08go/ZJ\n",
    "no signature line": "text\n\n",
    "control character": "te\x01xt\n\n— PeterNeumann x08go/ZJ\n",
    "carriage return": "text\r\n\n— PeterNeumann x08go/ZJ\n",
    "name with plus": "text\n\n— Peter+Neumann x08go/ZJ\n",
    "no space before signature": "text\n\n— PeterNeumann\n",
    "not base64": "text\n\n— PeterNeumann not*base64\n",
    "non-canonical base64": "text\n\n— PeterNeumann x08go/ZJ=\n",
    "signature of only a key id": "text\n\n— PeterNeumann x08gow==\n",
}


@pytest.mark.parametrize("message", MALFORMED_NOTES.values(), ids=MALFORMED_NOTES.keys())
def test_malformed_notes_are_refused(message: str) -> None:
    assert _note_reason(message, [PETER_PUBLIC]) is NoteReason.MALFORMED_NOTE


def test_invalid_utf8_and_too_many_signatures_are_refused() -> None:
    assert _note_reason(b"text\xff\n\n\xe2\x80\x94 a AAAAAAA=\n", [PETER_PUBLIC]) is (
        NoteReason.MALFORMED_NOTE
    )
    signed = sign_note("text\n", [PETER])
    line = signed.split("\n")[2] + "\n"
    assert len(open_note(signed + line * 15, [PETER_PUBLIC]).verified) == 1
    assert _note_reason(signed + line * 100, [PETER_PUBLIC]) is NoteReason.MALFORMED_NOTE


def test_parse_note_keeps_text_with_inner_blank_lines() -> None:
    signed = sign_note("first\n\nsecond\n", [PETER])
    assert parse_note(signed).text == "first\n\nsecond\n"
    assert open_note(signed, [PETER_PUBLIC]).text == "first\n\nsecond\n"
    # The last blank line is the separator, so even a text ending in a blank line survives.
    trailing = sign_note("first\n\n", [PETER])
    assert open_note(trailing, [PETER_PUBLIC]).text == "first\n\n"


def test_signing_refuses_text_without_final_newline_or_signers() -> None:
    with pytest.raises(NoteError):
        sign_note("no newline", [PETER])
    with pytest.raises(NoteError):
        sign_note("text\n", [])


def _key_reason(parse: Any, text: str) -> NoteReason:
    with pytest.raises(NoteError) as refused:
        parse(text)
    return refused.value.reason


def test_malformed_keys_are_refused() -> None:
    good = GO_VECTOR["verifier_keys"][0]
    name, id_hex, payload = good.split("+", 2)
    assert _key_reason(VerifierKey.parse, f"{name}+c74f20a4+{payload}") is (
        NoteReason.KEY_ID_MISMATCH
    )
    assert _key_reason(VerifierKey.parse, f"{name}+c74f20a+{payload}") is NoteReason.MALFORMED_KEY
    assert _key_reason(VerifierKey.parse, f"{name}+{id_hex}") is NoteReason.MALFORMED_KEY
    raw = base64.b64decode(payload)
    other_type = base64.b64encode(b"\x02" + raw[1:]).decode()
    assert _key_reason(VerifierKey.parse, f"{name}+{id_hex}+{other_type}") is (
        NoteReason.UNSUPPORTED_KEY_TYPE
    )
    short = base64.b64encode(raw[:-1]).decode()
    assert _key_reason(VerifierKey.parse, f"{name}+{id_hex}+{short}") is NoteReason.MALFORMED_KEY
    assert _key_reason(VerifierKey.parse, f"Peter Neumann+{id_hex}+{payload}") is (
        NoteReason.INVALID_NAME
    )
    assert _key_reason(SignerKey.parse, GO_VECTOR["signer_key"].removeprefix("PRIVATE+")) is (
        NoteReason.MALFORMED_KEY
    )
    assert _key_reason(SignerKey.parse, GO_VECTOR["signer_key"].replace("c74f", "c75f")) is (
        NoteReason.KEY_ID_MISMATCH
    )


@pytest.mark.parametrize("vector", CHECKPOINTS["checkpoints"], ids=lambda v: f"size-{v['size']}")
def test_signed_checkpoints_are_reproduced_and_open(vector: dict[str, Any]) -> None:
    seed = bytes.fromhex(CHECKPOINTS["signer_seed_hex"])
    signer = SignerKey("example.com/rfc6962-test-vectors", seed)
    assert str(signer.verifier) == CHECKPOINTS["verifier_key"]
    checkpoint = parse_checkpoint(vector["checkpoint_body"])
    assert checkpoint.origin == "example.com/rfc6962-test-vectors"
    assert checkpoint.tree_size == vector["size"]
    assert checkpoint.root_hash.hex() == VECTORS["roots_by_size"][str(vector["size"])]
    assert checkpoint.text() == vector["checkpoint_body"]
    assert sign_checkpoint(checkpoint, [signer]) == vector["signed_checkpoint"]
    verified = open_checkpoint(
        vector["signed_checkpoint"],
        [VerifierKey.parse(CHECKPOINTS["verifier_key"])],
        expected_origin="example.com/rfc6962-test-vectors",
    )
    assert verified.checkpoint == checkpoint
    assert verified.signer_names == ("example.com/rfc6962-test-vectors",)


def test_a_checkpoint_from_another_origin_is_refused() -> None:
    vector = CHECKPOINTS["checkpoints"][-1]
    with pytest.raises(CheckpointError) as refused:
        open_checkpoint(
            vector["signed_checkpoint"],
            [VerifierKey.parse(CHECKPOINTS["verifier_key"])],
            expected_origin="tailguard.example/contracts",
        )
    assert refused.value.reason is CheckpointReason.WRONG_ORIGIN


def test_a_signed_note_that_is_not_a_checkpoint_is_refused_after_the_signature() -> None:
    with pytest.raises(CheckpointError):
        open_checkpoint(GO_VECTOR["signed_note"], [PETER_PUBLIC])


def test_checkpoint_extension_lines_round_trip() -> None:
    checkpoint = Checkpoint("tailguard.example/contracts", 5, bytes(32), ("anchor 42", "x"))
    assert parse_checkpoint(checkpoint.text()) == checkpoint
    assert checkpoint.text().endswith(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nanchor 42\nx\n"
    )


ROOT_B64 = base64.b64encode(bytes(32)).decode()
MALFORMED_CHECKPOINTS = {
    "two lines": f"origin\n{ROOT_B64}\n",
    "no final newline": f"origin\n1\n{ROOT_B64}",
    "leading zero": f"origin\n01\n{ROOT_B64}\n",
    "signed size": f"origin\n+1\n{ROOT_B64}\n",
    "empty origin": f"\n1\n{ROOT_B64}\n",
    "31-byte root": f"origin\n1\n{base64.b64encode(bytes(31)).decode()}\n",
    "unpadded root": f"origin\n1\n{ROOT_B64.rstrip('=')}\n",
    "empty extension": f"origin\n1\n{ROOT_B64}\n\n",
    "size beyond 64 bits": f"origin\n{2**64}\n{ROOT_B64}\n",
}


@pytest.mark.parametrize("text", MALFORMED_CHECKPOINTS.values(), ids=MALFORMED_CHECKPOINTS.keys())
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(CheckpointError) as refused:
        parse_checkpoint(text)
    assert refused.value.reason is CheckpointReason.MALFORMED_CHECKPOINT
