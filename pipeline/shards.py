"""Split the input into shards that workers read themselves (Ray tasks), in input order.

A shard is a list of pieces of at most ``shard_bytes`` together. A plain ``.jsonl`` larger than that
is cut into byte ranges: a line belongs to the range holding its first byte (the Hadoop split rule),
and a parallel newline count gives each range its first line number, so ids (``stem:line``) and
``source.line`` are exactly what the sequential reader gives. Compressed files and ``.txt`` files
cannot be entered mid-way and are whole pieces; small files are packed together into one shard.
Reading a piece yields the same items, in the same order, as ``Reader.read_file`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import IO, Any, Iterator

from .config import InputConfig
from .fs import UrlPath, as_path, open_binary
from .readers import (
    BINARY_SNIFF_BYTES,
    CHUNK_BYTES,
    GZIP_MAGIC,
    ZSTD_MAGIC,
    InputError,
    Item,
    Reader,
    StreamError,
    _kind,
    _stem,
)

DEFAULT_SHARD_BYTES = 16 * 1024 * 1024
_COUNT_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Piece:
    """``path`` whole (``end is None``) or the lines starting in bytes [start, end); ``nbytes``: its
    on-disk size, for progress."""

    path: str
    start: int = 0
    end: int | None = None
    first_line: int = 1
    nbytes: int = 0


def _size(path: Path | UrlPath) -> int | None:
    try:
        return path.stat().st_size
    except OSError:  # vanished or unreadable: the reader reports it as an input error
        return None


_NOT_PLAIN = (GZIP_MAGIC, ZSTD_MAGIC, b"\xef\xbb\xbf")  # compressed, or led by a UTF-8 BOM


def _splittable(path: Path | UrlPath) -> bool:
    """Plain JSONL only, judged by content as the reader judges it: a gzip/zstd stream cannot be
    entered mid-way, and a BOM or NUL bytes at the start are the reader's whole-file rules."""
    if _kind(path) != "jsonl":
        return False
    try:
        with open_binary(path) as fh:
            head = fh.read(BINARY_SNIFF_BYTES)
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
    pieces: list[Piece] = []
    for path, size in zip(files, sizes):
        if size is None or size <= shard_bytes or not _splittable(path):
            pieces.append(Piece(str(path), nbytes=size or 0))
            continue
        starts = list(range(0, size, shard_bytes))
        ends = starts[1:] + [size]
        # range k's first line number: 2 + newlines in [0, start_k - 1) (1-based, plus the line cut
        # by start_k, which belongs to range k - 1); the gaps between starts are counted in parallel
        gaps = [(str(path), max(0, a - 1), b - 1) for a, b in zip(starts[:-1], ends[:-1])]
        first_lines = [1] + [2 + seen for seen in accumulate(executor.map(count_newlines, gaps, {}))]
        for start, end, first in zip(starts, ends, first_lines):
            pieces.append(Piece(str(path), start, end, first, end - start))
    shards: list[list[Piece]] = []
    current: list[Piece] = []
    current_bytes = 0
    for piece in pieces:
        if current and current_bytes + piece.nbytes > shard_bytes:
            shards.append(current)
            current, current_bytes = [], 0
        current.append(piece)
        current_bytes += piece.nbytes
    if current:
        shards.append(current)
    return shards


def _range_chunks(fh: IO[bytes], start: int, end: int) -> Iterator[bytes]:
    """The bytes of the lines that start in [start, end): from the first line start at or after
    ``start`` through the newline that ends the line holding byte ``end - 1``. Read in chunks, so an
    over-long line is never held whole (the reader drops it past its limit)."""
    try:
        pos = max(0, start - 1)
        fh.seek(pos)
        skipping = start > 0  # the rest of the line cut by ``start`` belongs to the range before
        while chunk := fh.read(CHUNK_BYTES):
            if skipping:
                cut = chunk.find(b"\n")
                pos += len(chunk) if cut < 0 else cut + 1
                if cut < 0:
                    continue
                skipping, chunk = False, chunk[cut + 1 :]
                if pos >= end:  # no line starts in this range
                    return
            stop = chunk.find(b"\n", max(0, end - 1 - pos))
            if stop >= 0:
                yield chunk[: stop + 1]
                return
            if chunk:
                yield chunk
            pos += len(chunk)
    except OSError as exc:
        raise StreamError(f"read failed: {exc.strerror or exc}") from None


def read_piece(piece: Piece, config: InputConfig) -> Iterator[Item]:
    """The items of one piece, exactly as the sequential reader numbers and reports them."""
    reader = Reader([], config)
    path = as_path(piece.path)
    if piece.end is None:
        yield from reader.read_file(path)
        return
    try:
        fh = open_binary(path)
    except OSError as exc:
        yield InputError(str(path), None, f"cannot read file: {exc.strerror or exc}")
        return
    with fh:
        chunks = _range_chunks(fh, piece.start, piece.end)
        yield from reader.jsonl_records(chunks, str(path), _stem(path), piece.first_line, at_file_start=piece.start == 0)
