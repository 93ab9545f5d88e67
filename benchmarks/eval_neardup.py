"""Near-duplicate quality and dedup speed on ``neardup_dev.jsonl.gz`` (89 versions of news articles).

The stages that precede dedup in ``configs/default.yaml`` clean every document first (as in a real
run); documents they reject stay singletons. Then dedup signs and resolves, and its clusters are
compared with the gold ``cluster`` field: pairwise precision / recall / F1 and the adjusted Rand
index. Speed: ``sign`` + ``resolve`` in one process over the cleaned texts repeated to ~10 MB.

    .venv/bin/python -m benchmarks.eval_neardup [--set dedup.threshold=0.6 ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import DATA_DIR, DEFAULT_CONFIG, build_stages, markdown_table, read_jsonl_gz, write_result
from benchmarks.metrics import pair_scores
from pipeline.config import load_config
from pipeline.dedup import minhash, shingles
from pipeline.document import Document
from pipeline.runner import apply_stage

SPEED_MB = 10.0


def _cleaned(records: list[dict[str, Any]], overrides: list[str]) -> tuple[list[Document], int, Any]:
    """Documents that survive the stages before dedup (cleaned), how many were rejected, the dedup stage."""
    cfg = load_config(DEFAULT_CONFIG, overrides)
    names = [s.name for s in cfg.stages]
    before = [n for n in names[: names.index("dedup")] if cfg.stage(n).config.enabled]
    stages = build_stages(before + ["dedup"], overrides)
    docs = [Document(r["id"], r["text"]) for r in records]
    for stage in stages[:-1]:
        apply_stage(stage, docs)  # the runner's own policy: a flag from a stage in filter mode rejects
    live = [d for d in docs if d.rejected_by is None]
    return live, len(docs) - len(live), stages[-1]


def run(data_dir: Path = DATA_DIR, overrides: list[str] | None = None) -> dict[str, Any]:
    overrides = list(overrides or [])
    records = list(read_jsonl_gz(data_dir / "neardup_dev.jsonl.gz"))
    live, n_rejected, dedup = _cleaned(records, overrides)
    decisions = dedup.resolve([dedup.sign(live)], [d.id for d in live])
    kept_as = {r["id"]: r["id"] for r in records}  # rejected documents stay singletons
    for ordinal, dup in decisions.items():
        kept_as[live[ordinal].id] = dup.duplicate_of
    predicted = np.array([kept_as[r["id"]] for r in records])
    gold = np.array([r["cluster"] for r in records])
    scores = pair_scores(gold, predicted)
    result: dict[str, Any] = {
        "documents": len(records),
        "gold_clusters": int(len(set(gold.tolist()))),
        "predicted_clusters": int(len(set(predicted.tolist()))),
        "rejected_before_dedup": n_rejected,
        **scores,
        "config": {k: v for k, v in dedup.config.model_dump().items() if k not in ("enabled", "mode")},
        "bands_rows": [dedup.bands, dedup.rows],
    }
    result["speed"] = _speed(live, dedup)
    return result


def _speed(docs: list[Document], dedup: Any) -> dict[str, float]:
    """sign + resolve MB/s in this process, the cleaned texts repeated (with edits) to ~SPEED_MB."""
    size = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    copies = max(1, int(SPEED_MB / max(size, 1e-6)))
    corpus = [Document(f"{d.id}#{c}", f"{c} {d.text} {c}") for c in range(copies) for d in docs]
    mb = sum(len(d.text.encode("utf-8")) for d in corpus) / 1e6
    best_sign = best_resolve = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        sigs = [dedup.sign(corpus[i : i + 256]) for i in range(0, len(corpus), 256)]
        mid = time.perf_counter()
        dedup.resolve(sigs, [d.id for d in corpus])
        end = time.perf_counter()
        best_sign, best_resolve = min(best_sign, mid - start), min(best_resolve, end - mid)
    return {
        "mb": round(mb, 2),
        "sign_mb_per_s": round(mb / best_sign, 1),
        "resolve_s": round(best_resolve, 3),
        "dedup_mb_per_s": round(mb / (best_sign + best_resolve), 1),
        **_kernels(corpus[: len(corpus) // 4], dedup.config),
    }


def _kernels(docs: list[Document], cfg: Any) -> dict[str, float]:
    """MinHash kernel alone (shingles ready), MB of text per second: rensa vs the datasketch port."""
    mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    batches = [shingles.shingle_hashes(shingles.tokenize([d.text for d in docs[i : i + 256]]), cfg.shingle_size) for i in range(0, len(docs), 256)]
    out = {}
    for backend in ("rensa", "datasketch"):
        start = time.perf_counter()
        for flat, offsets in batches:
            minhash.signatures(backend, flat, offsets, cfg.num_perm, cfg.seed)
        out[f"kernel_{backend}_mb_per_s"] = round(mb / (time.perf_counter() - start), 1)
    return out


def table(result: dict[str, Any]) -> str:
    s = result["speed"]
    return markdown_table(
        ["docs", "gold clusters", "predicted", "pairwise P", "pairwise R", "F1", "ARI", "dedup MB/s (1 core)",
         "MinHash kernel MB/s: rensa / datasketch port"],
        [[result["documents"], result["gold_clusters"], result["predicted_clusters"], result["precision"],
          result["recall"], result["f1"], result["ari"], s["dedup_mb_per_s"],
          f"{s['kernel_rensa_mb_per_s']} / {s['kernel_datasketch_mb_per_s']}"]],
    )


def resolve_scale(n: int, seed: int = 0) -> dict[str, Any]:
    """Resolve alone on ``n`` synthetic signatures (10% near-copies of 256 base documents, 20% of
    MinHash values changed), as a sign step would hand them over: seconds and peak RSS."""
    import resource

    from pipeline.stages.dedup import Dedup, DedupConfig, DedupSignature

    stage = Dedup(DedupConfig())
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**32, size=(256, 128), dtype=np.uint32)
    signatures = []
    for lo in range(0, n, 256):
        size = min(256, n - lo)
        sig = rng.integers(0, 2**32, size=(size, 128), dtype=np.uint32)
        copies = size // 10
        sig[:copies] = base[rng.integers(0, 256, copies)]
        changed = rng.random((copies, 128)) < 0.2
        sig[:copies][changed] = rng.integers(0, 2**32, size=int(changed.sum()), dtype=np.uint32)
        signatures.append(DedupSignature(
            exact=rng.integers(0, 2**63, size=size, dtype=np.uint64), keys=minhash.band_keys(sig, stage.bands, stage.rows),
            sig=minhash.compact(sig), shingled=np.ones(size, dtype=bool), length=np.full(size, 3000), keep_values=None,
        ))
    ids = [f"doc-{i:07d}" for i in range(n)]
    start = time.perf_counter()
    removed = len(stage.resolve(signatures, ids))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KB -> GB
    return {"documents": n, "removed": removed, "resolve_s": round(seconds, 2), "peak_rss_gb": round(peak, 2)}


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--scale"]:  # python -m benchmarks.eval_neardup --scale 1000000 (one size per process)
        print(resolve_scale(int(args[1])))
        sys.exit(0)
    sets = [a for i, a in enumerate(args) if i > 0 and args[i - 1] == "--set"]
    out = run(DATA_DIR, sets)
    print(table(out))
    if not sets:
        write_result("eval_neardup", out)
