"""make eval: run every ``benchmarks/eval_<area>.py`` on the dev sets and collect the figures.

Each module exposes ``run(data_dir) -> dict`` and ``table(result) -> str``. They run in name
order; each table is printed under a heading, and all results go to ``benchmarks/results/eval.json``
(the tables also to ``eval.md``, which is what the README shows). A module that fails is reported
with its error, the others still run, and the exit status is 1.

    python -m benchmarks.eval [--only langid,neardup [--update]] [--data DIR]

``--only`` runs some areas and leaves the saved figures alone; with ``--update`` their results
replace those areas in ``eval.json`` and ``eval.md`` (the other areas keep their last full run).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import DATA_DIR, RESULTS_DIR, write_result

EVAL_DIR = Path(__file__).resolve().parent


def discover(directory: Path = EVAL_DIR) -> list[str]:
    """Areas with an eval module, sorted: ``eval_langid.py`` -> ``langid``."""
    return sorted(p.stem.removeprefix("eval_") for p in directory.glob("eval_*.py"))


def render(results: dict[str, Any], package: str = "benchmarks") -> str:
    """The Markdown report of saved results (each area's table, as ``run_all`` writes it)."""
    sections = []
    for area in sorted(results):
        entry = results[area]
        result = entry["result"]
        if "error" in result:
            text = f"**failed**: `{result['error']}`"
        else:
            text = importlib.import_module(f"{package}.eval_{area}").table(result)
        sections.append(f"## {area}\n\n{text.strip()}\n\n_{entry['seconds']} s_")
    return "\n\n".join(sections) + "\n"


def merge_results(saved: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """The saved per-area results with the freshly run areas replaced (a partial ``--update``)."""
    return {**saved, **fresh}


def run_all(areas: list[str], data_dir: Path, package: str = "benchmarks", log=print) -> tuple[dict[str, Any], str, bool]:
    """Results per area (with seconds), the Markdown report, and whether every module succeeded."""
    results: dict[str, Any] = {}
    sections: list[str] = []
    ok = True
    for area in areas:
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"{package}.eval_{area}")
            result = module.run(data_dir)
            text = module.table(result)
        except Exception as exc:  # one broken area must not hide the others' figures
            ok = False
            print(f"eval_{area} failed:\n{traceback.format_exc()}", file=sys.stderr)
            result, text = {"error": f"{type(exc).__name__}: {exc}"}, f"**failed**: `{type(exc).__name__}: {exc}`"
        seconds = round(time.perf_counter() - started, 1)
        results[area] = {"seconds": seconds, "result": result}
        sections.append(f"## {area}\n\n{text.strip()}\n\n_{seconds} s_")
        log(sections[-1] + "\n")
    return results, "\n\n".join(sections) + "\n", ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated areas (default: all eval_*.py modules)")
    parser.add_argument("--update", action="store_true", help="with --only: replace those areas in eval.json / eval.md")
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="dev-set directory")
    args = parser.parse_args(argv)
    areas = discover()
    if args.only:
        wanted = [a.strip() for a in args.only.split(",") if a.strip()]
        unknown = sorted(set(wanted) - set(areas))
        if unknown:
            print(f"eval: unknown area(s) {', '.join(unknown)} (have: {', '.join(areas) or 'none'})", file=sys.stderr)
            return 2
        areas = [a for a in areas if a in wanted]
    if not areas:
        print("eval: no benchmarks/eval_*.py modules found", file=sys.stderr)
        return 1
    results, markdown, ok = run_all(areas, args.data)
    if args.only and args.update and ok:  # refresh these areas only; the others keep their figures
        saved_path = RESULTS_DIR / "eval.json"
        saved = orjson.loads(saved_path.read_bytes()) if saved_path.exists() else {}
        results = merge_results(saved, results)
        markdown = render(results)
    if not args.only or (args.update and ok):  # a plain partial run must not overwrite the full figures
        write_result("eval", results)
        (RESULTS_DIR / "eval.md").write_text(markdown, encoding="utf-8")
        print(f"results: {RESULTS_DIR / 'eval.json'}, {RESULTS_DIR / 'eval.md'}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
