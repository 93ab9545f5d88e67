"""boilerplate: keep the article, strip menus, share buttons, cookie notices, footers, comments.

Works on text alone (no HTML). The line classifier (``pipeline.boilerplate_lines``) combines
multilingual phrase rules (data files under ``pipeline/data/boilerplate``), structure (runs of
short lines, position relative to the densest run of prose) and prose signals (stopword density,
sentence ends). This module adds the corpus view (CCNet's idea): a line repeated across many
documents of the run - or, when documents carry a url/domain, across the same site's documents in
earlier runs (``--state``) - is template text. Every removed line is logged with its rule.
"""

from __future__ import annotations

import io
from itertools import repeat
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

import numpy as np
import xxhash
from pydantic import Field

from ..boilerplate_lines import LineClassifier, LineParams, RepeatedTest
from ..boilerplate_rules import load_rules
from ..boilerplate_zones import ZoneMarker, ZoneParams
from ..document import Document, Removal
from ..writers import atomic_write_bytes
from .base import Stage, StageConfig, gc_paused

_EMPTY = np.zeros(0, dtype=np.uint64)
STATE_FILE = "line_counts.npz"


class BoilerplateConfig(LineParams, ZoneParams, StageConfig):
    """The classifier's thresholds (``LineParams``), the tail pass (``ZoneParams``) plus phrase languages and repetition options."""

    languages: list[str] | None = None
    """Phrase-rule languages to load (ISO 639-1); None: every file in pipeline/data/boilerplate."""
    repeat_min_docs: int = Field(4, ge=2)
    repeat_min_corpus: int = Field(20, ge=1)
    repeat_max_chars: int = Field(300, ge=1)


def line_key(line: str) -> str:
    """What makes two lines "the same" across documents: case and spacing do not count."""
    return " ".join(line.lower().split())


def domain_of(metadata: dict[str, Any]) -> str | None:
    """The site a document came from: ``domain`` if given, else the host of ``url``."""
    domain = metadata.get("domain")
    if not domain and isinstance(metadata.get("url"), str):
        try:
            domain = urlsplit(metadata["url"]).hostname
        except ValueError:
            domain = None
    if not domain or not isinstance(domain, str):
        return None
    domain = domain.lower()
    return domain[4:] if domain.startswith("www.") else domain


def _hashes(keys: list[str], max_chars: int, seed: int | list[int] = 0) -> np.ndarray:
    """xxh3 of each line key (0 for blank or over-long lines, which are never counted); ``seed``:
    one for all keys, or one per key."""
    hash64 = xxhash.xxh3_64_intdigest
    seeds = repeat(seed) if isinstance(seed, int) else seed
    return np.fromiter(
        (hash64(k.encode("utf-8", "surrogatepass"), s) if 0 < len(k) <= max_chars else 0 for k, s in zip(keys, seeds)),
        dtype=np.uint64,
        count=len(keys),
    )


_PART_CHARS = 1_000_000  # the pre-pass reads a batch this many characters at a time (memory)


def _parts(batch: list[Document]) -> list[list[Document]]:
    """Consecutive groups of documents of about ``_PART_CHARS`` characters (a long one alone)."""
    parts: list[list[Document]] = [[]]
    size = 0
    for doc in batch:
        if parts[-1] and size + len(doc.text) > _PART_CHARS:
            parts.append([])
            size = 0
        parts[-1].append(doc)
        size += len(doc.text)
    return parts


def _unique_per_doc(hashes: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct non-zero hashes of each document (sorted by document, then hash): (document,
    hash) pairs. ``docs`` is sorted."""
    keep = hashes != 0
    hashes, docs = hashes[keep], docs[keep]
    order = np.lexsort((hashes, docs))
    hashes, docs = hashes[order], docs[order]
    first = np.ones(len(hashes), dtype=bool)
    first[1:] = (hashes[1:] != hashes[:-1]) | (docs[1:] != docs[:-1])
    return docs[first], hashes[first]


def _member(hashes: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """``np.isin`` for a sorted key array, without sorting the (per-document) queries."""
    where = np.searchsorted(sorted_keys, hashes)
    where[where == len(sorted_keys)] = 0
    return (sorted_keys[where] == hashes) & (hashes != 0)


def _domain_seed(domain: str) -> int:
    return xxhash.xxh3_64_intdigest(domain.encode()) or 1


def _count(keys: list[np.ndarray], weights: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sum counts per key over several (keys, counts) arrays."""
    if not keys:
        return _EMPTY, np.zeros(0, dtype=np.int64)
    allk = np.concatenate(keys)
    uniq, inverse = np.unique(allk, return_inverse=True)
    w = np.concatenate(weights) if weights is not None else np.ones(len(allk), dtype=np.int64)
    return uniq, np.bincount(inverse, weights=w, minlength=len(uniq)).astype(np.int64)


class Boilerplate(Stage):
    name = "boilerplate"
    Config = BoilerplateConfig
    config: BoilerplateConfig
    needs_corpus_pass = True

    def __init__(self, config: StageConfig | None = None, context=None):
        super().__init__(config, context)
        rules = load_rules(tuple(self.config.languages) if self.config.languages else None)
        self._classifier = LineClassifier(rules, self.config, ZoneMarker(self.config))
        self._run_repeated = _EMPTY  # sorted line hashes seen in >= repeat_min_docs documents
        self._site_repeated = _EMPTY  # sorted per-domain line hashes (this run + state)
        self._site_docs: dict[int, int] = {}  # domain seed -> documents seen
        self._state: dict[str, np.ndarray] | None = None

    # -- corpus pre-pass ------------------------------------------------------------------------
    def collect(self, batch: list[Document]) -> dict[str, Any]:
        """Per batch: each line hash once per document, globally and per domain (workers). The
        lines of a batch are hashed with numpy (``LineClassifier.line_keys``); duplicates within a
        document go with one sort of (document, hash) pairs. Per-site keys (xxh3, saved across
        runs) are made only for the lines that have a run key."""
        with gc_paused():
            return self._collect(batch)

    def _collect(self, batch: list[Document]) -> dict[str, Any]:
        max_chars = self.config.repeat_max_chars
        counts = np.array([doc.text.count("\n") + 1 for doc in batch], dtype=np.int64)
        line_doc = np.repeat(np.arange(len(batch)), counts)
        domains = [domain_of(doc.metadata) for doc in batch]
        has_sites = any(domains)
        hashes, texts = [], []  # texts: of the parts, kept for per-site keys
        for part in _parts(batch):
            text = "\n".join(doc.text for doc in part)
            hashes.append(self._classifier.line_keys(text, max_chars))
            if has_sites:
                texts.append(text)
        line_hashes = np.concatenate(hashes)
        run_keys = _unique_per_doc(line_hashes, line_doc)[1]
        site_keys, doc_ids, site_seeds = [], [], []
        if has_sites:  # per-site counts are saved: keyed by xxh3 of the line key, seeded by the site
            seeds = [_domain_seed(domain) if domain else 0 for domain in domains]
            site_docs = [k for k, domain in enumerate(domains) if domain]
            doc_ids = [xxhash.xxh3_64_intdigest(batch[k].id.encode(), seeds[k]) for k in site_docs]
            site_seeds = [seeds[k] for k in site_docs]
            # line_key of the counted lines (a run key) of pages with a site
            counted = np.flatnonzero(line_hashes)
            row_seeds = np.array(seeds, dtype=np.uint64)[line_doc[counted]]
            chosen = counted[row_seeds != 0]
            lines = [line for text in texts for line in text.split("\n")]
            keys = list(map(line_key, map(lines.__getitem__, chosen.tolist())))
            docs, unique = _unique_per_doc(_hashes(keys, max_chars, row_seeds[row_seeds != 0].tolist()), line_doc[chosen])
            site_keys = np.split(unique, np.searchsorted(docs, site_docs)[1:])
        keys_run, counts_run = np.unique(run_keys, return_counts=True)
        return {
            "docs": len(batch),
            "run": (keys_run, counts_run.astype(np.int64)),
            "site": site_keys,
            "doc_ids": np.array(doc_ids, dtype=np.uint64),
            "site_seeds": np.array(site_seeds, dtype=np.uint64),
        }

    def fit(self, partials: Iterable[Any]) -> None:
        """Decide which lines are template text, from this run's counts plus the saved state."""
        partials = [p for p in partials if p]
        cfg = self.config
        n_docs = sum(p["docs"] for p in partials)
        keys, counts = _count([p["run"][0] for p in partials], [p["run"][1] for p in partials])
        if n_docs >= cfg.repeat_min_corpus:
            self._run_repeated = keys[counts >= cfg.repeat_min_docs]

        state = self._load_state()
        seen_ids = state["doc_ids"]
        site_keys = [state["site_keys"]]
        site_counts = [state["site_counts"]]
        seeds = [state["site_seeds"]]
        new_ids: list[np.ndarray] = []
        for p in partials:
            is_new = ~np.isin(p["doc_ids"], seen_ids)  # a document seen in an earlier run counts once
            for fresh, lines in zip(is_new, p["site"]):
                if fresh:
                    site_keys.append(lines)
                    site_counts.append(np.ones(len(lines), dtype=np.int64))
            new_ids.append(p["doc_ids"][is_new])
            seeds.append(p["site_seeds"][is_new])
        all_keys, all_counts = _count(site_keys, site_counts)
        all_seeds, seed_docs = _count(seeds)
        self._site_docs = dict(zip(all_seeds.tolist(), seed_docs.tolist()))
        self._site_repeated = all_keys[all_counts >= cfg.repeat_min_docs]
        if not sum(len(ids) for ids in new_ids):
            return  # nothing new (every input skipped, or seen before): the saved counts stand as they are
        self._state = {
            "doc_ids": np.unique(np.concatenate([seen_ids, *new_ids])),
            "site_keys": all_keys,
            "site_counts": all_counts,
            "site_seeds": np.concatenate(seeds),
        }

    def _state_path(self) -> Path | None:
        """The saved counts to read: the committed component file of a ``StateDir`` run state,
        else ``<state_dir>/boilerplate/line_counts.npz``."""
        state = getattr(self.context, "state", None)
        if state is not None:
            meta = state.component(self.name)
            return state.file(meta["files"][0]) if meta and meta.get("files") else None
        state_dir = self.context.state_dir
        return Path(state_dir) / self.name / STATE_FILE if state_dir else None

    def _load_state(self) -> dict[str, np.ndarray]:
        empty = {"doc_ids": _EMPTY, "site_keys": _EMPTY, "site_counts": np.zeros(0, dtype=np.int64), "site_seeds": _EMPTY}
        path = self._state_path()
        if path is None or not path.exists():
            return empty
        with np.load(path) as data:
            return {k: data[k] for k in empty}

    def finish(self) -> dict[str, Any]:
        """Save per-domain line counts for the next run (atomically), report what was learned."""
        report = {"run_repeated_lines": int(len(self._run_repeated)), "site_repeated_lines": int(len(self._site_repeated))}
        if self._state is None:
            return report
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **self._state)
        state = getattr(self.context, "state", None)
        if state is not None:  # committed together with the run's outputs (pipeline.state)
            if state.readonly:
                return report
            relative = f"{self.name}/line-counts-{state.run_number:06d}.npz"
            atomic_write_bytes(state.stage_path(relative), buffer.getvalue())
            state.set_component(self.name, {"files": [relative], "documents": int(len(self._state["doc_ids"]))})
        elif self.context.state_dir is not None:
            path = Path(self.context.state_dir) / self.name / STATE_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, buffer.getvalue())
        else:
            return report
        report["state_domains"] = len(self._site_docs)
        return report

    # -- per batch ------------------------------------------------------------------------------
    def _repeated(self, batch: list[Document]) -> RepeatedTest | None:
        """A test for "line seen in many documents" (this run, or each page's site history) for the
        lines of a batch, or None when no page has such statistics."""
        run_table = self._run_repeated if len(self._run_repeated) else None
        seeds = np.zeros(len(batch), dtype=np.uint64)  # per page: its site's seed, if the site has enough pages
        if len(self._site_repeated):
            for k, doc in enumerate(batch):
                domain = domain_of(doc.metadata)
                if domain:
                    seed = _domain_seed(domain)
                    if self._site_docs.get(seed, 0) >= self.config.repeat_min_corpus:
                        seeds[k] = seed
        if run_table is None and not seeds.any():
            return None
        max_chars = self.config.repeat_max_chars

        def repeated(docs: np.ndarray, lines: list[str]) -> np.ndarray:
            found = np.zeros(len(lines), dtype=bool)
            if run_table is not None:  # the pre-pass's keys (LineClassifier.line_keys) of these lines
                found |= _member(self._classifier.line_keys("\n".join(lines), max_chars), run_table)
            line_seeds = seeds[docs]
            if line_seeds.any():
                keys = [line_key(line) for line in lines]
                for seed in np.unique(line_seeds[line_seeds != 0]).tolist():
                    rows = np.flatnonzero(line_seeds == seed)
                    found[rows] |= _member(_hashes([keys[i] for i in rows.tolist()], max_chars, seed), self._site_repeated)
            return found

        return repeated

    def process(self, batch: list[Document]) -> None:
        with gc_paused():
            self._process(batch)

    def _process(self, batch: list[Document]) -> None:
        results = self._classifier.clean_batch([doc.text for doc in batch], self._repeated(batch))
        name = self.name
        for doc, result in zip(batch, results):
            doc.removals.extend(map(Removal, repeat(name), result.rules, result.lines, result.offsets))
            doc.text = result.text
            found: dict[str, Any] = {"lines_removed": result.lines_removed, "lines_kept": result.lines_kept}
            if result.language:
                found["language"] = result.language
            if result.title:
                found["title"] = result.title
                doc.metadata.setdefault("title", result.title)
            doc.annotations[name] = found
