"""Candidate pairs from LSH band collisions, by sorting each band's keys - no dict of lists.

One task per band (run through the run's executor, so it scales out on Ray like any other map): sort
the band's key column, find runs of equal keys, emit the pairs inside each run. Pairs are then
de-duplicated and kept only if their estimated Jaccard (signature agreement) reaches the threshold.
Verifying before any union is what stops a chain of chance band collisions from gluing unrelated
documents together.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..executor import worker_state

ALL_PAIRS_UP_TO = 16
"""Buckets with at most this many documents emit every pair; bigger ones (many copies of one text)
emit a star from their lowest row plus a chain of neighbours, so their pair count stays linear."""

_PAIR_CHUNK = 1 << 16
_VERIFY_CHUNK = 1 << 20


def agreement(sig: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of each (left, right) pair: share of equal signature values (chunked)."""
    out = np.empty(len(left), dtype=np.float32)
    for lo in range(0, len(left), _PAIR_CHUNK):
        hi = lo + _PAIR_CHUNK
        out[lo:hi] = np.count_nonzero(sig[left[lo:hi]] == sig[right[lo:hi]], axis=1)
    out /= sig.shape[1] if sig.ndim == 2 and sig.shape[1] else 1
    return out


def bucket_pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of row positions sharing a key, as (first, second) with first < second."""
    # sort (key, row) packed in one uint64 - a plain sort is ~2x faster than argsort. The key loses
    # its low log2(rows) bits: a rare false collision becomes a candidate that verification drops.
    bits = np.uint64(max(1, (len(keys) - 1).bit_length()))
    packed = np.sort(((keys >> bits) << bits) | np.arange(len(keys), dtype=np.uint64))
    order = (packed & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)
    sorted_keys = packed >> bits
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    sizes = np.diff(np.append(starts, len(keys)))
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    small = (sizes > 1) & (sizes <= ALL_PAIRS_UP_TO)
    for size in np.flatnonzero(np.bincount(sizes[small])) if small.any() else []:
        base = starts[small & (sizes == size)]
        i, j = np.triu_indices(int(size), 1)
        left.append(order[(base[:, None] + i[None, :]).ravel()])
        right.append(order[(base[:, None] + j[None, :]).ravel()])
    large = np.flatnonzero(sizes > ALL_PAIRS_UP_TO)
    if len(large):
        # star from the bucket's lowest row (earlier runs and earlier input come first) + neighbour chain
        anchors = np.minimum.reduceat(order, starts)[large]
        member = np.concatenate([np.arange(starts[b], starts[b] + sizes[b]) for b in large.tolist()])
        bucket = np.repeat(np.arange(len(large)), sizes[large])
        left += [anchors[bucket], order[member[:-1]][bucket[1:] == bucket[:-1]]]
        right += [order[member], order[member[1:]][bucket[1:] == bucket[:-1]]]
    if not left:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    a, b = np.concatenate(left), np.concatenate(right)
    keep = a != b
    return np.minimum(a, b)[keep], np.maximum(a, b)[keep]


def band_task(band: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs of one band, as rows of the shared ``keys`` (rows x bands); pairs among the
    first ``n_fixed`` rows (earlier-run documents, all kept already) are skipped."""
    state: dict[str, Any] = worker_state()
    left, right = bucket_pairs(state["keys"][:, band])
    fresh = right >= state["n_fixed"]
    return left[fresh], right[fresh]


def verify_task(pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Estimated Jaccard of a chunk of pairs, from the shared signatures."""
    return agreement(worker_state()["sig"], pairs[0], pairs[1])


def candidate_pairs(executor: Any, keys: np.ndarray, sig: np.ndarray, threshold: float, n_fixed: int = 0):
    """Verified pairs over every band: (left, right, similarity), each pair once, sorted.

    Band collisions are gathered per band (one task each), de-duplicated by sorting pair codes,
    then verified once per pair (chunks as tasks) - only pairs at or above ``threshold`` remain.
    """
    empty = np.empty(0, dtype=np.int64)
    parts = list(executor.map(band_task, range(keys.shape[1]), {"keys": keys, "n_fixed": n_fixed}))
    if not parts:
        return empty, empty, np.empty(0, dtype=np.float32)
    code = np.sort(np.concatenate([p[0].astype(np.int64) * len(keys) + p[1] for p in parts]))
    code = code[np.concatenate(([True], code[1:] != code[:-1]))] if len(code) else code  # each pair once
    left, right = code // max(1, len(keys)), code % max(1, len(keys))
    chunks = [(left[i : i + _VERIFY_CHUNK], right[i : i + _VERIFY_CHUNK]) for i in range(0, len(left), _VERIFY_CHUNK)]
    similarity = np.concatenate(list(executor.map(verify_task, chunks, {"sig": sig}))) if chunks else np.empty(0, np.float32)
    keep = similarity >= threshold
    return left[keep], right[keep], similarity[keep]
