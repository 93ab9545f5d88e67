"""``winnow report DIR``: one self-contained HTML page about a finished run.

Charts are inline SVG drawn here (no JavaScript, no CDN, no fonts to fetch), so the page opens
offline and can be mailed or archived with the outputs. Figures come from ``report.json`` plus a
single pass over rejected/duplicates/errors JSONL (clean.jsonl, the big one, is not read).
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import orjson

BAR_HEIGHT = 22
LABEL_WIDTH = 230
CHART_WIDTH = 720
MAX_ERRORS_LISTED = 20
COLOURS = {"docs": "#3b6ea8", "rejected": "#c0504d", "duplicates": "#8064a2", "errors": "#7f7f7f", "cuts": "#4f9a6e"}


def _records(path: Path) -> Iterable[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def error_kind(message: str) -> str:
    """'malformed JSON: unexpected character ...' -> 'malformed JSON' (messages vary after the colon)."""
    kind = message.split(":", 1)[0]
    return kind if len(kind) <= 60 else kind[:57] + "..."


def gather(output: Path) -> dict[str, Any]:
    """Everything the page shows, as plain data (also handy for tests)."""
    report = orjson.loads((output / "report.json").read_bytes())
    rejected = Counter(f"{r['stage']}/{r['rule']}" for r in _records(output / "rejected.jsonl"))
    cluster_members: Counter = Counter()
    duplicate_rules: Counter = Counter()
    for r in _records(output / "duplicates.jsonl"):
        cluster_members[r["cluster"]] += 1
        duplicate_rules[f"dedup/{r['rule']}"] += 1
    errors: Counter = Counter()
    first_errors: list[dict[str, Any]] = []
    for r in _records(output / "errors.jsonl"):
        errors[f"error/{error_kind(r['error'])}"] += 1
        if len(first_errors) < MAX_ERRORS_LISTED:
            first_errors.append(r)
    # a cluster = the kept document + its duplicates
    cluster_sizes = Counter(n + 1 for n in cluster_members.values())
    cuts: Counter = Counter()
    for stage in report["stages"]:
        for rule, n in stage["rules"].items():
            if not rule.startswith(("reject:", "duplicate:")):
                cuts[f"{stage['stage']}/{rule}"] += n
    funnel = [("input records", report["documents"]["input"])]
    if report["stages"]:
        funnel.append(("readable, non-empty", report["stages"][0]["docs_in"]))
    funnel += [(f"after {s['stage']}", s["docs_out"]) for s in report["stages"]]
    return {
        "report": report,
        "funnel": funnel,
        "removed": (rejected + duplicate_rules + errors).most_common(),
        "cuts": cuts.most_common(),
        "cluster_sizes": sorted(cluster_sizes.items()),
        "first_errors": first_errors,
    }


def bar_chart(title: str, rows: list[tuple[str, int]], colour: str, empty: str) -> str:
    """A horizontal bar chart as inline SVG; each bar labelled with its value."""
    head = f"<h2>{html.escape(title)}</h2>"
    if not rows:
        return head + f'<p class="empty">{html.escape(empty)}</p>'
    top = max(v for _, v in rows) or 1
    span = CHART_WIDTH - LABEL_WIDTH - 70
    height = BAR_HEIGHT * len(rows) + 8
    parts = [f'<svg class="chart" width="{CHART_WIDTH}" height="{height}" role="img" aria-label="{html.escape(title)}">']
    for i, (label, value) in enumerate(rows):
        y = 4 + i * BAR_HEIGHT
        width = max(1, round(span * value / top)) if value else 0
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">{html.escape(str(label))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width}" height="{BAR_HEIGHT - 6}" fill="{colour}"><title>{value:,}</title></rect>'
            f'<text x="{LABEL_WIDTH + width + 6}" y="{y + 15}">{value:,}</text>'
        )
    parts.append("</svg>")
    return head + "".join(parts)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(output: Path) -> str:
    data = gather(output)
    report = data["report"]
    docs = report["documents"]
    timing = report["timing"]
    total = docs["input"] or 1
    summary = _table(
        ["documents", "count", "share of input"],
        [[k, f"{v:,}", f"{v / total:.1%}"] for k, v in docs.items()],
    )
    stages = _table(
        ["stage", "docs in", "docs out", "chars removed", "share of text removed", "seconds"],
        [[s["stage"], f"{s['docs_in']:,}", f"{s['docs_out']:,}", f"{s['chars_removed']:,}", f"{s['share_removed']:.1%}", f"{s['seconds']:.2f}"]
         for s in report["stages"]],
    )
    status = "every input record accounted for" if report.get("accounted") else "ACCOUNTING MISMATCH: some records are missing"
    cluster_rows = [(f"{size} documents", n) for size, n in data["cluster_sizes"]]
    body = "\n".join([
        f"<h1>winnow run: {html.escape(str(output))}</h1>",
        f'<p class="meta">{docs["input"]:,} input records in {timing["seconds"]:.2f} s with {timing["workers"]} worker(s), '
        f'{timing["input_mb"]:.2f} MB; winnow {html.escape(str(report.get("winnow_version", "?")))}; '
        f'<strong>{html.escape(status)}</strong>.</p>',
        summary,
        bar_chart("Documents remaining after each stage", data["funnel"], COLOURS["docs"], "no stages ran"),
        bar_chart("Documents removed, by reason", data["removed"], COLOURS["rejected"], "no document was removed"),
        bar_chart("Text cuts inside kept documents, by rule", data["cuts"], COLOURS["cuts"], "no text was cut"),
        bar_chart("Duplicate cluster sizes (number of clusters)", cluster_rows, COLOURS["duplicates"], "no duplicates found"),
        "<h2>Stages</h2>",
        stages,
        f"<h2>Input errors (first {MAX_ERRORS_LISTED} of {docs['errors']:,}, all in errors.jsonl)</h2>" if docs["errors"] else "",
        _table(["source", "line", "error"], [[e["source"], e["line"] or "", e["error"]] for e in data["first_errors"]])
        if data["first_errors"] else "",
    ])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>winnow report</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 780px; color: #222; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.1em; margin-top: 1.6em; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }} td, th {{ padding: 2px 10px; border-bottom: 1px solid #ddd; }}
td:not(:first-child), th:not(:first-child) {{ text-align: right; }}
svg.chart text {{ font-size: 12px; fill: #222; }} .empty {{ color: #777; }}
</style></head>
<body>
{body}
</body></html>
"""


def write_report(output: Path) -> Path:
    from .writers import atomic_write_bytes

    target = Path(output) / "report.html"
    atomic_write_bytes(target, render(Path(output)).encode("utf-8"))
    return target
