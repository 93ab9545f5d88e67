"""Input parsed in local workers (pipeline.chunks): the same items, ids, lines and errors as the
sequential reader, whatever the cut, and the same output files whatever ``--workers``."""

from __future__ import annotations

import gzip
import os
import random
from pathlib import Path
from typing import Iterator

import pytest
import zstandard

from pipeline import chunks
from pipeline.chunks import Lines, cut_lines, plan_tasks, task_items
from pipeline.config import InputConfig, load_config
from pipeline.document import Document
from pipeline.executor import LocalExecutor
from pipeline.readers import InputError, Reader, StreamError
from pipeline.runner import run

FIXTURES = Path(__file__).parent / "fixtures"
OUTPUTS = ("clean.jsonl", "rejected.jsonl", "duplicates.jsonl", "errors.jsonl")
BAD_LINES = [
    b'{"id": "cut", "text": "The council met on Tuesday',  # malformed JSON
    b'{"title": "Weather", "body": "Rain later"}',  # no text field
    b'["not", "an", "object"]',
    b'{"text": "Caf\xe9 opens on the corner"}',  # invalid UTF-8
    b"",
    b"   \t",
    b'{"text": 42}',
    b'{"text": "   "}',  # empty document: rejected by the input policy
]


def _article_lines() -> list[bytes]:
    lines = []
    for name in ("articles.jsonl", "mixed/news.jsonl"):
        lines += [line for line in (FIXTURES / name).read_bytes().splitlines() if line.strip()]
    return lines


def _messy_jsonl(repeat: int = 3) -> bytes:
    """Real articles with a bad line after every second one, some without an id (``stem:line``)."""
    out: list[bytes] = []
    for round_ in range(repeat):
        for k, line in enumerate(_article_lines()):
            out.append(line.replace(b'"id":', b'"ref":') if (k + round_) % 3 == 0 else line)
            if k % 2:
                out.append(BAD_LINES[(k + round_) % len(BAD_LINES)])
        out.append(b'{"text": "' + b"word " * 700 + b'"}')  # 3.5 KB: over a 300-character input limit
    return b"\n".join(out)


def _messy_directory(root: Path) -> Path:
    data = _messy_jsonl()
    root.mkdir()
    (root / "a_bom.jsonl").write_bytes(b"\xef\xbb\xbf" + data)  # no final newline
    (root / "b.jsonl.gz").write_bytes(gzip.compress(data + b"\n"))
    compressed = gzip.compress(data)
    (root / "c_truncated.jsonl.gz").write_bytes(compressed[: len(compressed) // 2])
    (root / "d.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data[: len(data) // 3] + b"\n"))
    (root / "e_binary.jsonl").write_bytes(b'{"text": "a\x00b"}\n{"text": "fine"}\n')
    (root / "f_note.txt").write_text("Notes from the council meeting.\nThe budget passed after a long debate.\n")
    (root / "g_logo.png").write_bytes(b"\x89PNG\r\n")
    (root / "sub").mkdir()
    (root / "sub" / "h.jsonl").write_bytes(b"\n".join(_article_lines()[:4]) + b"\n")
    (root / "sub" / "i_empty.jsonl").write_bytes(b"")
    return root


def _chunked_items(inputs: list[Path], config: InputConfig, task_bytes: int) -> list:
    reader = Reader(inputs, config)
    tasks = list(plan_tasks(reader, task_bytes))
    return reader.unreadable + [item for task in tasks for item in task_items(task, config)]


@pytest.mark.parametrize("task_bytes", [1, 333, 4096, 1 << 20])
def test_directory_of_messy_files_reads_as_sequentially(tmp_path, task_bytes):
    root = _messy_directory(tmp_path / "in")
    config = InputConfig(max_chars=300)  # lines over 2400 bytes are errors, longer texts rejects
    sequential = list(Reader([root], config))
    assert _chunked_items([root], config, task_bytes) == sequential
    errors = [item.error for item in sequential if isinstance(item, InputError)]
    for expected in ("malformed JSON", "missing 'text'", "JSON list", "invalid UTF-8", "byte limit",
                     "truncated file", "binary file", "unsupported file type"):
        assert any(expected in error for error in errors), expected
    generated = [doc for doc in sequential if isinstance(doc, Document) and ":" in doc.id]  # no id field
    assert {doc.id.split(":")[0] for doc in generated} == {"a_bom", "b", "c_truncated", "d"}
    assert all(doc.id.endswith(f":{doc.source['line']}") for doc in generated)
    assert "a_bom:1" in [doc.id for doc in generated]  # line 1 despite the byte order mark


def _random_cuts(data: bytes, rng: random.Random, max_piece: int) -> list[bytes]:
    cuts, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, max_piece)
        cuts.append(data[pos : pos + step])
        pos += step
    return cuts


def _stream(pieces: list[bytes], broken: str | None) -> Iterator[bytes]:
    yield from pieces
    if broken:
        raise StreamError(broken)


@pytest.mark.parametrize("seed", range(12))
def test_cut_lines_gives_the_parsers_items_for_any_decoded_chunks(seed):
    """Lines and errors at and across every kind of boundary: decoded chunks of random size, over-long
    lines longer than a chunk (dropped while read), a stream that breaks off mid-line or between lines."""
    rng = random.Random(seed)
    lines = _article_lines()
    body = []
    for k in range(40):
        body.append(rng.choice(lines) if k % 5 else rng.choice(BAD_LINES))
        if k % 13 == 4:
            body.append(b'{"text": "' + b"long " * rng.randint(100, 400) + b'"}')  # over the limit
    data = b"\xef\xbb\xbf" * (seed % 2) + b"\n".join(body) + b"\n" * (seed % 3 == 0)
    if seed % 4 == 1:
        data = data[: rng.randint(1, len(data))]  # broken off, mid-line or not
    broken = "gzip stream ends early (truncated file)" if seed % 4 == 1 else None
    max_piece = rng.choice([7, 300, 5000])
    pieces = _random_cuts(data, rng, max_piece)
    reader = Reader([], InputConfig(max_chars=150))  # lines over 1200 bytes are errors
    sequential = list(reader.jsonl_records(_stream(pieces, broken), "in.jsonl", "in"))
    units = list(cut_lines(reader, _stream(pieces, broken), "in.jsonl", "in", task_bytes=rng.choice([1, 500, 10**6])))
    held = [len(line) for unit in units if isinstance(unit, Lines) for line in unit.data.split(b"\n")]
    assert max(held, default=0) <= 1200 + max_piece  # a line past the limit is not held whole
    assert list(task_items(units, reader.config)) == sequential
    assert any(isinstance(item, InputError) and "byte limit" in item.error for item in sequential)


def test_binary_first_line_is_one_error_for_the_file():
    reader = Reader([], InputConfig())
    units = list(cut_lines(reader, iter([b'{"text": "x\x00"}\n', b'{"text": "fine"}\n']), "b.jsonl", "b", 10))
    assert units == [InputError("b.jsonl", None, "binary file (NUL bytes in the first line), not JSONL")]


def test_run_outputs_identical_for_1_2_3_workers_with_tiny_tasks(tmp_path, monkeypatch):
    """Many tasks of a few hundred bytes: documents, rejects and errors cross task boundaries, the
    corpus pre-pass (boilerplate repetition) and dedup see the whole input."""
    monkeypatch.setattr(chunks, "TASK_BYTES", 700)
    root = _messy_directory(tmp_path / "in")
    config = tmp_path / "stages.yaml"
    config.write_text("input:\n  max_chars: 300\nstages:\n  - normalize: {}\n  - boilerplate: {}\n  - dedup: {}\n")
    outputs = []
    for workers in (1, 2, 3):
        out = tmp_path / f"out-{workers}"
        report = run([root], load_config(config), out, workers=workers)
        assert report["accounted"]
        outputs.append({name: (out / name).read_bytes() for name in OUTPUTS})
    assert outputs[0] == outputs[1] == outputs[2]
    assert all(outputs[0][name] for name in OUTPUTS)  # every file has records


def _pid(_: object) -> int:
    return os.getpid()


def test_a_single_task_runs_in_process_and_several_in_the_pool():
    """Two seed files make one task: no pool is forked for it (start-up), more tasks go to workers."""
    executor = LocalExecutor(2)
    assert executor.parses_inputs
    assert list(executor.map(_pid, ["only"], {})) == [os.getpid()]
    assert os.getpid() not in executor.map(_pid, range(4), {})
