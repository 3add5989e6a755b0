"""RFC 6962 / RFC 9162 Merkle tree hashing, proof generation by definition, and the verifiers.

The log commits to its entries with the Merkle Tree Hash of RFC 9162 §2.1.1, over SHA-256:

- the empty tree hashes to SHA-256("") (no leaf, no prefix);
- a leaf hashes to SHA-256(0x00 || data), an interior node to SHA-256(0x01 || left || right),
  so a leaf can never be passed off as a node (second-preimage protection);
- a list of n > 1 leaves splits at k, the largest power of two strictly smaller than n; there is
  no padding and no duplicated last node (that duplication is what broke Bitcoin's tree).

The generators here (`root_hash`, `inclusion_path`, `consistency_path`) follow the recursive
definitions MTH, PATH and PROOF/SUBPROOF literally and cost O(n) hashes: they are the reference
the stored tree (`tree_store`) is tested against, and what a third party can read next to the RFC.

The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, including the final
``sn == 0`` comparison: without it a proof for a tree of size n would also "prove" the same root
for size 2n. Edge cases follow the strict policy of transparency-dev/merkle:

- a leaf index at or beyond the tree size is refused;
- a consistency proof from size 0 is refused (it would prove nothing);
- a second size smaller than the first is refused;
- equal sizes are consistent only with an empty proof and byte-equal roots;
- every leaf hash, root and proof hash that enters a hash computation must be 32 bytes.

The one place no length is checked is the equal-size case: no hash is computed there, and the
upstream golden test data (transparency-dev/merkle testdata, "sizes are equal (one) and proof is
empty") expects byte-equal roots of any length to be accepted. Roots that come from a parsed
checkpoint are 32 bytes anyway (`checkpoint` refuses anything else).

Convention: every verifier returns ``True`` when the proof holds and raises `ProofError` with a
`ProofReason` otherwise; it never returns ``False``. A caller that forgets to look at the result
therefore cannot mistake a failure for success, and the reason says which check failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum
from typing import Literal

from tailguard.contracts.errors import TransparencyLogError

HASH_SIZE_BYTES = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofReason(StrEnum):
    """Why a proof was refused or could not be produced."""

    BAD_HASH_LENGTH = "bad-hash-length"
    INDEX_OUT_OF_RANGE = "index-out-of-range"
    EMPTY_TREE = "empty-tree"
    SIZE_DECREASED = "size-decreased"
    EMPTY_PROOF = "empty-proof"
    NONEMPTY_PROOF_FOR_EQUAL_SIZES = "nonempty-proof-for-equal-sizes"
    PROOF_TOO_LONG = "proof-too-long"
    PROOF_TOO_SHORT = "proof-too-short"
    ROOT_MISMATCH = "root-mismatch"
    OLD_ROOT_MISMATCH = "old-root-mismatch"
    NEW_ROOT_MISMATCH = "new-root-mismatch"


class ProofError(TransparencyLogError):
    """A Merkle proof that does not hold, or a request for a proof that cannot exist."""

    reason: ProofReason

    def __init__(self, reason: ProofReason, message: str) -> None:
        super().__init__(reason, message)


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one log entry."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node.

    Children of any length are hashed as given (the RFC 6962 hasher test vectors use 4-byte
    children); the verifiers check lengths before they call this.
    """
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """k: the largest power of two strictly smaller than ``size`` (``size`` must be at least 2)."""
    if size < 2:
        raise ValueError(f"a tree of {size} leaves has no split point")
    return 1 << ((size - 1).bit_length() - 1)


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE_BYTES:
        raise ProofError(
            ProofReason.BAD_HASH_LENGTH,
            f"{what} is {len(value)} bytes, a SHA-256 hash is {HASH_SIZE_BYTES}",
        )


def _subtree_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) for 1 <= end - start, by the recursive definition."""
    if end - start == 1:
        return leaf_hashes[start]
    k = split_point(end - start)
    return node_hash(
        _subtree_root(leaf_hashes, start, start + k), _subtree_root(leaf_hashes, start + k, end)
    )


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D_n) of a list of leaf hashes (already passed through `leaf_hash`)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _subtree_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_path(index: int, leaf_hashes: Sequence[bytes]) -> tuple[bytes, ...]:
    """PATH(index, D_n): the audit path of one leaf, listed from the leaf level upward."""
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ProofError(
            ProofReason.INDEX_OUT_OF_RANGE, f"leaf index {index} is outside a tree of {size}"
        )
    top_down: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            top_down.append(_subtree_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            top_down.append(_subtree_root(leaf_hashes, start, start + k))
            start += k
    return tuple(reversed(top_down))


def consistency_path(size1: int, leaf_hashes: Sequence[bytes]) -> tuple[bytes, ...]:
    """PROOF(size1, D_n): why the tree of the first ``size1`` leaves is a prefix of D_n.

    ``size1 == n`` gives the empty proof; ``size1 == 0`` is refused, as the verifier refuses it.
    """
    size2 = len(leaf_hashes)
    if size1 <= 0:
        raise ProofError(ProofReason.EMPTY_TREE, "a consistency proof from size 0 proves nothing")
    if size1 > size2:
        raise ProofError(
            ProofReason.SIZE_DECREASED, f"first size {size1} exceeds second size {size2}"
        )
    # SUBPROOF(m, D[start:end], flag), unrolled: each step appends one hash after the
    # recursive part, so the hashes are collected top-down and reversed at the end.
    top_down: list[bytes] = []
    m, start, end, whole_old_tree = size1, 0, size2, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            top_down.append(_subtree_root(leaf_hashes, start + k, end))
            end = start + k
        else:
            top_down.append(_subtree_root(leaf_hashes, start, start + k))
            m -= k
            start += k
            whole_old_tree = False
    if not whole_old_tree:
        top_down.append(_subtree_root(leaf_hashes, start, end))
    return tuple(reversed(top_down))


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift fn and sn together until fn's lowest bit is set or fn is 0."""
    while fn & 1 == 0 and fn != 0:
        fn >>= 1
        sn >>= 1
    return fn, sn


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> Literal[True]:
    """Check that ``leaf`` (a leaf hash) sits at ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2. Returns True or raises `ProofError`.
    """
    if not 0 <= index < size:
        raise ProofError(
            ProofReason.INDEX_OUT_OF_RANGE, f"leaf index {index} is outside a tree of {size}"
        )
    _check_hash(leaf, "leaf hash")
    _check_hash(root, "root hash")
    for position, element in enumerate(proof):
        _check_hash(element, f"proof hash {position}")
    fn, sn = index, size - 1
    computed = leaf
    for element in proof:
        if sn == 0:
            raise ProofError(ProofReason.PROOF_TOO_LONG, "the proof has more hashes than levels")
        if fn & 1 or fn == sn:
            computed = node_hash(element, computed)
            if fn & 1 == 0:
                fn, sn = _shift_while_even(fn, sn)
        else:
            computed = node_hash(computed, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(ProofReason.PROOF_TOO_SHORT, "the proof stops below the root")
    if computed != root:
        raise ProofError(ProofReason.ROOT_MISMATCH, "the proof leads to a different root")
    return True


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> Literal[True]:
    """Check that the tree of ``size2`` with ``root2`` extends the one of ``size1`` with ``root1``.

    RFC 9162 §2.1.4.2 with the strict edge-case policy of the module docstring. Returns True or
    raises `ProofError`.
    """
    if size1 <= 0:
        raise ProofError(ProofReason.EMPTY_TREE, "a consistency proof from size 0 proves nothing")
    if size2 < size1:
        raise ProofError(
            ProofReason.SIZE_DECREASED, f"second size {size2} is smaller than first size {size1}"
        )
    if size1 == size2:
        if proof:
            raise ProofError(
                ProofReason.NONEMPTY_PROOF_FOR_EQUAL_SIZES, "equal sizes need an empty proof"
            )
        if root1 != root2:
            raise ProofError(ProofReason.ROOT_MISMATCH, "equal sizes but different roots")
        return True
    _check_hash(root1, "first root hash")
    _check_hash(root2, "second root hash")
    for position, element in enumerate(proof):
        _check_hash(element, f"proof hash {position}")
    if not proof:
        raise ProofError(ProofReason.EMPTY_PROOF, "sizes differ but the proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError(ProofReason.PROOF_TOO_LONG, "the proof has more hashes than levels")
        if fn & 1 or fn == sn:
            first = node_hash(element, first)
            second = node_hash(element, second)
            if fn & 1 == 0:
                fn, sn = _shift_while_even(fn, sn)
        else:
            second = node_hash(second, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(ProofReason.PROOF_TOO_SHORT, "the proof stops below the new root")
    if first != root1:
        raise ProofError(ProofReason.OLD_ROOT_MISMATCH, "the proof does not rebuild the old root")
    if second != root2:
        raise ProofError(ProofReason.NEW_ROOT_MISMATCH, "the proof does not rebuild the new root")
    return True
