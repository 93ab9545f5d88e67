"""``winnow inspect DIR --id X`` (alias ``winnow explain X``): one document's story in a run.

Where it ended up, every removal with stage, rule and text, and its text before (re-read from the
input through ``metadata.source``) and after. Output files are scanned with a cheap byte search for
the id before any JSON is parsed, so this stays quick on large runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import orjson

from .config import InputConfig
from .document import Document
from .readers import read_record

RECORD_FILES = ("clean.jsonl", "rejected.jsonl", "duplicates.jsonl")


def find_record(output: Path, doc_id: str) -> Optional[tuple[str, dict[str, Any]]]:
    needle = orjson.dumps(doc_id)
    for name in RECORD_FILES:
        path = output / name
        if not path.exists():
            continue
        with open(path, "rb") as fh:
            for line in fh:
                if needle in line:
                    record = orjson.loads(line)
                    if record.get("id") == doc_id:
                        return name, record
    return None


def _input_config(output: Path) -> InputConfig:
    try:
        return InputConfig(**orjson.loads((output / "report.json").read_bytes())["config"]["input"])
    except (OSError, KeyError, ValueError):
        return InputConfig()


def original_text(output: Path, source: dict[str, Any]) -> tuple[Optional[str], str]:
    """The document's text as read from its input file, or None and why not."""
    path = source.get("path")
    if not path:
        return None, "no source recorded"
    if not Path(path).exists():
        return None, f"input {path} is no longer there"
    item = read_record(Path(path), source.get("line"), _input_config(output))
    if not isinstance(item, Document):
        return None, f"input {path} no longer holds this record"
    return item.text, f"{path}" + (f" line {source['line']}" if source.get("line") else "")


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(output: Path, doc_id: str, show_text: bool = True) -> Optional[list[str]]:
    """The lines ``inspect`` prints; None when no output file holds ``doc_id``."""
    found = find_record(output, doc_id)
    if found is None:
        return None
    name, record = found
    outcome = name.replace(".jsonl", "")
    meta = record.get("metadata", {})
    lines = [f"{doc_id}: {outcome}"]
    if name == "rejected.jsonl":
        lines.append(f"  rejected by {record['stage']} ({record['rule']}): {record['reason']}")
    if name == "duplicates.jsonl":
        lines.append(f"  duplicate of {record['duplicate_of']} (cluster {record['cluster']}, similarity {record['similarity']}, {record['rule']})")
    removed = meta.get("removed", [])
    lines.append(f"  {len(removed)} removal(s)")
    for r in removed:
        where = f" at {r['position']}" if r.get("position", -1) >= 0 else ""
        lines.append(f"  - [{r['stage']}/{r['rule']}] {_short(r['text'])!r}{where}")
    for flag in meta.get("flags", []):
        lines.append(f"  flag [{flag['stage']}/{flag['rule']}] {flag['reason']}")
    if not show_text:
        return lines
    before, where = original_text(output, meta.get("source", {}))
    if before is None:
        lines += ["", f"--- before: not available ({where})"]
    else:
        lines += ["", f"--- before ({where}, {len(before):,} chars)", before]
    after = record.get("text", "")
    lines += ["", f"--- after ({name}, {len(after):,} chars)", after]
    return lines
