"""Benchmark of the transparency log's stored Merkle tree, with a same-run baseline.

Run: ``uv run --frozen python benchmarks/bench_transparency_log.py [--quick]``

What it measures, and why each number is printed next to something:

1. Appends: leaves hashed and appended one at a time to `AppendOnlyTree` over the in-memory
   store, in leaves per second, next to the 20,000/s target.
2. A large log (10 million leaves; 2**20 with ``--quick``). Its node store is filled in bulk,
   level by level (numpy lays out the prefixed inputs column-wise, hashlib hashes them), because
   appending ten million leaves one by one would only re-measure (1). Proofs are then served by
   the tree from the stored nodes and timed, next to the 5 ms target.
3. The baseline: the recursive RFC definition (`merkle.inclusion_path`), which recomputes the
   tree from the leaf hashes for every proof. It is measured on 2**16 leaves (2**14 with
   ``--quick``) in this same run, extrapolated linearly to the large size (its cost is O(n)),
   and compared with the stored tree at both sizes.

Times are printed, never asserted: the machine is shared and timings are noisy.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from tailguard.contracts.merkle import (
    inclusion_path,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from tailguard.contracts.tree_store import AppendOnlyTree, InMemoryNodeStore

APPEND_TARGET_LEAVES_PER_S = 20_000
PROOF_TARGET_MS = 5.0
CHUNK_NODES = 1 << 20


def _leaf_data(index: int) -> bytes:
    return b"tailguard bench leaf " + index.to_bytes(8, "big")


def _median_ms(call: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_appends(count: int) -> AppendOnlyTree:
    tree = AppendOnlyTree(InMemoryNodeStore())
    start = time.perf_counter()
    for index in range(count):
        tree.append(leaf_hash(_leaf_data(index)))
    elapsed_s = time.perf_counter() - start
    rate = count / elapsed_s
    print(f"append, one at a time:  {count:>10,} leaves in {elapsed_s:6.2f} s")
    print(
        f"  {rate:,.0f} leaves/s (hash + append); target {APPEND_TARGET_LEAVES_PER_S:,}/s, "
        f"ratio {rate / APPEND_TARGET_LEAVES_PER_S:.1f}x"
    )
    batch = AppendOnlyTree(InMemoryNodeStore())
    hashes = [leaf_hash(_leaf_data(index)) for index in range(count)]
    start = time.perf_counter()
    for offset in range(0, count, 1000):
        batch.extend(hashes[offset : offset + 1000])
    batch_rate = count / (time.perf_counter() - start)
    print(f"  {batch_rate:,.0f} leaves/s (pre-hashed, extend in batches of 1,000)")
    assert batch.root() == tree.root()
    return tree


def _hash_rows(rows: np.ndarray) -> bytes:
    """SHA-256 of each row of a 2-D uint8 array, concatenated."""
    flat = memoryview(rows.tobytes())
    width = rows.shape[1]
    sha256 = hashlib.sha256
    return b"".join([sha256(flat[i : i + width]).digest() for i in range(0, len(flat), width)])


def bulk_build(size: int) -> tuple[InMemoryNodeStore, float]:
    """Fill a store with every complete subtree of a ``size``-leaf log, level by level."""
    store = InMemoryNodeStore()
    start = time.perf_counter()
    for first in range(0, size, CHUNK_NODES):
        indexes = np.arange(first, min(first + CHUNK_NODES, size), dtype=">u8")
        prefix = np.frombuffer(b"tailguard bench leaf ", dtype=np.uint8)
        rows = np.empty((len(indexes), 1 + len(prefix) + 8), dtype=np.uint8)
        rows[:, 0] = 0x00  # RFC 6962 leaf prefix
        rows[:, 1 : 1 + len(prefix)] = prefix
        rows[:, 1 + len(prefix) :] = indexes.view(np.uint8).reshape(-1, 8)
        store.extend_level(0, first, _hash_rows(rows))
    level, count = 0, size
    while count >= 2:
        pairs = count // 2
        for first in range(0, pairs, CHUNK_NODES):
            last = min(first + CHUNK_NODES, pairs)
            children = store.level_bytes(level, 2 * first, 2 * last)
            rows = np.empty((last - first, 65), dtype=np.uint8)
            rows[:, 0] = 0x01  # RFC 6962 node prefix
            rows[:, 1:] = np.frombuffer(children, dtype=np.uint8).reshape(-1, 64)
            store.extend_level(level + 1, first, _hash_rows(rows))
        level, count = level + 1, pairs
    return store, time.perf_counter() - start


def bench_large_log(size: int, repeats: int) -> tuple[float, AppendOnlyTree]:
    store, build_s = bulk_build(size)
    print(
        f"\nbulk build of a {size:,}-leaf store: {build_s:.1f} s, max RSS {_max_rss_mb():,.0f} MB"
    )
    tree = AppendOnlyTree(store, size=size)
    root = tree.root()
    rng = random.Random(6962)
    indexes = [rng.randrange(size) for _ in range(repeats)]

    proofs_ms = []
    for index in indexes:
        start = time.perf_counter()
        proof = tree.inclusion_proof(index)
        proofs_ms.append((time.perf_counter() - start) * 1000)
        verify_inclusion(index, size, leaf_hash(_leaf_data(index)), proof, root)
    proof_ms = statistics.median(proofs_ms)
    print(
        f"inclusion proof from stored nodes, tree of {size:,}: median {proof_ms:.3f} ms "
        f"(p99 {sorted(proofs_ms)[int(0.99 * len(proofs_ms))]:.3f} ms) over {repeats} leaves; "
        f"target < {PROOF_TARGET_MS} ms, {PROOF_TARGET_MS / proof_ms:,.0f}x under it"
    )
    historic = size - rng.randrange(1, size // 3)
    old_root = tree.root(historic)
    consistency_ms = _median_ms(lambda: tree.consistency_proof(historic), repeats)
    verify_consistency(historic, size, old_root, root, tree.consistency_proof(historic))
    historic_proof_ms = _median_ms(
        lambda: tree.inclusion_proof(indexes[0] % historic, historic), repeats
    )
    print(f"consistency proof {historic:,} -> {size:,}: median {consistency_ms:.3f} ms")
    print(f"inclusion proof at historic size {historic:,}: median {historic_proof_ms:.3f} ms")
    print("all timed proofs verified against the stored roots")
    return proof_ms, tree


def bench_baseline(size: int, repeats: int, large: AppendOnlyTree) -> tuple[float, float]:
    hashes = [leaf_hash(_leaf_data(index)) for index in range(size)]
    tree = AppendOnlyTree(InMemoryNodeStore())
    tree.extend(hashes)
    index = size // 3
    # The bulk-built store must agree with the recursive definition on a prefix of its leaves.
    assert tree.root() == root_hash(hashes) == large.root(size)
    assert large.inclusion_proof(index, size) == inclusion_path(index, hashes)
    recompute_ms = _median_ms(lambda: inclusion_path(index, hashes), repeats)
    stored_ms = _median_ms(lambda: tree.inclusion_proof(index), 50 * repeats)
    assert tree.inclusion_proof(index) == inclusion_path(index, hashes)
    print(f"\nbaseline, tree of {size:,} leaves (same run; the bulk-built store agrees with it):")
    print(f"  recompute from leaf hashes (RFC PATH):  {recompute_ms:9.3f} ms per proof")
    print(f"  stored nodes:                           {stored_ms:9.3f} ms per proof")
    print(f"  ratio: stored is {recompute_ms / stored_ms:,.0f}x faster at this size")
    return recompute_ms, stored_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    # benchmarks/run passes its arguments to every script; options of other benchmarks are
    # named and skipped rather than refused, so one command still runs them all.
    args, ignored = parser.parse_known_args(argv)
    if ignored:
        print(f"ignoring arguments meant for other benchmarks: {' '.join(ignored)}")
    append_count = 20_000 if args.quick else 200_000
    large_size = 1 << 20 if args.quick else 10_000_000
    baseline_size = 1 << 14 if args.quick else 1 << 16
    repeats = 200 if args.quick else 1000

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    bench_appends(append_count)
    proof_ms, large = bench_large_log(large_size, repeats)
    recompute_ms, _ = bench_baseline(baseline_size, 5, large)
    extrapolated_ms = recompute_ms * large_size / baseline_size
    print(
        f"\nextrapolated recompute baseline at {large_size:,} leaves (linear in n): "
        f"~{extrapolated_ms / 1000:,.1f} s per proof, vs {proof_ms:.3f} ms from stored nodes: "
        f"ratio ~{extrapolated_ms / proof_ms:,.0f}x (an estimate; the baseline was not run "
        f"at that size)"
    )
    print(f"max RSS {_max_rss_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
