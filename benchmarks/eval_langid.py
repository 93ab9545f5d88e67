"""Language identification: accuracy per language and overall on langid_dev, and speed per backend.

Accuracy: the 7,500 dev sentences (75 languages x 100, ISO 639-1 labels) through the language
stage's ``identify`` for each configuration. Speed: documents per second of ``Language.process``
in this one process, after the models are loaded, best of ``REPEATS`` (one run for the slow ones),
on the sentences and on 990 real web pages (boilerplate_dev ``text``, raw, boilerplate included;
the stage reads the first ``max_chars`` characters). lingua and langdetect are timed on seeded
samples (1,500 sentences / 300 pages). Pages have no gold label; we report agreement with the
language the page declares (``lang_hint``, 905 pages), which is itself sometimes wrong. Last, the
default language and quality stages' throughput in MB/s (CPU time) on those pages after normalize.

    .venv/bin/python -m benchmarks.eval_langid
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import DATA_DIR, build_stages, markdown_table, read_jsonl_gz, write_result
from pipeline.document import Document
from pipeline.stages.language import Language, LanguageConfig

SYSTEMS: dict[str, dict[str, Any]] = {
    "default (fasttext + lingua below 0.7)": {},
    "default, reading 250 chars": {"max_chars": 250},
    "fasttext lid.176.ftz only": {"fallback": "none"},
    "fasttext only, reading 250 chars": {"fallback": "none", "max_chars": 250},
    "fasttext + lingua-low": {"fallback": "lingua-low"},
    "lingua (high accuracy)": {"backend": "lingua"},
    "langdetect (seed 0)": {"backend": "langdetect"},
}
DEFAULT, LANGDETECT = "default (fasttext + lingua below 0.7)", "langdetect (seed 0)"
REPEATS = 3
SLOW_SAMPLE = 1500  # sentences timed for lingua/langdetect (seeded sample); accuracy is on all 7,500
SLOW_PAGES = 300  # pages timed for lingua/langdetect (seeded sample)


def _accuracy(stage: Language, records: list[dict[str, Any]]) -> dict[str, Any]:
    per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fallback = 0
    for r in records:
        guess, backend = stage.identify(r["text"])
        predicted = guess[0][0] if guess else "und"
        per_lang[r["lang"]][0] += predicted == r["lang"]
        per_lang[r["lang"]][1] += 1
        fallback += ">" in backend
    correct = sum(c for c, _ in per_lang.values())
    return {
        "accuracy": round(correct / len(records), 4),
        "per_language": {lang: round(c / n, 3) for lang, (c, n) in sorted(per_lang.items())},
        "fallback_share": round(fallback / len(records), 4),
    }


def _speed(stage: Language, texts: list[str], repeats: int) -> tuple[float, list[Document]]:
    """Documents per second of the stage's batch call (best of ``repeats``), and the documents."""
    best = float("inf")
    for _ in range(repeats):
        docs = [Document(str(i), t) for i, t in enumerate(texts)]
        start = time.perf_counter()
        stage.process(docs)
        best = min(best, time.perf_counter() - start)
    return round(len(texts) / best, 1), docs


def _page_figures(docs: list[Document], hints: list[str | None]) -> dict[str, float]:
    """Fallback share, and agreement with the language the page declares (``<html lang>``)."""
    found = [d.annotations["language"] for d in docs]
    declared = [(f["lang"], h.split("-")[0].lower()) for f, h in zip(found, hints) if h]
    return {
        "pages_fallback_share": round(sum(">" in f["backend"] for f in found) / len(found), 4),
        "pages_agree_with_declared": round(sum(a == b for a, b in declared) / len(declared), 4),
    }


def quality_on_prose(sentences: list[dict[str, Any]], per_doc: int = 10) -> dict[str, Any]:
    """The quality stage's defaults on real prose in 75 languages: the dev sentences of each
    language, shuffled (seeded; the file is sorted, which would repeat openings), joined 10 at a
    time into 750 paragraphs. Every flag here is a false positive of the defaults."""
    (quality,) = build_stages(["quality"])
    by_lang: dict[str, list[str]] = defaultdict(list)
    for r in sentences:
        by_lang[r["lang"]].append(r["text"])
    flagged: dict[str, dict[str, int]] = {}
    total = 0
    for lang, texts in sorted(by_lang.items()):
        random.Random(0).shuffle(texts)
        for i in range(0, len(texts), per_doc):
            total += 1
            flags, _ = quality.assess(" ".join(texts[i : i + per_doc]), lang)
            if flags:
                rules = flagged.setdefault(lang, {})
                rules[flags[0][0]] = rules.get(flags[0][0], 0) + 1
    return {"documents": total, "flagged": sum(sum(r.values()) for r in flagged.values()), "by_language": flagged}


def stage_throughput(pages: list[dict[str, Any]], repeats: int = REPEATS) -> dict[str, float]:
    """MB/s of the default language and quality stages on the dev pages after normalize, in CPU
    seconds of this one process (``time.process_time``, so lingua's threads count), best of ``repeats``."""
    normalize, language, quality = build_stages(["normalize", "language", "quality"])
    docs = [Document(r["id"], r["text"]) for r in pages]
    normalize.process(docs)
    texts = [d.text for d in docs]
    megabytes = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
    language.process([Document("warm-up", "load the models: " + texts[0])])
    quality.process([Document("warm-up", texts[0])])
    figures = {"megabytes": round(megabytes, 2)}
    for stage in (language, quality):
        best = float("inf")
        for _ in range(repeats):
            batch = [Document(str(i), t) for i, t in enumerate(texts)]
            if stage is quality:
                language.process(batch)  # quality reads the language annotation
            start = time.process_time()
            stage.process(batch)
            best = min(best, time.process_time() - start)
        figures[f"{stage.name}_mb_per_s"] = round(megabytes / best, 1)
    return figures


def run(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    sentences = list(read_jsonl_gz(data_dir / "langid_dev.jsonl.gz"))
    page_records = list(read_jsonl_gz(data_dir / "boilerplate_dev.jsonl.gz"))
    rng = random.Random(0)
    sample = [r["text"] for r in rng.sample(sentences, SLOW_SAMPLE)]
    page_sample = rng.sample(page_records, SLOW_PAGES)
    result: dict[str, Any] = {"sentences": len(sentences), "pages": len(page_records), "systems": {}}
    for name, options in SYSTEMS.items():
        stage = Language(LanguageConfig(**options))
        start = time.perf_counter()
        stage.identify("warm up: load the models " + sentences[0]["text"])
        figures = _accuracy(stage, sentences)  # also loads every model the fallback needs
        figures["load_and_accuracy_seconds"] = round(time.perf_counter() - start, 1)
        fast = "backend" not in options
        repeats = REPEATS if fast else 1  # the slow ones take long enough to be steady
        figures["sentences_per_s"], _ = _speed(stage, [r["text"] for r in sentences] if fast else sample, repeats)
        timed_pages = page_records if fast else page_sample
        figures["pages_per_s"], docs = _speed(stage, [r["text"] for r in timed_pages], repeats)
        figures.update(_page_figures(docs, [r["lang_hint"] for r in timed_pages]))
        result["systems"][name] = figures
    result["quality_on_prose"] = quality_on_prose(sentences)
    result["stage_throughput"] = stage_throughput(page_records)
    base = result["systems"][LANGDETECT]
    for figures in result["systems"].values():
        figures["speedup_vs_langdetect_pages"] = round(figures["pages_per_s"] / base["pages_per_s"], 1)
        figures["speedup_vs_langdetect_sentences"] = round(figures["sentences_per_s"] / base["sentences_per_s"], 1)
    return result


def table(result: dict[str, Any]) -> str:
    systems = result["systems"]
    summary = markdown_table(
        ["system", "sentence accuracy", "sentences/s", "x langdetect", "pages/s", "x langdetect",
         "pages = declared lang", "fallback (sentences / pages)"],
        [
            [name, f["accuracy"], f["sentences_per_s"], f["speedup_vs_langdetect_sentences"], f["pages_per_s"],
             f["speedup_vs_langdetect_pages"], f["pages_agree_with_declared"],
             f"{f['fallback_share']:.3f} / {f['pages_fallback_share']:.3f}"]
            for name, f in systems.items()
        ],
    )
    names = list(systems)
    langs = sorted(systems[DEFAULT]["per_language"])
    per_lang = markdown_table(
        ["lang"] + names,
        [[lang] + [f"{systems[n]['per_language'][lang]:.2f}" for n in names] for lang in langs],
    )
    prose = result["quality_on_prose"]
    flagged = "; ".join(f"{lang}: {rules}" for lang, rules in prose["by_language"].items()) or "none"
    quality = f"quality defaults on {prose['documents']} paragraphs of real prose: {prose['flagged']} flagged ({flagged})"
    speed = result["stage_throughput"]
    throughput = (
        f"stages on the {result['pages']} dev pages after normalize ({speed['megabytes']} MB, one process, CPU time): "
        f"language {speed['language_mb_per_s']} MB/s, quality {speed['quality_mb_per_s']} MB/s"
    )
    return f"{summary}\n\nPer language (accuracy on 100 sentences each):\n\n{per_lang}\n\n{quality}\n\n{throughput}"


if __name__ == "__main__":
    figures = run(DATA_DIR)
    print(table(figures))
    write_result("eval_langid", figures)
