"""The cross-run index of kept documents: plain numpy files in append-only segments, never pickles.

A segment is a directory of ``exact.npy`` (uint64 hash of the normalised text), ``keys.npy``
(uint64 LSH band keys, docs x bands), ``sig.npy`` (uint16 low halves of the MinHash values, for
verifying candidates), ``shingled.npy`` (bool: the document has at least one shingle),
``id_offsets.npy`` + ``ids.bin`` (document ids, UTF-8, concatenated). Segments are written once,
fsync-ed, and only become part of the index when the state manifest names them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..writers import fsync_dir


@dataclass
class IndexArrays:
    exact: np.ndarray
    keys: np.ndarray
    sig: np.ndarray
    shingled: np.ndarray

    def __len__(self) -> int:
        return len(self.exact)


def _save(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def write_segment(directory: Path, arrays: IndexArrays, ids: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    encoded = [i.encode("utf-8", "surrogatepass") for i in ids]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    _save(directory / "exact.npy", arrays.exact.astype(np.uint64))
    _save(directory / "keys.npy", arrays.keys.astype(np.uint64))
    _save(directory / "sig.npy", arrays.sig.astype(np.uint16))
    _save(directory / "shingled.npy", arrays.shingled.astype(bool))
    _save(directory / "id_offsets.npy", offsets)
    with open(directory / "ids.bin", "wb") as fh:
        fh.write(b"".join(encoded))
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(directory)


def _blob(path: Path) -> np.ndarray:
    if path.stat().st_size == 0:
        return np.empty(0, dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r")


class Index:
    """The committed segments, concatenated in commit order (earlier runs first)."""

    def __init__(self, directories: list[Path], bands: int, num_perm: int):
        def load(name: str) -> list[np.ndarray]:
            return [np.load(d / name, allow_pickle=False) for d in directories]

        def joined(parts: list[np.ndarray], empty: np.ndarray) -> np.ndarray:
            return np.concatenate(parts) if parts else empty

        self.arrays = IndexArrays(
            exact=joined(load("exact.npy"), np.empty(0, dtype=np.uint64)),
            keys=joined(load("keys.npy"), np.empty((0, bands), dtype=np.uint64)),
            sig=joined(load("sig.npy"), np.empty((0, num_perm), dtype=np.uint16)),
            shingled=joined(load("shingled.npy"), np.empty(0, dtype=bool)),
        )
        self._id_files = [(np.load(d / "id_offsets.npy", mmap_mode="r"), _blob(d / "ids.bin")) for d in directories]
        self._starts = np.cumsum([0] + [len(o) - 1 for o, _ in self._id_files])

    def __len__(self) -> int:
        return len(self.arrays)

    def ids(self, rows: np.ndarray) -> dict[int, str]:
        """Ids of the given rows (only those are read from disk)."""
        out: dict[int, str] = {}
        for row in np.unique(rows).tolist():
            seg = int(np.searchsorted(self._starts, row, side="right")) - 1
            offsets, blob = self._id_files[seg]
            local = row - int(self._starts[seg])
            lo, hi = int(offsets[local]), int(offsets[local + 1])
            out[row] = bytes(blob[lo:hi]).decode("utf-8", "surrogatepass")
        return out
