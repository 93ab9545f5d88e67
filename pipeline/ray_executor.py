"""Run the pipeline's per-batch work as Ray tasks: same contract as ``LocalExecutor``, many machines.

``RayExecutor.map(fn, items, shared)`` puts ``shared`` (the stages) into Ray's object store once per
call; each task installs it as the worker state (cached per object in the worker process, so stages
are unpickled once per worker, not once per batch), runs ``fn`` on its item and returns the result.
At most ``2 x cluster CPUs`` tasks are in flight and results are yielded in input order, so memory
stays bounded and output is byte-identical to the local executor's. Global stages that call
``context.executor.map`` in ``resolve`` (dedup: one task per LSH band) thereby shuffle by band key
through Ray without knowing it.

Ray is an optional extra (``pip install 'winnow[ray]'``); this module imports it lazily.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable, Iterable, Iterator

from .executor import _init_worker
from .fs import is_url
from .shards import DEFAULT_SHARD_BYTES

INSTALL_HINT = "--executor ray needs Ray: pip install 'winnow[ray]'"

_installed_state: str | None = None  # object id of the shared state installed in this worker


class RayUnavailable(RuntimeError):
    """Ray is not installed in this Python."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable(INSTALL_HINT) from None
    return ray


def _run_task(fn: Callable[[Any], Any], shared_box: list, item: Any) -> Any:
    """Body of every Ray task. ``shared_box`` wraps the object ref so Ray does not resolve it per task."""
    global _installed_state
    ray = _import_ray()
    ref = shared_box[0]
    if _installed_state != ref.hex():
        _init_worker(ray.get(ref))
        _installed_state = ref.hex()
    return fn(item)


def _as_task(ray: Any) -> Any:
    """``_run_task`` as a Ray remote function: one CPU each; retried if a worker dies (tasks are pure)."""
    return ray.remote(num_cpus=1, max_retries=2)(_run_task)


class RayExecutor:
    """Join the Ray cluster at ``address``, or start a local one with ``workers`` CPUs (and stop it after).

    Use as a context manager, or call ``shutdown()``; only a cluster this object started is stopped.
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        shard_bytes: int = DEFAULT_SHARD_BYTES,
        **init_options: Any,
    ):
        ray = _import_ray()
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
            if address:
                options["address"] = address
            else:
                options.update(num_cpus=workers, include_dashboard=False)
            options.update(init_options)
            ray.init(**options)
            self._started = True
        self.address = address
        self.shard_bytes = shard_bytes
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = _as_task(ray)

    def reads_inputs(self, inputs: list[str]) -> bool:
        """Whether tasks read the input shards themselves: on a local cluster always; on a joined
        cluster only for URL inputs (``s3://``, ``file://`` on a shared filesystem), since a plain
        path may exist on this machine only - then this process reads and ships the batches.
        ``memory://`` lives in this process only: always read here."""
        if any(str(i).startswith("memory://") for i in inputs):
            return False
        return not self.address or all(is_url(i) for i in inputs)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], shared: dict[str, Any]) -> Iterator[Any]:
        ray = self._ray
        shared_box = [ray.put(shared)]
        limit = 2 * self.workers
        pending: deque = deque()
        try:
            for item in items:
                pending.append(self._remote.remote(fn, shared_box, item))
                if len(pending) >= limit:
                    yield ray.get(pending.popleft())
            while pending:
                yield ray.get(pending.popleft())
        finally:
            for ref in pending:  # consumer stopped early or a task failed: do not leave work running
                ray.cancel(ref)

    def __getstate__(self) -> dict[str, Any]:
        """Stages carry the run's context, executor included, into tasks: ship only the settings
        (a task does not start nested maps, and must never shut the cluster down)."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("_ray", "_remote")}
        state["_started"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._ray = _import_ray()
        self._remote = _as_task(self._ray)

    def shutdown(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
