"""dedup: remove exact and near-duplicate documents, keep one per cluster, and say which and why.

A global stage. Workers ``sign`` each batch: token hashes of the normalised text (lowercased,
punctuation-insensitive), an exact hash, MinHash signatures of word n-gram shingles (rensa's batch
kernel, or a numpy port of datasketch's scheme) and their LSH band keys - compact numpy arrays, no
text. The main process ``resolve``-s: exact groups first, then LSH candidates per band (tasks on the
run's executor), verified by estimated Jaccard, clustered with union-find, one keeper per cluster.

With ``--state DIR`` the kept documents' hashes, band keys and compact signatures are appended to
an on-disk index, so the next run also removes copies of documents from earlier runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ..dedup import clusters, lsh, minhash, shingles
from ..dedup.index import Index, IndexArrays, write_segment
from ..document import Document, Duplicate
from ..state import StateError
from .base import GlobalStage, StageConfig

INDEX_FORMAT = 1


class DedupConfig(StageConfig):
    exact: bool = True
    """Remove documents whose normalised text (case, punctuation, whitespace ignored) was seen."""
    near: bool = True
    """Remove near-duplicates: MinHash + LSH over word shingles, verified by estimated Jaccard."""
    shingle_size: int = Field(5, ge=1, le=16)
    num_perm: int = Field(128, ge=8, le=1024)
    threshold: float = Field(0.4, gt=0.0, le=1.0)
    """Estimated Jaccard similarity of shingle sets from which two documents are duplicates."""
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    """LSH bands x rows; by default datasketch's optimiser picks them for ``threshold``."""
    seed: int = Field(1, ge=0)
    backend: Literal["rensa", "datasketch"] = "rensa"
    verify: Literal["keeper", "pairs"] = "keeper"
    """``pairs``: union candidate pairs at or above the threshold. ``keeper``: also every removed
    document must reach the threshold against its cluster's keeper."""
    keep: str = "first"
    """Which document of a cluster stays: ``first`` (input order), ``longest``, or a metadata field
    (largest value wins, missing values lose, ties go to input order)."""

    @model_validator(mode="after")
    def _bands_rows(self) -> "DedupConfig":
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self


@dataclass
class DedupSignature:
    """What ``sign`` hands back per batch: fixed-size numbers per document, no text."""

    exact: np.ndarray  # uint64
    keys: np.ndarray  # uint64, docs x bands (zeros when near-dedup is off)
    sig: np.ndarray  # uint16, docs x num_perm: low halves of the MinHash values
    shingled: np.ndarray  # bool: the document has at least one shingle
    length: np.ndarray  # int64 characters, for keep: longest
    keep_values: list[Any] | None  # the keep field's value per document


def _field_value(doc: Document, field: str) -> Any:
    """``field`` from the input metadata, else from stage annotations (dotted: ``quality.score``)."""
    if field in doc.metadata:
        return doc.metadata[field]
    node: Any = {**doc.annotations, **doc.metadata}
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def keep_rank(policy: str, length: np.ndarray, values: list[Any] | None) -> np.ndarray:
    """Rank of every document (0 = kept first) under the ``keep`` policy; ties go to input order."""
    n = len(length)
    order_in = np.arange(n)
    if policy == "first":
        return order_in
    if policy == "longest":
        order = np.lexsort((order_in, -length))
    else:
        assert values is not None

        def key(i: int) -> tuple:
            v = values[i]
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                return (2, 0.0, (), i)  # missing or unusable values lose
            if isinstance(v, str):
                return (1, 0.0, _descending(v), i)
            return (0, -float(v), (), i)

        order = np.array(sorted(range(n), key=key), dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


def _descending(text: str) -> tuple[int, ...]:
    """Sort key under which larger strings come first (ISO dates: latest first)."""
    return tuple(-ord(c) for c in text) + (1,)


class Dedup(GlobalStage):
    name = "dedup"
    Config = DedupConfig

    def __init__(self, config: DedupConfig | None = None, context: Any = None):
        super().__init__(config, context)
        cfg: DedupConfig = self.config  # type: ignore[assignment]
        if cfg.bands is not None:
            self.bands, self.rows = cfg.bands, int(cfg.rows or 0)
        else:
            self.bands, self.rows = minhash.lsh_params(cfg.threshold, cfg.num_perm)
        self._report: dict[str, Any] = {"bands": self.bands, "rows": self.rows}

    # -- workers --------------------------------------------------------------------------------
    def sign(self, batch: list[Document]) -> DedupSignature:
        cfg: DedupConfig = self.config  # type: ignore[assignment]
        tokens = shingles.tokenize([d.text for d in batch])
        n = len(batch)
        if cfg.near:
            flat, offsets = shingles.shingle_hashes(tokens, cfg.shingle_size)
            sig = minhash.signatures(cfg.backend, flat, offsets, cfg.num_perm, cfg.seed)
            keys = minhash.band_keys(sig, self.bands, self.rows)
            compact = minhash.compact(sig)
            shingled = np.diff(offsets) > 0
        else:
            keys = np.zeros((n, self.bands), dtype=np.uint64)
            compact = np.zeros((n, cfg.num_perm), dtype=np.uint16)
            shingled = np.zeros(n, dtype=bool)
        keep_values = None
        if cfg.keep not in ("first", "longest"):
            keep_values = [_field_value(d, cfg.keep) for d in batch]
        return DedupSignature(
            exact=shingles.exact_hashes(tokens),
            keys=keys,
            sig=compact,
            shingled=shingled,
            length=np.fromiter((len(d.text) for d in batch), dtype=np.int64, count=n),
            keep_values=keep_values,
        )

    # -- main process ---------------------------------------------------------------------------
    def _params(self) -> dict[str, Any]:
        cfg: DedupConfig = self.config  # type: ignore[assignment]
        return {
            "format": INDEX_FORMAT,
            "shingle_size": cfg.shingle_size,
            "num_perm": cfg.num_perm,
            "bands": self.bands,
            "rows": self.rows,
            "seed": cfg.seed,
            "backend": cfg.backend,
        }

    def _earlier(self) -> tuple[Index | None, dict[str, Any] | None]:
        state = self.context.state if self.context else None
        if state is None:
            return None, None
        meta = state.component(self.name)
        if meta is None:
            if state.readonly:
                raise StateError(f"state {state.path} has no dedup index to compare against")
            return None, None
        params = self._params()
        for key, value in params.items():
            if meta.get("params", {}).get(key) != value:
                raise StateError(
                    f"state {state.path} was built with dedup {key}={meta.get('params', {}).get(key)!r}, "
                    f"this run has {value!r}; use the same dedup settings or a new --state directory"
                )
        index = Index([state.file(s) for s in meta["segments"]], self.bands, self.config.num_perm)  # type: ignore[attr-defined]
        return index, meta

    def resolve(self, signatures: list[DedupSignature], ids: list[str]) -> dict[int, Duplicate]:
        cfg: DedupConfig = self.config  # type: ignore[assignment]
        signatures = [s for s in signatures if s is not None]
        new = _concat(signatures, self.bands, cfg.num_perm)
        n = len(new.exact)
        index, meta = self._earlier()
        old = index.arrays if index is not None else _empty(self.bands, cfg.num_perm)
        n_old = len(old)
        values = [v for s in signatures for v in (s.keep_values or [])] if cfg.keep not in ("first", "longest") else None
        length = np.concatenate([s.length for s in signatures]) if signatures else np.empty(0, dtype=np.int64)
        # global nodes: earlier-run documents first (they always stay), then this run's in input order
        rank = np.concatenate((np.arange(n_old) - n_old, keep_rank(cfg.keep, length, values)))
        exact_keeper = np.arange(n_old + n)
        if cfg.exact:
            exact_keeper = _exact_keepers(np.concatenate((old.exact, new.exact)), rank)
        keeper, similarity = exact_keeper.copy(), np.ones(n_old + n, dtype=np.float32)
        if cfg.near:
            self._near(old, new, exact_keeper, rank, keeper, similarity)
        # an exact copy follows its representative to the representative's keeper
        final = keeper[exact_keeper]
        sim = np.where(final == exact_keeper, 1.0, similarity[exact_keeper])
        removed = np.flatnonzero(final[n_old:] != np.arange(n_old, n_old + n))
        old_ids = index.ids(final[n_old:][removed][final[n_old:][removed] < n_old]) if index is not None else {}
        decisions: dict[int, Duplicate] = {}
        for i in removed.tolist():
            k = int(final[n_old + i])
            kept_id = old_ids[k] if k < n_old else ids[k - n_old]
            rule = "exact" if exact_keeper[n_old + i] == k else "near"
            decisions[i] = Duplicate(kept_id, kept_id, float(round(float(sim[n_old + i]), 4)), rule=rule)
        self._report.update(
            {"exact": sum(d.rule == "exact" for d in decisions.values()), "near": sum(d.rule == "near" for d in decisions.values())}
        )
        if n_old:
            self._report["earlier_documents"] = n_old
            self._report["duplicates_of_earlier"] = int(np.count_nonzero(final[n_old:][removed] < n_old))
        self._save(new, ids, removed, meta)
        return decisions

    def _near(
        self, old: IndexArrays, new: IndexArrays, exact_keeper: np.ndarray, rank: np.ndarray,
        keeper: np.ndarray, similarity: np.ndarray,
    ) -> None:
        """Near-duplicate keepers among exact-group representatives (``keeper``/``similarity`` in place)."""
        cfg: DedupConfig = self.config  # type: ignore[assignment]
        n_old, total = len(old), len(exact_keeper)
        active = np.flatnonzero(np.concatenate((old.shingled, new.shingled)) & (exact_keeper == np.arange(total)))
        keys = _rows(old.keys, new.keys, active)
        sig = _rows(old.sig, new.sig, active)
        n_fixed = int(np.searchsorted(active, n_old))
        left, right, _ = lsh.candidate_pairs(self.context.executor or _Serial(), keys, sig, cfg.threshold, n_fixed)
        near_keeper, near_sim = clusters.cluster(
            len(active), left, right, rank[active], sig, cfg.threshold, strict=cfg.verify == "keeper"
        )
        keeper[active] = active[near_keeper]
        similarity[active] = near_sim
        keeper[:n_old], similarity[:n_old] = np.arange(n_old), 1.0  # earlier documents stay as they are
        self._report["verified_pairs"] = int(len(left))

    def _save(self, new: IndexArrays, ids: list[str], removed: np.ndarray, meta: dict[str, Any] | None) -> None:
        """Stage this run's kept documents as a new index segment (committed with the run)."""
        state = self.context.state if self.context else None
        if state is None or state.readonly:
            return
        kept = np.ones(len(ids), dtype=bool)
        kept[removed] = False
        rows = np.flatnonzero(kept)
        if len(rows) == 0:
            return
        relative = f"{self.name}/seg-{state.run_number:06d}"
        arrays = IndexArrays(new.exact[rows], new.keys[rows], new.sig[rows], new.shingled[rows])
        write_segment(state.stage_path(relative), arrays, [ids[i] for i in rows.tolist()])
        segments = list(meta["segments"]) if meta else []
        segments.append(relative)
        documents = (meta or {}).get("documents", 0) + len(rows)
        state.set_component(self.name, {"params": self._params(), "segments": segments, "files": segments, "documents": documents})
        self._report["index_documents"] = documents

    def finish(self) -> dict[str, Any]:
        return dict(self._report)


class _Serial:
    """Fallback executor for a stage used outside a run: map in this process."""

    def map(self, fn, items, shared):
        from ..executor import LocalExecutor

        return LocalExecutor(1).map(fn, items, shared)


def _empty(bands: int, num_perm: int) -> IndexArrays:
    return IndexArrays(
        np.empty(0, dtype=np.uint64),
        np.empty((0, bands), dtype=np.uint64),
        np.empty((0, num_perm), dtype=np.uint16),
        np.empty(0, dtype=bool),
    )


def _concat(signatures: list[DedupSignature], bands: int, num_perm: int) -> IndexArrays:
    if not signatures:
        return _empty(bands, num_perm)
    return IndexArrays(
        np.concatenate([s.exact for s in signatures]),
        np.concatenate([s.keys for s in signatures]),
        np.concatenate([s.sig for s in signatures]),
        np.concatenate([s.shingled for s in signatures]),
    )


def _rows(old: np.ndarray, new: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows of old-then-new without building the concatenation when there is nothing old."""
    if len(old) == 0:
        return new if len(rows) == len(new) else new[rows]
    return np.concatenate((old, new))[rows]


def _exact_keepers(hashes: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """For each node, the best-ranked node with the same exact hash."""
    order = np.lexsort((rank, hashes))
    sorted_hashes = hashes[order]
    group_start = np.ones(len(order), dtype=bool)
    group_start[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
    group = np.cumsum(group_start) - 1
    best = order[group_start][group]
    out = np.empty(len(order), dtype=np.int64)
    out[order] = best
    return out
