"""The stored tree: same answers as the recursive definitions, at O(log n) store traffic."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailguard.contracts.merkle import (
    ProofError,
    ProofReason,
    consistency_path,
    inclusion_path,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from tailguard.contracts.tree_store import (
    AppendOnlyTree,
    InMemoryNodeStore,
    NodeKey,
    TreeStoreError,
    TreeStoreReason,
    perfect_subtrees,
)

MAX_SIZE = 300
LEAF_HASHES = [leaf_hash(f"entry {i}".encode()) for i in range(MAX_SIZE)]


class CountingStore:
    """Wraps a store and records every call, to check how much a tree reads and writes."""

    def __init__(self) -> None:
        self.inner = InMemoryNodeStore()
        self.get_calls: list[int] = []
        self.put_calls: list[int] = []

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes | None]:
        self.get_calls.append(len(keys))
        return self.inner.get_nodes(keys)

    def put_nodes(self, nodes: Sequence[tuple[NodeKey, bytes]]) -> None:
        self.put_calls.append(len(nodes))
        self.inner.put_nodes(nodes)


@pytest.fixture(scope="module")
def full_tree() -> AppendOnlyTree:
    tree = AppendOnlyTree(InMemoryNodeStore())
    for leaf in LEAF_HASHES:
        tree.append(leaf)
    return tree


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_stored_proofs_equal_the_recursive_definition_and_verify(
    full_tree: AppendOnlyTree, data: st.DataObject
) -> None:
    size = data.draw(st.integers(min_value=1, max_value=MAX_SIZE), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    size1 = data.draw(st.integers(min_value=1, max_value=size), label="size1")
    leaves = LEAF_HASHES[:size]
    root = root_hash(leaves)
    assert full_tree.root(size) == root

    path = full_tree.inclusion_proof(index, size)
    assert path == inclusion_path(index, leaves)
    assert verify_inclusion(index, size, leaves[index], path, root)

    proof = full_tree.consistency_proof(size1, size)
    assert proof == consistency_path(size1, leaves)
    assert verify_consistency(size1, size, root_hash(LEAF_HASHES[:size1]), root, proof)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=0, max_value=MAX_SIZE))
def test_a_tree_grown_to_a_size_has_the_recursive_root(size: int) -> None:
    tree = AppendOnlyTree(InMemoryNodeStore())
    indexes = tree.extend(LEAF_HASHES[:size])
    assert indexes == range(size)
    assert tree.size == size
    assert tree.root() == root_hash(LEAF_HASHES[:size])


def test_appends_write_amortised_constant_nodes_and_read_nothing() -> None:
    store = CountingStore()
    tree = AppendOnlyTree(store)
    leaves = 1000
    for i in range(leaves):
        assert tree.append(leaf_hash(i.to_bytes(4, "big"))) == i
    assert store.get_calls == []
    assert len(store.put_calls) == leaves
    # Leaf i writes itself plus one node per trailing one bit of i.
    trailing_ones = [(i ^ (i + 1)).bit_length() - 1 for i in range(leaves)]
    assert store.put_calls == [1 + ones for ones in trailing_ones]
    assert max(store.put_calls) == 10  # leaf 511 completes subtrees of 2, 4, ... 512 leaves
    assert sum(store.put_calls) == sum(leaves >> level for level in range(11)) < 2 * leaves


def test_every_proof_is_one_batched_read_of_logarithmic_size() -> None:
    store = CountingStore()
    tree = AppendOnlyTree(store)
    size = 1000
    tree.extend(leaf_hash(i.to_bytes(4, "big")) for i in range(size))
    levels = size.bit_length()
    for index in (0, 1, 511, 512, 998, 999):
        for historic in (index + 1, 513, 777, size):
            if index >= historic:
                continue
            store.get_calls.clear()
            tree.inclusion_proof(index, historic)
            assert len(store.get_calls) == (0 if historic == 1 else 1)
            assert sum(store.get_calls) <= 2 * levels
    for size1 in (1, 3, 500, 512, 513, 999):
        store.get_calls.clear()
        tree.consistency_proof(size1, size)
        assert len(store.get_calls) == 1
        assert store.get_calls[0] <= 2 * levels
    store.get_calls.clear()
    assert tree.root() == tree.root(size)  # the current root comes from the frontier
    assert store.get_calls == []


def test_reopening_a_store_gives_the_same_tree() -> None:
    store = InMemoryNodeStore()
    original = AppendOnlyTree(store)
    original.extend(LEAF_HASHES[:77])
    reopened = AppendOnlyTree(store, size=77)
    assert reopened.root() == original.root()
    reopened.extend(LEAF_HASHES[77:100])
    assert reopened.root() == root_hash(LEAF_HASHES[:100])
    assert reopened.inclusion_proof(5, 77) == inclusion_path(5, LEAF_HASHES[:77])
    with pytest.raises(TreeStoreError) as refused:
        AppendOnlyTree(InMemoryNodeStore(), size=3)
    assert refused.value.reason is TreeStoreReason.MISSING_NODE


def test_bulk_loaded_levels_serve_the_same_proofs() -> None:
    appended = InMemoryNodeStore()
    AppendOnlyTree(appended).extend(LEAF_HASHES[:100])
    bulk = InMemoryNodeStore()
    level = 0
    while appended.node_count(level):
        count = appended.node_count(level)
        row = appended.get_nodes([(level, i) for i in range(count)])
        bulk.extend_level(level, 0, b"".join(node for node in row if node is not None))
        level += 1
    tree = AppendOnlyTree(bulk, size=100)
    assert tree.root() == root_hash(LEAF_HASHES[:100])
    assert tree.consistency_proof(37) == consistency_path(37, LEAF_HASHES[:100])
    with pytest.raises(TreeStoreError):
        bulk.extend_level(0, 5, bytes(32))
    with pytest.raises(TreeStoreError):
        bulk.extend_level(0, 100, bytes(31))


def test_the_store_refuses_rewrites_and_gaps_and_stays_untouched() -> None:
    store = InMemoryNodeStore()
    store.put_nodes([((0, 0), LEAF_HASHES[0]), ((0, 1), LEAF_HASHES[1])])
    store.put_nodes([((0, 1), LEAF_HASHES[1])])  # rewriting the same hash is a no-op
    with pytest.raises(TreeStoreError) as rewrite:
        store.put_nodes([((0, 2), LEAF_HASHES[2]), ((0, 1), LEAF_HASHES[2])])
    assert rewrite.value.reason is TreeStoreReason.NODE_REWRITE
    assert store.node_count(0) == 2  # the refused batch wrote nothing
    with pytest.raises(TreeStoreError) as gap:
        store.put_nodes([((0, 3), LEAF_HASHES[3])])
    assert gap.value.reason is TreeStoreReason.NODE_GAP
    with pytest.raises(TreeStoreError) as short:
        store.put_nodes([((0, 2), b"short")])
    assert short.value.reason is TreeStoreReason.BAD_HASH_LENGTH
    with pytest.raises(TreeStoreError):
        store.put_nodes([((-1, 0), LEAF_HASHES[0])])
    assert store.get_nodes([(0, 0), (0, 2), (5, 0), (-1, 0)]) == [LEAF_HASHES[0], None, None, None]


def test_a_bad_leaf_in_a_batch_leaves_the_tree_unchanged() -> None:
    tree = AppendOnlyTree(InMemoryNodeStore())
    tree.extend(LEAF_HASHES[:3])
    with pytest.raises(TreeStoreError):
        tree.extend([LEAF_HASHES[3], b"not a hash"])
    assert tree.size == 3
    assert tree.root() == root_hash(LEAF_HASHES[:3])
    tree.append(LEAF_HASHES[3])
    assert tree.root() == root_hash(LEAF_HASHES[:4])


def test_requests_for_proofs_that_cannot_exist_are_refused(full_tree: AppendOnlyTree) -> None:
    def reason(call: Callable[..., object], *args: int) -> object:
        with pytest.raises((ProofError, TreeStoreError)) as refused:
            call(*args)
        return refused.value.reason

    assert reason(full_tree.inclusion_proof, 10, 10) is ProofReason.INDEX_OUT_OF_RANGE
    assert reason(full_tree.inclusion_proof, 0, MAX_SIZE + 1) is TreeStoreReason.SIZE_BEYOND_TREE
    assert reason(full_tree.consistency_proof, 0, 10) is ProofReason.EMPTY_TREE
    assert reason(full_tree.consistency_proof, 11, 10) is ProofReason.SIZE_DECREASED
    assert reason(full_tree.root, MAX_SIZE + 1) is TreeStoreReason.SIZE_BEYOND_TREE
    assert full_tree.consistency_proof(10, 10) == ()


def test_perfect_subtrees_follow_the_binary_digits_of_the_size() -> None:
    assert perfect_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert perfect_subtrees(8, 14) == [(2, 2), (1, 6)]
    assert perfect_subtrees(5, 5) == []
    with pytest.raises(ValueError):
        perfect_subtrees(3, 7)
