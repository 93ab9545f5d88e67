"""Input side: find input files and turn them into Documents or InputErrors - nothing in between.

Supported: ``*.jsonl``, ``*.jsonl.gz``, ``*.jsonl.zst`` (one JSON object a line) and ``*.txt`` (one
document per file). Anything else found in an input directory, and every line that cannot be read,
becomes an ``InputError`` so that each input record is accounted for exactly once.

The rules, so a run over messy input is predictable:

* A *record* is a JSONL line with at least one non-whitespace byte (blank lines are skipped), or a
  whole ``.txt`` file. Every record yields exactly one ``Document`` or one ``InputError``.
* Compression is recognised by content (gzip / zstd magic bytes), not by the file name. A stream
  that ends early or is corrupt keeps every line decoded before the damage and adds ONE error at
  the line where it broke; the rest of that file is unreadable and cannot be counted.
* A file whose first line contains a NUL byte is binary, not text: one error for the file.
* A record longer than ``8 x input.max_chars`` bytes is never loaded into memory: error. A shorter one
  whose text exceeds ``input.max_chars`` characters is rejected (stage ``input``, rule ``too_large``).
* Hidden directories (``.git``, ``.winnow-run-*``) are not walked; any other file in an input
  directory that is not a supported kind (``.DS_Store``, ``.png``) is one error.
"""

from __future__ import annotations

import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator, Union

import orjson
import zstandard

from .config import InputConfig
from .document import Document
from .fs import UrlPath, as_path, open_binary

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson", ".json.gz")
TEXT_SUFFIXES = (".txt",)
CHUNK_BYTES = 1 << 20
GZIP_STEP_BYTES = 16 << 10
MAX_CHUNK_OUT = 8 << 20  # bound on decompressed bytes per step (a gzip bomb cannot fill memory)
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BINARY_SNIFF_BYTES = 8192


@dataclass(slots=True)
class InputError:
    """An input record (or whole file) that could not be turned into a document."""

    source: str
    line: int | None
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "error": self.error}


Item = Union[Document, InputError]


class StreamError(Exception):
    """A compressed stream that ends early or is corrupt (raised after all decodable bytes)."""


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(TEXT_SUFFIXES):
        return "txt"
    return None


def is_supported(path: Path) -> bool:
    """Has a name winnow reads (.jsonl[.gz|.zst], .ndjson, .txt)."""
    return _kind(path) is not None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(JSONL_SUFFIXES + TEXT_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def discover(inputs: list[str | Path], unreadable: list[InputError] | None = None) -> list[Path | UrlPath]:
    """Expand directories recursively (hidden directories skipped), sorted so runs are reproducible.

    Directories that cannot be listed are appended to ``unreadable`` (when given) as errors.
    ``scheme://`` inputs (s3, gs, memory, ...) are found and read through fsspec (``pipeline.fs``).
    """
    files: list[Path | UrlPath] = []

    def on_error(exc: OSError) -> None:
        if unreadable is not None:
            unreadable.append(InputError(str(exc.filename), None, f"cannot list directory: {exc.strerror}"))

    for raw in inputs:
        path = as_path(raw)
        if isinstance(path, UrlPath):
            files.extend(path.files_below() if path.is_dir() else [path])
        elif path.is_dir():
            for root, dirs, names in os.walk(path, onerror=on_error):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(Path(root) / n for n in sorted(names))
        else:
            files.append(path)
    # de-duplicate while keeping order: the same file named twice is read once
    seen: set[Path | UrlPath] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _gzip_chunks(first: bytes, raw_chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress (multi-member) gzip, yielding output as it comes; StreamError if it breaks off.

    Input goes to zlib in small steps: when zlib raises (corrupt data, bad CRC) only the output of
    one step is lost, so the lines decoded before the damage are kept.
    """
    decomp: Any = None
    for chunk in _prepend(first, raw_chunks):
        for offset in range(0, len(chunk), GZIP_STEP_BYTES):
            raw = chunk[offset : offset + GZIP_STEP_BYTES]
            while raw:
                if decomp is None or decomp.eof:
                    if decomp is not None and not raw.strip(b"\x00"):
                        break  # zero padding after the last member is allowed (as gzip(1) does)
                    decomp = zlib.decompressobj(wbits=31)
                try:
                    out = decomp.decompress(raw, MAX_CHUNK_OUT)
                except zlib.error as exc:
                    raise StreamError(f"corrupt gzip data ({exc})") from None
                if out:
                    yield out
                raw = decomp.unconsumed_tail or (decomp.unused_data if decomp.eof else b"")
    if decomp is None or not decomp.eof:
        raise StreamError("gzip stream ends early (truncated file)")


def _zstd_chunks(first: bytes, raw_chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress (multi-frame) zstd; StreamError if it breaks off (stream_reader would not say)."""
    decomp: Any = None
    for raw in _prepend(first, raw_chunks):
        while raw:
            if decomp is None or decomp.eof:
                decomp = zstandard.ZstdDecompressor().decompressobj()
            try:
                out = decomp.decompress(raw)
            except zstandard.ZstdError as exc:
                raise StreamError(f"corrupt zstd data ({exc})") from None
            if out:
                yield out
            raw = decomp.unused_data if decomp.eof else b""
    if decomp is None or not decomp.eof:
        raise StreamError("zstd stream ends early (truncated file)")


class BinaryFile(Exception):
    """A JSONL file whose first line holds NUL bytes: ``error`` is the file's one error."""

    def __init__(self, error: InputError):
        super().__init__(error.error)
        self.error = error


def checked_start(chunks: Iterator[bytes], where: str) -> Iterator[bytes]:
    """A JSONL file's decoded chunks under the rules of its first chunk: a UTF-8 byte order mark is
    dropped; NUL bytes in the first line raise ``BinaryFile``."""
    first = True
    for chunk in chunks:
        if first:
            first = False
            newline = chunk.find(b"\n", 0, BINARY_SNIFF_BYTES)
            if b"\x00" in chunk[: newline if newline >= 0 else BINARY_SNIFF_BYTES]:
                raise BinaryFile(InputError(where, None, "binary file (NUL bytes in the first line), not JSONL"))
            if chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
        yield chunk


def stream_broke(where: str, line_no: int, exc: StreamError, cut_off: bool) -> InputError:
    """The one error of a compressed stream that broke off at line ``line_no`` (``cut_off``: part of
    that line was read)."""
    cut = f"line {line_no} is cut off" if cut_off else f"no complete line after line {line_no - 1}"
    return InputError(where, line_no, f"{exc}: {cut}; the rest of the file cannot be read")


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


class Reader:
    """Iterate over every record of the input files in a stable order.

    ``bytes_read`` / ``total_bytes`` (on-disk bytes) let a progress display show how far it got.
    """

    def __init__(self, inputs: list[str | Path], config: InputConfig | None = None):
        self.config = config or InputConfig()
        self.unreadable: list[InputError] = []
        self.files = discover(inputs, self.unreadable)
        self.bytes_read = 0
        self.max_record_bytes = 8 * self.config.max_chars

    @property
    def total_bytes(self) -> int:
        total = 0
        for path in self.files:
            try:
                total += path.stat().st_size
            except OSError:
                pass
        return total

    def __iter__(self) -> Iterator[Item]:
        yield from self.unreadable
        for path in self.files:
            yield from self.read_file(path)

    # -- per file -------------------------------------------------------------------------------
    def read_file(self, path: Path | UrlPath) -> Iterator[Item]:
        """Every record of one file; never raises for anything wrong with the file itself."""
        opened = self.open_file(path)
        if isinstance(opened, InputError):
            yield opened
            return
        kind, fh = opened
        with fh:
            if kind == "txt":
                yield from self._read_txt(path, fh)
            else:
                yield from self._read_jsonl(path, fh)

    def open_file(self, path: Path | UrlPath) -> tuple[str, IO[bytes]] | InputError:
        """(kind, open file) of a readable regular file of a supported kind, else its one error."""
        where = str(path)
        try:
            st = path.stat()
        except FileNotFoundError:
            return InputError(where, None, "file not found")
        except OSError as exc:
            return InputError(where, None, f"cannot read file: {exc.strerror or exc}")
        if not stat.S_ISREG(st.st_mode):
            return InputError(where, None, "not a regular file")
        kind = _kind(path)
        if kind is None:
            return InputError(where, None, "unsupported file type (expected .jsonl, .jsonl.gz, .jsonl.zst or .txt)")
        try:
            return kind, open_binary(path)
        except OSError as exc:
            return InputError(where, None, f"cannot read file: {exc.strerror or exc}")

    def _raw_chunks(self, fh: IO[bytes]) -> Iterator[bytes]:
        while True:
            chunk = fh.read(CHUNK_BYTES)
            if not chunk:
                return
            self.bytes_read += len(chunk)
            yield chunk

    def decoded_chunks(self, fh: IO[bytes]) -> Iterator[bytes]:
        """The file's bytes, decompressed if the content is gzip or zstd (OSError -> StreamError)."""
        raw = self._raw_chunks(fh)
        try:
            first = next(raw, b"")
            if first.startswith(GZIP_MAGIC):
                yield from _gzip_chunks(first, raw)
            elif first.startswith(ZSTD_MAGIC):
                yield from _zstd_chunks(first, raw)
            else:
                yield from _prepend(first, raw)
        except OSError as exc:
            raise StreamError(f"read failed: {exc.strerror or exc}") from None

    # -- per format -----------------------------------------------------------------------------
    def _read_txt(self, path: Path, fh: IO[bytes]) -> Iterator[Item]:
        where = str(path)
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in self.decoded_chunks(fh):
                parts.append(chunk)
                size += len(chunk)
                if size > self.max_record_bytes:
                    yield InputError(where, None, f"text file larger than {self.max_record_bytes} bytes (8 x input.max_chars), not read")
                    return
        except StreamError as exc:
            yield InputError(where, None, str(exc))
            return
        data = b"".join(parts)
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                text = data.decode("utf-16")
            except UnicodeDecodeError as exc:
                yield InputError(where, None, f"invalid UTF-16 at byte {exc.start}")
                return
        else:
            if b"\x00" in data[:BINARY_SNIFF_BYTES]:
                yield InputError(where, None, "binary file (NUL bytes), not text")
                return
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                yield InputError(where, None, f"invalid UTF-8 at byte {exc.start}")
                return
        yield self._document(_stem(path), text, {}, {"path": where})

    def _read_jsonl(self, path: Path | UrlPath, fh: IO[bytes]) -> Iterator[Item]:
        yield from self.jsonl_records(self.decoded_chunks(fh), str(path), _stem(path))

    def jsonl_records(
        self, chunks: Iterator[bytes], where: str, stem: str, first_line: int = 1, at_file_start: bool = True
    ) -> Iterator[Item]:
        """The records of JSONL bytes, numbered from ``first_line``; shared by whole files and the
        byte ranges of ``pipeline.shards``. ``at_file_start``: the binary check and BOM apply."""
        limit = self.max_record_bytes
        line_no = first_line - 1
        pending: list[bytes] = []  # the current line so far (it may span chunks)
        pending_len = 0
        overlong = False  # the current line passed the limit: its bytes are dropped, not kept
        try:
            for chunk in checked_start(chunks, where) if at_file_start else chunks:
                pieces = chunk.split(b"\n")
                tail = pieces.pop()  # after the last newline: continues in the next chunk
                for piece in pieces:
                    line_no += 1
                    if overlong or pending_len + len(piece) > limit:
                        yield self.too_long(where, line_no, pending_len + len(piece))
                    elif pending:
                        yield from self._record(b"".join(pending) + piece, where, line_no, stem)
                    else:
                        yield from self._record(piece, where, line_no, stem)
                    pending, pending_len, overlong = [], 0, False
                if not overlong:
                    pending.append(tail)
                pending_len += len(tail)
                if pending_len > limit and not overlong:
                    overlong, pending = True, []
        except BinaryFile as exc:
            yield exc.error
            return
        except StreamError as exc:
            yield stream_broke(where, line_no + 1, exc, cut_off=pending_len > 0)
            return
        if pending_len:  # last line without a final newline
            line_no += 1
            if overlong:
                yield self.too_long(where, line_no, pending_len)
            else:
                yield from self._record(b"".join(pending), where, line_no, stem)

    def too_long(self, where: str, line_no: int, size: int) -> InputError:
        return InputError(
            where, line_no, f"line is {size} bytes, over the {self.max_record_bytes} byte limit (8 x input.max_chars); not read"
        )

    def _record(self, raw: bytes, where: str, line_no: int, stem: str) -> Iterator[Item]:
        if raw.strip():  # blank lines are not records
            yield self._parse_line(raw, where, line_no, stem)

    def _parse_line(self, raw: bytes, path: str | Path, line_no: int, stem: str, cfg: InputConfig | None = None) -> Item:
        """One JSONL record (a non-blank line) -> Document or InputError. Never raises."""
        cfg = cfg or self.config
        where = str(path)
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as uexc:
                return InputError(where, line_no, f"invalid UTF-8 at byte {uexc.start}")
            return InputError(where, line_no, f"malformed JSON: {exc}")
        if not isinstance(record, dict):
            return InputError(where, line_no, f"record is a JSON {type(record).__name__}, not an object")
        text = record.pop(cfg.text_field, None)
        if text is None:
            return InputError(where, line_no, f"missing {cfg.text_field!r} field")
        if not isinstance(text, str):
            return InputError(where, line_no, f"{cfg.text_field!r} is a {type(text).__name__}, not a string")
        raw_id = record.pop(cfg.id_field, None)
        doc_id = str(raw_id) if raw_id is not None and raw_id != "" else f"{stem}:{line_no}"
        return self._document(doc_id, text, record, {"path": where, "line": line_no})

    def _document(self, doc_id: str, text: str, metadata: dict[str, Any], source: dict[str, Any]) -> Document:
        doc = Document(id=doc_id, text=text, metadata=metadata, source=source)
        if len(text) > self.config.max_chars:
            doc.flag("input", "too_large", f"document has {len(text)} characters, limit is input.max_chars", len(text))
        elif not text.strip():
            doc.flag("input", "empty", "document has no text")
        return doc


def read_record(path: Path, line: int | None, config: InputConfig | None = None) -> Item | None:
    """Re-read one record (``line`` of a JSONL file, or a whole .txt) - for ``winnow inspect``."""
    reader = Reader([path], config)
    for item in reader.read_file(Path(path)):
        if line is None or (isinstance(item, Document) and item.source.get("line") == line) or (
            isinstance(item, InputError) and item.line == line
        ):
            return item
    return None
