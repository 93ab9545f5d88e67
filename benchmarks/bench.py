"""make bench: speed, memory and dedup quality of winnow vs a hand-written datasketch script.

For each corpus size (synthetic corpus from the dev sets, see ``benchmarks/corpus.py``) it runs, each
in its own subprocess through the real CLI:

* ``winnow run`` with the default config, ``--workers 1`` (per-core figures, per-stage MB/s);
* the same with all cores;
* a dedup-only run (every other stage disabled) - dedup time and memory as the corpus grows;
* ``benchmarks/baseline_datasketch.py`` (datasketch MinHash + MinHashLSH at 0.8), on the same corpus
  or, above ``--baseline-max-docs``, on its first documents (said so in the output).

Above ``--full-max-docs`` (100k) only the dedup-only run is made: the 1M point is about how dedup
time and memory grow, and the whole pipeline at 1M would not fit the 15-minute budget.

Peak RSS is the largest sum of RSS over the process tree (psutil, polled every 50 ms), or the
largest single process's high-water mark (VmHWM) if higher - exact for one worker; with several
workers the sum counts pages shared after fork once per process (an upper bound). MB are 10^6 bytes of UTF-8 document text;
per-stage MB are the stage's input characters scaled by the corpus's bytes per character. Stage
seconds are wall time inside the stage (report.json), so per-stage MB/s at ``--workers 1`` is per core.
Timings on a shared machine are noisy: ``--repeat N`` keeps the fastest of N runs.

    python -m benchmarks.bench [--sizes 10000,100000,1000000] [--repeat 2]
    make bench BENCH_SIZES=10000,100000,1000000
    python -m benchmarks.bench --sizes ""      # only redraw tables and chart from bench.json

Results are merged into ``benchmarks/results/bench.json`` by size, each with its time and commit,
so the 1M point can be measured separately; ``bench.md`` holds the printed tables.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import psutil

from benchmarks import corpus as corpus_mod
from benchmarks.common import DEFAULT_CONFIG, RESULTS_DIR, ROOT, markdown_table, write_result
from benchmarks.metrics import dedup_quality
from pipeline.config import load_config

DEFAULT_SIZES = "10000,100000"
RUNS_DIR = corpus_mod.CORPUS_DIR / "runs"
TARGETS = {"boilerplate": 20.0, "dedup": 50.0}  # per-stage MB/s per core (issues 3 and 5)
SPEEDUP_TARGET = 5.0  # whole default pipeline vs the datasketch loop, one core each
DEDUP_RSS_TARGET_MB = 4000  # 1M x 3 KB documents through dedup


# -- running and measuring one command -----------------------------------------------------------


def measure(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd``; wall seconds and peak RSS of its process tree."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
        peak = {"tree": 0, "hwm": 0}
        done = threading.Event()
        watcher = threading.Thread(target=_poll_rss, args=(proc.pid, peak, done), daemon=True)
        watcher.start()
        proc.wait()
        done.set()
        watcher.join()
        if proc.returncode != 0:
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")
    return {"wall_seconds": round(time.perf_counter() - started, 3), "peak_rss_mb": round(max(peak.values()) / 1e6, 1)}


def _poll_rss(pid: int, peak: dict[str, int], done: threading.Event) -> None:
    """Every 50 ms: the summed RSS of the process tree, and each process's own high-water mark
    (VmHWM, which also catches spikes between polls). ru_maxrss is no use here: a child inherits
    the parent's figure across fork and exec."""
    try:
        root = psutil.Process(pid)
        while not done.wait(0.05):
            total = 0
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                    peak["hwm"] = max(peak["hwm"], _vm_hwm(p.pid))
                except (psutil.NoSuchProcess, OSError):
                    pass
            peak["tree"] = max(peak["tree"], total)
    except psutil.NoSuchProcess:
        return


def _vm_hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def best_of(repeat: int, fn, *args) -> dict[str, Any]:
    runs = [fn(*args) for _ in range(repeat)]
    return min(runs, key=lambda r: r["seconds"])


# -- reading outputs back ------------------------------------------------------------------------


def _position(doc_id: str) -> int:
    return int(doc_id.rsplit("-", 1)[1])


def _read_links(path: Path) -> list[tuple[int, int]]:
    links = []
    if path.exists():
        with open(path, "rb") as fh:
            for line in fh:
                rec = orjson.loads(line)
                links.append((_position(rec["id"]), _position(rec["duplicate_of"])))
    return links


def _read_ids(path: Path) -> list[int]:
    if not path.exists():
        return []
    with open(path, "rb") as fh:
        return [_position(orjson.loads(line)["id"]) for line in fh]


# -- the runs ------------------------------------------------------------------------------------


def _fresh_dir(name: str) -> Path:
    path = RUNS_DIR / name
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def run_winnow(corpus: corpus_mod.Corpus, workers: int, only_stage: str | None = None) -> dict[str, Any]:
    """One ``winnow run`` through the CLI; figures from report.json plus measured RSS and quality."""
    out = _fresh_dir(f"winnow-{corpus.n_docs}-w{workers}-{only_stage or 'default'}")
    cmd = [sys.executable, "-m", "pipeline", "run", str(corpus.path), "--config", str(DEFAULT_CONFIG),
           "--output", str(out), "--workers", str(workers), "--quiet"]
    if only_stage:
        for stage in load_config(DEFAULT_CONFIG).stages:
            if stage.name != only_stage:
                cmd += ["--set", f"{stage.name}.enabled=false"]
    measured = measure(cmd)
    report = orjson.loads((out / "report.json").read_bytes())
    timing = report["timing"]
    bytes_per_char = corpus.bytes / corpus.chars
    stages = {}
    for s in report["stages"]:
        mb = s["chars_in"] * bytes_per_char / 1e6
        stages[s["stage"]] = {
            "mb_in": round(mb, 2),
            "seconds": s["seconds"],
            "mb_per_s": round(mb / s["seconds"], 2) if s["seconds"] else None,
            "docs_in": s["docs_in"],
            "docs_out": s["docs_out"],
        }
    rejected = _read_ids(out / "rejected.jsonl")
    result = {
        "run": f"winnow {'default' if not only_stage else only_stage + '-only'}",
        "workers": workers,
        "docs": report["documents"]["input"],
        "mb": round(corpus.mb, 2),
        "seconds": timing["seconds"],
        "mb_per_s": round(corpus.mb / timing["seconds"], 3),
        "docs_per_s": round(corpus.n_docs / timing["seconds"], 1),
        "wall_seconds": measured["wall_seconds"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "documents": report["documents"],
        "stages": stages,
        "quality": dedup_quality(corpus, _read_links(out / "duplicates.jsonl"), corpus.n_docs, rejected),
    }
    shutil.rmtree(out, ignore_errors=True)
    return result


def run_baseline(corpus: corpus_mod.Corpus, limit: int | None, update: str = "batch") -> dict[str, Any]:
    out = _fresh_dir(f"datasketch-{corpus.n_docs}-{update}")
    cmd = [sys.executable, "-m", "benchmarks.baseline_datasketch", str(corpus.path), "--output", str(out), "--update", update]
    if limit is not None and limit < corpus.n_docs:
        cmd += ["--limit", str(limit)]
    measured = measure(cmd)
    figures = orjson.loads((out / "result.json").read_bytes())
    n = figures["docs"]
    result = {
        "run": f"datasketch ({'update_batch' if update == 'batch' else 'update per shingle'})",
        "workers": 1,
        "docs": n,
        "subsample": n < corpus.n_docs,
        "mb": round(figures["bytes"] / 1e6, 2),
        "seconds": figures["seconds"],
        "mb_per_s": figures["mb_per_s"],
        "docs_per_s": figures["docs_per_s"],
        "wall_seconds": measured["wall_seconds"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "quality": dedup_quality(corpus, _read_links(out / "duplicates.jsonl"), n),
    }
    shutil.rmtree(out, ignore_errors=True)
    return result


def bench_size(n_docs: int, args: argparse.Namespace, log) -> dict[str, Any]:
    started = time.perf_counter()
    corpus = corpus_mod.build(n_docs, args.seed, log=log)
    log(f"[{n_docs}] corpus {corpus.path.name}: {corpus.mb:.1f} MB, {corpus.truth_pairs()} true duplicate pairs "
        f"({time.perf_counter() - started:.0f} s)")
    runs: dict[str, dict] = {}

    failures: dict[str, str] = {}

    def step(key: str, fn, *fn_args) -> None:
        t = time.perf_counter()
        try:
            runs[key] = best_of(args.repeat, fn, *fn_args)
        except RuntimeError as exc:  # a crashing run must not cost the other measurements
            failures[key] = str(exc)
            log(f"[{n_docs}] {key} FAILED: {exc}")
            return
        r = runs[key]
        log(f"[{n_docs}] {r['run']} (workers {r['workers']}, {r['docs']} docs): {r['mb_per_s']:.2f} MB/s, "
            f"peak RSS {r['peak_rss_mb']:.0f} MB ({time.perf_counter() - t:.0f} s)")

    full = n_docs <= args.full_max_docs
    if full:
        step("winnow_default_1", run_winnow, corpus, 1)
        if args.all_cores > 1:
            step(f"winnow_default_{args.all_cores}", run_winnow, corpus, args.all_cores)
    else:
        log(f"[{n_docs}] above --full-max-docs {args.full_max_docs}: dedup-only run")
    step("winnow_dedup_1", run_winnow, corpus, 1, "dedup")
    if full and not args.skip_baseline:
        step("datasketch", run_baseline, corpus, args.baseline_max_docs)
        if args.each_docs and n_docs == min(args.sizes):
            step("datasketch_each", run_baseline, corpus, args.each_docs, "each")
    return {
        "docs": n_docs,
        "mb": round(corpus.mb, 2),
        "true_pairs": corpus.truth_pairs(),
        "seed": args.seed,
        "corpus": corpus.path.name,
        "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": _git_head(),
        "cores": psutil.cpu_count(logical=True),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
        "failures": failures,
    }


def _git_head() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


# -- tables --------------------------------------------------------------------------------------


def _speedup(entry: dict, ours: dict | None = None) -> float | None:
    """Whole default pipeline MB/s (one worker, unless ``ours`` is another run) over the datasketch loop's."""
    base = entry["runs"].get("datasketch")
    ours = ours or entry["runs"].get("winnow_default_1")
    return round(ours["mb_per_s"] / base["mb_per_s"], 2) if base and ours and base["mb_per_s"] else None


def _stage_rank(name: str) -> int:
    """Pipeline order of the default config (the JSON keeps stages sorted by name)."""
    names = [s.name for s in load_config(DEFAULT_CONFIG).stages]
    return names.index(name) if name in names else len(names)


def _ordered_runs(entry: dict) -> list[tuple[str, dict]]:
    """winnow runs first (one worker, all cores, dedup only), then the baselines - not JSON key order."""
    order = ["winnow_default_1", "winnow_default_", "winnow_dedup_1", "datasketch", "datasketch_each"]
    rank = lambda key: next((i for i, p in enumerate(order) if key == p or (p.endswith("_") and key.startswith(p))), len(order))
    return sorted(entry["runs"].items(), key=lambda kv: (rank(kv[0]), kv[0]))


def tables(results: dict[str, dict]) -> str:
    entries = [results[k] for k in sorted(results, key=int)]
    out = ["### Throughput and memory (whole runs)", ""]
    rows = []
    for e in entries:
        for _, r in _ordered_runs(e):
            docs = f"{r['docs']:,}" + (" (subsample)" if r.get("subsample") else "")
            rows.append([f"{e['docs']:,}", r["run"], r["workers"], docs, f"{r['mb']:.1f}", f"{r['seconds']:.1f}",
                         f"{r['mb_per_s']:.2f}", f"{r['docs_per_s']:,.0f}", f"{r['peak_rss_mb']:,.0f}"])
    out.append(markdown_table(["corpus docs", "run", "workers", "docs", "MB", "seconds", "MB/s", "docs/s", "peak RSS MB"], rows))
    for e in entries:
        for key, error in e.get("failures", {}).items():
            out.append(f"\n**{e['docs']:,} documents, {key}: FAILED** - {error.splitlines()[0]}")

    out += ["", "### Per stage, one worker (default config; MB/s per core)", ""]
    rows = []
    for e in entries:
        run = e["runs"].get("winnow_default_1")
        for name, s in sorted((run or {}).get("stages", {}).items(), key=lambda kv: _stage_rank(kv[0])):
            target = TARGETS.get(name)
            status = "" if target is None or s["mb_per_s"] is None else ("meets" if s["mb_per_s"] >= target else "BELOW")
            rows.append([f"{e['docs']:,}", name, f"{s['mb_in']:.1f}", f"{s['seconds']:.2f}",
                         f"{s['mb_per_s']:.1f}" if s["mb_per_s"] else "-", f">= {target:g}" if target else "", status])
        dedup_only = e["runs"].get("winnow_dedup_1", {}).get("stages", {}).get("dedup")
        if dedup_only:
            rows.append([f"{e['docs']:,}", "dedup (dedup-only run)", f"{dedup_only['mb_in']:.1f}", f"{dedup_only['seconds']:.2f}",
                         f"{dedup_only['mb_per_s']:.1f}" if dedup_only["mb_per_s"] else "-", f">= {TARGETS['dedup']:g}",
                         "meets" if (dedup_only["mb_per_s"] or 0) >= TARGETS["dedup"] else "BELOW"])
    out.append(markdown_table(["corpus docs", "stage", "MB in", "seconds", "MB/s", "target", "status"], rows))

    out += ["", "### Whole default pipeline vs the datasketch loop (status: one core each; all cores: `winnow run`'s default)", ""]
    rows = []
    for e in entries:
        if "winnow_default_1" not in e["runs"]:
            continue
        s = _speedup(e)
        base = e["runs"].get("datasketch")
        note = " (baseline on a subsample)" if base and base.get("subsample") else ""
        all_cores = next((r for k, r in sorted(e["runs"].items()) if k.startswith("winnow_default_") and k != "winnow_default_1"), None)
        s_all = _speedup(e, all_cores) if all_cores else None
        rows.append([f"{e['docs']:,}", f"{e['runs']['winnow_default_1']['mb_per_s']:.2f}",
                     f"{base['mb_per_s']:.2f}" if base else "-", (f"{s:.2f}x" if s else "-") + note,
                     f"{all_cores['mb_per_s']:.2f} ({all_cores['workers']} workers)" if all_cores else "-",
                     f"{s_all:.2f}x" if s_all else "-",
                     f">= {SPEEDUP_TARGET:g}x", "" if s is None else ("meets" if s >= SPEEDUP_TARGET else "BELOW")])
    out.append(markdown_table(["corpus docs", "winnow MB/s (1 core)", "datasketch MB/s", "speed-up (1 core)",
                               "winnow MB/s (all cores)", "speed-up (all cores)", "target", "status"], rows))

    out += ["", "### Dedup as the corpus grows (dedup-only run, one worker)", ""]
    rows = []
    first = None
    for e in entries:
        r = e["runs"].get("winnow_dedup_1")
        if not r:
            continue
        first = first or (e["docs"], r["seconds"])
        growth = (r["seconds"] / first[1]) / (e["docs"] / first[0])
        target = "< 4,000 MB at 1M" if e["docs"] >= 1_000_000 else ""
        status = ("meets" if r["peak_rss_mb"] < DEDUP_RSS_TARGET_MB else "BELOW") if target else ""
        rows.append([f"{e['docs']:,}", f"{r['seconds']:.1f}", f"{1000 * r['seconds'] / e['docs']:.2f}", f"{growth:.2f}",
                     f"{r['peak_rss_mb']:,.0f}", target, status])
    out.append(markdown_table(["corpus docs", "seconds", "ms per doc", "time growth vs linear", "peak RSS MB", "target", "status"], rows))

    out += ["", "### Dedup quality on the synthetic corpus (known clusters; pairwise, and recall per variant kind)", ""]
    kinds = [*corpus_mod.VARIANT_KINDS[1:], "jaccard>=0.8", "jaccard<0.8"]
    rows = []
    for e in entries:
        for key, r in _ordered_runs(e):
            if key.startswith("winnow_default_") and key != "winnow_default_1":
                continue  # same output as one worker
            q = r["quality"]
            rows.append([f"{e['docs']:,}", r["run"], q["precision"], q["recall"], q["f1"], q["ari"],
                         *[("-" if q["variant_recall"].get(k) is None else f"{q['variant_recall'][k]:.2f}") for k in kinds]])
    out.append(markdown_table(["corpus docs", "run", "P", "R", "F1", "ARI", *[f"R {k}" for k in kinds]], rows))
    return "\n".join(out)


# -- entry point ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES") or DEFAULT_SIZES,
                        help="comma-separated corpus sizes in documents (env BENCH_SIZES)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "1")),
                        help="runs per measurement, fastest kept (env BENCH_REPEAT)")
    parser.add_argument("--all-cores", type=int, default=len(os.sched_getaffinity(0)),
                        help="workers for the all-cores run (1 skips it)")
    parser.add_argument("--baseline-max-docs", type=int, default=int(os.environ.get("BENCH_BASELINE_MAX_DOCS", "100000")),
                        help="run the datasketch baseline on at most this many documents (first ones)")
    parser.add_argument("--full-max-docs", type=int, default=int(os.environ.get("BENCH_FULL_MAX_DOCS", "100000")),
                        help="larger corpora get only the dedup-only run (env BENCH_FULL_MAX_DOCS)")
    parser.add_argument("--each-docs", type=int, default=2000,
                        help="documents for the update-per-shingle datasketch variant, smallest size only (0 skips)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--no-chart", action="store_true")
    args = parser.parse_args(argv)
    args.sizes = [int(s.replace("_", "")) for s in str(args.sizes).split(",") if s.strip()]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    previous_path = RESULTS_DIR / "bench.json"
    results = orjson.loads(previous_path.read_bytes())["sizes"] if previous_path.exists() else {}
    for n in args.sizes:
        results[str(n)] = bench_size(n, args, log)
        write_result("bench", {"sizes": results})  # after every size: a killed run keeps what it had
    markdown = tables(results)
    when = [f"{int(n):,} docs {e['measured_at']} (commit {e['git']}, load average {e['load_average'][0]})"
            for n, e in sorted(results.items(), key=lambda kv: int(kv[0]))]
    markdown += "\n\nMeasured: " + "; ".join(when) + "."
    print(markdown)
    (RESULTS_DIR / "bench.md").write_text(markdown + "\n", encoding="utf-8")
    if not args.no_chart:
        from benchmarks.chart import plot

        log(f"chart: {plot(results)}")
    log(f"bench finished in {time.perf_counter() - started:.0f} s; results in {previous_path} and bench.md")
    failed = [f"{n}: {key}" for n in args.sizes for key in results[str(n)]["failures"]]
    if failed:
        log(f"FAILED runs: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
