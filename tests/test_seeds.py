"""End to end: the two seed articles come out clean through the real CLI entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.runner import run

ROOT = Path(__file__).resolve().parents[1]


def sentences(text: str) -> list[str]:
    """Article sentences: lines of prose split at sentence ends (good enough for these seeds)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if len(line) > 80:
            out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z“\"])", line) if s.strip())
    return out


@pytest.fixture
def seed_run(tmp_path, seeds_dir, read_output):
    out = tmp_path / "out"
    report = run([seeds_dir], load_config(ROOT / "configs" / "default.yaml"), out, workers=1)
    return report, read_output(out)


def test_seeds_come_out_as_two_clean_documents(seed_run, seeds_dir):
    report, records = seed_run
    clean = {r["id"]: r for r in records["clean"]}
    assert sorted(clean) == sorted(p.stem for p in seeds_dir.glob("*.txt"))
    assert report["documents"] == {"input": 2, "clean": 2, "rejected": 0, "duplicates": 0, "errors": 0}
    for path in seeds_dir.glob("*.txt"):
        text = clean[path.stem]["text"]
        for sentence in sentences(path.read_text(encoding="utf-8").replace("카지노 ", "")):
            assert sentence in text, f"lost article sentence: {sentence[:60]}"
        assert "Leave a Reply" not in text
        assert "Your email address will not be published" not in text
        assert "Required fields are marked" not in text
        assert "• Share" not in text and "\nShare\n" not in text


def test_injected_spam_removed_with_clean_spacing(seed_run):
    _, records = seed_run
    text = next(r["text"] for r in records["clean"] if r["id"].startswith("000_"))
    assert "카지노" not in text
    assert "invitation to visit North Korea during" in text
    removed = next(r for r in records["clean"] if r["id"].startswith("000_"))["metadata"]["removed"]
    assert {"stage": "spam", "text": "카지노"}.items() <= next(r for r in removed if r["stage"] == "spam").items()


def test_title_goes_to_metadata(seed_run):
    _, records = seed_run
    titles = {r["id"][:3]: r["metadata"]["title"] for r in records["clean"]}
    assert titles["000"] == "Putin’s Pyongyang visit factors Northeast Asia into diplomatic equation"
    assert titles["002"] == "Putin to Visit North Korea for the First Time in 24 Years"
    for r in records["clean"]:
        assert not r["text"].startswith(r["metadata"]["title"])


def test_every_removal_names_stage_rule_and_text(seed_run):
    _, records = seed_run
    for r in records["clean"]:
        for removal in r["metadata"]["removed"]:
            assert removal["stage"] and removal["rule"] and removal["text"]


def test_cli_entry_point_cleans_seeds(tmp_path, seeds_dir):
    out = tmp_path / "cli-out"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", str(seeds_dir), "--output", str(out), "--config", str(ROOT / "configs/default.yaml")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("clean.jsonl", "rejected.jsonl", "duplicates.jsonl", "errors.jsonl", "report.json"):
        assert (out / name).exists(), name
    assert len((out / "clean.jsonl").read_text().splitlines()) == 2
