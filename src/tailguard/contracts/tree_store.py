"""An append-only Merkle tree that keeps its complete-subtree hashes, so proofs cost O(log n).

Why store nodes at all: the recursive definitions in `merkle` rehash the whole tree for every
proof, which is fine for eight test leaves and hopeless for ten million contracts and journal
entries. Every hash a proof needs is either the hash of a *complete* (perfect, power-of-two)
subtree, which never changes once its last leaf is appended, or the hash of a subtree on the
right edge of some historic tree, which is a fold of at most log2(n) complete subtrees. So the
store keeps exactly the complete subtrees, addressed by ``(level, index)``: node ``(L, i)`` is the
hash of leaves ``[i * 2**L, (i + 1) * 2**L)``; level 0 holds the leaf hashes. This is the layout
of the C2SP tlog-tiles hash tiles and of Trillian's compact ranges, flattened to one row per node.

Properties the design keeps:

- Appending leaf i writes the leaf and every subtree it completes: 1 + (number of trailing one
  bits of i) nodes, 2 writes per leaf on average and at most 1 + log2(n) for one leaf. The
  right border of the tree (its "frontier") is kept in memory, so an append reads nothing.
- A proof for any historic size is planned first (which ``(level, index)`` nodes it needs, at most
  about 2·log2(n)), fetched with one `NodeStore.get_nodes` call, and folded. A SQL store can
  answer that call with a single ``WHERE (level, index) IN (...)`` query.
- Nodes are write-once. The in-memory store refuses to overwrite a node with a different hash,
  and a SQL store should make ``(level, index)`` its primary key for the same reason.

`AppendOnlyTree` holds mutable state (its size and frontier) and is meant for one writer at a
time; serialise appends outside it, as the database transaction will.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Protocol

from tailguard.contracts.errors import TransparencyLogError
from tailguard.contracts.merkle import (
    EMPTY_ROOT,
    HASH_SIZE_BYTES,
    ProofError,
    ProofReason,
    node_hash,
    split_point,
)

NodeKey = tuple[int, int]
"""``(level, index)`` of a complete subtree: level 0 is a leaf, level L covers 2**L leaves."""


class TreeStoreReason(StrEnum):
    """Why a tree or store operation was refused."""

    BAD_HASH_LENGTH = "bad-hash-length"
    MISSING_NODE = "missing-node"
    NODE_REWRITE = "node-rewrite"
    NODE_GAP = "node-gap"
    SIZE_BEYOND_TREE = "size-beyond-tree"
    NEGATIVE_KEY = "negative-key"


class TreeStoreError(TransparencyLogError):
    """A store that is missing nodes, or a write that would rewrite or skip history."""

    reason: TreeStoreReason

    def __init__(self, reason: TreeStoreReason, message: str) -> None:
        super().__init__(reason, message)


class NodeStore(Protocol):
    """Where the hashes of complete subtrees live: a table of ``(level, index, hash)``.

    Both calls are batched so that a database store answers one proof or one append in one round
    trip. Implementations must treat nodes as write-once: writing an existing key with the same
    hash is a no-op, with a different hash an error.
    """

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes | None]:
        """The hash stored under each key, in order, or None where there is none."""
        ...

    def put_nodes(self, nodes: Sequence[tuple[NodeKey, bytes]]) -> None:
        """Store each ``(key, hash)``; all or nothing."""
        ...


class InMemoryNodeStore:
    """A `NodeStore` that keeps each level as one contiguous byte array of 32-byte hashes.

    One ``bytearray`` per level (node i at bytes ``[32 i, 32 i + 32)``) costs 32 bytes per node
    and no per-object overhead, so ten million leaves need about 640 MB in all. Because nodes of
    one level complete left to right, a level only ever grows at its end; a write past the end
    (a gap) or over an existing node with another hash is refused.
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = []

    def node_count(self, level: int) -> int:
        """How many nodes of ``level`` are stored."""
        if level >= len(self._levels):
            return 0
        return len(self._levels[level]) // HASH_SIZE_BYTES

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes | None]:
        found: list[bytes | None] = []
        for level, index in keys:
            if level < 0 or index < 0 or level >= len(self._levels):
                found.append(None)
                continue
            start = index * HASH_SIZE_BYTES
            row = self._levels[level]
            found.append(bytes(row[start : start + HASH_SIZE_BYTES]) if start < len(row) else None)
        return found

    def put_nodes(self, nodes: Sequence[tuple[NodeKey, bytes]]) -> None:
        # Validate the whole batch against the current state plus the batch itself first, so
        # that a refused batch leaves the store untouched.
        pending: dict[int, int] = {}
        appends: list[tuple[int, bytes]] = []
        for (level, index), value in nodes:
            if level < 0 or index < 0:
                raise TreeStoreError(TreeStoreReason.NEGATIVE_KEY, f"bad key ({level}, {index})")
            if len(value) != HASH_SIZE_BYTES:
                raise TreeStoreError(
                    TreeStoreReason.BAD_HASH_LENGTH,
                    f"node ({level}, {index}) is {len(value)} bytes",
                )
            count = pending.get(level, self.node_count(level))
            if index == count:
                pending[level] = count + 1
                appends.append((level, value))
            elif index > count:
                raise TreeStoreError(
                    TreeStoreReason.NODE_GAP,
                    f"node ({level}, {index}) would leave a gap at {count}",
                )
            else:
                existing = self._existing(level, index, appends)
                if existing != value:
                    raise TreeStoreError(
                        TreeStoreReason.NODE_REWRITE,
                        f"node ({level}, {index}) is already stored with another hash",
                    )
        for level, value in appends:
            while len(self._levels) <= level:
                self._levels.append(bytearray())
            self._levels[level] += value

    def _existing(self, level: int, index: int, appends: Sequence[tuple[int, bytes]]) -> bytes:
        stored = self.node_count(level)
        if index < stored:
            start = index * HASH_SIZE_BYTES
            return bytes(self._levels[level][start : start + HASH_SIZE_BYTES])
        in_batch = [value for batch_level, value in appends if batch_level == level]
        return in_batch[index - stored]

    def level_bytes(self, level: int, first_index: int, end_index: int) -> bytes:
        """The concatenated hashes of nodes ``[first_index, end_index)`` of one level (bulk)."""
        if not 0 <= first_index <= end_index <= self.node_count(level):
            raise TreeStoreError(
                TreeStoreReason.MISSING_NODE,
                f"level {level} has no nodes [{first_index}, {end_index})",
            )
        row = self._levels[level] if level < len(self._levels) else bytearray()
        return bytes(row[first_index * HASH_SIZE_BYTES : end_index * HASH_SIZE_BYTES])

    def extend_level(self, level: int, first_index: int, hashes: bytes) -> None:
        """Append many consecutive nodes of one level at once (bulk loading, benchmarks).

        ``hashes`` is the concatenation of the 32-byte hashes of nodes ``first_index``,
        ``first_index + 1``, ...; ``first_index`` must be the current end of the level.
        """
        if len(hashes) % HASH_SIZE_BYTES:
            raise TreeStoreError(TreeStoreReason.BAD_HASH_LENGTH, "not a whole number of hashes")
        if first_index != self.node_count(level):
            raise TreeStoreError(
                TreeStoreReason.NODE_GAP,
                f"level {level} ends at {self.node_count(level)}, not {first_index}",
            )
        while len(self._levels) <= level:
            self._levels.append(bytearray())
        self._levels[level] += hashes


def perfect_subtrees(start: int, end: int) -> list[NodeKey]:
    """The complete subtrees that tile the leaves ``[start, end)``, left to right, largest first.

    Only ranges that occur in RFC 6962 trees are asked for: their start is a multiple of the
    largest power of two not above their length, so the tiles follow the binary digits of
    ``end - start``, and folding them from the right gives MTH(D[start:end]).
    """
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"range [{start}, {end}) is not aligned as an RFC 6962 subtree")
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes form PATH(index, D_size), from the leaf upward."""
    top_down: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            top_down.append((start + k, end))
            end = start + k
        else:
            top_down.append((start, start + k))
            start += k
    top_down.reverse()
    return top_down


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes form PROOF(size1, D_size2), in proof order."""
    top_down: list[tuple[int, int]] = []
    m, start, end, whole_old_tree = size1, 0, size2, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            top_down.append((start + k, end))
            end = start + k
        else:
            top_down.append((start, start + k))
            m -= k
            start += k
            whole_old_tree = False
    if not whole_old_tree:
        top_down.append((start, end))
    top_down.reverse()
    return top_down


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from the hashes of its tiles (largest first): H(t0, H(t1, ... t_last))."""
    result = hashes[-1]
    for tile in reversed(hashes[:-1]):
        result = node_hash(tile, result)
    return result


class AppendOnlyTree:
    """The log's Merkle tree over a `NodeStore`: append leaf hashes, prove any historic size."""

    def __init__(self, store: NodeStore, size: int = 0) -> None:
        """Open the tree held by ``store`` with its first ``size`` leaves.

        ``size`` is the tree size the caller knows is complete in the store (for a database, the
        size recorded with the last append). Reading the frontier checks that those nodes exist.
        """
        if size < 0:
            raise TreeStoreError(TreeStoreReason.SIZE_BEYOND_TREE, f"negative size {size}")
        self._store = store
        self._size = size
        self._frontier: list[bytes] = self._fetch(perfect_subtrees(0, size))

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> int:
        """Add one leaf hash (see `merkle.leaf_hash`) and return its index."""
        return self.extend([leaf_hash]).start

    def extend(self, leaf_hashes: Iterable[bytes]) -> range:
        """Add leaf hashes in order with one store write; return the range of their indexes."""
        first = self._size
        size = first
        frontier = list(self._frontier)
        writes: list[tuple[NodeKey, bytes]] = []
        for leaf in leaf_hashes:
            if len(leaf) != HASH_SIZE_BYTES:
                raise TreeStoreError(
                    TreeStoreReason.BAD_HASH_LENGTH, f"leaf hash {size} is {len(leaf)} bytes"
                )
            writes.append(((0, size), leaf))
            current, level, position = leaf, 0, size
            # Each trailing one bit of the index is a left sibling waiting on the frontier:
            # pair it with the new subtree and go up one level.
            while position & 1:
                current = node_hash(frontier.pop(), current)
                level += 1
                position >>= 1
                writes.append(((level, position), current))
            frontier.append(current)
            size += 1
        if writes:
            self._store.put_nodes(writes)
        self._frontier = frontier
        self._size = size
        return range(first, size)

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: the whole tree)."""
        size = self._size if size is None else size
        self._check_size(size)
        if size == 0:
            return EMPTY_ROOT
        if size == self._size:
            return _fold_right(self._frontier)
        return _fold_right(self._fetch(perfect_subtrees(0, size)))

    def inclusion_proof(self, index: int, size: int | None = None) -> tuple[bytes, ...]:
        """PATH(index, D_size) for the tree at ``size`` (default: now), from stored nodes."""
        size = self._size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(
                ProofReason.INDEX_OUT_OF_RANGE, f"leaf index {index} is outside a tree of {size}"
            )
        return self._range_hashes(inclusion_ranges(index, size))

    def consistency_proof(self, size1: int, size2: int | None = None) -> tuple[bytes, ...]:
        """PROOF(size1, D_size2) between two sizes this tree has had, from stored nodes."""
        size2 = self._size if size2 is None else size2
        self._check_size(size2)
        if size1 <= 0:
            raise ProofError(
                ProofReason.EMPTY_TREE, "a consistency proof from size 0 proves nothing"
            )
        if size1 > size2:
            raise ProofError(
                ProofReason.SIZE_DECREASED, f"first size {size1} exceeds second size {size2}"
            )
        return self._range_hashes(consistency_ranges(size1, size2))

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise TreeStoreError(
                TreeStoreReason.SIZE_BEYOND_TREE, f"size {size} is not one this tree has had"
            )

    def _range_hashes(self, ranges: Sequence[tuple[int, int]]) -> tuple[bytes, ...]:
        tiles = [perfect_subtrees(start, end) for start, end in ranges]
        fetched = self._fetch([key for keys in tiles for key in keys])
        result: list[bytes] = []
        offset = 0
        for keys in tiles:
            result.append(_fold_right(fetched[offset : offset + len(keys)]))
            offset += len(keys)
        return tuple(result)

    def _fetch(self, keys: Sequence[NodeKey]) -> list[bytes]:
        if not keys:
            return []
        found = self._store.get_nodes(keys)
        hashes: list[bytes] = []
        for key, value in zip(keys, found, strict=True):
            if value is None:
                raise TreeStoreError(TreeStoreReason.MISSING_NODE, f"node {key} is not stored")
            hashes.append(value)
        return hashes
