"""Language identification: accuracy and speed per backend, on sentences, web pages and the bench corpus.

Inputs, all from the dev sets:

* sentences - the 7,500 ``langid_dev`` sentences (75 languages x 100, gold ISO 639-1 labels);
* pages - the 990 raw ``boilerplate_dev`` pages (~13 KB each, boilerplate included); no gold label,
  so we report agreement with the language the page declares (``lang_hint``, 905 pages, itself
  sometimes wrong);
* docs - the 2,000 documents of the synthetic bench corpus (``benchmarks.corpus``, seed 0, ~3.2 KB,
  75 languages, some with foreign sentences), checked against the language of the pool each was
  stitched from (page pools are sorted by stopwords, so this label is a little noisy too).

Speed: ``Language.process`` in this one process, after the models are loaded (start-up is measured
apart, in a fresh process), per document in CPU microseconds (``time.process_time``, so lingua's
threads count) and wall microseconds, best of ``REPEATS`` for the fast systems; lingua and langdetect
run once on seeded samples (1,500 sentences / 300 pages / 300 docs). "x langdetect" divides
langdetect's CPU time per document by the system's, for two langdetect baselines on the same
documents: reading the same 200-character sample as the default, and reading the whole document
(up to 10,000 characters, as ``langdetect.detect(text)`` does). Last, the language and quality
stages' throughput in MB/s (CPU time) on the pages and on the bench docs after normalize.

    .venv/bin/python -m benchmarks.eval_langid
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks import corpus
from benchmarks.common import DATA_DIR, ROOT, build_stages, markdown_table, read_jsonl_gz, write_result
from pipeline.document import Document
from pipeline.stages.language import Language, LanguageConfig

DEFAULT = "default"
SAME_SAMPLE, WHOLE_DOC = "langdetect, same sample", "langdetect, whole document"
PREVIOUS = "like the previous default (1,000 chars; lingua: all 75, high accuracy)"
SYSTEMS: dict[str, dict[str, Any]] = {
    DEFAULT: {},
    PREVIOUS: {
        "sample_chars": 1000, "fallback_chars": 1000, "fallback_candidates": 0, "fallback_high_accuracy_below": 10**6,
    },
    "default, lingua over all 75 languages": {"fallback_candidates": 0},
    "fasttext lid.176.ftz only": {"fallback": "none"},
    "fasttext + lingua-low": {"fallback": "lingua-low"},
    "lingua (high accuracy) alone": {"backend": "lingua"},
    SAME_SAMPLE: {"backend": "langdetect"},
    WHOLE_DOC: {"backend": "langdetect", "sample_chars": 10_000},
}
SLOW = {PREVIOUS, "default, lingua over all 75 languages", "lingua (high accuracy) alone", SAME_SAMPLE, WHOLE_DOC}
REPEATS = 2
SLOW_SAMPLE = {"sentences": 1500, "pages": 300, "docs": 300}  # timed for the slow systems (seeded samples)
BENCH_DOCS = 2000


def _labels(docs: list[Document]) -> tuple[list[str], float]:
    """Top language per annotated document, and the share the fallback decided."""
    found = [d.annotations["language"] for d in docs]
    return [f["lang"] for f in found], sum(">" in f["backend"] for f in found) / len(found)


def _agreement(found: list[str], gold: list[str | None]) -> tuple[float, dict[str, float]]:
    per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for f, g in zip(found, gold):
        if g:
            per_lang[g][0] += f == g
            per_lang[g][1] += 1
    correct, total = sum(c for c, _ in per_lang.values()), sum(n for _, n in per_lang.values())
    return round(correct / total, 4), {lang: round(c / n, 3) for lang, (c, n) in sorted(per_lang.items())}


def _speed(stage: Language, texts: list[str], repeats: int) -> tuple[dict[str, float], list[Document]]:
    """Microseconds per document of the stage's batch call, CPU and wall (best of ``repeats``)."""
    cpu = wall = float("inf")
    for _ in range(repeats):
        docs = [Document(str(i), t) for i, t in enumerate(texts)]
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        stage.process(docs)
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start_wall)
    return {"cpu_us": round(cpu / len(texts) * 1e6, 1), "wall_us": round(wall / len(texts) * 1e6, 1)}, docs


def head_to_head(stage: Language, baseline: Language, texts: list[str], chunk: int = 100) -> dict[str, float]:
    """CPU microseconds per document of ``stage`` (best of 2) and ``baseline``, alternating chunk by
    chunk, so that the load of a shared machine weighs on both alike; and their ratio."""
    own = base = 0.0
    _speed(stage, texts[:1], 1), _speed(baseline, texts[:1], 1)  # load the models
    for i in range(0, len(texts), chunk):
        part = texts[i : i + chunk]
        own += min(_speed(stage, part, 1)[0]["cpu_us"] for _ in range(2)) * len(part)
        base += _speed(baseline, part, 1)[0]["cpu_us"] * len(part)
    return {"cpu_us": round(own / len(texts), 1), "langdetect_cpu_us": round(base / len(texts), 1), "x": round(base / own, 1)}


def bench_docs(data_dir: Path, n_docs: int = BENCH_DOCS) -> tuple[list[str], list[str]]:
    """The synthetic bench corpus (built in benchmarks/corpus/ if missing) and each document's
    source language: the pool its original was stitched from."""
    path = corpus.build(n_docs, 0, data_dir=data_dir, log=lambda *_: None).path
    texts = [r["text"] for r in corpus.iter_records(path)]
    sources = corpus.load_sources(data_dir)
    plan = corpus.make_plan(sources, n_docs, 0)
    langs = sorted(sources.pools)
    gold = [{"no": "nb"}.get(lang, lang) for lang in (langs[plan.pool[s]] for s in plan.source.tolist())]
    return texts, gold


def cold_start(data_dir: Path) -> dict[str, float]:
    """A fresh process: the default stage over the 990 pages, first time (models load) and again."""
    code = (
        "import json,time,sys\n"
        "from benchmarks.common import read_jsonl_gz\n"
        "from pipeline.document import Document\n"
        "from pipeline.stages.language import Language\n"
        "texts=[r['text'] for r in read_jsonl_gz(sys.argv[1])]\n"
        "out={}\n"
        "for name in ('first','again'):\n"
        "    docs=[Document(str(i),t) for i,t in enumerate(texts)]\n"
        "    c,w=time.process_time(),time.perf_counter()\n"
        "    (st:=st if name=='again' else Language()).process(docs)\n"
        "    out[name+'_cpu_s']=round(time.process_time()-c,2); out[name+'_wall_s']=round(time.perf_counter()-w,2)\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(data_dir / "boilerplate_dev.jsonl.gz")],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout)


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


def stage_throughput(corpora: dict[str, list[str]], repeats: int = REPEATS) -> dict[str, dict[str, float]]:
    """MB/s of the default language and quality stages on each corpus after normalize, in CPU
    seconds of this one process (``time.process_time``, so lingua's threads count), best of ``repeats``."""
    normalize, language, quality = build_stages(["normalize", "language", "quality"])
    figures: dict[str, dict[str, float]] = {}
    for name, raw in corpora.items():
        docs = [Document(str(i), t) for i, t in enumerate(raw)]
        normalize.process(docs)
        texts = [d.text for d in docs]
        megabytes = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
        language.process([Document(str(i), t) for i, t in enumerate(texts)])  # load the models it needs
        quality.process([Document("warm-up", texts[0])])
        row = {"megabytes": round(megabytes, 2)}
        for stage in (language, quality):
            best = float("inf")
            for _ in range(repeats):
                batch = [Document(str(i), t) for i, t in enumerate(texts)]
                if stage is quality:
                    language.process(batch)  # quality reads the language annotation
                start = time.process_time()
                stage.process(batch)
                best = min(best, time.process_time() - start)
            row[f"{stage.name}_mb_per_s"] = round(megabytes / best, 1)
        figures[name] = row
    return figures


def run(data_dir: Path = DATA_DIR) -> dict[str, Any]:
    sentences = list(read_jsonl_gz(data_dir / "langid_dev.jsonl.gz"))
    pages = list(read_jsonl_gz(data_dir / "boilerplate_dev.jsonl.gz"))
    bench_texts, bench_gold = bench_docs(data_dir)
    inputs = {
        "sentences": ([r["text"] for r in sentences], [r["lang"] for r in sentences]),
        "pages": ([r["text"] for r in pages], [(r["lang_hint"] or "").split("-")[0].lower() or None for r in pages]),
        "docs": (bench_texts, bench_gold),
    }
    started = time.perf_counter()
    rng = random.Random(0)
    samples = {name: rng.sample(range(len(texts)), SLOW_SAMPLE[name]) for name, (texts, _) in inputs.items()}
    result: dict[str, Any] = {"inputs": {k: len(v[0]) for k, v in inputs.items()}, "systems": {}}
    for name, options in SYSTEMS.items():
        stage = Language(LanguageConfig(**options))
        figures: dict[str, Any] = {}
        for corpus_name, (texts, gold) in inputs.items():
            whole_set = None
            if name in SLOW:  # one timed run on the seeded sample (and all sentences for their accuracy)
                if corpus_name == "sentences" and name != WHOLE_DOC:
                    whole_set = _labels(_speed(stage, texts, 1)[1])
                chosen = samples[corpus_name]
                if stage.config.backend != "langdetect":  # lingua loads its models on first use
                    _speed(stage, [texts[i] for i in chosen], 1)
                figures[f"{corpus_name}_speed"], docs = _speed(stage, [texts[i] for i in chosen], 1)
                if whole_set is None:
                    gold = [gold[i] for i in chosen]
            else:
                _speed(stage, texts, 1)  # loads every model the fallback needs
                figures[f"{corpus_name}_speed"], docs = _speed(stage, texts, REPEATS)
            found, fallback = whole_set or _labels(docs)
            figures[f"{corpus_name}_accuracy"], per_lang = _agreement(found, gold)
            figures[f"{corpus_name}_fallback_share"] = round(fallback, 4)
            if corpus_name == "sentences" and name != WHOLE_DOC:
                figures["per_language"] = per_lang
        result["systems"][name] = figures
        print(f"eval_langid: {name} done at {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    for figures in result["systems"].values():
        for corpus_name in inputs:
            own = figures[f"{corpus_name}_speed"]["cpu_us"]
            for base in (SAME_SAMPLE, WHOLE_DOC):
                figures[f"{corpus_name}_x_{base}"] = round(result["systems"][base][f"{corpus_name}_speed"]["cpu_us"] / own, 1)
    default, stages = Language(LanguageConfig()), {b: Language(LanguageConfig(**SYSTEMS[b])) for b in (SAME_SAMPLE, WHOLE_DOC)}
    result["head_to_head"] = {
        f"{corpus_name} vs {base}": head_to_head(default, stage, [texts[i] for i in samples[corpus_name]])
        for corpus_name, (texts, _) in inputs.items() for base, stage in stages.items()
    }
    result["cold_start_pages"] = cold_start(data_dir)
    result["quality_on_prose"] = quality_on_prose(sentences)
    result["stage_throughput"] = stage_throughput({"pages": [r["text"] for r in pages], "docs": bench_texts})
    return result


def table(result: dict[str, Any]) -> str:
    systems = result["systems"]

    def speed(f: dict[str, Any], corpus_name: str) -> str:
        s = f[f"{corpus_name}_speed"]
        return f"{s['cpu_us']:,.0f} / {s['wall_us']:,.0f}"

    def times(f: dict[str, Any], corpus_name: str) -> str:
        return f"{f[f'{corpus_name}_x_{SAME_SAMPLE}']:g} / {f[f'{corpus_name}_x_{WHOLE_DOC}']:g}"

    summary = markdown_table(
        ["system", "sentence accuracy", "µs/sentence (CPU / wall)", "x langdetect (sample / whole)",
         "pages = declared", "µs/page", "x langdetect", "docs = source", "µs/doc", "x langdetect",
         "fallback (sentences / pages / docs)"],
        [
            [name, f["sentences_accuracy"], speed(f, "sentences"), times(f, "sentences"),
             f["pages_accuracy"], speed(f, "pages"), times(f, "pages"),
             f["docs_accuracy"], speed(f, "docs"), times(f, "docs"),
             f"{f['sentences_fallback_share']:.3f} / {f['pages_fallback_share']:.3f} / {f['docs_fallback_share']:.3f}"]
            for name, f in systems.items()
        ],
    )
    names = [n for n in systems if n != WHOLE_DOC]
    langs = sorted(systems[DEFAULT]["per_language"])
    per_lang = markdown_table(
        ["lang"] + names,
        [[lang] + [f"{systems[n]['per_language'][lang]:.2f}" for n in names] for lang in langs],
    )
    duel = markdown_table(
        ["default vs langdetect (interleaved, same samples)", "default µs CPU", "langdetect µs CPU", "x langdetect"],
        [[name, f["cpu_us"], f["langdetect_cpu_us"], f["x"]] for name, f in result["head_to_head"].items()],
    )
    cold = result["cold_start_pages"]
    start = (f"default stage in a fresh process over the {result['inputs']['pages']} pages: first pass "
             f"{cold['first_cpu_s']} CPU s / {cold['first_wall_s']} wall s (models load), again "
             f"{cold['again_cpu_s']} CPU s / {cold['again_wall_s']} wall s")
    prose = result["quality_on_prose"]
    flagged = "; ".join(f"{lang}: {rules}" for lang, rules in prose["by_language"].items()) or "none"
    quality = f"quality defaults on {prose['documents']} paragraphs of real prose: {prose['flagged']} flagged ({flagged})"
    throughput = "; ".join(
        f"{name} ({t['megabytes']} MB after normalize): language {t['language_mb_per_s']} MB/s, quality {t['quality_mb_per_s']} MB/s"
        for name, t in result["stage_throughput"].items()
    )
    note = (f"Slow systems ({'; '.join(sorted(SLOW))}): timed once on seeded samples of {SLOW_SAMPLE}, "
            "page/doc agreement on those samples (sentence accuracy on all, except the whole-document langdetect).")
    return (f"{summary}\n\n{note}\n\n{duel}\n\nPer language (sentence accuracy, 100 each):\n\n{per_lang}\n\n{start}\n\n{quality}\n\n"
            f"stages, one process, CPU time: {throughput}")


if __name__ == "__main__":
    figures = run(DATA_DIR)
    print(table(figures))
    write_result("eval_langid", figures)
