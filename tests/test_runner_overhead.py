"""The runner's shortcuts give the same bytes as the plain way (issue #5: runner overhead)."""

from __future__ import annotations

import gzip
from array import array
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline import runner
from pipeline.config import load_config
from pipeline.document import Document, Duplicate
from pipeline.readers import Reader
from pipeline.runner import run
from pipeline.writers import OutputSet, clean_record, dumps_line, duplicate_line, duplicate_record


@pytest.mark.parametrize(
    "doc_id",
    ['news-17', 'quote ,"text": in an id', 'back\\slash "quoted"', "Grüße, ünïcödé", "line\u2028sep", ""],
)
def test_duplicate_line_spliced_from_clean_line_equals_encoding_the_record(doc_id: str) -> None:
    doc = Document(
        id=doc_id,
        text='He said ,"text": twice.\nSecond paragraph of the article.',
        metadata={"url": "https://example.org/a?b=1", "text": "an input field named text"},
    )
    doc.remove("boilerplate", "share_buttons", "Share on Facebook", 40)
    doc.annotations["language"] = {"lang": "en", "confidence": 0.98}
    doc.duplicate = Duplicate(duplicate_of='news-3 ,"text":', cluster='c"7', similarity=0.912345678, rule="near")
    assert duplicate_line(dumps_line(clean_record(doc)), doc.duplicate) == dumps_line(duplicate_record(doc))


FIXTURES = Path(__file__).parent / "fixtures"
DEFAULT = Path(__file__).parent.parent / "configs" / "default.yaml"
OUTPUTS = ("clean.jsonl", "rejected.jsonl", "duplicates.jsonl", "errors.jsonl")


def _messy_input(tmp_path: Path) -> Path:
    """The mixed news fixture with the kinds of bad record a scrape has, gzipped, plus a .txt file."""
    lines = (FIXTURES / "mixed" / "news.jsonl").read_bytes().splitlines()
    bad = [
        b'{"id": "broken-1", "text": "cut off',
        b'["an", "array"]',
        b'{"id": "no-text"}',
        b'{"id": "blank", "text": "   \\n "}',
        b"",
        b'{"id": "number-text", "text": 42}',
    ]
    mixed = lines[:5] + bad[:3] + lines[5:10] + bad[3:] + lines[10:]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "news.jsonl.gz").write_bytes(gzip.compress(b"\n".join(mixed) + b"\n"))
    (folder / "note.txt").write_text("A short note.\n\nIt has two paragraphs of plain text in it.\n")
    return folder


def _run_counting_parses(src: Path, out: Path, monkeypatch) -> tuple[int, list[tuple[str, int]]]:
    """Run the default pipeline on one worker: (JSONL records parsed, progress events)."""
    parses = []
    parse = Reader._parse_line
    monkeypatch.setattr(Reader, "_parse_line", lambda self, *a, **k: parses.append(1) or parse(self, *a, **k))
    events: list[tuple[str, int]] = []
    run([src], load_config(DEFAULT), out, workers=1, progress=lambda event, n: events.append((event, n)))
    monkeypatch.setattr(Reader, "_parse_line", parse)
    return len(parses), events


def test_pre_pass_keeps_a_small_input_for_the_main_pass_with_the_same_outputs(tmp_path, monkeypatch) -> None:
    src = _messy_input(tmp_path)
    records = len(gzip.decompress((src / "news.jsonl.gz").read_bytes()).split(b"\n")) - 2  # blank, last newline
    kept_parses, kept_events = _run_counting_parses(src, tmp_path / "kept", monkeypatch)
    monkeypatch.setattr(runner, "KEEP_INPUT_CHARS", 0)  # nothing fits: the main pass reads again
    read_parses, read_events = _run_counting_parses(src, tmp_path / "read", monkeypatch)
    assert (kept_parses, read_parses) == (records, 2 * records)
    assert kept_events == read_events
    for name in OUTPUTS:
        assert (tmp_path / "kept" / name).read_bytes() == (tmp_path / "read" / name).read_bytes(), name
    written = {name: (tmp_path / "kept" / name).read_bytes().splitlines() for name in OUTPUTS}
    assert sum(map(len, written.values())) == records + 1  # every record once, and the .txt file
    errors = b"\n".join(written["errors.jsonl"])
    for message in (b"malformed JSON", b"a JSON list", b"missing 'text'", b"'text' is a int"):
        assert message in errors
    assert b'"id":"blank","stage":"input","rule":"empty"' in b"\n".join(written["rejected.jsonl"])


@pytest.mark.parametrize("block_bytes", [7, 1 << 20])  # spans copied in many pieces, or in one
def test_publishing_the_spill_by_byte_spans_equals_splitting_it_into_lines(tmp_path, monkeypatch, block_bytes) -> None:
    docs = []
    for n in range(9):
        doc = Document(id=f"news-{n}", text=f"Article {n}: the council met on Tuesday.\nGrüße aus Köln, ünïcödé {n}.")
        doc.remove("boilerplate", "share_buttons", "Share on Facebook", 12)
        docs.append(doc)
    lines = [dumps_line(clean_record(doc)) for doc in docs]
    spill = tmp_path / "spill.jsonl"
    spill.write_bytes(b"".join(lines))
    superseded = {0: "news-4", 3: "news-2", 4: "news-1", 8: "news-5"}  # the first, two in a row, the last
    decisions = {n: Duplicate(duplicate_of=of, cluster="c1", similarity=0.9, rule="near") for n, of in superseded.items()}
    monkeypatch.setattr(runner, "_SPILL_BLOCK_BYTES", block_bytes)
    events: list[tuple[str, int]] = []
    out = OutputSet(tmp_path / "out")
    progress = SimpleNamespace(progress=lambda event, n: events.append((event, n)))
    runner.Run._publish_spill(progress, spill, array("q", map(len, lines)), decisions, out)
    out.commit({})
    assert (tmp_path / "out" / "clean.jsonl").read_bytes() == b"".join(l for n, l in enumerate(lines) if n not in decisions)
    for n, doc in enumerate(docs):
        doc.duplicate = decisions.get(n)
    expected = b"".join(dumps_line(duplicate_record(doc)) for doc in docs if doc.duplicate)
    assert (tmp_path / "out" / "duplicates.jsonl").read_bytes() == expected
    assert out.counts["clean.jsonl"] == 5 and out.counts["duplicates.jsonl"] == 4
    assert sum(n for _, n in events) == 9 and not spill.exists()
