"""Conformance of the Merkle tree code against every vector in rfc6962_vectors.json.

The vectors were published by others (transparency-dev/merkle, google/certificate-transparency,
Trillian, the RFC's own example); the `derived_*` sections were generated from the published
leaves and checked against the published roots. Both the recursive reference (`merkle`) and the
stored tree (`tree_store`) must reproduce them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tailguard.contracts.merkle import (
    EMPTY_ROOT,
    ProofError,
    ProofReason,
    consistency_path,
    inclusion_path,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from tailguard.contracts.tree_store import AppendOnlyTree, InMemoryNodeStore

VECTOR_FILE = Path(__file__).parent / "data" / "rfc6962_vectors.json"
SHARED_VECTOR_FILE = (
    Path(__file__).resolve().parents[2].parent / "shared/reference/rfc6962_vectors.json"
)
VECTORS: dict[str, Any] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))

LEAVES = [bytes.fromhex(value) for value in VECTORS["leaves_hex"]]
LEAF_HASHES = [leaf_hash(data) for data in LEAVES]


def _hashes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


def _stored_tree(size: int) -> AppendOnlyTree:
    tree = AppendOnlyTree(InMemoryNodeStore())
    tree.extend(LEAF_HASHES[:size])
    return tree


def _accepts(check: Any, *args: Any) -> bool:
    try:
        return bool(check(*args))
    except ProofError:
        return False


def test_the_local_copy_equals_the_shared_reference() -> None:
    if not SHARED_VECTOR_FILE.exists():
        pytest.skip("shared/reference is not beside this checkout")
    assert VECTOR_FILE.read_bytes() == SHARED_VECTOR_FILE.read_bytes()


@pytest.mark.parametrize("vector", VECTORS["hasher_vectors"], ids=lambda v: v["desc"])
def test_hasher_vectors(vector: dict[str, Any]) -> None:
    want = bytes.fromhex(vector["hash_hex"])
    desc = vector["desc"]
    if desc == "RFC6962 Empty":
        assert root_hash([]) == EMPTY_ROOT == want
    elif desc == "RFC6962 Empty Leaf":
        assert leaf_hash(b"") == want
    elif desc == "RFC6962 Leaf":
        assert leaf_hash(b"L123456") == want
    elif desc == "RFC6962 Node":
        assert node_hash(b"N123", b"N456") == want
    elif desc == "leaf":
        assert leaf_hash(bytes.fromhex(vector["input_hex"])) == want
    else:
        assert desc == "node"
        left, right = bytes.fromhex(vector["left_hex"]), bytes.fromhex(vector["right_hex"])
        assert node_hash(left, right) == want


def test_the_eight_leaf_hashes() -> None:
    assert [h.hex() for h in LEAF_HASHES] == VECTORS["leaf_hashes_hex"]


@pytest.mark.parametrize("size", range(9))
def test_roots_for_sizes_zero_to_eight(size: int) -> None:
    want = VECTORS["roots_by_size"][str(size)]
    assert root_hash(LEAF_HASHES[:size]).hex() == want
    assert _stored_tree(size).root().hex() == want
    assert _stored_tree(8).root(size).hex() == want


def test_every_interior_node_hash() -> None:
    store = InMemoryNodeStore()
    AppendOnlyTree(store).extend(LEAF_HASHES)
    levels = VECTORS["node_hashes_by_level"]
    assert sorted(levels) == ["0", "1", "2", "3"]
    for level_text, nodes in levels.items():
        level = int(level_text)
        width = 1 << level
        for index, want in enumerate(nodes):
            assert root_hash(LEAF_HASHES[index * width : (index + 1) * width]).hex() == want
            assert store.get_nodes([(level, index)]) == [bytes.fromhex(want)]
        assert store.node_count(level) == len(nodes)


@pytest.mark.parametrize(
    "vector", VECTORS["inclusion_proofs"], ids=lambda v: f"{v['index']}-of-{v['size']}"
)
def test_published_inclusion_proofs(vector: dict[str, Any]) -> None:
    index, size = vector["index"], vector["size"]
    assert leaf_hash(bytes.fromhex(vector["leaf_hex"])).hex() == vector["leaf_hash_hex"]
    assert [h.hex() for h in inclusion_path(index, LEAF_HASHES[:size])] == vector["path_hex"]
    assert [h.hex() for h in _stored_tree(size).inclusion_proof(index)] == vector["path_hex"]
    assert verify_inclusion(
        index,
        size,
        bytes.fromhex(vector["leaf_hash_hex"]),
        _hashes(vector["path_hex"]),
        bytes.fromhex(vector["root_hex"]),
    )


@pytest.mark.parametrize(
    "vector", VECTORS["consistency_proofs"], ids=lambda v: f"{v['size1']}-to-{v['size2']}"
)
def test_published_consistency_proofs(vector: dict[str, Any]) -> None:
    size1, size2 = vector["size1"], vector["size2"]
    generated = consistency_path(size1, LEAF_HASHES[:size2])
    assert [h.hex() for h in generated] == vector["proof_hex"]
    stored = _stored_tree(size2).consistency_proof(size1)
    assert [h.hex() for h in stored] == vector["proof_hex"]
    assert verify_consistency(
        size1,
        size2,
        bytes.fromhex(vector["root1_hex"]),
        bytes.fromhex(vector["root2_hex"]),
        _hashes(vector["proof_hex"]),
    )


def test_the_rfc_seven_leaf_example() -> None:
    example = VECTORS["rfc_worked_example_7_leaves"]
    named = {name: bytes.fromhex(value) for name, value in example["named_nodes_hex"].items()}
    a, b, c, d, e, f, j = LEAF_HASHES[:7]
    assert (named["a"], named["b"], named["c"], named["d"]) == (a, b, c, d)
    assert (named["e"], named["f"], named["j"]) == (e, f, j)
    assert named["g"] == node_hash(a, b)
    assert named["h"] == node_hash(c, d)
    assert named["i"] == node_hash(e, f)
    assert named["k"] == node_hash(named["g"], named["h"])
    assert named["l"] == node_hash(named["i"], j)
    assert named["root"] == node_hash(named["k"], named["l"]) == root_hash(LEAF_HASHES[:7])

    tree = _stored_tree(7)
    pattern = re.compile(r"(PATH|PROOF)\((\d+),D7\)=\[([a-z,]+)\]")
    assert len(example["checks_passed"]) == 7
    for check in example["checks_passed"]:
        match = pattern.fullmatch(check)
        assert match is not None, check
        kind, number, names = match.group(1), int(match.group(2)), match.group(3).split(",")
        want = tuple(named[name] for name in names)
        if kind == "PATH":
            assert inclusion_path(number, LEAF_HASHES[:7]) == want
            assert tree.inclusion_proof(number) == want
            assert verify_inclusion(number, 7, LEAF_HASHES[number], want, named["root"])
        else:
            assert consistency_path(number, LEAF_HASHES[:7]) == want
            assert tree.consistency_proof(number) == want
            old_root = root_hash(LEAF_HASHES[:number])
            assert verify_consistency(number, 7, old_root, named["root"], want)


def test_the_real_certificate_transparency_proof() -> None:
    vector = VECTORS["real_world_ct_inclusion"]
    leaf = leaf_hash(bytes.fromhex(vector["leaf_hex"]))
    assert leaf.hex() == vector["leaf_hash_hex"]
    path = _hashes(vector["path_hex"])
    root = bytes.fromhex(vector["root_hex"])
    assert (vector["index"], vector["size"]) == (848049, 3630887)
    assert verify_inclusion(vector["index"], vector["size"], leaf, path, root)
    # The same proof must not hold one leaf over, nor for a tree twice the size.
    assert not _accepts(verify_inclusion, vector["index"] + 1, vector["size"], leaf, path, root)
    assert not _accepts(verify_inclusion, vector["index"], vector["size"] * 2, leaf, path, root)


GOLDEN_INCLUSION = VECTORS["golden_probes"]["inclusion"]
GOLDEN_CONSISTENCY = VECTORS["golden_probes"]["consistency"]


def _golden_id(probe: dict[str, Any]) -> str:
    return f"{probe['file'].removeprefix('testdata/')}:{probe['desc']}"


@pytest.mark.parametrize("probe", GOLDEN_INCLUSION, ids=_golden_id)
def test_golden_inclusion_probe(probe: dict[str, Any]) -> None:
    accepted = _accepts(
        verify_inclusion,
        probe["leaf_index"],
        probe["tree_size"],
        bytes.fromhex(probe["leaf_hash_hex"]),
        _hashes(probe["proof_hex"]),
        bytes.fromhex(probe["root_hex"]),
    )
    assert accepted is probe["want_valid"]


@pytest.mark.parametrize("probe", GOLDEN_CONSISTENCY, ids=_golden_id)
def test_golden_consistency_probe(probe: dict[str, Any]) -> None:
    accepted = _accepts(
        verify_consistency,
        probe["size1"],
        probe["size2"],
        bytes.fromhex(probe["root1_hex"]),
        bytes.fromhex(probe["root2_hex"]),
        _hashes(probe["proof_hex"]),
    )
    assert accepted is probe["want_valid"]


def test_golden_probe_totals() -> None:
    probes = GOLDEN_INCLUSION + GOLDEN_CONSISTENCY
    assert len(probes) == 196
    assert sum(not probe["want_valid"] for probe in probes) == 184
    assert sum(probe["want_valid"] for probe in probes) == 12


@pytest.mark.parametrize(
    "case",
    VECTORS["ct_python_consistency_cases"]["cases"],
    ids=lambda c: f"{c['test']}-{c['size1']}-{c['size2']}-{c['root1_hex'][-2:]}",
)
def test_ct_python_consistency_cases_under_the_strict_policy(case: dict[str, Any]) -> None:
    accepted = _accepts(
        verify_consistency,
        case["size1"],
        case["size2"],
        bytes.fromhex(case["root1_hex"]),
        bytes.fromhex(case["root2_hex"]),
        _hashes(case["proof_hex"]),
    )
    assert accepted is case["strict_valid"]


def test_the_wrong_32_byte_old_root_is_named_as_such() -> None:
    case = next(
        c
        for c in VECTORS["ct_python_consistency_cases"]["cases"]
        if c["test"] == "test_verify_tree_consistency_bad_first_hash"
    )
    assert len(bytes.fromhex(case["root1_hex"])) == 32
    with pytest.raises(ProofError) as refused:
        verify_consistency(
            case["size1"],
            case["size2"],
            bytes.fromhex(case["root1_hex"]),
            bytes.fromhex(case["root2_hex"]),
            _hashes(case["proof_hex"]),
        )
    assert refused.value.reason is ProofReason.OLD_ROOT_MISMATCH


DERIVED_INCLUSION = VECTORS["derived_inclusion_proofs_all"]["proofs"]
DERIVED_CONSISTENCY = VECTORS["derived_consistency_proofs_all"]["proofs"]


def test_derived_sections_are_complete() -> None:
    assert {(p["index"], p["size"]) for p in DERIVED_INCLUSION} == {
        (i, n) for n in range(1, 9) for i in range(n)
    }
    assert {(p["size1"], p["size2"]) for p in DERIVED_CONSISTENCY} == {
        (m, n) for n in range(1, 9) for m in range(1, n)
    }


@pytest.mark.parametrize("vector", DERIVED_INCLUSION, ids=lambda v: f"{v['index']}-of-{v['size']}")
def test_derived_inclusion_proofs(vector: dict[str, Any]) -> None:
    index, size = vector["index"], vector["size"]
    want = tuple(_hashes(vector["path_hex"]))
    assert inclusion_path(index, LEAF_HASHES[:size]) == want
    assert _stored_tree(8).inclusion_proof(index, size) == want
    root = bytes.fromhex(VECTORS["roots_by_size"][str(size)])
    assert verify_inclusion(index, size, LEAF_HASHES[index], want, root)


@pytest.mark.parametrize(
    "vector", DERIVED_CONSISTENCY, ids=lambda v: f"{v['size1']}-to-{v['size2']}"
)
def test_derived_consistency_proofs(vector: dict[str, Any]) -> None:
    size1, size2 = vector["size1"], vector["size2"]
    want = tuple(_hashes(vector["proof_hex"]))
    assert consistency_path(size1, LEAF_HASHES[:size2]) == want
    assert _stored_tree(8).consistency_proof(size1, size2) == want
    root1 = bytes.fromhex(VECTORS["roots_by_size"][str(size1)])
    root2 = bytes.fromhex(VECTORS["roots_by_size"][str(size2)])
    assert verify_consistency(size1, size2, root1, root2, want)
    # Swapped roots must fail: the proof binds which tree is the older one.
    assert not _accepts(verify_consistency, size1, size2, root2, root1, want)


def _reason(check: Any, *args: Any) -> ProofReason:
    with pytest.raises(ProofError) as refused:
        check(*args)
    return refused.value.reason


def test_edge_case_policy_reasons() -> None:
    root8 = root_hash(LEAF_HASHES)
    root4 = root_hash(LEAF_HASHES[:4])
    proof = inclusion_path(0, LEAF_HASHES)
    assert _reason(verify_inclusion, 8, 8, LEAF_HASHES[0], proof, root8) is (
        ProofReason.INDEX_OUT_OF_RANGE
    )
    assert _reason(verify_inclusion, 0, 8, LEAF_HASHES[0][:31], proof, root8) is (
        ProofReason.BAD_HASH_LENGTH
    )
    assert _reason(verify_inclusion, 0, 8, LEAF_HASHES[0], proof, root8 + b"\x00") is (
        ProofReason.BAD_HASH_LENGTH
    )
    assert _reason(verify_inclusion, 0, 8, LEAF_HASHES[0], [*proof, root8], root8) is (
        ProofReason.PROOF_TOO_LONG
    )
    assert _reason(verify_inclusion, 0, 8, LEAF_HASHES[0], proof[:-1], root8) is (
        ProofReason.PROOF_TOO_SHORT
    )
    assert _reason(verify_consistency, 0, 8, EMPTY_ROOT, root8, []) is ProofReason.EMPTY_TREE
    assert _reason(verify_consistency, 8, 4, root8, root4, []) is ProofReason.SIZE_DECREASED
    assert _reason(verify_consistency, 4, 4, root4, root4, [root4]) is (
        ProofReason.NONEMPTY_PROOF_FOR_EQUAL_SIZES
    )
    assert _reason(verify_consistency, 4, 4, root4, root8, []) is ProofReason.ROOT_MISMATCH
    assert _reason(verify_consistency, 4, 8, root4, root8, []) is ProofReason.EMPTY_PROOF
    assert verify_consistency(4, 4, root4, root4, [])
    with pytest.raises(ProofError):
        consistency_path(0, LEAF_HASHES)
    with pytest.raises(ProofError):
        consistency_path(9, LEAF_HASHES)
    with pytest.raises(ProofError):
        inclusion_path(8, LEAF_HASHES)
    assert consistency_path(8, LEAF_HASHES) == ()
