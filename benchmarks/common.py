"""Shared helpers for the evaluation and benchmark scripts: dev data, running one stage, tables.

Every ``benchmarks/eval_<area>.py`` module exposes ``run(data_dir: Path) -> dict`` (figures, JSON-
serialisable) and ``table(result: dict) -> str`` (Markdown); ``benchmarks/eval.py`` runs them all.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from pipeline.config import load_config
from pipeline.document import Document
from pipeline.stages import RunContext, stage_class

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("WINNOW_DATA", ROOT.parent / "shared" / "data"))
RESULTS_DIR = ROOT / "benchmarks" / "results"
CORPUS_DIR = Path(os.environ.get("WINNOW_CORPUS_DIR", ROOT / "benchmarks" / "corpus"))  # built by `make bench`
DEFAULT_CONFIG = ROOT / "configs" / "default.yaml"


def read_jsonl_gz(path: Path | str) -> Iterator[dict[str, Any]]:
    """Records of a (gzipped) JSONL file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def build_stages(names: Iterable[str], overrides: list[str] | None = None, config: Path = DEFAULT_CONFIG) -> list:
    """The named stages, configured as in ``config`` (default config) plus ``--set``-style overrides."""
    cfg = load_config(config, overrides)
    wanted = list(names)
    specs = {s.name: s for s in cfg.stages}
    context = RunContext()
    return [stage_class(n)(specs[n].config if n in specs else None, context) for n in wanted]


def apply(stages: list, docs: list[Document]) -> list[Document]:
    """Run per-batch stages over documents in place, in order (flags are recorded, not enforced)."""
    for stage in stages:
        stage.process(docs)
    return docs


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table; floats are shown with 3 decimals."""

    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` (sorted keys, so reruns diff cleanly)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY))
    return path
