"""CPU seconds of one per-batch stage alone, over the documents it sees in a default run.

The stages before it in ``configs/default.yaml`` run first (with their corpus pre-pass), then the
stage's ``process`` runs over fresh copies of those documents in batches of 256, ``repeats`` times;
the best CPU time counts (the machine is shared: alternate old and new code, compare bests). A
stage with a corpus pre-pass also gets the best CPU time of that pre-pass (``collect`` over the raw
input's batches, then ``fit``), and its MB/s as the runner charges it: pre-pass plus ``process``.

    .venv/bin/python -m benchmarks.stage_cpu spam [CORPUS] [REPEATS]
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

from benchmarks.common import CORPUS_DIR, DEFAULT_CONFIG, build_stages
from pipeline.config import load_config
from pipeline.document import Document
from pipeline.readers import Reader

CORPUS = CORPUS_DIR / "synthetic-10000-s0-v1.jsonl.zst"
BATCH = 256


def stage_seconds(name: str, corpus: Path = CORPUS, repeats: int = 5) -> tuple[float, float, float | None]:
    """MB of text the stage sees, its best CPU seconds over ``repeats`` runs, and those of its
    corpus pre-pass (None: it has none)."""
    names = [s.name for s in load_config(DEFAULT_CONFIG).stages]
    stages = build_stages(names[: names.index(name) + 1])
    docs = [d for d in Reader([corpus]) if isinstance(d, Document)]
    batches = [docs[i : i + BATCH] for i in range(0, len(docs), BATCH)]
    raw = copy.deepcopy(batches)  # the runner's pre-pass reads the input as it is
    for stage in stages[:-1]:
        if stage.needs_corpus_pass:
            stage.fit([stage.collect(b) for b in batches])
        for b in batches:
            stage.process(b)
    mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    measured = stages[-1]
    best, best_pre_pass = float("inf"), float("inf")
    for _ in range(repeats):
        if measured.needs_corpus_pass:
            start = time.process_time()
            measured.fit([measured.collect(b) for b in raw])
            best_pre_pass = min(best_pre_pass, time.process_time() - start)
        copies = copy.deepcopy(batches)
        start = time.process_time()
        for b in copies:
            measured.process(b)
        best = min(best, time.process_time() - start)
    return mb, best, best_pre_pass if measured.needs_corpus_pass else None


if __name__ == "__main__":
    stage_name = sys.argv[1]
    corpus_path = Path(sys.argv[2]) if len(sys.argv) > 2 else CORPUS
    mb, seconds, pre_pass = stage_seconds(stage_name, corpus_path, int(sys.argv[3]) if len(sys.argv) > 3 else 5)
    print(f"{stage_name}: {mb:.1f} MB, best {seconds:.3f} CPU s = {mb / seconds:.1f} MB/s")
    if pre_pass is not None:
        print(f"{stage_name} pre-pass: best {pre_pass:.3f} CPU s; as charged (pre-pass + process) {mb / (pre_pass + seconds):.1f} MB/s")
