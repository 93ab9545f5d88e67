"""Fingerprints of one stage's decisions, to prove an optimisation changes none of them.

For the dev texts and the synthetic bench corpora, runs the stages before the measured one as
``winnow run`` does (corpus pre-pass on the raw input, batches of 256), then the stage itself, and
hashes per document what the stage decided:

- ``boilerplate`` (dev pages of ``boilerplate_dev``): the cleaned text, the title, the annotations
  and every removal (rule, text, position);
- ``quality`` (``boilerplate_dev`` pages and ``neardup_dev`` texts after normalize, boilerplate,
  spam and language): every flag (rule, reason with its measured values, value) with the default
  config, and the flags and annotations (every measured value) with ``record_stats: true``;
- ``language`` (``langid_dev`` sentences, ``boilerplate_dev`` pages and ``neardup_dev`` texts after
  normalize, boilerplate and spam): the annotation (language, score, backend, runners-up) and flags;
- ``normalize`` (the raw texts of ``boilerplate_dev`` pages, ``neardup_dev`` texts and ``langid_dev``
  sentences): the output text and the annotations;
- ``spam`` (the texts of ``boilerplate_dev``, ``neardup_dev`` and ``langid_dev`` after normalize, and
  ``eval_spam``'s documents: articles with injected spam and foreign glosses, native texts, keyword
  pages): the output text, the title, the annotation, every removal and the flags.

``save NAME`` writes the hashes to ``/tmp/<stage>-fingerprint-NAME.json`` (boilerplate:
``/tmp/bp-fingerprint-NAME.json``); ``check NAME`` compares against them and lists the first
documents that differ. Also prints the CPU seconds of ``collect`` (stages with a corpus pass) and of
``process`` (best of 3) with the stage's MB/s.

    .venv/bin/python -m benchmarks.stage_fingerprint save before --stage quality
    .venv/bin/python -m benchmarks.stage_fingerprint check before --stage quality --sizes 10000
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson

from benchmarks.common import CORPUS_DIR, DATA_DIR, build_stages, read_jsonl_gz
from pipeline.document import Document
from pipeline.readers import Reader

BATCH = 256


def _hash(payload: Any) -> str:
    return hashlib.blake2b(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS), digest_size=12).hexdigest()


def _boilerplate_digest(doc: Document, _stats_doc: Document | None) -> str:
    return _hash([doc.text, doc.metadata.get("title"), doc.annotations.get("boilerplate"),
                  [(r.stage, r.rule, r.text, r.position) for r in doc.removals]])


def _flags(doc: Document, stage: str) -> list[tuple[str, str, Any]]:
    return [(f.rule, f.reason, f.value) for f in doc.flags if f.stage == stage]


def _quality_digest(doc: Document, stats_doc: Document | None) -> str:
    assert stats_doc is not None
    stats = stats_doc.annotations.get("quality") or {}
    return _hash([_flags(doc, "quality"), _flags(stats_doc, "quality"), list(stats.items())])  # in the order written


def _language_digest(doc: Document, _stats_doc: Document | None) -> str:
    return _hash([doc.annotations.get("language"), _flags(doc, "language")])


def _normalize_digest(doc: Document, _stats_doc: Document | None) -> str:
    return _hash([doc.text, doc.annotations.get("normalize")])


def _spam_digest(doc: Document, _stats_doc: Document | None) -> str:
    return _hash([doc.text, doc.metadata.get("title"), doc.annotations.get("spam"), _flags(doc, "spam"),
                  [(r.stage, r.rule, r.text, r.position) for r in doc.removals if r.stage == "spam"]])


def _eval_spam_documents() -> list[Document]:
    """``eval_spam``'s seeded documents: what exercises the spam rules (few dev texts do)."""
    from benchmarks import eval_spam as ev

    texts = [a["text"] for terms, seed in ((ev.HELD_OUT_SPAM, ev.SEED), (ev.FRESH_SPAM, ev.SEED + 1), (ev.UNSEEN_SPAM, ev.SEED + 2))
             for a in ev.build_articles(Path(DATA_DIR), terms, seed)]
    texts += [c["text"] for c in ev.build_natives(Path(DATA_DIR), ev.SEED) + ev.build_keyword_pages(ev.SEED)]
    return [Document(f"e{i}", text) for i, text in enumerate(texts)]


@dataclass(frozen=True)
class Target:
    """A stage to fingerprint: the stages run before it, the dev sets it is judged on, the digest,
    and (optional) a config override under which a second copy also records what it measured."""

    before: list[str]
    dev_sets: list[str]
    digest: Callable[[Document, Document | None], str]
    stats_override: list[str] | None = None
    file_prefix: str = ""


TARGETS = {
    "boilerplate": Target(["normalize"], ["boilerplate_dev"], _boilerplate_digest, file_prefix="bp"),
    "quality": Target(["normalize", "boilerplate", "spam", "language"], ["boilerplate_dev", "neardup_dev"],
                      _quality_digest, stats_override=["quality.record_stats=true"]),
    "language": Target(["normalize", "boilerplate", "spam"], ["langid_dev", "boilerplate_dev", "neardup_dev"], _language_digest),
    "normalize": Target([], ["boilerplate_dev", "neardup_dev", "langid_dev"], _normalize_digest),
    "spam": Target(["normalize"], ["boilerplate_dev", "neardup_dev", "langid_dev", "eval_spam"], _spam_digest),
}


def _sets(target: Target, sizes: list[str]) -> dict[str, list[Document]]:
    out = {}
    for name in target.dev_sets:
        if name == "eval_spam":
            out[name] = _eval_spam_documents()
            continue
        records = read_jsonl_gz(Path(DATA_DIR) / f"{name}.jsonl.gz")
        label = "dev" if name == "boilerplate_dev" else name  # boilerplate's saved fingerprints say "dev"
        out[label] = [Document(str(r["id"]), r["text"], metadata={"url": r.get("url")}) for r in records]
    for size in sizes:
        path = CORPUS_DIR / f"synthetic-{size}-s0-v1.jsonl.zst"
        out[f"synthetic-{size}"] = [d for d in Reader([path]) if isinstance(d, Document)]
    return out


def _copies(batches: list[list[Document]]) -> list[list[Document]]:
    return [[Document(d.id, d.text, metadata=dict(d.metadata), annotations=dict(d.annotations)) for d in b] for b in batches]


def fingerprint(stage_name: str, docs: list[Document], repeats: int = 3) -> tuple[list[str], float, float]:
    """Digests of the documents after the stage; CPU seconds of the pre-pass and of the stage's
    ``process`` (each the best of ``repeats`` runs, on fresh copies: the machine is shared)."""
    target = TARGETS[stage_name]
    *before, stage = build_stages(target.before + [stage_name])
    batches = [docs[i : i + BATCH] for i in range(0, len(docs), BATCH)]
    collectors = [s for s in before + [stage] if s.needs_corpus_pass]
    prepass = seconds = float("inf")
    for _ in range(repeats if collectors else 0):
        start = time.process_time()
        partials = [[s.collect(b) for b in batches] for s in collectors]
        prepass = min(prepass, time.process_time() - start)
    for s, parts in zip(collectors, partials if collectors else []):
        s.fit(parts)
    for b in batches:
        for s in before:
            s.process(b)
    for _ in range(repeats):
        copies = _copies(batches)
        start = time.process_time()
        for b in copies:
            stage.process(b)
        seconds = min(seconds, time.process_time() - start)
    stats_copies: list[list[Document]] | list[list[None]] = [[None] * len(b) for b in batches]
    if target.stats_override:
        (recording,) = build_stages([stage_name], target.stats_override)
        stats_copies = _copies(batches)
        for b in stats_copies:
            recording.process(b)
    digests = [target.digest(d, s) for b, sb in zip(copies, stats_copies) for d, s in zip(b, sb)]
    return digests, prepass if collectors else 0.0, seconds


def main(argv: list[str], default_stage: str = "quality") -> int:
    parser = argparse.ArgumentParser(prog="stage_fingerprint", description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["save", "check"])
    parser.add_argument("name")
    parser.add_argument("sizes", nargs="?", default=None, help="synthetic corpus sizes (as --sizes)")
    parser.add_argument("--stage", choices=sorted(TARGETS), default=default_stage)
    parser.add_argument("--sizes", dest="sizes_option", default="2000,10000", help="comma-separated; '' for none")
    args = parser.parse_args(argv)
    sizes = [s for s in (args.sizes if args.sizes is not None else args.sizes_option).split(",") if s]
    target = TARGETS[args.stage]
    path = Path(f"/tmp/{target.file_prefix or args.stage}-fingerprint-{args.name}.json")
    reference = orjson.loads(path.read_bytes()) if args.mode == "check" else {}
    result, differ = {}, 0
    for label, docs in _sets(target, sizes).items():
        mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
        digests, prepass, seconds = fingerprint(args.stage, docs)
        result[label] = dict(zip((d.id for d in docs), digests))
        line = f"{label}: {len(docs)} docs, {mb:.1f} MB, pre-pass {prepass:.2f} s, {args.stage} {seconds:.2f} s = {mb / seconds:.1f} MB/s"
        if args.mode == "check":
            ref = reference.get(label, {})
            bad = [i for i, h in result[label].items() if ref.get(i) != h]
            differ += len(bad)
            line += f", {len(bad)} differ" + (f" (first: {bad[:5]})" if bad else "")
        print(line, flush=True)
    if args.mode == "save":
        path.write_bytes(orjson.dumps(result))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
