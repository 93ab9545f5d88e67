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
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

import numpy as np
import xxhash
from pydantic import Field

from ..boilerplate_lines import LineClassifier, LineParams
from ..boilerplate_rules import load_rules
from ..boilerplate_zones import ZoneMarker, ZoneParams
from ..document import Document, Removal
from ..writers import atomic_write_bytes
from .base import Stage, StageConfig

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


def _hashes(keys: list[str], max_chars: int, seed: int = 0) -> np.ndarray:
    """xxh3 of each line key (0 for blank or over-long lines, which are never counted)."""
    hash64 = xxhash.xxh3_64_intdigest
    return np.fromiter(
        (hash64(k.encode("utf-8", "surrogatepass"), seed) if 0 < len(k) <= max_chars else 0 for k in keys),
        dtype=np.uint64,
        count=len(keys),
    )


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
        """Per batch: each line hash once per document, globally and per domain (workers)."""
        max_chars = self.config.repeat_max_chars
        run_keys, site_keys, doc_ids, site_seeds = [], [], [], []
        for doc in batch:
            keys = [line_key(line) for line in doc.text.split("\n")]
            hashes = np.unique(_hashes(keys, max_chars))
            run_keys.append(hashes[hashes != 0])
            domain = domain_of(doc.metadata)
            if domain:
                seed = _domain_seed(domain)
                site = np.unique(_hashes(keys, max_chars, seed))
                site_keys.append(site[site != 0])
                doc_ids.append(xxhash.xxh3_64_intdigest(doc.id.encode(), seed))
                site_seeds.append(seed)
        keys, counts = _count(run_keys)
        return {
            "docs": len(batch),
            "run": (keys, counts),
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
    def _repeated(self, doc: Document) -> Callable[[list[str]], np.ndarray] | None:
        """A test for "line seen in many documents" (this run, or this site's history), or None."""
        tables = []
        if len(self._run_repeated):
            tables.append((0, self._run_repeated))
        domain = domain_of(doc.metadata) if len(self._site_repeated) else None
        if domain:
            seed = _domain_seed(domain)
            if self._site_docs.get(seed, 0) >= self.config.repeat_min_corpus:
                tables.append((seed, self._site_repeated))
        if not tables:
            return None
        max_chars = self.config.repeat_max_chars

        def repeated(lines: list[str]) -> np.ndarray:
            found = np.zeros(len(lines), dtype=bool)
            keys = [line_key(line) for line in lines]
            for seed, table in tables:
                found |= _member(_hashes(keys, max_chars, seed), table)
            return found

        return repeated

    def process(self, batch: list[Document]) -> None:
        for doc in batch:
            result = self._classifier.clean(doc.text, self._repeated(doc))
            doc.removals.extend([Removal(self.name, rule, text, position) for rule, text, position in result.removed])
            doc.text = result.text
            found: dict[str, Any] = {"lines_removed": result.lines_removed, "lines_kept": result.lines_kept}
            if result.language:
                found["language"] = result.language
            if result.title:
                found["title"] = result.title
                doc.metadata.setdefault("title", result.title)
            doc.annotations[self.name] = found
