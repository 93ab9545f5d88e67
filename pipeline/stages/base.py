"""The stage interface. The runner only ever talks to stages through this.

Two kinds of stage:

* ``Stage`` - a per-batch processor: annotate, edit text, flag. Runs in worker processes, so it
  must be picklable and must not depend on other batches. Optional corpus pre-pass
  (``collect``/``fit``) for statistics over the whole input (e.g. lines repeated across documents).
* ``GlobalStage`` - needs to see the whole corpus before deciding (dedup). Workers compute a
  compact per-batch ``sign``-ature; the main process ``resolve``-s them into decisions, which the
  runner applies on a second pass over the spilled documents (NeMo Curator's "identify, then remove").
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict

from ..document import Document, Duplicate


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a stage works on a batch: boilerplate makes a removal
    record per cut line (~130 a web page) and a string per short line, quality a few lists and dicts
    per document, and each few hundred new objects made Python's collector walk the young ones, now
    and then all of them (a third of boilerplate's time on real pages). None of them forms a cycle,
    so nothing is left for the collector to find; its state is restored after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class StageConfig(BaseModel):
    """Options every stage has. Unknown keys are refused (typo protection)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    mode: Literal["filter", "annotate"] = "filter"
    """``filter``: the stage's flags reject documents. ``annotate``: flags are recorded only."""


@dataclass
class RunContext:
    """What a stage may know about the run it is part of."""

    state_dir: Path | None = None
    """Cross-run state (``--state DIR``); None for a one-off run."""
    state: Any = None
    """The opened ``pipeline.state.StateDir`` (locked, or read-only for ``winnow dedup --against``)."""
    workers: int = 1
    executor: Any = None
    """The run's executor: ``executor.map(fn, items, shared)`` runs picklable top-level functions
    over items in parallel, results in order (see ``pipeline.executor``). Global stages may use it
    in ``resolve`` (e.g. one task per LSH band), so the same code scales out on Ray."""
    extras: dict[str, Any] = field(default_factory=dict)


class Stage:
    """A per-batch processor. Subclasses set ``name`` and ``Config`` and implement ``process``."""

    name: ClassVar[str] = "stage"
    Config: ClassVar[type[StageConfig]] = StageConfig

    def __init__(self, config: StageConfig | None = None, context: RunContext | None = None):
        self.config = config if config is not None else self.Config()
        self.context = context or RunContext()

    # -- per batch (workers) --------------------------------------------------------------------
    def process(self, batch: list[Document]) -> None:
        """Annotate/edit the documents in place. Flag, never drop: the runner applies policy."""
        raise NotImplementedError

    # -- optional corpus pre-pass ---------------------------------------------------------------
    needs_corpus_pass: ClassVar[bool] = False

    def collect(self, batch: list[Document]) -> Any:
        """Statistics over one batch of *input* documents (workers). Must be picklable. Must not
        change the documents: the runner may hand the same ones to ``process`` (small inputs are
        parsed once)."""
        return None

    def fit(self, partials: Iterable[Any]) -> None:
        """Combine the ``collect`` results in the main process, before any ``process`` call."""

    # -- end of run (main process) --------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        """Persist cross-run state if any; return extra figures for the run report."""
        return {}


class GlobalStage(Stage):
    """A stage that decides from the whole corpus: sign batches in workers, resolve centrally."""

    def sign(self, batch: list[Document]) -> Any:
        """Compact, picklable summary of a batch (e.g. hashes). Computed in worker processes."""
        raise NotImplementedError

    def resolve(self, signatures: list[Any], ids: list[str]) -> dict[int, Duplicate]:
        """Decide from all batch signatures (in input order) which documents are superseded.

        Returns ``{ordinal: Duplicate}`` where ordinal is the document's position among all the
        documents that reached this stage, in order.
        """
        raise NotImplementedError

    def process(self, batch: list[Document]) -> None:  # pragma: no cover - not used for globals
        raise TypeError(f"{self.name} is a global stage; the runner signs and resolves it")
