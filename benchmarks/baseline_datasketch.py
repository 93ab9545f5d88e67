"""The hand-written datasketch near-dedup script winnow is compared against.

What a data engineer writes from the datasketch README: word 5-gram shingles, ``MinHash(num_perm=128)``,
``MinHashLSH(threshold=0.8)``; a document whose MinHash finds an earlier one in the index is a
duplicate of it, otherwise it is inserted and kept. Kept documents are written to ``clean.jsonl``,
duplicates to ``duplicates.jsonl``, figures to ``result.json``.

The MinHash is filled with ``update_batch`` (all shingles in one vectorised call) by default - the
faster of datasketch's two ways, so the comparison flatters the baseline; ``--update each`` calls
``update`` once per shingle as the README's first example does (about 3x slower).

    python -m benchmarks.baseline_datasketch CORPUS.jsonl.zst --output DIR [--limit N] [--update each]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import orjson
from datasketch import MinHash, MinHashLSH

from benchmarks.corpus import iter_records

NUM_PERM = 128
THRESHOLD = 0.8
SHINGLE_WORDS = 5


def shingles(text: str) -> set[str]:
    words = text.split()
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}


def dedup(corpus: Path, output: Path, limit: int | None = None, update: str = "batch") -> dict:
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    docs = kept = n_bytes = 0
    with open(output / "clean.jsonl", "wb") as clean, open(output / "duplicates.jsonl", "wb") as dups:
        for record in iter_records(corpus):
            if limit is not None and docs >= limit:
                break
            docs += 1
            text = record["text"]
            n_bytes += len(text.encode("utf-8"))
            m = MinHash(num_perm=NUM_PERM)
            if update == "batch":
                m.update_batch([s.encode("utf-8") for s in shingles(text)])
            else:
                for shingle in shingles(text):
                    m.update(shingle.encode("utf-8"))
            hits = lsh.query(m)
            if hits:
                dups.write(orjson.dumps({"id": record["id"], "duplicate_of": min(hits)}) + b"\n")
            else:
                lsh.insert(record["id"], m)
                clean.write(orjson.dumps(record) + b"\n")
                kept += 1
    seconds = time.perf_counter() - started
    result = {
        "update": update,
        "docs": docs,
        "kept": kept,
        "duplicates": docs - kept,
        "bytes": n_bytes,
        "seconds": round(seconds, 3),
        "mb_per_s": round(n_bytes / 1e6 / seconds, 3) if seconds else None,
        "docs_per_s": round(docs / seconds, 1) if seconds else None,
    }
    (output / "result.json").write_bytes(orjson.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="only the first N documents")
    parser.add_argument("--update", choices=["batch", "each"], default="batch", help="MinHash.update_batch or update per shingle")
    args = parser.parse_args()
    print(orjson.dumps(dedup(args.corpus, args.output, args.limit, args.update)).decode())


if __name__ == "__main__":
    main()
