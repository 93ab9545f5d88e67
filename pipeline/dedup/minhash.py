"""MinHash signatures for a batch (one compiled call) and LSH band keys.

Two backends, same shingles:

* ``rensa`` (default): ``RMinHash.digest_matrix_from_flat_token_hashes`` computes every signature
  of the batch in Rust from one flat uint64 shingle buffer and row offsets.
* ``datasketch``: numpy implementation of ``datasketch.MinHash``'s default ``affine32`` scheme
  (MurmurHash3 32-bit pre-mix, then ``a*h + b mod 2^32`` per permutation, minimum per document).
  Signatures are bit-identical to ``datasketch.MinHash(num_perm, seed, hashfunc=...)`` fed the
  same 32-bit shingle hashes (tested), so they can go into a datasketch LSH index.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import version

import numpy as np

from ..disk_cache import remembered
from .shingles import fmix, fmix64

_EMPTY = np.uint32(0xFFFFFFFF)


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) for ``threshold``: datasketch's optimiser (equal false-positive/negative weight).
    Remembered on disk per datasketch/scipy version: importing datasketch (and scipy.integrate) for
    it was a fifth of a run's start-up."""
    versions = "/".join(f"{package}-{version(package)}" for package in ("datasketch", "scipy"))
    bands, rows = remembered(
        "lsh-params", f"{threshold!r}/{num_perm}/{versions}", lambda: _optimal_param(threshold, num_perm),
        valid=lambda v: isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and x > 0 for x in v),
    )
    return int(bands), int(rows)


def _optimal_param(threshold: float, num_perm: int) -> list[int]:
    from datasketch.lsh import _optimal_param

    return [int(v) for v in _optimal_param(threshold, num_perm, 0.5, 0.5)]


@lru_cache(maxsize=8)
def datasketch_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` exactly as ``datasketch.MinHash._init_permutations`` draws them for affine32."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def shingles32(shingles: np.ndarray) -> np.ndarray:
    """The 32-bit shingle hashes the datasketch backend uses (low half of the 64-bit hash)."""
    return (shingles & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def signatures_datasketch(shingles: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """(docs, num_perm) uint32 signatures, bit-identical to datasketch's affine32 MinHash."""
    a, b = datasketch_permutations(num_perm, seed)
    n_docs = len(offsets) - 1
    out = np.full((n_docs, num_perm), _EMPTY, dtype=np.uint32)
    hv = fmix(shingles32(shingles), 32)
    counts = np.diff(offsets)
    nonempty = np.flatnonzero(counts > 0)
    if len(nonempty) == 0:
        return out
    chunk = max(1, (1 << 22) // num_perm)  # bound the (shingles x perms) temporary to ~16 MB
    starts = offsets[nonempty]
    mins = np.full((len(nonempty), num_perm), _EMPTY, dtype=np.uint32)
    for lo in range(0, len(hv), chunk):
        hi = min(len(hv), lo + chunk)
        phv = hv[lo:hi, None] * a[None, :] + b[None, :]
        # documents overlapping [lo, hi): reduce each one's rows in this chunk
        first = np.searchsorted(offsets[nonempty + 1], lo, side="right")
        last = np.searchsorted(starts, hi, side="left")
        if first >= last:
            continue
        seg = np.clip(starts[first:last], lo, hi) - lo
        part = np.minimum.reduceat(phv, seg, axis=0)
        np.minimum(mins[first:last], part, out=mins[first:last])
    out[nonempty] = mins
    return out


def signatures_rensa(shingles: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """(docs, num_perm) uint32 signatures from rensa's batch kernel (R-MinHash)."""
    from rensa import RMinHash

    if len(offsets) <= 1:
        return np.empty((0, num_perm), dtype=np.uint32)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(
        np.ascontiguousarray(shingles, dtype=np.uint64), offsets.astype(np.uint64), num_perm, seed
    )
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(offsets) - 1, num_perm)


def signatures(backend: str, shingles: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    if backend == "datasketch":
        return signatures_datasketch(shingles, offsets, num_perm, seed)
    return signatures_rensa(shingles, offsets, num_perm, seed)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(docs, bands) uint64: one hash per band of ``rows`` signature values."""
    view = sig[:, : bands * rows].reshape(len(sig), bands, rows).astype(np.uint64)
    keys = np.zeros((len(sig), bands), dtype=np.uint64)
    for r in range(rows):
        keys = fmix64(keys * np.uint64(0x100000001B3) + view[:, :, r])
    return keys


def compact(sig: np.ndarray) -> np.ndarray:
    """Low 16 bits of each signature value: enough to estimate Jaccard (false agreement 2^-16)."""
    return (sig & np.uint32(0xFFFF)).astype(np.uint16)
