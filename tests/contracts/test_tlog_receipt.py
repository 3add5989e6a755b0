"""Receipts (c2sp.org/tlog-proof@v1) and the tailguard-leaf/v1 leaf bytes, end to end."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailguard.contracts.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointReason,
    sign_checkpoint,
)
from tailguard.contracts.merkle import ProofError, ProofReason, leaf_hash
from tailguard.contracts.receipt import (
    LeafKind,
    LeafRecord,
    Receipt,
    ReceiptError,
    ReceiptReason,
    build_receipt,
    contract_document_leaf,
    journal_entry_leaf,
    parse_receipt,
    verify_receipt,
)
from tailguard.contracts.signed_note import NoteError, NoteReason, SignerKey
from tailguard.contracts.tree_store import AppendOnlyTree, InMemoryNodeStore

ORIGIN = "tailguard.example/contracts"
LOG_KEY = SignerKey(ORIGIN, hashlib.sha256(b"tailguard test log key, not secret").digest())
PDF = b"%PDF-1.7\n" + "汽车贷款合同 balloon 30%\n".encode() * 40 + b"%%EOF\n"
CONTRACT_ID = "HT-2025-000123/v1"


def _log_with(leaves: list[bytes]) -> tuple[AppendOnlyTree, str]:
    tree = AppendOnlyTree(InMemoryNodeStore())
    tree.extend(leaf_hash(leaf) for leaf in leaves)
    checkpoint = Checkpoint(ORIGIN, tree.size, tree.root())
    return tree, sign_checkpoint(checkpoint, [LOG_KEY])


def _receipt_for(leaves: list[bytes], index: int, extra: bytes | None = None) -> str:
    tree, signed = _log_with(leaves)
    return build_receipt(index, tree.inclusion_proof(index), signed, extra)


FILLER = [journal_entry_leaf(f"JE-{i:06d}", f"entry {i}".encode()) for i in range(12)]
LEAVES = [*FILLER[:5], contract_document_leaf(CONTRACT_ID, PDF), *FILLER[5:]]
CONTRACT_INDEX = 5
RECEIPT = _receipt_for(LEAVES, CONTRACT_INDEX)


def test_leaf_bytes_are_exactly_the_documented_text() -> None:
    # SHA-256("abc") is the FIPS 180-2 example value.
    assert contract_document_leaf("HT-2025-000123/v1", b"abc") == (
        b"tailguard-leaf/v1\n"
        b"kind contract-document\n"
        b"id HT-2025-000123/v1\n"
        b"sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
    )
    assert journal_entry_leaf("JE-1", b"") == (
        b"tailguard-leaf/v1\n"
        b"kind ledger-journal-entry\n"
        b"id JE-1\n"
        b"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    )
    assert contract_document_leaf("合同-1", b"abc").splitlines()[2].decode() == "id 合同-1"


def test_leaf_records_parse_back_and_refuse_other_spellings() -> None:
    data = contract_document_leaf(CONTRACT_ID, PDF)
    record = LeafRecord.parse(data)
    assert record == LeafRecord(
        LeafKind.CONTRACT_DOCUMENT, CONTRACT_ID, hashlib.sha256(PDF).digest()
    )
    for variant in (
        data.replace(b"\n", b"\r\n"),
        data.upper(),
        data + b"\n",
        data.replace(b"tailguard-leaf/v1", b"tailguard-leaf/v2"),
        data.replace(b"contract-document", b"invoice"),
        data.replace(b"id ", b"id  "),
        b"\xff" + data,
    ):
        with pytest.raises(ReceiptError):
            LeafRecord.parse(variant)


@pytest.mark.parametrize(
    "identifier",
    ["", "a\nb", "tab\there", " leading", "trailing ", "x" * 257, "e\u0301", "a\u2028b"],
    ids=["empty", "newline", "tab", "leading", "trailing", "long", "not-nfc", "line-sep"],
)
def test_identifiers_that_a_third_party_could_not_retype_are_refused(identifier: str) -> None:
    with pytest.raises(ReceiptError) as refused:
        contract_document_leaf(identifier, PDF)
    assert refused.value.reason is ReceiptReason.INVALID_IDENTIFIER


def test_a_receipt_has_the_c2sp_layout() -> None:
    lines = RECEIPT.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == f"index {CONTRACT_INDEX}"
    proof_lines = lines[2 : lines.index("")]
    assert len(proof_lines) == 4  # 13 leaves: four levels
    assert all(len(base64.b64decode(line)) == 32 for line in proof_lines)
    checkpoint_text = "\n".join(lines[lines.index("") + 1 :])
    assert checkpoint_text.startswith(f"{ORIGIN}\n13\n")


def test_a_receipt_verifies_for_the_document_it_was_issued_for() -> None:
    result = verify_receipt(
        RECEIPT,
        contract_document_leaf(CONTRACT_ID, PDF),
        [LOG_KEY.verifier],
        expected_origin=ORIGIN,
    )
    assert result.index == CONTRACT_INDEX
    assert result.checkpoint.tree_size == len(LEAVES)
    assert result.leaf_hash == leaf_hash(LEAVES[CONTRACT_INDEX])
    assert result.signer_names == (ORIGIN,)
    assert result.extra is None


@settings(max_examples=50, deadline=None)
@given(position=st.integers(min_value=0, max_value=len(PDF) - 1), bit=st.integers(0, 7))
def test_a_document_changed_in_one_byte_fails(position: int, bit: int) -> None:
    changed = bytearray(PDF)
    changed[position] ^= 1 << bit
    with pytest.raises(ProofError) as refused:
        verify_receipt(
            RECEIPT, contract_document_leaf(CONTRACT_ID, bytes(changed)), [LOG_KEY.verifier]
        )
    assert refused.value.reason is ProofReason.ROOT_MISMATCH


def test_another_identifier_or_kind_for_the_same_document_fails() -> None:
    for leaf in (
        contract_document_leaf("HT-2025-000123/v2", PDF),
        journal_entry_leaf(CONTRACT_ID, PDF),
    ):
        with pytest.raises(ProofError):
            verify_receipt(RECEIPT, leaf, [LOG_KEY.verifier])


def test_a_receipt_under_an_untrusted_key_or_origin_is_refused() -> None:
    leaf = contract_document_leaf(CONTRACT_ID, PDF)
    other_key = SignerKey(ORIGIN, bytes(32)).verifier
    with pytest.raises(NoteError) as untrusted:
        verify_receipt(RECEIPT, leaf, [other_key])
    assert untrusted.value.reason is NoteReason.NO_KNOWN_SIGNATURE
    with pytest.raises(CheckpointError) as wrong_log:
        verify_receipt(RECEIPT, leaf, [LOG_KEY.verifier], expected_origin="tailguard.example/x")
    assert wrong_log.value.reason is CheckpointReason.WRONG_ORIGIN


def test_a_receipt_with_a_moved_index_or_a_forged_checkpoint_fails() -> None:
    leaf = contract_document_leaf(CONTRACT_ID, PDF)
    moved = RECEIPT.replace(f"index {CONTRACT_INDEX}\n", f"index {CONTRACT_INDEX + 1}\n", 1)
    with pytest.raises(ProofError):
        verify_receipt(moved, leaf, [LOG_KEY.verifier])
    beyond = RECEIPT.replace(f"index {CONTRACT_INDEX}\n", "index 13\n", 1)
    with pytest.raises(ProofError) as refused:
        verify_receipt(beyond, leaf, [LOG_KEY.verifier])
    assert refused.value.reason is ProofReason.INDEX_OUT_OF_RANGE
    grown = RECEIPT.replace(f"{ORIGIN}\n13\n", f"{ORIGIN}\n14\n", 1)
    with pytest.raises(NoteError) as forged:
        verify_receipt(grown, leaf, [LOG_KEY.verifier])
    assert forged.value.reason is NoteReason.INVALID_SIGNATURE


def test_a_receipt_against_a_later_checkpoint_needs_a_proof_for_that_size() -> None:
    leaf = contract_document_leaf(CONTRACT_ID, PDF)
    tree, _ = _log_with(LEAVES)
    tree.extend(leaf_hash(f"later {i}".encode()) for i in range(20))
    later = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), [LOG_KEY])
    stale = build_receipt(CONTRACT_INDEX, tree.inclusion_proof(CONTRACT_INDEX, 13), later)
    with pytest.raises(ProofError):
        verify_receipt(stale, leaf, [LOG_KEY.verifier])
    fresh = build_receipt(CONTRACT_INDEX, tree.inclusion_proof(CONTRACT_INDEX), later)
    assert verify_receipt(fresh, leaf, [LOG_KEY.verifier]).checkpoint.tree_size == 33


def test_extra_data_round_trips_and_is_reported_unauthenticated() -> None:
    receipt = _receipt_for(LEAVES, CONTRACT_INDEX, extra=CONTRACT_ID.encode())
    assert receipt.split("\n")[1] == "extra " + base64.b64encode(CONTRACT_ID.encode()).decode()
    result = verify_receipt(receipt, contract_document_leaf(CONTRACT_ID, PDF), [LOG_KEY.verifier])
    assert result.extra == CONTRACT_ID.encode()


def test_a_single_leaf_log_has_an_empty_proof() -> None:
    receipt = _receipt_for([LEAVES[CONTRACT_INDEX]], 0)
    assert "index 0\n\n" in receipt
    assert verify_receipt(receipt, LEAVES[CONTRACT_INDEX], [LOG_KEY.verifier]).index == 0


MALFORMED_RECEIPTS = {
    "wrong header": RECEIPT.replace("tlog-proof@v1", "tlog-proof@v2", 1),
    "leading zero index": RECEIPT.replace(f"index {CONTRACT_INDEX}", "index 05", 1),
    "negative index": RECEIPT.replace(f"index {CONTRACT_INDEX}", "index -5", 1),
    "no index": RECEIPT.replace(f"index {CONTRACT_INDEX}\n", "", 1),
    "short proof hash": RECEIPT.replace(
        RECEIPT.split("\n")[2], base64.b64encode(bytes(31)).decode(), 1
    ),
    "bad extra": RECEIPT.replace("\nindex", "\nextra ***\nindex", 1),
    "truncated": RECEIPT.split("\n\n")[0],
    "no checkpoint": RECEIPT.split("\n\n")[0] + "\n\n",
}


@pytest.mark.parametrize("text", MALFORMED_RECEIPTS.values(), ids=MALFORMED_RECEIPTS.keys())
def test_malformed_receipts_are_refused(text: str) -> None:
    with pytest.raises(ReceiptError) as refused:
        parse_receipt(text)
    assert refused.value.reason is ReceiptReason.MALFORMED_RECEIPT


@settings(max_examples=50, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=2**63),
    proof=st.lists(st.binary(min_size=32, max_size=32), max_size=40),
    extra=st.none() | st.binary(max_size=64),
)
def test_receipts_round_trip(index: int, proof: list[bytes], extra: bytes | None) -> None:
    signed = sign_checkpoint(Checkpoint(ORIGIN, 1, bytes(32)), [LOG_KEY])
    receipt = Receipt(index, tuple(proof), signed, extra)
    text = receipt.encode()
    assert parse_receipt(text) == receipt
    assert parse_receipt(text.encode()) == receipt
    assert build_receipt(index, proof, signed, extra) == text


def test_the_worked_example_in_the_docs_is_what_the_code_produces() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "transparency-log.md").read_text(
        encoding="utf-8"
    )
    go_test_seed = bytes.fromhex("810a1402d5146c8d84f2443330f54080ebf98ee17d9c74f6252fc5d5c7283173")
    key = SignerKey("tailguard.example/contracts", go_test_seed)
    pdf = b"%PDF-1.7\n% tailguard worked example\n%%EOF\n"
    contract = contract_document_leaf("HT-2025-000123/v1", pdf)
    leaves = [
        journal_entry_leaf("JE-000001", b"journal entry 1"),
        journal_entry_leaf("JE-000002", b"journal entry 2"),
        contract,
        journal_entry_leaf("JE-000003", b"journal entry 3"),
        journal_entry_leaf("JE-000004", b"journal entry 4"),
    ]
    tree = AppendOnlyTree(InMemoryNodeStore())
    tree.extend(leaf_hash(leaf) for leaf in leaves)
    signed = sign_checkpoint(Checkpoint("tailguard.example/contracts", 5, tree.root()), [key])
    receipt = build_receipt(2, tree.inclusion_proof(2), signed)
    assert f"```\n{receipt}```" in docs
    assert str(key.verifier) in docs
    assert contract.hex() in docs
    assert tree.root().hex() in docs
    for leaf in leaves:
        assert leaf_hash(leaf).hex() in docs
    assert verify_receipt(receipt, contract, [key.verifier]).index == 2
