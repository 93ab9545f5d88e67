"""Executors: run a function over a stream of batches, results in submission order, memory bounded.

The runner hands an executor plain picklable functions and batches; it does not care whether they
run in this process, in a local process pool, or elsewhere.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from itertools import chain, islice
from typing import Any, Callable, Iterable, Iterator

_WORKER_STATE: dict[str, Any] = {}


def _init_worker(state: dict[str, Any]) -> None:
    _WORKER_STATE.clear()
    _WORKER_STATE.update(state)


def worker_state() -> dict[str, Any]:
    """What the executor's ``shared`` argument made available to the worker functions."""
    return _WORKER_STATE


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


class LocalExecutor:
    """In-process when ``workers == 1`` or there is a single item; otherwise a fork-based process pool.

    At most ``2 * workers`` batches are in flight, so a slow consumer never lets the input run
    ahead into memory. Results come back in input order, which keeps outputs deterministic.
    """

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))

    @property
    def parses_inputs(self) -> bool:
        """With several processes the runner hands out raw input chunks, parsed in the workers
        (``pipeline.chunks``): the main process only reads, decompresses and writes."""
        return self.workers > 1

    def map(
        self, fn: Callable[[Any], Any], items: Iterable[Any], shared: dict[str, Any]
    ) -> Iterator[Any]:
        items = iter(items)
        head = list(islice(items, 2))
        if self.workers == 1 or len(head) < 2:  # one item (two seed files): not worth forking a pool
            _init_worker(shared)
            for item in chain(head, items):
                yield fn(item)
            return
        ctx = mp.get_context("fork")
        with ctx.Pool(self.workers, initializer=_init_worker, initargs=(shared,)) as pool:
            pending: deque = deque()
            limit = 2 * self.workers
            for item in chain(head, items):
                pending.append(pool.apply_async(fn, (item,)))
                if len(pending) >= limit:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
