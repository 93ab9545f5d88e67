"""Synthetic benchmark corpus: real dev-set text stitched into ~3 KB articles, plus known near-duplicates.

Why synthetic: speed and memory must be measured at 10k-1M documents, and dedup quality needs a
ground truth at that scale. The text itself is real (sentences from ``boilerplate_dev`` article
lines and ``neardup_dev``, ``langid_dev`` sentences for other languages); only the assembly is
generated. Every document records its ``cluster`` (the original it derives from) and ``variant``:

* ``original`` - a headline plus paragraphs of 2-5 sentences drawn from one language's pool;
* ``exact``    - a byte-identical copy of an original;
* near-duplicate variants, one or two of: ``edit`` (0.5-3 % of words substituted, deleted or
  repeated), ``truncate`` (the first 80-97 % kept), ``boilerplate`` (1-4 real boilerplate lines
  - share buttons, cookie notices, comment forms - added at the top, bottom or between
  paragraphs), ``reorder`` (body paragraphs shuffled). Their true word-5-gram Jaccard similarity
  to the original is stored in ``jaccard``, so recall can be split by how similar pairs really are.

Deterministic for a (size, seed): the plan is drawn with one seeded numpy generator, the text is
built in fixed chunks each with its own generator, so the bytes do not depend on how many
processes build it. Written as ``benchmarks/corpus/synthetic-<n>-s<seed>-v<version>.jsonl.zst``
with a ``.npz`` of the per-document truth beside it; reused when present.

    python -m benchmarks.corpus --docs 100000 --seed 0
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import zstandard

from benchmarks.common import DATA_DIR, ROOT, read_jsonl_gz
from pipeline.lexicons import stopwords

CORPUS_DIR = ROOT / "benchmarks" / "corpus"
FORMAT_VERSION = 1
CHUNK_DOCS = 5000
MIN_POOL = 100

EXACT_SHARE = 0.05
NEAR_SHARE = 0.25
TARGET_CHARS = 3000
OPERATIONS = ("edit", "truncate", "boilerplate", "reorder")
VARIANT_KINDS = ("original", "exact", *OPERATIONS)

# Languages the boilerplate dev pages are sorted into (by stopword share); langid_dev adds more.
PAGE_LANGUAGES = ("de", "en", "es", "fr", "pl", "it", "pt", "nl", "fi", "hu", "no")
# Boilerplate that appears on every kind of site; the dev set's ``drop`` lines add real ones per language.
GENERIC_BOILERPLATE = (
    "Share this article",
    "Leave a Reply",
    "Your email address will not be published. Required fields are marked *",
    "We use cookies to improve your experience. By continuing to browse, you agree to our use of cookies.",
    "Accept all cookies",
    "Subscribe to our newsletter",
    "Click here to read more",
    "Advertisement",
    "All rights reserved.",
)
# Encoding damage (replacement characters, C1 controls, UTF-8 read as Latin-1). Stitching 25 random
# sentences would spread the dev pages' few damaged sentences over most documents, so they are kept
# apart and put into DAMAGED_SHARE of the originals (the share of dev pages with any damage is ~7 %).
_DAMAGE = re.compile(r"[\ufffd\x80-\x9f]|[ÃÂ][^\sA-Za-z0-9]")
DAMAGED_SHARE = 0.06
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+")


@dataclass
class Sources:
    """Real text to assemble documents from, grouped by language."""

    sentences: list[str]
    pools: dict[str, np.ndarray]  # language -> sentence ids
    damaged: dict[str, np.ndarray]  # language -> ids of sentences with encoding damage
    titles: dict[str, list[str]]
    boilerplate: dict[str, list[str]]


def page_language(text: str) -> str:
    """The language whose stopwords cover most of the page's words (pages' lang_hint is unreliable)."""
    counts = Counter(w.casefold() for w in _WORD.findall(text))
    scores = {lang: sum(c for w, c in counts.items() if w in stopwords(lang)) for lang in PAGE_LANGUAGES}
    return max(scores, key=scores.get)


def split_sentences(line: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(line.strip()) if 30 <= len(s) <= 500]


def load_sources(data_dir: Path = DATA_DIR) -> Sources:
    """Sentences, headlines and boilerplate lines from the dev sets, by language (a language needs
    MIN_POOL clean sentences, so that its documents do not repeat each other)."""
    by_lang: dict[str, dict[str, None]] = {}
    titles: dict[str, list[str]] = {}
    boiler: dict[str, list[str]] = {}
    for page in read_jsonl_gz(data_dir / "boilerplate_dev.jsonl.gz"):
        text = page["text"]
        lang = page_language(text)
        first = text.strip().split("\n", 1)[0].strip()
        if 10 <= len(first) <= 150:
            titles.setdefault(lang, []).append(first)
        for line in text.split("\n"):
            if len(line) >= 80:  # article paragraphs; short lines are mostly navigation
                by_lang.setdefault(lang, {}).update(dict.fromkeys(split_sentences(line)))
        boiler.setdefault(lang, []).extend(d.strip() for d in page.get("drop", []) if 15 <= len(d.strip()) <= 150)
    for doc in read_jsonl_gz(data_dir / "neardup_dev.jsonl.gz"):
        lang = page_language(doc["text"])
        for line in doc["text"].split("\n"):
            by_lang.setdefault(lang, {}).update(dict.fromkeys(split_sentences(line)))
    for rec in read_jsonl_gz(data_dir / "langid_dev.jsonl.gz"):
        text = rec["text"].strip()
        if len(text) >= 20:
            by_lang.setdefault(rec["lang"], {})[text] = None
    sentences: list[str] = []
    seen: set[str] = set()
    pools: dict[str, np.ndarray] = {}
    damaged: dict[str, np.ndarray] = {}
    for lang in sorted(by_lang):
        ids: tuple[list[int], list[int]] = ([], [])
        for s in by_lang[lang]:
            if s not in seen:  # a sentence belongs to one pool only
                seen.add(s)
                ids[bool(_DAMAGE.search(s))].append(len(sentences))
                sentences.append(s)
        if len(ids[0]) >= MIN_POOL:
            pools[lang] = np.asarray(ids[0], dtype=np.int64)
            damaged[lang] = np.asarray(ids[1], dtype=np.int64)
    boilerplate = {lang: sorted(set(lines)) for lang, lines in boiler.items()}
    return Sources(sentences, pools, damaged, {k: sorted(set(v)) for k, v in titles.items()}, boilerplate)


# -- the plan: which document is what (vectorised, one generator) --------------------------------


@dataclass
class Plan:
    n_docs: int
    kind: np.ndarray  # per position: 0 original, 1 exact copy, 2 near-duplicate variant
    source: np.ndarray  # per position: index of the original it derives from
    pool: np.ndarray  # per original: index into the sorted pool languages
    title: np.ndarray  # per original: title index in its language (-1: none)
    sent_start: np.ndarray  # per original: its sentences are sent_ids[start : start + count]
    sent_count: np.ndarray
    sent_ids: np.ndarray
    breaks: np.ndarray  # paragraph break after this sentence


def make_plan(sources: Sources, n_docs: int, seed: int) -> Plan:
    rng = np.random.default_rng([seed, 0])
    n_exact = int(round(n_docs * EXACT_SHARE))
    n_near = int(round(n_docs * NEAR_SHARE))
    n_orig = max(1, n_docs - n_exact - n_near)
    n_near = n_docs - n_orig - n_exact
    kind = np.concatenate([np.zeros(n_orig, np.int8), np.ones(n_exact, np.int8), np.full(n_near, 2, np.int8)])
    source = np.concatenate([np.arange(n_orig), rng.integers(0, n_orig, n_exact + n_near)])
    order = rng.permutation(n_docs)  # position -> planned document
    kind, source = kind[order], source[order]

    langs = sorted(sources.pools)
    sizes = np.array([len(sources.pools[l]) for l in langs], dtype=float)
    pool = rng.choice(len(langs), size=n_orig, p=sizes / sizes.sum())
    n_titles = np.array([len(sources.titles.get(l, [])) for l in langs])
    title = np.where(n_titles[pool] > 0, (rng.random(n_orig) * np.maximum(n_titles[pool], 1)).astype(np.int64), -1)
    target = np.clip(rng.normal(TARGET_CHARS, 700, n_orig), 1200, 6000)

    lengths = np.array([len(s) + 1 for s in sources.sentences], dtype=np.int64)
    counts = np.zeros(n_orig, np.int64)
    starts = np.zeros(n_orig, np.int64)
    flat: list[np.ndarray] = []
    filled = 0
    for p, lang in enumerate(langs):
        members = np.flatnonzero(pool == p)
        ids = sources.pools[lang]
        k = int(min(400, np.ceil(6000 / lengths[ids].mean() * 1.5) + 5))
        for first in range(0, len(members), 50_000):
            block = members[first : first + 50_000]
            draw = ids[rng.integers(0, len(ids), (len(block), k))]
            cum = np.cumsum(lengths[draw], axis=1)
            n = np.minimum((cum < target[block, None]).sum(axis=1) + 1, k)
            counts[block] = n
            starts[block] = filled + np.concatenate([[0], np.cumsum(n)[:-1]])
            flat.append(draw[np.arange(k) < n[:, None]])  # row-major: each original's sentences in a run
            filled += int(n.sum())
    sent_ids = np.concatenate(flat)
    for p, lang in enumerate(langs):  # one damaged sentence in a few originals, as on real pages
        bad = sources.damaged[lang]
        hit = np.flatnonzero((pool == p) & (rng.random(n_orig) < DAMAGED_SHARE)) if len(bad) else []
        if len(hit):
            slots = starts[hit] + (rng.random(len(hit)) * counts[hit]).astype(np.int64)
            sent_ids[slots] = bad[rng.integers(0, len(bad), len(hit))]
    breaks = rng.random(len(sent_ids)) < 0.3
    return Plan(n_docs, kind, source, pool, title, starts, counts, sent_ids, breaks)


# -- text (per chunk, own generator) -------------------------------------------------------------

_STATE: dict[str, Any] = {}


def original_text(o: int) -> str:
    sources: Sources = _STATE["sources"]
    plan: Plan = _STATE["plan"]
    lang = _STATE["langs"][plan.pool[o]]
    a = plan.sent_start[o]
    b = a + plan.sent_count[o]
    paragraphs, current = [], []
    for sid, brk in zip(plan.sent_ids[a:b].tolist(), plan.breaks[a:b].tolist()):
        current.append(sources.sentences[sid])
        if brk:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    if plan.title[o] >= 0:
        paragraphs.insert(0, sources.titles[lang][plan.title[o]])
    return "\n\n".join(paragraphs)


def shingles(text: str) -> set[tuple[str, ...]]:
    """Word 5-grams as the datasketch baseline builds them (whitespace split, no normalisation)."""
    w = text.split()
    return set(zip(w, w[1:], w[2:], w[3:], w[4:])) if len(w) >= 5 else {tuple(w)}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


def _edit(text: str, rng: np.random.Generator) -> str:
    tokens = text.split(" ")
    n = len(tokens)
    k = max(1, rng.binomial(n, rng.uniform(0.005, 0.03)))
    positions = rng.choice(n, size=min(k, n), replace=False)
    ops = rng.choice(3, size=len(positions), p=[0.5, 0.3, 0.2])
    donors = rng.integers(0, n, size=len(positions))
    edits = dict(zip(positions.tolist(), zip(ops.tolist(), donors.tolist())))
    out: list[str] = []
    for i, tok in enumerate(tokens):
        op = edits.get(i)
        if op is None:
            out.append(tok)
        elif op[0] == 0:  # substitute with another word of the document
            out.append(tokens[op[1]].strip("\n") or tok)
        elif op[0] == 2:  # repeat a word
            out += [tok, tok.strip("\n") or tok]
        # op 1: delete
    return " ".join(out)


def _truncate(text: str, rng: np.random.Generator) -> str:
    cut = int(len(text) * rng.uniform(0.80, 0.97))
    space = text.rfind(" ", 0, cut)
    return text[: space if space > 0 else cut].rstrip()


def _boilerplate(text: str, rng: np.random.Generator, lang: str) -> str:
    pool = _STATE["sources"].boilerplate.get(lang) or []
    candidates = list(GENERIC_BOILERPLATE) + pool
    lines = [candidates[i] for i in rng.integers(0, len(candidates), rng.integers(1, 5))]
    paragraphs = text.split("\n\n")
    where = int(rng.integers(0, 3))
    if where == 0:  # under the headline
        paragraphs.insert(min(1, len(paragraphs)), "\n".join(lines))
    elif where == 1:
        paragraphs.append("\n".join(lines))
    else:
        for line in lines:
            paragraphs.insert(int(rng.integers(1, len(paragraphs) + 1)), line)
    return "\n\n".join(paragraphs)


def _reorder(text: str, rng: np.random.Generator, has_title: bool) -> str:
    paragraphs = text.split("\n\n")
    head, body = (paragraphs[:1], paragraphs[1:]) if has_title else ([], paragraphs)
    if len(body) < 2:
        return text
    return "\n\n".join(head + [body[i] for i in rng.permutation(len(body))])


def variant(text: str, rng: np.random.Generator, lang: str, has_title: bool) -> tuple[str, list[str]]:
    """One or two of the near-duplicate operations, applied in a fixed order."""
    n_ops = 1 if rng.random() < 0.6 else 2
    chosen = sorted(rng.choice(len(OPERATIONS), size=n_ops, replace=False).tolist())
    ops = [OPERATIONS[i] for i in chosen]
    for op in ops:
        if op == "edit":
            text = _edit(text, rng)
        elif op == "truncate":
            text = _truncate(text, rng)
        elif op == "boilerplate":
            text = _boilerplate(text, rng, lang)
        else:
            text = _reorder(text, rng, has_title)
    return text, ops


def doc_id(position: int) -> str:
    return f"doc-{position:07d}"


def _build_chunk(index: int) -> tuple[bytes, np.ndarray, np.ndarray, int, int]:
    """JSONL of one chunk, its variant codes, Jaccard to the original, text characters and bytes."""
    plan: Plan = _STATE["plan"]
    seed: int = _STATE["seed"]
    rng = np.random.default_rng([seed, 1, index])
    start, stop = index * CHUNK_DOCS, min(plan.n_docs, (index + 1) * CHUNK_DOCS)
    lines: list[bytes] = []
    codes = np.zeros(stop - start, np.int16)  # bitmask over VARIANT_KINDS
    sims = np.ones(stop - start, np.float32)
    chars = n_bytes = 0
    for j, pos in enumerate(range(start, stop)):
        o = int(plan.source[pos])
        text = original_text(o)
        kind = int(plan.kind[pos])
        names = ["original"]
        if kind == 1:
            names = ["exact"]
        elif kind == 2:
            lang = _STATE["langs"][plan.pool[o]]
            base = text
            text, names = variant(text, rng, lang, bool(plan.title[o] >= 0))
            sims[j] = jaccard(base, text)
        codes[j] = sum(1 << VARIANT_KINDS.index(n) for n in names)
        chars += len(text)
        n_bytes += len(text.encode("utf-8"))
        record = {"id": doc_id(pos), "text": text, "cluster": o, "variant": "+".join(names)}
        if kind == 2:
            record["jaccard"] = round(float(sims[j]), 4)
        lines.append(orjson.dumps(record))
    lines.append(b"")
    return b"\n".join(lines), codes, sims, chars, n_bytes


def _init(state: dict[str, Any]) -> None:
    _STATE.clear()
    _STATE.update(state)


@dataclass
class Corpus:
    """A built corpus on disk and its ground truth."""

    path: Path
    n_docs: int
    seed: int
    bytes: int  # UTF-8 bytes of the document texts
    chars: int
    cluster: np.ndarray  # per position (id ``doc-<position>``): the original it derives from
    variant: np.ndarray  # per position: bitmask over VARIANT_KINDS
    jaccard: np.ndarray  # per position: word-5-gram Jaccard to the original (1.0 for originals/copies)

    @property
    def mb(self) -> float:
        return self.bytes / 1e6

    def truth_pairs(self) -> int:
        _, sizes = np.unique(self.cluster, return_counts=True)
        return int((sizes * (sizes - 1) // 2).sum())


def corpus_path(n_docs: int, seed: int, directory: Path = CORPUS_DIR) -> Path:
    return directory / f"synthetic-{n_docs}-s{seed}-v{FORMAT_VERSION}.jsonl.zst"


def load(path: Path) -> Corpus:
    truth = np.load(path.with_suffix(".npz"))
    meta = orjson.loads(path.with_suffix(".meta.json").read_bytes())
    return Corpus(path, meta["docs"], meta["seed"], meta["bytes"], meta["chars"], truth["cluster"], truth["variant"], truth["jaccard"])


def build(
    n_docs: int, seed: int = 0, directory: Path = CORPUS_DIR, data_dir: Path = DATA_DIR, processes: int | None = None, log=print
) -> Corpus:
    """The corpus for (n_docs, seed): from the cache if built before, else built now (atomically)."""
    path = corpus_path(n_docs, seed, directory)
    if path.exists() and path.with_suffix(".npz").exists() and path.with_suffix(".meta.json").exists():
        return load(path)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sources = load_sources(data_dir)
    plan = make_plan(sources, n_docs, seed)
    state = {"sources": sources, "plan": plan, "seed": seed, "langs": sorted(sources.pools)}
    n_chunks = -(-n_docs // CHUNK_DOCS)
    processes = processes or min(n_chunks, max(1, len(os.sched_getaffinity(0))))
    tmp = path.with_name(path.name + ".tmp")
    codes, sims, n_bytes, n_chars = [], [], 0, 0
    with open(tmp, "wb") as raw, zstandard.ZstdCompressor(level=3, threads=-1).stream_writer(raw) as out:
        if processes > 1:
            pool = mp.get_context("fork").Pool(processes, initializer=_init, initargs=(state,))
            results = pool.imap(_build_chunk, range(n_chunks))
        else:
            _init(state)
            pool, results = None, map(_build_chunk, range(n_chunks))
        try:
            for data, c, s, ch, nb in results:
                out.write(data)
                codes.append(c)
                sims.append(s)
                n_chars += ch
                n_bytes += nb
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    variant_codes = np.concatenate(codes)
    cluster = plan.source.astype(np.int64)
    np.savez(path.with_suffix(".npz.tmp.npz"), cluster=cluster, variant=variant_codes, jaccard=np.concatenate(sims))
    os.replace(path.with_suffix(".npz.tmp.npz"), path.with_suffix(".npz"))
    meta = {"docs": n_docs, "seed": seed, "bytes": n_bytes, "chars": n_chars, "format": FORMAT_VERSION,
            "build_seconds": round(time.perf_counter() - started, 1)}
    path.with_suffix(".meta.json").write_bytes(orjson.dumps(meta))
    os.replace(tmp, path)
    log(f"built {path.name}: {n_docs} docs, {n_bytes / 1e6:.1f} MB in {meta['build_seconds']} s")
    return load(path)


def iter_records(path: Path):
    """Records of a corpus file (``.jsonl.zst`` or ``.jsonl``)."""
    with open(path, "rb") as raw:
        fh = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw), 1 << 20) if path.suffix == ".zst" else raw
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    corpus = build(args.docs, args.seed)
    shares = {n: int(((corpus.variant >> i) & 1).sum()) for i, n in enumerate(VARIANT_KINDS)}
    print(f"{corpus.path}: {corpus.n_docs} docs, {corpus.mb:.1f} MB, {corpus.truth_pairs()} true duplicate pairs, {shares}")


if __name__ == "__main__":
    main()
