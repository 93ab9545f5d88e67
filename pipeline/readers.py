"""Input side: find input files and turn them into Documents or InputErrors - nothing in between.

Supported: ``*.jsonl``, ``*.jsonl.gz``, ``*.jsonl.zst`` (one JSON object a line) and ``*.txt`` (one
document per file). Anything else found in an input directory, and every line that cannot be read,
becomes an ``InputError`` so that each input record is accounted for exactly once.
"""

from __future__ import annotations

import gzip
import io
import os
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


@dataclass(slots=True)
class InputError:
    """An input record (or whole file) that could not be turned into a document."""

    source: str
    line: int | None
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "error": self.error}


Item = Union[Document, InputError]


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(TEXT_SUFFIXES):
        return "txt"
    return None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(JSONL_SUFFIXES + TEXT_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def discover(inputs: list[str | Path]) -> list[Path | UrlPath]:
    """Expand directories recursively (hidden files skipped), sorted so runs are reproducible.

    ``scheme://`` inputs (s3, gs, memory, ...) are found and read through fsspec (``pipeline.fs``).
    """
    files: list[Path | UrlPath] = []
    for raw in inputs:
        path = as_path(raw)
        if isinstance(path, UrlPath):
            files.extend(path.files_below() if path.is_dir() else [path])
        elif path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
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


def _open_binary(path: Path | UrlPath) -> IO[bytes]:
    name = path.name.lower()
    raw = open_binary(path)
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if name.endswith(".zst"):
        return io.BufferedReader(  # type: ignore[arg-type]
            zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
        )
    return raw


class Reader:
    """Iterate over every record of the input files in a stable order."""

    def __init__(self, inputs: list[str | Path], config: InputConfig | None = None):
        self.config = config or InputConfig()
        self.files = discover(inputs)

    def __iter__(self) -> Iterator[Item]:
        for path in self.files:
            yield from self.read_file(path)

    # -- per format -----------------------------------------------------------------------------
    def read_file(self, path: Path) -> Iterator[Item]:
        kind = _kind(path)
        if not path.exists():
            yield InputError(str(path), None, "file not found")
            return
        if kind is None:
            yield InputError(str(path), None, "unsupported file type (expected .jsonl, .jsonl.gz, .jsonl.zst or .txt)")
            return
        try:
            if kind == "txt":
                yield from self._read_txt(path)
            else:
                yield from self._read_jsonl(path)
        except PermissionError as exc:
            yield InputError(str(path), None, f"cannot read file: {exc.strerror}")

    def _read_txt(self, path: Path) -> Iterator[Item]:
        data = path.read_bytes()
        if b"\x00" in data[:8192]:
            yield InputError(str(path), None, "binary file (NUL bytes), not text")
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield InputError(str(path), None, f"invalid UTF-8 at byte {exc.start}")
            return
        yield self._document(_stem(path), text, {}, {"path": str(path)})

    def _read_jsonl(self, path: Path) -> Iterator[Item]:
        cfg = self.config
        stem = _stem(path)
        line_no = 0
        try:
            with _open_binary(path) as fh:
                for line_no, raw in enumerate(fh, start=1):
                    if not raw.strip():
                        continue  # blank lines are not records
                    item = self._parse_line(raw, path, line_no, stem, cfg)
                    yield item
        except (EOFError, OSError, zstandard.ZstdError) as exc:
            yield InputError(str(path), line_no + 1, f"compressed stream ends early or is corrupt: {exc}")

    def _parse_line(self, raw: bytes, path: Path, line_no: int, stem: str, cfg: InputConfig) -> Item:
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as uexc:
                return InputError(str(path), line_no, f"invalid UTF-8 at byte {uexc.start}")
            return InputError(str(path), line_no, f"malformed JSON: {exc}")
        if not isinstance(record, dict):
            return InputError(str(path), line_no, f"record is a JSON {type(record).__name__}, not an object")
        text = record.pop(cfg.text_field, None)
        if text is None:
            return InputError(str(path), line_no, f"missing {cfg.text_field!r} field")
        if not isinstance(text, str):
            return InputError(str(path), line_no, f"{cfg.text_field!r} is a {type(text).__name__}, not a string")
        raw_id = record.pop(cfg.id_field, None)
        doc_id = str(raw_id) if raw_id is not None and raw_id != "" else f"{stem}:{line_no}"
        return self._document(doc_id, text, record, {"path": str(path), "line": line_no})

    def _document(self, doc_id: str, text: str, metadata: dict[str, Any], source: dict[str, Any]) -> Document:
        doc = Document(id=doc_id, text=text, metadata=metadata, source=source)
        if len(text) > self.config.max_chars:
            doc.flag("input", "too_large", f"document has {len(text)} characters, limit is input.max_chars", len(text))
        elif not text.strip():
            doc.flag("input", "empty", "document has no text")
        return doc
