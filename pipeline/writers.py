"""Output side: the five files of a run, written to temporaries and renamed into place at the end.

A run writes into a hidden staging directory ``DIR/.winnow-run-<pid>-*``. A run that dies before
it finished writing leaves the previous outputs untouched (its staging directory is removed by the
next run). Publishing is journaled: once every file is complete and fsynced, a ``COMMIT`` marker is
written into the staging directory, and only then are the files renamed into place (report.json
last). A crash between those renames is rolled forward by the next run, ``winnow report`` or
``winnow inspect`` (``recover_output``), so readers never see a mix of two runs once recovered.
Records are built in a fixed field order with orjson, so equal inputs give byte-identical files.
A URL output (``s3://...``; ``file://`` is treated as the local path) is staged in a local temp
directory and uploaded file by file at the end, report.json last (``OutputSet._upload``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .document import Document, Duplicate
from .fs import local_or_url, upload
from .readers import InputError

OUTPUT_FILES = ("clean.jsonl", "rejected.jsonl", "duplicates.jsonl", "errors.jsonl")
REPORT_FILE = "report.json"
PUBLISH_ORDER = OUTPUT_FILES + (REPORT_FILE,)  # report.json last: its arrival completes a set
STAGING_PREFIX = ".winnow-run-"
COMMIT_MARKER = "COMMIT"
PUBLISH_LOCK = ".winnow-publish.lock"
_OPTS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY
_TEXT_KEY = b',"text":'  # what follows a record's id (``duplicate_line``)


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
    assert doc.duplicate is not None
    return _duplicate_fields(doc.id, doc.text, doc.output_metadata(), doc.duplicate)


def duplicate_line(clean_line: bytes, dup: Duplicate) -> bytes:
    """The duplicates.jsonl line of a document whose clean.jsonl line is ``clean_line``: the same
    bytes ``duplicate_record`` gives, spliced rather than decoded and encoded again (orjson writes
    compact JSON, keys in order). The id comes first and is a JSON string, inside which ``,"text":``
    cannot occur (a quote there is escaped), so its first occurrence ends the id."""
    cut = clean_line.index(_TEXT_KEY)
    return b"".join((clean_line[:cut], b",", orjson.dumps(_duplicate_of(dup))[1:-1], clean_line[cut:]))


def _duplicate_fields(doc_id: str, text: str, metadata: dict[str, Any], dup: Duplicate) -> dict[str, Any]:
    return {"id": doc_id, **_duplicate_of(dup), "text": text, "metadata": metadata}


def _duplicate_of(dup: Duplicate) -> dict[str, Any]:
    return {
        "duplicate_of": dup.duplicate_of,
        "cluster": dup.cluster,
        "similarity": round(float(dup.similarity), 4),
        "rule": dup.rule,
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


class _PublishLock:
    """flock on ``DIR/.winnow-publish.lock``: two runs never interleave their renames.

    The kernel drops the lock when its holder dies, so a killed run never leaves it stuck.
    """

    def __init__(self, output_dir: Path):
        self.path = output_dir / PUBLISH_LOCK
        self.fd = -1

    def __enter__(self) -> "_PublishLock":
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _owner_alive(staging: Path) -> bool:
    """Staging dirs are named ``.winnow-run-<pid>-<random>``; is that process still running?"""
    try:
        pid = int(staging.name[len(STAGING_PREFIX):].split("-", 1)[0])
    except ValueError:
        return False
    return pid == os.getpid() or pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Is a process with this pid running (on this host)? Used to tell stale locks and staging dirs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _publish(staging: Path, output_dir: Path) -> None:
    """Rename a committed staging directory's files into place (idempotent: safe to redo)."""
    for name in PUBLISH_ORDER:
        src = staging / name
        if src.exists():
            os.replace(src, output_dir / name)
    fsync_dir(output_dir)
    shutil.rmtree(staging, ignore_errors=True)


def recover_output(output_dir: Path) -> list[str]:
    """Finish publishes a crash interrupted and remove staging dirs of dead runs.

    Returns one line per action taken (for the log). Staging dirs of runs still alive are left alone.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    actions: list[str] = []
    candidates = list(output_dir.glob(STAGING_PREFIX + "*"))
    if not candidates:
        return actions

    def committed_at(staging: Path) -> float:  # oldest commit first, so the newest one wins
        try:
            return (staging / COMMIT_MARKER).stat().st_mtime
        except OSError:
            return 0.0

    with _PublishLock(output_dir):
        for staging in sorted(candidates, key=lambda p: (committed_at(p), p.name)):
            if not staging.is_dir():
                continue
            if (staging / COMMIT_MARKER).exists():
                _publish(staging, output_dir)
                actions.append(f"completed the interrupted publish of {staging.name}")
            elif not _owner_alive(staging):
                shutil.rmtree(staging, ignore_errors=True)
                actions.append(f"removed {staging.name} left by a killed run")
    return actions


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
        self.recovered: list[str] = []
        if self.url:
            self.staging = Path(tempfile.mkdtemp(prefix=f"winnow-run-{os.getpid()}-"))
        else:
            self.output_dir = Path(target)
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self.recovered = recover_output(self.output_dir)
            self.staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=self.output_dir))
        self._files: dict[str, BinaryIO] = {
            name: open(self.staging / name, "wb", buffering=1 << 20) for name in OUTPUT_FILES
        }
        self.counts = {name: 0 for name in OUTPUT_FILES}
        self.keep_staging = False

    def _write(self, name: str, record: dict[str, Any]) -> None:
        self._files[name].write(dumps_line(record))
        self.counts[name] += 1

    def write_lines(self, name: str, lines: list[bytes]) -> None:
        """Records already encoded (``dumps_line``), e.g. by a worker process."""
        self._files[name].writelines(lines)
        self.counts[name] += len(lines)

    def copy_records(self, name: str, source: BinaryIO, nbytes: int, count: int, buffer: memoryview) -> None:
        """``count`` records already encoded: the next ``nbytes`` of ``source`` (a spill), copied
        through ``buffer`` as they are, not split into lines."""
        out = self._files[name]
        while nbytes > 0:
            n = source.readinto(buffer[: min(len(buffer), nbytes)])
            if not n:
                raise EOFError(f"{source.name} ends {nbytes} bytes early")
            out.write(buffer[:n])
            nbytes -= n
        self.counts[name] += count

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
        """Make every file durable, mark the set committed, then rename it into place."""
        for fh in self._files.values():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
        for leftover in self.staging.iterdir():  # scratch files are not part of the set
            if leftover.name not in OUTPUT_FILES:
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        atomic_write_bytes(
            self.staging / REPORT_FILE,
            orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY),
        )
        if self.url:
            self._upload(self.url)
            return
        with _PublishLock(self.output_dir):
            atomic_write_bytes(self.staging / COMMIT_MARKER, orjson.dumps(list(PUBLISH_ORDER)))
            _publish(self.staging, self.output_dir)

    def _upload(self, url: str) -> None:
        """Copy the finished set to a remote output, report.json last; keep it locally if that fails."""
        try:
            for name in PUBLISH_ORDER:
                upload(self.staging / name, url, name)
        except Exception as exc:  # credentials, network: keep the finished run for a manual copy
            self.keep_staging = True
            raise UploadError(f"upload to {url} failed ({exc}); the finished outputs are in {self.staging}") from exc
        shutil.rmtree(self.staging, ignore_errors=True)

    def abort(self) -> None:
        for fh in self._files.values():
            if not fh.closed:
                fh.close()
        if not self.keep_staging:
            shutil.rmtree(self.staging, ignore_errors=True)
