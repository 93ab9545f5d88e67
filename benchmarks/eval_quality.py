"""Quality filter defaults: what they reject of real text, what they catch of junk, and their speed.

Real text: the 89 news versions of ``neardup_dev.jsonl.gz`` and the 990 dev pages of
``boilerplate_dev.jsonl.gz`` (real articles with keep snippets), each after the stages that run
before quality in ``configs/default.yaml`` (normalize, boilerplate, spam, language), with the
runner's own policy. Junk: the junk fixtures of ``tests/fixtures/quality`` and ``langqual`` through
the same stages; real fixtures (hard-wrapped news, the seeds) must pass. Speed: the quality stage
alone on the cleaned dev pages and news texts, batches of 256, best of 3 runs, CPU time, one process.

    .venv/bin/python -m benchmarks.eval_quality [--set quality.max_dup_line_ratio=0.3 ...]
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import DATA_DIR, DEFAULT_CONFIG, ROOT, build_stages, markdown_table, read_jsonl_gz, write_result
from pipeline.config import load_config
from pipeline.document import Document
from pipeline.runner import apply_stage

FIXTURES = ROOT / "tests" / "fixtures"
JUNK = [FIXTURES / "quality" / f"{n}.txt" for n in (
    "seo_stuffing", "link_menu", "lorem_template", "templated_repetition", "table_dump", "cookie_wall", "word_salad", "very_short",
    "article_shield",
)] + [FIXTURES / "langqual" / f"{n}.txt" for n in ("seo_keywords", "bullets", "repeated_lines", "lorem", "hashtags")]
REAL = [FIXTURES / "quality" / "news_hard_wrapped.txt", *sorted((FIXTURES / "seeds").glob("*.txt"))]
BATCH = 256


def _stages(overrides: list[str]) -> tuple[list, Any]:
    """The enabled stages before quality, and quality (as configured)."""
    cfg = load_config(DEFAULT_CONFIG, overrides)
    names = [s.name for s in cfg.stages]
    before = [n for n in names[: names.index("quality")] if cfg.stage(n).config.enabled]
    stages = build_stages(before + ["quality"], overrides)
    return stages[:-1], stages[-1]


def _judge(docs: list[Document], before: list, quality: Any) -> dict[str, Any]:
    """Run the stages with the runner's policy; who rejected what (first flag)."""
    for stage in before:
        for i in range(0, len(docs), BATCH):
            apply_stage(stage, docs[i : i + BATCH])
    earlier = Counter(f"{d.rejected_by.stage}:{d.rejected_by.rule}" for d in docs if d.rejected_by)
    live = [d for d in docs if d.rejected_by is None]
    for i in range(0, len(live), BATCH):
        apply_stage(quality, live[i : i + BATCH])
    rules = Counter(d.rejected_by.rule for d in live if d.rejected_by)
    rejected = sum(rules.values())
    return {
        "documents": len(docs),
        "rejected_before_quality": dict(earlier),
        "judged": len(live),
        "rejected": rejected,
        "rejection_rate": round(rejected / max(len(live), 1), 4),
        "rules": dict(rules.most_common()),
        "rejected_ids": sorted(d.id for d in live if d.rejected_by),
    }


def _fixtures(paths: list[Path], before: list, quality: Any) -> dict[str, Any]:
    docs = [Document(p.stem, p.read_text(encoding="utf-8")) for p in paths]
    _judge(docs, before, quality)
    verdicts = {d.id: (f"{d.rejected_by.stage}:{d.rejected_by.rule} = {d.rejected_by.value}" if d.rejected_by else "kept") for d in docs}
    rejected = sum(d.rejected_by is not None for d in docs)
    return {"documents": len(docs), "rejected": rejected, "share_rejected": round(rejected / len(docs), 3), "verdicts": verdicts}


def _speed(texts: list[tuple[str, str]], quality: Any) -> dict[str, float]:
    mb = sum(len(t.encode("utf-8")) for t, _ in texts) / 1e6
    best = float("inf")
    for _ in range(3):
        docs = [Document(str(i), t) for i, (t, _) in enumerate(texts)]
        for doc, (_, lang) in zip(docs, texts):
            doc.annotations["language"] = {"lang": lang, "score": 1.0}
        start = time.process_time()
        for i in range(0, len(docs), BATCH):
            quality.process(docs[i : i + BATCH])
        best = min(best, time.process_time() - start)
    return {"mb": round(mb, 2), "cpu_s": round(best, 3), "mb_per_s": round(mb / best, 1)}


def run(data_dir: Path = DATA_DIR, overrides: list[str] | None = None) -> dict[str, Any]:
    overrides = list(overrides or [])
    before, quality = _stages(overrides)
    result: dict[str, Any] = {}
    cleaned: list[tuple[str, str]] = []
    for name, file in (("neardup_news", "neardup_dev.jsonl.gz"), ("dev_pages", "boilerplate_dev.jsonl.gz")):
        docs = [Document(r["id"], r["text"]) for r in read_jsonl_gz(data_dir / file)]
        result[name] = _judge(docs, before, quality)
        cleaned += [(d.text, (d.annotations.get("language") or {}).get("lang", "und")) for d in docs if d.rejected_by is None or d.rejected_by.stage == "quality"]
    result["junk_fixtures"] = _fixtures(JUNK, before, quality)
    result["real_fixtures"] = _fixtures(REAL, before, quality)
    result["speed"] = _speed(cleaned, quality)
    return result


def table(result: dict[str, Any]) -> str:
    rows = []
    for key, label in (("neardup_news", "neardup_dev news texts"), ("dev_pages", "boilerplate_dev pages")):
        r = result[key]
        rules = ", ".join(f"{k} {v}" for k, v in r["rules"].items()) or "-"
        rows.append([label, r["judged"], r["rejected"], f"{100 * r['rejection_rate']:.1f}%", rules])
    for key, label in (("junk_fixtures", "junk fixtures (must be rejected)"), ("real_fixtures", "real fixtures (must pass)")):
        r = result[key]
        rules = ", ".join(sorted({v.split(" = ")[0] for v in r["verdicts"].values()}))
        rows.append([label, r["documents"], r["rejected"], f"{100 * r['share_rejected']:.1f}%", rules])
    s = result["speed"]
    out = markdown_table(["text (after normalize, boilerplate, spam, language)", "judged", "rejected", "rate", "first rule"], rows)
    return out + f"\n\nquality stage alone: {s['mb_per_s']} MB/s ({s['mb']} MB of cleaned dev text, CPU time, one process)"


if __name__ == "__main__":
    args = sys.argv[1:]
    sets = [a for i, a in enumerate(args) if i > 0 and args[i - 1] == "--set"]
    out = run(DATA_DIR, sets)
    print(table(out))
    if not sets:
        write_result("eval_quality", out)
