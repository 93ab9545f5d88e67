"""Output side: the five files of a run, written to temporaries and renamed into place at the end.

A run that dies half-way leaves the previous run's outputs untouched; a finished run replaces
them all. Records are built in a fixed field order with orjson, so equal inputs give byte-identical files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .document import Document
from .fs import local_or_url, upload
from .readers import InputError

OUTPUT_FILES = ("clean.jsonl", "rejected.jsonl", "duplicates.jsonl", "errors.jsonl")
_OPTS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY


def dumps_line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj, option=_OPTS)


def clean_record(doc: Document) -> dict[str, Any]:
    return {"id": doc.id, "text": doc.text, "metadata": doc.output_metadata()}


def rejected_record(doc: Document) -> dict[str, Any]:
    flag = doc.rejected_by
    assert flag is not None
    return {
        "id": doc.id,
        "stage": flag.stage,
        "rule": flag.rule,
        "reason": flag.reason,
        "text": doc.text,
        "metadata": doc.output_metadata(),
    }


def duplicate_record(doc: Document) -> dict[str, Any]:
    dup = doc.duplicate
    assert dup is not None
    return {
        "id": doc.id,
        "duplicate_of": dup.duplicate_of,
        "cluster": dup.cluster,
        "similarity": round(float(dup.similarity), 4),
        "rule": dup.rule,
        "text": doc.text,
        "metadata": doc.output_metadata(),
    }


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class UploadError(OSError):
    """A finished run could not be copied to its remote output; the local copy is kept."""


class OutputSet:
    """The run's output files, staged in a hidden temp directory inside ``output_dir``.

    For a URL ``output_dir`` (``s3://...``) files are staged in a local temp directory and uploaded
    one by one at commit, report.json last: atomic per file, and the report marks a finished run.
    """

    def __init__(self, output_dir: Path | str):
        target = local_or_url(output_dir)
        self.url = target if isinstance(target, str) else None
        if self.url:
            self.staging = Path(tempfile.mkdtemp(prefix="winnow-run-"))
        else:
            self.output_dir = Path(target)
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(prefix=".winnow-run-", dir=self.output_dir))
        self._files: dict[str, BinaryIO] = {
            name: open(self.staging / name, "wb", buffering=1 << 20) for name in OUTPUT_FILES
        }
        self.counts = {name: 0 for name in OUTPUT_FILES}
        self.keep_staging = False

    def _write(self, name: str, record: dict[str, Any]) -> None:
        self._files[name].write(dumps_line(record))
        self.counts[name] += 1

    def clean(self, doc: Document) -> None:
        self._write("clean.jsonl", clean_record(doc))

    def rejected(self, doc: Document) -> None:
        self._write("rejected.jsonl", rejected_record(doc))

    def duplicate(self, doc: Document) -> None:
        self._write("duplicates.jsonl", duplicate_record(doc))

    def error(self, err: InputError) -> None:
        self._write("errors.jsonl", err.to_dict())

    def scratch(self, name: str) -> Path:
        """A path inside the staging directory for temporary run files (e.g. spills)."""
        return self.staging / name

    def commit(self, report: dict[str, Any]) -> None:
        """Flush everything and move the finished files into place, report last."""
        for fh in self._files.values():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
        report_bytes = orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)
        if self.url:
            (self.staging / "report.json").write_bytes(report_bytes)
            try:
                for name in (*OUTPUT_FILES, "report.json"):
                    upload(self.staging / name, self.url, name)
            except Exception as exc:  # credentials, network: keep the finished run for a manual copy
                self.keep_staging = True
                raise UploadError(f"upload to {self.url} failed ({exc}); the finished outputs are in {self.staging}") from exc
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        for name in OUTPUT_FILES:
            os.replace(self.staging / name, self.output_dir / name)
        atomic_write_bytes(self.output_dir / "report.json", report_bytes)
        shutil.rmtree(self.staging, ignore_errors=True)
        fsync_dir(self.output_dir)

    def abort(self) -> None:
        for fh in self._files.values():
            if not fh.closed:
                fh.close()
        if not self.keep_staging:
            shutil.rmtree(self.staging, ignore_errors=True)
