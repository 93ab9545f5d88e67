"""Split the input into shards that workers read themselves (Ray tasks), in input order.

A shard is a list of pieces of at most ``shard_bytes`` together. A plain ``.jsonl`` larger than that
is cut into byte ranges: a line belongs to the range holding its first byte (the Hadoop split rule),
and a parallel newline count gives each range its first line number, so ids (``stem:line``) and
``source.line`` are exactly what the sequential reader gives. Compressed files and ``.txt`` files
cannot be entered mid-way and are whole pieces; small files are packed together into one shard.
Reading a piece yields the same items, in the same order, as ``Reader.read_file`` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, Iterator

from .config import InputConfig
from .fs import UrlPath, as_path, open_binary
from .readers import InputError, Item, Reader, _kind, _stem

DEFAULT_SHARD_BYTES = 16 * 1024 * 1024
_COUNT_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Piece:
    """``path`` whole (``end is None``) or the lines starting in bytes [start, end)."""

    path: str
    start: int = 0
    end: int | None = None
    first_line: int = 1


def _size(path: Path | UrlPath) -> int | None:
    try:
        return path.fs.size(path.path) if isinstance(path, UrlPath) else os.path.getsize(path)
    except OSError:  # vanished or unreadable: the reader reports it as an input error
        return None


_SNIFF_BYTES = 8192
_NOT_PLAIN = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\xef\xbb\xbf")  # gzip, zstd magic; UTF-8 BOM


def _splittable(path: Path | UrlPath) -> bool:
    """Plain JSONL only: judged by content too (a compressed or BOM-led file, or NUL bytes at the
    start, is read whole by the sequential reader's own rules)."""
    name = path.name.lower()
    if _kind(path) != "jsonl" or name.endswith((".gz", ".zst")):
        return False
    try:
        with open_binary(path) as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return False
    return not head.startswith(_NOT_PLAIN) and b"\x00" not in head


def count_newlines(span: tuple[str, int, int]) -> int:
    """Newlines in bytes [start, end) of a file (a worker task of the planning pass)."""
    raw, start, end = span
    count = 0
    with open_binary(as_path(raw)) as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            chunk = fh.read(min(_COUNT_CHUNK, left))
            if not chunk:
                break
            count += chunk.count(b"\n")
            left -= len(chunk)
    return count


def plan_shards(files: list[Path | UrlPath], shard_bytes: int, executor: Any) -> list[list[Piece]]:
    """Shards covering ``files`` in order; newline counts for split files run on ``executor``.

    Shards are at most ``shard_bytes`` and small enough to give every worker about four.
    """
    sizes = [_size(path) for path in files]
    total = sum(size or 0 for size in sizes)
    shard_bytes = max(1, min(shard_bytes, -(-total // (4 * max(1, getattr(executor, "workers", 1))))))
    pieces: list[tuple[Piece, int]] = []  # (piece, bytes)
    for path, size in zip(files, sizes):
        if size is None or size <= shard_bytes or not _splittable(path):
            pieces.append((Piece(str(path)), size or 0))
            continue
        starts = list(range(0, size, shard_bytes))
        ends = starts[1:] + [size]
        # range k's first line number: 2 + newlines in [0, start_k - 1) (1-based, plus the line cut
        # by start_k, which belongs to range k - 1); the gaps between starts are counted in parallel
        gaps = [(str(path), max(0, a - 1), b - 1) for a, b in zip(starts[:-1], ends[:-1])]
        first_lines = [1] + [2 + seen for seen in accumulate(executor.map(count_newlines, gaps, {}))]
        for start, end, first in zip(starts, ends, first_lines):
            pieces.append((Piece(str(path), start, end, first), end - start))
    shards: list[list[Piece]] = []
    current: list[Piece] = []
    current_bytes = 0
    for piece, nbytes in pieces:
        if current and current_bytes + nbytes > shard_bytes:
            shards.append(current)
            current, current_bytes = [], 0
        current.append(piece)
        current_bytes += nbytes
    if current:
        shards.append(current)
    return shards


def read_piece(piece: Piece, config: InputConfig) -> Iterator[Item]:
    """The items of one piece, exactly as the sequential reader numbers and reports them."""
    reader = Reader([], config)
    path = as_path(piece.path)
    if piece.end is None:
        yield from reader.read_file(path)
        return
    stem = _stem(path)
    line_no = piece.first_line - 1
    try:
        with open_binary(path) as fh:
            pos = piece.start
            if pos > 0:
                fh.seek(pos - 1)
                pos += len(fh.readline()) - 1  # the rest of the line cut by the start belongs to the range before
            limit = getattr(reader, "max_record_bytes", None)  # the sequential reader's line limit, if any
            while pos < piece.end:
                raw = fh.readline()
                if not raw:
                    break
                pos += len(raw)
                line_no += 1
                line = raw[:-1] if raw.endswith(b"\n") else raw
                if limit is not None and len(line) > limit:
                    yield reader._too_long(str(path), line_no, len(line))
                elif line.strip():
                    # the streaming reader (with a line limit) parses lines without their newline;
                    # the original one with it - the JSON error messages differ, so match each
                    yield reader._parse_line(line if limit is not None else raw, path, line_no, stem, config)
    except OSError as exc:
        yield InputError(str(path), line_no + 1, f"cannot read file: {exc}")
