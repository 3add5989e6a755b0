"""Hypothesis properties of the verifiers: any single changed byte makes a valid proof fail."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailguard.contracts.merkle import (
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tailguard.contracts.tree_store import AppendOnlyTree, InMemoryNodeStore

MAX_SIZE = 200
TREE = AppendOnlyTree(InMemoryNodeStore())
TREE.extend(leaf_hash(i.to_bytes(8, "big")) for i in range(MAX_SIZE))
LEAF_HASHES = [leaf_hash(i.to_bytes(8, "big")) for i in range(MAX_SIZE)]


def _flip(value: bytes, position: int, bit: int) -> bytes:
    changed = bytearray(value)
    changed[position % len(changed)] ^= 1 << bit
    return bytes(changed)


@st.composite
def inclusion_cases(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(min_value=1, max_value=MAX_SIZE))
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def consistency_cases(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(min_value=2, max_value=MAX_SIZE))
    return draw(st.integers(min_value=1, max_value=size2 - 1)), size2


@settings(max_examples=150, deadline=None)
@given(
    case=inclusion_cases(),
    target=st.sampled_from(["leaf", "root", "proof"]),
    position=st.integers(min_value=0, max_value=10_000),
    bit=st.integers(min_value=0, max_value=7),
)
def test_flipping_any_bit_of_an_inclusion_proof_fails(
    case: tuple[int, int], target: str, position: int, bit: int
) -> None:
    index, size = case
    leaf, root = LEAF_HASHES[index], TREE.root(size)
    proof = list(TREE.inclusion_proof(index, size))
    assert verify_inclusion(index, size, leaf, proof, root)
    if target == "proof" and not proof:
        target = "leaf"
    if target == "leaf":
        leaf = _flip(leaf, position, bit)
    elif target == "root":
        root = _flip(root, position, bit)
    else:
        element = position % len(proof)
        proof[element] = _flip(proof[element], position // len(proof), bit)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, proof, root)


@settings(max_examples=150, deadline=None)
@given(
    case=consistency_cases(),
    target=st.sampled_from(["root1", "root2", "proof"]),
    position=st.integers(min_value=0, max_value=10_000),
    bit=st.integers(min_value=0, max_value=7),
)
def test_flipping_any_bit_of_a_consistency_proof_fails(
    case: tuple[int, int], target: str, position: int, bit: int
) -> None:
    size1, size2 = case
    root1, root2 = TREE.root(size1), TREE.root(size2)
    proof = list(TREE.consistency_proof(size1, size2))
    assert verify_consistency(size1, size2, root1, root2, proof)
    if target == "root1":
        root1 = _flip(root1, position, bit)
    elif target == "root2":
        root2 = _flip(root2, position, bit)
    else:
        element = position % len(proof)
        proof[element] = _flip(proof[element], position // len(proof), bit)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, root1, root2, proof)


@settings(max_examples=100, deadline=None)
@given(case=inclusion_cases(), factor=st.integers(min_value=2, max_value=1 << 40))
def test_an_inclusion_proof_for_size_n_does_not_prove_a_larger_tree(
    case: tuple[int, int], factor: int
) -> None:
    # This is what the final sn == 0 check buys: without it the same hashes and root would
    # also "prove" the leaf in a tree of twice (or any multiple of) the size.
    index, size = case
    proof = TREE.inclusion_proof(index, size)
    with pytest.raises(ProofError):
        verify_inclusion(index, size * factor, LEAF_HASHES[index], proof, TREE.root(size))


@settings(max_examples=100, deadline=None)
@given(case=consistency_cases(), factor=st.integers(min_value=2, max_value=1 << 40))
def test_a_consistency_proof_does_not_stretch_to_a_larger_new_size(
    case: tuple[int, int], factor: int
) -> None:
    size1, size2 = case
    proof = TREE.consistency_proof(size1, size2)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2 * factor, TREE.root(size1), TREE.root(size2), proof)


@settings(max_examples=100, deadline=None)
@given(case=consistency_cases(), extra=st.binary(min_size=32, max_size=32))
def test_a_consistency_proof_with_a_hash_added_or_removed_fails(
    case: tuple[int, int], extra: bytes
) -> None:
    size1, size2 = case
    root1, root2 = TREE.root(size1), TREE.root(size2)
    proof = list(TREE.consistency_proof(size1, size2))
    for changed in (proof[:-1], [*proof, extra], [extra, *proof]):
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, root1, root2, changed)
