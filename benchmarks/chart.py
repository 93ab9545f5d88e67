"""The README's benchmark chart: throughput and peak RSS against corpus size, from bench.json.

    python -m benchmarks.chart      # redraw benchmarks/results/bench.png from bench.json
"""

from __future__ import annotations

from pathlib import Path

import orjson

from benchmarks.common import RESULTS_DIR

SERIES = {  # run key prefix -> (label, style, colour)
    "winnow_default_1": ("winnow default, 1 worker", "o-", "tab:blue"),
    "winnow_default_": ("winnow default, all cores", "s-", "tab:cyan"),
    "winnow_dedup_1": ("winnow dedup only, 1 worker", "^-", "tab:green"),
    "datasketch": ("datasketch MinHashLSH script", "x--", "tab:red"),
}


def _series(results: dict[str, dict]) -> dict[str, tuple[list[int], list[float], list[float]]]:
    out: dict[str, tuple[list[int], list[float], list[float]]] = {}
    for size in sorted(results, key=int):
        for key, run in results[size]["runs"].items():
            prefix = next((p for p in SERIES if key == p or (p.endswith("_") and key.startswith(p))), None)
            if prefix is None or (prefix == "winnow_default_" and key == "winnow_default_1"):
                continue
            xs, mbs, rss = out.setdefault(prefix, ([], [], []))
            xs.append(int(size))
            mbs.append(run["mb_per_s"])
            rss.append(run["peak_rss_mb"])
    return out


def plot(results: dict[str, dict], path: Path = RESULTS_DIR / "bench.png") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (speed, memory) = plt.subplots(1, 2, figsize=(10, 3.8))
    series = _series(results)
    for prefix in (p for p in SERIES if p in series):
        xs, mbs, rss = series[prefix]
        label, style, colour = SERIES[prefix]
        speed.plot(xs, mbs, style, label=label, color=colour)
        memory.plot(xs, rss, style, label=label, color=colour)
    for ax, title, unit in ((speed, "Throughput", "MB/s (UTF-8 text)"), (memory, "Peak RSS", "MB")):
        ax.set_xscale("log")
        ax.set_xlabel("corpus size (documents, ~3 KB each)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    memory.set_yscale("log")
    memory.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    memory.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    memory.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    handles, labels = speed.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle("make bench: synthetic corpus from the dev sets (above 100k documents only the dedup-only run)", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(plot(orjson.loads((RESULTS_DIR / "bench.json").read_bytes())["sizes"]))
