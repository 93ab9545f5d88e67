"""The runner: stream batches from readers through stages to writers, applying the policy.

It knows stages only through ``pipeline.stages.base``: per-batch stages run in workers; a global
stage (dedup) splits the pipeline into passes - documents are spilled to disk while their compact
signatures are kept, the stage resolves, and the spill is streamed on with the decisions applied.
Memory is bounded by batch size x in-flight batches plus the global stages' signatures, and for
an input of at most ``KEEP_INPUT_CHARS`` characters of text, the input itself (parsed once).
"""

from __future__ import annotations

import gc
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import orjson

from . import __version__
from .chunks import plan_tasks, task_items
from .config import PipelineConfig
from .document import Document
from .executor import LocalExecutor, default_workers, worker_state
from .fs import is_url
from .readers import InputError, Item, Reader, discover
from .shards import plan_shards, read_piece
from .stages import GlobalStage, RunContext, Stage, stage_class
from .state import StateDir
from .writers import OutputSet, clean_record, dumps_line, duplicate_line, rejected_record

_SPILL_BLOCK_BYTES = 4 << 20
_PROGRESS_LINES = 4096  # publishing the spill reports progress every this many documents
KEEP_INPUT_CHARS = 48_000_000
"""An input with at most this many characters of text is read and parsed once (when a stage needs
the corpus pre-pass and this process reads the input): the pre-pass keeps its items for the main
pass, roughly 2-3 bytes of memory a character, instead of reading and parsing it all again."""

ProgressHook = Callable[[str, int], None]
"""Called with (event, n): ``input_bytes`` (total on-disk input size, once), ``bytes`` (input bytes
read since the last call), ``doc`` / ``error`` (records written to an output file)."""


@dataclass
class StageStats:
    """Per-stage figures for the run report; summed over batches (seconds are CPU-side seconds)."""

    name: str
    docs_in: int = 0
    docs_out: int = 0
    chars_in: int = 0
    chars_out: int = 0
    chars_rejected: int = 0
    seconds: float = 0.0
    rules: Counter = field(default_factory=Counter)

    def add(self, other: "StageStats") -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.chars_in += other.chars_in
        self.chars_out += other.chars_out
        self.chars_rejected += other.chars_rejected
        self.seconds += other.seconds
        self.rules.update(other.rules)

    def to_dict(self) -> dict[str, Any]:
        removed = self.chars_in - self.chars_out
        return {
            "stage": self.name,
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "docs_removed": self.docs_in - self.docs_out,
            "chars_in": self.chars_in,
            "chars_out": self.chars_out,
            "chars_removed": removed,
            "share_removed": round(removed / self.chars_in, 4) if self.chars_in else 0.0,
            "rules": dict(sorted(self.rules.items())),
            "seconds": round(self.seconds, 3),
        }


# -- worker side ---------------------------------------------------------------------------------


def _live(docs: list[Document]) -> list[Document]:
    return [d for d in docs if d.rejected_by is None and d.duplicate is None]


def _snapshots(docs: list[Document]) -> list[tuple]:
    """What each document was before a stage: text, counts of removals and flags, annotations and
    metadata (copied: a stage may change them in place). One comprehension, not a call a document."""
    return [(d.text, len(d.removals), len(d.flags), d.annotations.copy(), d.metadata.copy()) for d in docs]


def _restore(doc: Document, snap: tuple) -> None:
    """Undo a stage's edits (a document may be restored twice: the snapshot itself stays unshared)."""
    doc.text, n_removals, n_flags, annotations, metadata = snap
    del doc.removals[n_removals:]
    del doc.flags[n_flags:]
    doc.annotations, doc.metadata = annotations.copy(), metadata.copy()


def _process_isolating_failures(stage: Stage, live: list[Document], snapshots: list[tuple]) -> None:
    """``stage.process`` on a batch; if it raises, find the documents that make it fail.

    One odd document must not kill a nightly run: each document is then processed on its own and
    those that still raise are flagged (rule ``stage_error``, the exception as reason), so the policy
    rejects them like any other flag. If every document of a batch fails on its own, the stage
    itself is broken, not the input: the error is raised and the run fails.
    """
    try:
        stage.process(live)
        return
    except MemoryError:
        raise
    except Exception as batch_error:
        failed = 0
        for doc, snap in zip(live, snapshots):
            _restore(doc, snap)
            try:
                stage.process([doc])
            except MemoryError:
                raise
            except Exception as exc:
                _restore(doc, snap)
                doc.flag(stage.name, "stage_error", f"{type(exc).__name__}: {exc}"[:500])
                failed += 1
        if failed == len(live) and len(live) > 1:
            raise batch_error


def apply_stage(stage: Stage, docs: list[Document]) -> StageStats:
    """Run one stage on the live documents and apply the policy to the flags it raised.

    The accounting is a few comprehensions a batch (one ``Counter.update`` of all new removal
    rules), not Python statements a document: it runs for every document at every stage."""
    live = _live(docs)
    stats = StageStats(stage.name, docs_in=len(live))
    snapshots = _snapshots(live)  # also the counts the accounting below starts from
    stats.chars_in = sum([len(snap[0]) for snap in snapshots])
    start = time.perf_counter()
    if live:
        _process_isolating_failures(stage, live, snapshots)
    stats.seconds = time.perf_counter() - start
    stats.rules.update(
        [r.rule for d, snap in zip(live, snapshots) if len(d.removals) > snap[1] for r in d.removals[snap[1] :]]
    )
    rejected = []
    if stage.config.mode == "filter":
        rejected = [(d, d.flags[snap[2]]) for d, snap in zip(live, snapshots) if len(d.flags) > snap[2]]
    for doc, flag in rejected:
        doc.rejected_by = flag
        stats.rules[f"reject:{flag.rule}"] += 1
        stats.chars_rejected += len(doc.text)
    stats.docs_out = len(live) - len(rejected)
    # text of rejected documents counts as kept by this stage's edits (chars_removed = edits only)
    stats.chars_out = sum([len(d.text) for d in live])
    return stats


@dataclass
class SpilledBatch:
    """A batch at a global stage, as the main process needs it: the rejected records ready to write,
    and the survivors' ids, text lengths and spill lines. Encoded where the batch was processed, so
    documents do not travel back to the main process whole, and are not decoded again there when
    the global stage is the last one (the spill lines are then the finished clean records)."""

    rejected: list[bytes]
    ids: list[str]
    lengths: list[int]
    lines: list[bytes]


def _is_last(segments: list, index: int) -> bool:
    """Does nothing follow segment ``index`` (its survivors are the clean output)?"""
    return all(not map_stages and global_stage is None for map_stages, global_stage in segments[index + 1 :])


def _spilled(docs: list[Document], last: bool) -> SpilledBatch:
    batch = SpilledBatch([], [], [], [])
    for doc in docs:
        if doc.rejected_by is not None:
            batch.rejected.append(dumps_line(rejected_record(doc)))
            continue
        batch.ids.append(doc.id)
        batch.lengths.append(len(doc.text))
        batch.lines.append(dumps_line(clean_record(doc) if last else doc.to_state()))
    return batch


def _segment_batch(payload: tuple[int, list[Document]]) -> tuple[list[Document] | SpilledBatch, list[StageStats], Any]:
    """Run segment ``index`` on a batch: its documents (as a ``SpilledBatch`` at a global stage),
    stage figures, and the global stage's signature of the survivors."""
    index, docs = payload
    segments = worker_state()["segments"]
    map_stages, global_stage = segments[index]
    stats = [apply_stage(stage, docs) for stage in map_stages]
    if global_stage is None:
        return docs, stats, None
    start = time.perf_counter()
    signature = global_stage.sign(_live(docs))
    sign_stats = StageStats(global_stage.name, seconds=time.perf_counter() - start)
    stats.append(sign_stats)
    return _spilled(docs, _is_last(segments, index)), stats, signature


def _admit(doc: Document) -> int:
    """Apply the input policy (reader-level rules such as empty or too large always reject);
    returns the document's input bytes for the throughput figures."""
    if doc.flags:
        doc.rejected_by = doc.flags[0]
    text = doc.text
    if text.isascii():  # O(1)
        return len(text)
    try:
        return len(text.encode())  # the strict codec is ~40% faster than with an error handler
    except UnicodeEncodeError:  # a lone surrogate (a JSON "\\ud800" escape)
        return len(text.encode("utf-8", "surrogatepass"))


def _shard_segment(shard: list) -> tuple[int, int, list[InputError], list[tuple]]:
    """Read one input shard in the worker (Ray) and run the first segment over it."""
    config = worker_state()["input"]
    return _first_segment(item for piece in shard for item in read_piece(piece, config))


def _task_segment(task: list) -> tuple[int, int, list[InputError], list[tuple]]:
    """Parse one task of input (``pipeline.chunks``) in the worker and run the first segment over it."""
    return _first_segment(task_items(task, worker_state()["input"]))


def _first_segment(items: Iterable[Any]) -> tuple[int, int, list[InputError], list[tuple]]:
    """(documents read, their input bytes, input errors, per-batch results as ``_segment_batch``)."""
    n_bytes = 0
    errors: list[InputError] = []
    docs: list[Document] = []
    for item in items:
        if isinstance(item, InputError):
            errors.append(item)
        else:
            n_bytes += _admit(item)
            docs.append(item)
    batches = [_segment_batch((0, batch)) for batch in _batched(docs, worker_state()["batch_size"])]
    return len(docs), n_bytes, errors, batches


def _task_collect(task: list) -> list[tuple[list[Any], float]]:
    """The corpus pre-pass over one task of input, parsed in the worker: ``_collect_batch`` per batch."""
    docs = (d for d in task_items(task, worker_state()["input"]) if isinstance(d, Document) and not d.flags)
    return [_collect_batch(batch) for batch in _batched(docs, worker_state()["batch_size"])]


def _collect_batch(docs: list[Document]) -> tuple[list[Any], float]:
    """Each collector's part for a batch, and the seconds the collectors took (timed here, like
    ``process``, so that reading and parsing the input is not charged to the stages)."""
    start = time.perf_counter()
    parts = [stage.collect(docs) for stage in worker_state()["collectors"]]
    return parts, time.perf_counter() - start


# -- main side -----------------------------------------------------------------------------------


def build_stages(config: PipelineConfig, context: RunContext) -> list[Stage]:
    return [stage_class(s.name)(s.config, context) for s in config.stages if s.config.enabled]


def split_segments(stages: list[Stage]) -> list[tuple[list[Stage], GlobalStage | None]]:
    """[map, map, global, map] -> [([map, map], global), ([map], None)]."""
    segments: list[tuple[list[Stage], GlobalStage | None]] = []
    current: list[Stage] = []
    for stage in stages:
        if isinstance(stage, GlobalStage):
            segments.append((current, stage))
            current = []
        else:
            current.append(stage)
    if current or not segments:
        segments.append((current, None))
    return segments


def _batched(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Run:
    """One execution of a pipeline over some inputs into an output directory."""

    def __init__(
        self,
        config: PipelineConfig,
        inputs: list[str | Path],
        output_dir: Path,
        workers: int | None = None,
        state_dir: Path | None = None,
        executor: Any = None,
        progress: ProgressHook | None = None,
        state_readonly: bool = False,
    ):
        self.config = config
        self.inputs = [str(i) for i in inputs]
        self.read_inputs = self.inputs  # minus inputs a --state directory has already processed
        self.state = StateDir(state_dir, readonly=state_readonly) if state_dir else None
        self.output_dir = output_dir if is_url(output_dir) else Path(output_dir)
        self.executor = executor or LocalExecutor(workers or default_workers())
        self.workers = self.executor.workers
        self.context = RunContext(
            state_dir=Path(state_dir) if state_dir else None, state=self.state, workers=self.workers, executor=self.executor
        )
        self.progress = progress or (lambda event, n: None)
        self.stages = build_stages(config, self.context)
        self.stats: dict[str, StageStats] = {s.name: StageStats(s.name) for s in self.stages}
        self.counts: Counter = Counter()
        self.input_bytes = 0
        self._kept_input: tuple[Reader, list[tuple[Item, int]]] | None = None  # see KEEP_INPUT_CHARS

    # -- sources --------------------------------------------------------------------------------
    def _read(self, out: OutputSet) -> Iterator[Document]:
        """Input documents; unreadable records go to errors. Input-policy rejects ride along in the
        batches (stages skip them) so rejected.jsonl is in input order whatever the read-ahead."""
        reader, items = self._input_items()
        self.progress("input_bytes", reader.total_bytes)
        seen_bytes = 0
        for item, bytes_read in items:
            if bytes_read != seen_bytes:
                self.progress("bytes", bytes_read - seen_bytes)
                seen_bytes = bytes_read
            if isinstance(item, InputError):
                self._input_error(item, out)
                continue
            self.counts["input"] += 1
            self.input_bytes += _admit(item)
            yield item

    def _input_items(self) -> tuple[Reader, Iterator[tuple[Item, int]]]:
        """The input's items, each with the reader's ``bytes_read`` once it was read: those the
        pre-pass kept (let go of one by one), else read again."""
        if self._kept_input is None:
            reader = Reader(self.read_inputs, self.config.input)
            return reader, ((item, reader.bytes_read) for item in reader)
        reader, kept = self._kept_input
        self._kept_input = None
        kept.reverse()
        return reader, (kept.pop() for _ in range(len(kept)))

    def _keeping(self, reader: Reader) -> Iterator[Item]:
        """``reader``'s items, kept for the main pass while their text fits ``KEEP_INPUT_CHARS``."""
        kept: list[tuple[Item, int]] | None = []
        chars = 0
        for item in reader:
            if kept is not None:
                chars += len(item.text) if isinstance(item, Document) else 0
                kept = kept if chars <= KEEP_INPUT_CHARS else None
                if kept is not None:
                    kept.append((item, reader.bytes_read))
            yield item
        if kept is not None:
            self._kept_input = (reader, kept)

    def _corpus_pass(self) -> None:
        collectors = [s for s in self.stages if s.needs_corpus_pass]
        if not collectors:
            return
        reader = Reader(self.read_inputs, self.config.input)
        shared = {"collectors": collectors, **self._reading_workers()}
        if getattr(self.executor, "parses_inputs", False):  # workers parse the input (pipeline.chunks)
            per_task = self.executor.map(_task_collect, plan_tasks(reader), shared)
            results: Iterable[tuple[list[Any], float]] = (r for task_results in per_task for r in task_results)
        else:
            items = reader if self._workers_read_input() else self._keeping(reader)
            docs = (d for d in items if isinstance(d, Document) and not d.flags)
            results = self.executor.map(_collect_batch, _batched(docs, self.config.runner.batch_size), shared)
        partials: list[list[Any]] = [[] for _ in collectors]
        elapsed = 0.0
        for result, seconds in results:
            elapsed += seconds
            for bucket, part in zip(partials, result):
                bucket.append(part)
        start = time.perf_counter()
        for stage, bucket in zip(collectors, partials):
            stage.fit(bucket)
        elapsed += time.perf_counter() - start
        for stage in collectors:
            self.stats[stage.name].seconds += elapsed / len(collectors)

    # -- the run --------------------------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        if self.state is None:
            return self._execute([])
        self.state.open()  # locks (fails fast if another run holds it)
        try:
            self.read_inputs, skipped = self.state.select_inputs(self.inputs)
            report = self._execute(skipped)
            self.state.commit()  # after the outputs: a crash in between re-processes, never loses
            return report
        finally:
            self.state.close()

    def _execute(self, skipped_inputs: list[dict[str, Any]]) -> dict[str, Any]:
        started = time.perf_counter()
        out = OutputSet(self.output_dir)
        # The stages' models and tables (millions of objects, none garbage) move out of the cyclic
        # collector's sight: its full passes over them were ~2% of a run, all outside the stages.
        gc.freeze()
        try:
            self._corpus_pass()
            gc.freeze()  # and what the pre-pass fitted
            segments = split_segments(self.stages)
            source: Iterator[Document] = self._read(out)
            for index, (map_stages, global_stage) in enumerate(segments):
                source = self._run_segment(index, segments, source, out)
            for doc in source:  # the last segment's survivors are the clean output
                if doc.rejected_by is not None:  # only when no stage ran: input rejects pass through
                    out.rejected(doc)
                else:
                    out.clean(doc)
                self.progress("doc", 1)
            stage_reports = {s.name: s.finish() for s in self.stages}
            report = self._report(out, time.perf_counter() - started, stage_reports)
            if out.recovered:
                report["recovered"] = out.recovered
            if self.state is not None:
                run_number = None if self.state.readonly else self.state.run_number
                report["state"] = {"dir": str(self.state.path), "run": run_number, "readonly": self.state.readonly}
                report["skipped_inputs"] = skipped_inputs
            out.commit(report)
            return report
        except BaseException:
            out.abort()
            raise
        finally:
            gc.unfreeze()

    def _run_segment(
        self, index: int, segments: list, source: Iterator[Document], out: OutputSet
    ) -> Iterator[Document]:
        map_stages, global_stage = segments[index]
        if not map_stages and global_stage is None:
            return source
        planned = self._input_shards() if index == 0 else None
        if planned is not None:  # workers read the input themselves; ``source`` is never started
            results = self._sharded_results(planned, segments, out)
        elif index == 0 and getattr(self.executor, "parses_inputs", False):  # workers parse it
            results = self._parsed_in_workers(segments, out)
        else:
            results = self.executor.map(
                _segment_batch,
                ((index, batch) for batch in _batched(source, self.config.runner.batch_size)),
                {"segments": segments},
            )
        if global_stage is None:
            return self._stream_results(results, out)
        return self._spill_and_resolve(results, global_stage, out, index, _is_last(segments, index))

    def _workers_read_input(self) -> bool:
        reads_inputs = getattr(self.executor, "reads_inputs", None)
        return reads_inputs is not None and reads_inputs(self.read_inputs)

    def _input_shards(self) -> tuple[list[InputError], list] | None:
        """(unlistable input directories, input shards) when the executor reads input in its
        workers (Ray), else None."""
        if not self._workers_read_input():
            return None
        unreadable: list[InputError] = []
        files = discover(self.read_inputs, unreadable)
        return unreadable, plan_shards(files, self.executor.shard_bytes, self.executor)

    def _sharded_results(self, planned: tuple, segments: list, out: OutputSet) -> Iterator[tuple]:
        """Per-batch results of the first segment, shard by shard in input order, with accounting."""
        unreadable, shards = planned
        for error in unreadable:  # first, as the sequential reader reports them
            self._input_error(error, out)
        shared = {"segments": segments, **self._reading_workers()}
        self.progress("input_bytes", sum(piece.nbytes for shard in shards for piece in shard))
        for shard, (n_docs, n_bytes, errors, batches) in zip(shards, self.executor.map(_shard_segment, shards, shared)):
            self.progress("bytes", sum(piece.nbytes for piece in shard))
            self._account(n_docs, n_bytes, errors, out)
            yield from batches

    def _parsed_in_workers(self, segments: list, out: OutputSet) -> Iterator[tuple]:
        """Per-batch results of the first segment, the input read here and parsed in the workers
        (``pipeline.chunks``), task by task in input order, with accounting."""
        reader = Reader(self.read_inputs, self.config.input)
        self.progress("input_bytes", reader.total_bytes)
        for error in reader.unreadable:  # first, as the sequential reader reports them
            self._input_error(error, out)
        shared = {"segments": segments, **self._reading_workers()}
        seen_bytes = 0
        for n_docs, n_bytes, errors, batches in self.executor.map(_task_segment, plan_tasks(reader), shared):
            self.progress("bytes", reader.bytes_read - seen_bytes)
            seen_bytes = reader.bytes_read
            self._account(n_docs, n_bytes, errors, out)
            yield from batches

    def _reading_workers(self) -> dict[str, Any]:
        """What workers that read or parse the input themselves need besides their stages."""
        return {"input": self.config.input, "batch_size": self.config.runner.batch_size}

    def _account(self, n_docs: int, n_bytes: int, errors: list[InputError], out: OutputSet) -> None:
        self.counts["input"] += n_docs
        self.input_bytes += n_bytes
        for error in errors:
            self._input_error(error, out)

    def _input_error(self, error: InputError, out: OutputSet) -> None:
        self.counts["input"] += 1
        out.error(error)
        self.progress("error", 1)

    def _absorb(self, stats: list[StageStats]) -> None:
        for s in stats:
            self.stats[s.name].add(s)

    def _survivors(self, docs: list[Document], stats: list[StageStats], out: OutputSet) -> Iterator[Document]:
        """Absorb a batch's stats, write its rejected documents, yield the rest."""
        self._absorb(stats)
        for doc in docs:
            if doc.rejected_by is not None:
                out.rejected(doc)
                self.progress("doc", 1)
            else:
                yield doc

    def _stream_results(self, results: Iterable, out: OutputSet) -> Iterator[Document]:
        for docs, stats, _ in results:
            yield from self._survivors(docs, stats, out)

    def _spill_and_resolve(
        self, results: Iterable, stage: GlobalStage, out: OutputSet, index: int, last: bool
    ) -> Iterator[Document]:
        spill_path = out.scratch(f"spill-{index}.jsonl")
        signatures: list[Any] = []
        ids: list[str] = []
        lengths: list[int] = []
        line_sizes = array("q")  # bytes of each spill line (``_publish_spill``)
        with open(spill_path, "wb", buffering=1 << 20) as spill:
            for batch, stats, signature in results:
                self._absorb(stats)
                signatures.append(signature)
                out.write_lines("rejected.jsonl", batch.rejected)
                self.progress("doc", len(batch.rejected))
                ids += batch.ids
                lengths += batch.lengths
                line_sizes.extend(map(len, batch.lines))
                spill.writelines(batch.lines)
        start = time.perf_counter()
        decisions = stage.resolve(signatures, ids)
        del signatures
        stats = self.stats[stage.name]
        stats.seconds += time.perf_counter() - start
        stats.docs_in += len(ids)
        stats.docs_out += len(ids) - len(decisions)
        stats.chars_in += sum(lengths)
        stats.chars_out += sum(lengths) - sum(lengths[ordinal] for ordinal in decisions)
        for dup in decisions.values():
            stats.rules[f"duplicate:{dup.rule}"] += 1
        if last:
            self._publish_spill(spill_path, line_sizes, decisions, out)
            return iter(())
        return self._replay(spill_path, decisions, out)

    def _publish_spill(self, path: Path, line_sizes: array, decisions: dict, out: OutputSet) -> None:
        """The spill holds finished clean records: copy them, turning the superseded into duplicates.

        The lines between two duplicates go to clean.jsonl as one span of bytes (through a reused
        buffer), located by the lines' sizes: only the duplicates' own lines become objects."""
        starts = np.zeros(len(line_sizes) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(line_sizes, dtype=np.int64), out=starts[1:])
        buffer = memoryview(bytearray(_SPILL_BLOCK_BYTES))
        position = published = reported = 0  # byte offset in the spill; lines published, and reported
        with open(path, "rb", buffering=_SPILL_BLOCK_BYTES) as spill:
            for ordinal in [*sorted(decisions), len(line_sizes)]:  # the last span runs to the end
                start = int(starts[ordinal])
                out.copy_records("clean.jsonl", spill, start - position, ordinal - published, buffer)
                if ordinal == len(line_sizes):
                    break
                end = int(starts[ordinal + 1])
                out.write_lines("duplicates.jsonl", [duplicate_line(spill.read(end - start), decisions[ordinal])])
                position, published = end, ordinal + 1
                if published - reported >= _PROGRESS_LINES:
                    self.progress("doc", published - reported)
                    reported = published
        if len(line_sizes) > reported:
            self.progress("doc", len(line_sizes) - reported)
        path.unlink(missing_ok=True)

    def _replay(self, path: Path, decisions: dict, out: OutputSet) -> Iterator[Document]:
        with open(path, "rb") as spill:
            for ordinal, line in enumerate(spill):
                doc = Document.from_state(orjson.loads(line))
                dup = decisions.get(ordinal)
                if dup is not None:
                    doc.duplicate = dup
                    out.duplicate(doc)
                    self.progress("doc", 1)
                else:
                    yield doc
        path.unlink(missing_ok=True)

    def _report(self, out: OutputSet, seconds: float, stage_reports: dict[str, Any]) -> dict[str, Any]:
        documents = {
            "input": self.counts["input"],
            "clean": out.counts["clean.jsonl"],
            "rejected": out.counts["rejected.jsonl"],
            "duplicates": out.counts["duplicates.jsonl"],
            "errors": out.counts["errors.jsonl"],
        }
        stages = []
        for stage in self.stages:
            entry = self.stats[stage.name].to_dict()
            extra = stage_reports.get(stage.name) or {}
            if extra:
                entry["details"] = extra
            stages.append(entry)
        mb = self.input_bytes / 1e6
        return {
            "winnow_version": __version__,
            "inputs": self.inputs,
            "config": self.config.to_dict(),
            "documents": documents,
            "accounted": sum(v for k, v in documents.items() if k != "input") == documents["input"],
            "stages": stages,
            "timing": {
                "seconds": round(seconds, 3),
                "workers": self.workers,
                "input_mb": round(mb, 3),
                "mb_per_s": round(mb / seconds, 3) if seconds else None,
                "docs_per_s": round(documents["input"] / seconds, 1) if seconds else None,
            },
        }


def run(
    inputs: list[str | Path],
    config: PipelineConfig,
    output_dir: Path | str,
    workers: int | None = None,
    state_dir: Path | str | None = None,
    progress: ProgressHook | None = None,
    state_readonly: bool = False,
    executor: Any = None,
) -> dict[str, Any]:
    """Clean ``inputs`` into ``output_dir``; returns the run report (also written as report.json).

    ``state_dir``: cross-run state, locked for the run and committed after the outputs;
    ``state_readonly``: only compare against it (``winnow dedup --against``);
    ``executor``: anything with ``workers`` and ``map(fn, items, shared)`` (default: LocalExecutor).
    """
    state = Path(state_dir) if state_dir else None
    return Run(
        config, inputs, output_dir, workers, state, executor=executor, progress=progress, state_readonly=state_readonly
    ).execute()
