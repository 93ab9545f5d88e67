"""Cross-run state (``winnow run --state DIR``): a lock, a manifest of processed inputs, stage files.

Layout::

    DIR/state.lock       pid, host, process start time of the run holding it (O_EXCL)
    DIR/manifest.json    the committed state: processed inputs + each stage's component metadata
    DIR/<component>/...  files the manifest names (e.g. dedup/seg-000003/)
    DIR/.staging/        files written by the current run, not yet committed

A run stages its new files, and only after its outputs are committed does ``commit`` move them into
place and atomically replace ``manifest.json`` - the single pointer to what is committed. A run
killed at any point (even ``kill -9``) leaves the committed state as it was; the next run clears
its staging directory, unreferenced leftovers and the dead run's lock.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import orjson
import xxhash

from .fs import UrlPath, open_binary
from .readers import discover
from .writers import atomic_write_bytes, fsync_dir, pid_alive

log = logging.getLogger("winnow.state")

MANIFEST = "manifest.json"
LOCK = "state.lock"
STAGING = ".staging"
FORMAT = 1


class StateError(RuntimeError):
    """A state directory that cannot be used (locked, incompatible, unreadable). One-line message."""


def _process_start(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), to tell a live run from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _referenced(manifest: dict[str, Any]) -> set[Path]:
    """Every file the manifest's components reference, relative to the state directory."""
    return {Path(p) for meta in manifest["components"].values() for p in meta.get("files", [])}


def fingerprint(path: Path | UrlPath) -> dict[str, Any]:
    """Identity of an input file: its content hash decides; path, size and mtime are for people."""
    digest = xxhash.xxh3_128()
    with open_binary(path) as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime": st.st_mtime, "xxh3_128": digest.hexdigest()}


class StateDir:
    """One state directory, opened for a run (locked) or read-only (``winnow dedup --against``)."""

    def __init__(self, path: Path | str, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self.manifest: dict[str, Any] = {"format": FORMAT, "runs": 0, "inputs": [], "components": {}}
        self._locked = False
        self._pending_inputs: list[dict[str, Any]] = []
        self._pending_components: dict[str, dict[str, Any]] = {}
        self._staged: list[str] = []

    # -- open / close ---------------------------------------------------------------------------
    def open(self) -> None:
        if self.readonly:
            if not (self.path / MANIFEST).exists():
                raise StateError(f"{self.path} is not a winnow state directory (no {MANIFEST})")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._acquire()
        try:
            if not self.readonly:
                self._clear_leftovers()
            self._load_manifest()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._locked:
            shutil.rmtree(self.path / STAGING, ignore_errors=True)
            lock = self.path / LOCK
            try:
                holder = orjson.loads(lock.read_bytes())
                if holder.get("pid") == os.getpid():
                    lock.unlink()
            except (OSError, orjson.JSONDecodeError):
                pass
            self._locked = False

    def __enter__(self) -> "StateDir":
        self.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _acquire(self) -> None:
        lock = self.path / LOCK
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "process_start": _process_start(os.getpid()),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._read_lock(lock)
                if self._is_stale(holder):
                    log.warning("removing stale lock %s of pid %s (no longer running)", lock, holder.get("pid"))
                    lock.unlink(missing_ok=True)
                    continue
                raise StateError(
                    f"state directory {self.path} is locked by pid {holder.get('pid')} on {holder.get('host')} "
                    f"since {holder.get('started')}; wait for that run to finish (or delete {lock} if it is gone)"
                ) from None
            with os.fdopen(fd, "wb") as fh:
                fh.write(orjson.dumps(me))
                fh.flush()
                os.fsync(fh.fileno())
            self._locked = True
            return
        raise StateError(f"could not lock state directory {self.path}")

    @staticmethod
    def _read_lock(lock: Path) -> dict[str, Any]:
        try:
            holder = orjson.loads(lock.read_bytes())
            return holder if isinstance(holder, dict) else {}
        except (OSError, orjson.JSONDecodeError):
            return {}

    @staticmethod
    def _is_stale(holder: dict[str, Any]) -> bool:
        """Stale: written on this host by a process that is gone (or whose pid now names another)."""
        pid = holder.get("pid")
        if not isinstance(pid, int) or holder.get("host") != socket.gethostname():
            return False
        if not pid_alive(pid):
            return True
        started = holder.get("process_start")
        return started is not None and _process_start(pid) not in (None, started)

    def _clear_leftovers(self) -> None:
        staging = self.path / STAGING
        if staging.exists():
            log.warning("removing %s left by an interrupted run", staging)
            shutil.rmtree(staging)

    def _load_manifest(self) -> None:
        path = self.path / MANIFEST
        if not path.exists():
            return
        try:
            manifest = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise StateError(f"cannot read {path}: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise StateError(f"{path} is not a winnow state manifest (format {FORMAT})")
        self.manifest = manifest
        if not self.readonly:
            self._remove_unreferenced()

    def _remove_unreferenced(self) -> None:
        """Component files a killed run moved into place without committing the manifest."""
        referenced = _referenced(self.manifest)
        for name in self.manifest["components"]:
            folder = self.path / name
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.relative_to(self.path) not in referenced:
                    log.warning("removing %s: not part of the committed state", entry)
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()

    # -- inputs ---------------------------------------------------------------------------------
    @property
    def run_number(self) -> int:
        """Number of the run in progress (1 for the first run on this state)."""
        return int(self.manifest.get("runs", 0)) + 1

    def select_inputs(self, inputs: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
        """(input files to read, skipped inputs). Files whose content was committed before are skipped."""
        files = discover(inputs)
        if self.readonly:
            return [str(f) for f in files], []
        done = {entry["xxh3_128"]: entry for entry in self.manifest["inputs"]}
        to_read: list[str] = []
        skipped: list[dict[str, Any]] = []
        for f in files:
            if not f.is_file():
                to_read.append(str(f))  # the reader reports it
                continue
            fp = fingerprint(f)
            earlier = done.get(fp["xxh3_128"])
            if earlier is not None:
                skipped.append({"path": str(f), "reason": "already processed", "run": earlier.get("run"), "as": earlier["path"]})
                continue
            done[fp["xxh3_128"]] = fp
            self._pending_inputs.append(fp)
            to_read.append(str(f))
        return to_read, skipped

    # -- components -----------------------------------------------------------------------------
    def component(self, name: str) -> dict[str, Any] | None:
        """Committed metadata of a stage's component (None if it has none yet)."""
        return self.manifest["components"].get(name)

    def file(self, relative: str) -> Path:
        return self.path / relative

    def stage_path(self, relative: str) -> Path:
        """Where the running stage writes a new file or directory that ``commit`` moves to ``relative``."""
        if self.readonly:
            raise StateError(f"state directory {self.path} is open read-only")
        self._staged.append(relative)
        target = self.path / STAGING / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def set_component(self, name: str, meta: dict[str, Any]) -> None:
        """New metadata for a component; ``meta["files"]`` lists every file it references."""
        self._pending_components[name] = meta

    # -- commit ---------------------------------------------------------------------------------
    def commit(self) -> dict[str, Any]:
        """Move staged files into place, then replace the manifest (the commit point)."""
        if self.readonly:
            return {}
        run = self.run_number
        for relative in self._staged:
            target = self.path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():  # moved in by a run killed before its manifest: never committed
                shutil.rmtree(target)
            os.replace(self.path / STAGING / relative, target)
            fsync_dir(target.parent)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        manifest = dict(self.manifest)
        manifest["runs"] = run
        manifest["inputs"] = list(self.manifest["inputs"]) + [dict(fp, run=run, committed=stamp) for fp in self._pending_inputs]
        manifest["components"] = {**self.manifest["components"], **self._pending_components}
        atomic_write_bytes(self.path / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        superseded = _referenced(self.manifest) - _referenced(manifest)
        self.manifest = manifest
        for relative in sorted(superseded):  # after the commit point: a crash here only leaves garbage
            target = self.path / relative  # that the next run's open removes
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        shutil.rmtree(self.path / STAGING, ignore_errors=True)
        summary = {"run": run, "inputs_added": len(self._pending_inputs)}
        self._pending_inputs, self._pending_components, self._staged = [], {}, []
        return summary
