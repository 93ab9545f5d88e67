"""Input for local worker processes: the main process reads, the workers parse.

With several local workers the main process used to parse every record (twice: the corpus
pre-pass and the main pass) and pickle whole documents to the workers: work that does not
parallelise, a ceiling on what more workers can give. Here it only reads and decompresses each
file and cuts the byte stream into line-aligned ``Lines`` of about ``TASK_BYTES``, each with the
number of its first line; the workers run the reader's own record parser (``Reader.jsonl_records``) on them. Every rule of the sequential
reader is applied where it can be applied exactly, so the items are the same, in the same order:

* file-level errors (missing, not a regular file, unsupported kind, unreadable) and ``.txt`` files
  are read by the reader itself in the main process; their items ride along in the task;
* the binary check and byte order mark of a file's first decoded chunk: main process (``checked_start``);
* a line that grows past ``8 x input.max_chars`` bytes before its newline is dropped as it is read
  (never held whole) and its error rides along; shorter over-limit lines are found by the parser;
* a compressed stream that breaks off: the ``Lines`` up to the break carry the error, and the
  parser words it exactly as the sequential reader does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Union

from .config import InputConfig
from .document import Document
from .fs import UrlPath
from .readers import BinaryFile, InputError, Item, Reader, StreamError, _kind, _stem, checked_start, stream_broke

TASK_BYTES = 1 << 20  # decoded input bytes per worker task (~300 documents of 3 KB: a short tail)


@dataclass(slots=True)
class Lines:
    """Whole JSONL lines of one file, numbered from ``first_line`` (the file's last line may lack
    its newline). ``broken``: the file's stream broke off right after these bytes (the message)."""

    where: str
    stem: str
    first_line: int
    data: bytes
    broken: str | None = None


Unit = Union[Lines, Document, InputError]


def task_items(task: list[Unit], config: InputConfig) -> Iterator[Item]:
    """The items of a task (worker side), as the sequential reader yields them."""
    reader = Reader([], config)
    for unit in task:
        if isinstance(unit, Lines):
            yield from reader.jsonl_records(_stream(unit), unit.where, unit.stem, unit.first_line, at_file_start=False)
        else:
            yield unit


def _stream(lines: Lines) -> Iterator[bytes]:
    yield lines.data
    if lines.broken is not None:
        raise StreamError(lines.broken)


def plan_tasks(reader: Reader, task_bytes: int | None = None) -> Iterator[list[Unit]]:
    """``reader.files`` as tasks of about ``task_bytes`` (default ``TASK_BYTES``) in input order
    (main side, lazily: one task at a time). ``reader.unreadable`` is not included: report it first."""
    task_bytes = task_bytes or TASK_BYTES
    task: list[Unit] = []
    size = 0
    for path in reader.files:
        for unit in _file_units(reader, path, task_bytes):
            task.append(unit)
            size += len(unit.data) if isinstance(unit, Lines) else len(unit.text) if isinstance(unit, Document) else 0
            if size >= task_bytes:
                yield task
                task, size = [], 0
    if task:
        yield task


def _file_units(reader: Reader, path: Path | UrlPath, task_bytes: int) -> Iterator[Unit]:
    if _kind(path) != "jsonl":  # .txt (one record) or an error: read as the sequential reader does
        yield from reader.read_file(path)
        return
    opened = reader.open_file(path)
    if isinstance(opened, InputError):
        yield opened
        return
    with opened[1] as fh:
        yield from cut_lines(reader, reader.decoded_chunks(fh), str(path), _stem(path), task_bytes)


def cut_lines(reader: Reader, chunks: Iterator[bytes], where: str, stem: str, task_bytes: int) -> Iterator[Unit]:
    """A file's decoded bytes as ``Lines`` of ``task_bytes`` up to the next newline (fewer at the end
    and before an over-long line, which becomes its error in between: see the module doc)."""
    limit = reader.max_record_bytes
    first_line = 1  # number of the first line in ``parts``, or of the line being dropped
    parts: list[bytes] = []  # whole lines, then the start of the next line
    size = 0  # bytes in parts
    whole = 0  # bytes of whole lines in parts
    dropping = -1  # >= 0: the length so far of an over-long line whose bytes are not kept
    try:
        for chunk in checked_start(chunks, where):
            if dropping >= 0:
                newline = chunk.find(b"\n")
                if newline < 0:
                    dropping += len(chunk)
                    continue
                yield reader.too_long(where, first_line, dropping + newline)
                first_line, dropping, chunk = first_line + 1, -1, chunk[newline + 1 :]
            last_newline = chunk.rfind(b"\n")
            if last_newline >= 0:
                whole = size + last_newline + 1
            parts.append(chunk)
            size += len(chunk)
            if size - whole > limit:  # the unfinished line is already too long to hold: its whole
                dropping, size = size - whole, whole  # lines go now, its bytes are not kept
            elif whole < task_bytes:
                continue
            data = b"".join(parts)
            start = 0
            while start < whole:  # Lines of task_bytes or a line more; a decoded chunk may hold several
                cut = data.find(b"\n", start + task_bytes - 1, whole)
                if cut < 0:
                    if dropping < 0:
                        break  # fewer than task_bytes of whole lines left: they wait for more
                    cut = whole - 1
                yield Lines(where, stem, first_line, data[start : cut + 1])
                first_line += data.count(b"\n", start, cut + 1)
                start = cut + 1
            parts = [data[start:size]] if size > start else []
            size, whole = size - start, whole - start
    except BinaryFile as exc:
        yield exc.error
        return
    except StreamError as exc:
        if dropping >= 0:
            yield stream_broke(where, first_line, exc, cut_off=True)
        else:
            yield Lines(where, stem, first_line, b"".join(parts), broken=str(exc))
        return
    if dropping >= 0:
        yield reader.too_long(where, first_line, dropping)
    elif size:
        yield Lines(where, stem, first_line, b"".join(parts))
