"""Fingerprints of the boilerplate stage's decisions, to prove an optimisation changes none of them.

For the dev pages (``boilerplate_dev.jsonl.gz``) and the synthetic bench corpora, runs normalize +
boilerplate as ``winnow run`` does (corpus pre-pass on the raw input, batches of 256) and hashes,
per document, the cleaned text, the title, the annotations and every removal (rule, text,
position). ``save NAME`` writes the hashes to ``/tmp/bp-fingerprint-NAME.json``; ``check NAME``
compares against them and lists the first documents that differ. Also prints the CPU seconds of
``collect`` and of ``process`` (best of 3).

    .venv/bin/python -m benchmarks.boilerplate_fingerprint save before
    .venv/bin/python -m benchmarks.boilerplate_fingerprint check before
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import orjson

from benchmarks.common import DATA_DIR, build_stages, read_jsonl_gz
from pipeline.document import Document
from pipeline.readers import Reader

CORPUS_DIR = Path("/work/main/benchmarks/corpus")
BATCH = 256


def _sets(sizes: list[str]) -> dict[str, list[Document]]:
    records = list(read_jsonl_gz(Path(DATA_DIR) / "boilerplate_dev.jsonl.gz"))
    out = {"dev": [Document(r["id"], r["text"], metadata={"url": r.get("url")}) for r in records]}
    for size in sizes:
        path = CORPUS_DIR / f"synthetic-{size}-s0-v1.jsonl.zst"
        out[f"synthetic-{size}"] = [d for d in Reader([path]) if isinstance(d, Document)]
    return out


def _digest(doc: Document) -> str:
    payload = orjson.dumps(
        [doc.text, doc.metadata.get("title"), doc.annotations.get("boilerplate"),
         [(r.stage, r.rule, r.text, r.position) for r in doc.removals]],
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.blake2b(payload, digest_size=12).hexdigest()


def fingerprint(docs: list[Document], repeats: int = 3) -> tuple[list[str], float, float]:
    """Digests of the cleaned documents; CPU seconds of the pre-pass and of ``process`` (each the
    best of ``repeats`` runs, on fresh copies: the machine is shared)."""
    normalize, boilerplate = build_stages(["normalize", "boilerplate"])
    batches = [docs[i : i + BATCH] for i in range(0, len(docs), BATCH)]
    prepass = seconds = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        partials = [boilerplate.collect(b) for b in batches]
        prepass = min(prepass, time.process_time() - start)
    boilerplate.fit(partials)
    for b in batches:
        normalize.process(b)
    for _ in range(repeats):
        copies = [[Document(d.id, d.text, metadata=dict(d.metadata)) for d in b] for b in batches]
        start = time.process_time()
        for b in copies:
            boilerplate.process(b)
        seconds = min(seconds, time.process_time() - start)
    return [_digest(d) for b in copies for d in b], prepass, seconds


def main(argv: list[str]) -> int:
    mode, name = argv[0], argv[1]
    sizes = argv[2].split(",") if len(argv) > 2 else ["2000", "10000"]
    path = Path(f"/tmp/bp-fingerprint-{name}.json")
    reference = orjson.loads(path.read_bytes()) if mode == "check" else {}
    result, differ = {}, 0
    for label, docs in _sets(sizes).items():
        mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
        digests, prepass, seconds = fingerprint(docs)
        result[label] = dict(zip((d.id for d in docs), digests))
        line = f"{label}: {len(docs)} docs, {mb:.1f} MB, pre-pass {prepass:.2f} s, process {seconds:.2f} s = {mb / seconds:.1f} MB/s"
        if mode == "check":
            ref = reference.get(label, {})
            bad = [i for i, h in result[label].items() if ref.get(i) != h]
            differ += len(bad)
            line += f", {len(bad)} differ" + (f" (first: {bad[:5]})" if bad else "")
        print(line, flush=True)
    if mode == "save":
        path.write_bytes(orjson.dumps(result))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
