"""What a run shows while it works: a progress bar on a terminal, log lines under cron, or nothing.

Fed by the runner's progress hook (``pipeline.runner.ProgressHook``). On a terminal a rich bar
tracks input bytes read; when stderr is not a terminal (cron, a pipe, a log file) a timestamped
line is printed every ``log_every`` seconds instead, so the log stays small and greppable.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from typing import IO, Literal

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

Mode = Literal["bar", "log", "off"]


def choose_mode(quiet: bool, stream: IO[str] | None = None) -> Mode:
    if quiet:
        return "off"
    stream = stream or sys.stderr
    return "bar" if stream.isatty() else "log"


def log_line(message: str, stream: IO[str] | None = None) -> None:
    """One timestamped line (UTC, ISO 8601), the format cron logs get."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} winnow: {message}", file=stream or sys.stderr, flush=True)


class RunProgress:
    """Callable progress hook; use as a context manager around the run."""

    def __init__(self, mode: Mode, log_every: float = 30.0, stream: IO[str] | None = None):
        self.mode = mode
        self.log_every = log_every
        self.stream = stream or sys.stderr
        self.total_bytes = 0
        self.bytes = 0
        self.docs = 0
        self.errors = 0
        self.started = time.monotonic()
        self._next_update = 0.0
        self._bar: Progress | None = None
        self._task = None

    # -- the hook -------------------------------------------------------------------------------
    def __call__(self, event: str, n: int) -> None:
        if event == "input_bytes":
            self.total_bytes = n
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, total=max(n, 1))
            return
        if event == "bytes":
            self.bytes += n
        elif event == "doc":
            self.docs += n
        elif event == "error":
            self.errors += n
            self.docs += n
        if self.mode == "off":
            return
        now = time.monotonic()
        if now >= self._next_update:
            self._refresh(now)

    def _refresh(self, now: float) -> None:
        if self._bar is not None and self._task is not None:
            status = f"{self.bytes / 1e6:,.1f}/{self.total_bytes / 1e6:,.1f} MB, {self.docs:,} written, {self.errors:,} errors"
            self._bar.update(self._task, completed=self.bytes, status=status)
            self._next_update = now + 0.1
        elif self.mode == "log":
            if self._next_update:  # not on the very first event: the start line was just printed
                log_line(self._status(with_rate=True), self.stream)
            self._next_update = now + self.log_every

    def _status(self, with_rate: bool = False) -> str:
        mb, total = self.bytes / 1e6, self.total_bytes / 1e6
        share = f" ({self.bytes / self.total_bytes:.0%})" if self.total_bytes else ""
        text = f"read {mb:,.1f} of {total:,.1f} MB{share}, {self.docs:,} documents written, {self.errors:,} input errors"
        if with_rate:
            elapsed = max(time.monotonic() - self.started, 1e-9)
            text += f", {mb / elapsed:,.2f} MB/s"
        return text

    # -- lifetime -------------------------------------------------------------------------------
    def __enter__(self) -> "RunProgress":
        self.started = time.monotonic()
        if self.mode == "bar":
            self._bar = Progress(
                TextColumn("winnow"),
                BarColumn(bar_width=30),
                TaskProgressColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("run", total=max(self.total_bytes, 1), status="starting")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
