"""The ``winnow`` command line. Thin: parse arguments, call the runner, print what happened."""

from __future__ import annotations

import logging
import sys
import traceback
from contextlib import nullcontext
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from typer.exceptions import TyperException
from rich import box
from rich.console import Console
from rich.table import Table

from . import __version__
from . import fs
from .config import ConfigError, PipelineConfig, load_config
from .explain import describe
from .progress import RunProgress, choose_mode, log_line
from .readers import is_supported
from .report_html import write_report
from .runner import run as run_pipeline
from .state import StateError
from .writers import UploadError, recover_output

DEFAULT_CONFIG = Path("configs/default.yaml")

app = typer.Typer(
    name="winnow",
    help="Turn messy scraped text into clean, deduplicated JSONL - and say what was removed and why.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)  # paths and hints may hold [brackets]


class UsageFailure(Exception):
    """Bad usage or config: one line on stderr, exit code 2."""


class FinishedButFailed(Exception):
    """The run finished, but must not pass as done: input errors under ``--strict`` (outputs written),
    or a remote output whose upload failed (outputs kept locally, the message says where): exit 1."""


EXIT_OK, EXIT_FINISHED_BUT_FAILED, EXIT_USAGE, EXIT_CRASH = 0, 1, 2, 3


def _version(value: bool) -> None:
    if value:
        typer.echo(f"winnow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """winnow cleans text corpora in stages: normalize, boilerplate, spam, language, quality, dedup."""


class ExecutorName(str, Enum):
    local = "local"
    ray = "ray"


def _executor(name: ExecutorName, ray_address: Optional[str], workers: Optional[int], quiet: bool = False):
    """A context manager giving the run's executor (None: the runner's local default).
    ``quiet``: Ray's own start-up warnings (e.g. about token authentication) are not printed."""
    if name is ExecutorName.local:
        if ray_address:
            raise UsageFailure("--ray-address needs --executor ray")
        return nullcontext(None)
    from .ray_executor import RayExecutor, RayUnavailable

    try:
        return RayExecutor(address=ray_address, workers=workers, **({"logging_level": logging.ERROR} if quiet else {}))
    except RayUnavailable as exc:
        raise UsageFailure(str(exc)) from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UsageFailure(f"cannot start or join Ray ({ray_address or 'local'}): {exc}") from None


EXECUTOR_OPTION = typer.Option(
    ExecutorName.local, "--executor", help="local: this machine's processes. ray: Ray tasks (pip install 'winnow[ray]'). Same output."
)
RAY_ADDRESS_OPTION = typer.Option(
    None, "--ray-address", help="Join this Ray cluster (auto, or HEAD_IP:6379 of `ray start --head`); default: start a local one with --workers CPUs."
)


def _reachable(location: str, must_exist: bool) -> bool:
    """Check a path or URL before any work: unknown schemes and missing fsspec packages
    (``s3://`` without s3fs) are usage errors, not a failure at upload time hours later."""
    try:
        return fs.exists(location) if must_exist else fs.as_path(location) is not None
    except (ImportError, ValueError) as exc:
        raise UsageFailure(f"{location}: {exc}") from None


def _resolve_config(config: Optional[Path]) -> Optional[Path]:
    if config is not None:
        return config
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


@app.command("run")
def run_command(
    inputs: List[str] = typer.Argument(
        None,
        help="Input files or directories (recursive): *.jsonl, *.jsonl.gz, *.jsonl.zst, *.txt; local paths or fsspec URLs (s3://...). Default: seeds/",
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="Pipeline config (YAML). Default: configs/default.yaml if present, else built-in defaults."
    ),
    output: str = typer.Option("output", "--output", "-o", help="Directory (or fsspec URL) for clean/rejected/duplicates/errors JSONL and report.json."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Worker processes. Default: all cores. Output does not depend on it."),
    overrides: List[str] = typer.Option(
        [], "--set", help="Override a config option: stage.option=value (YAML value), e.g. --set dedup.threshold=0.7. Repeatable."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 if any input record or file could not be read (outputs are still written)."
    ),
    log_every: float = typer.Option(
        30.0, "--log-every", min=0.1, help="Seconds between progress lines when stderr is not a terminal (cron)."
    ),
    state: Optional[Path] = typer.Option(
        None, "--state", help="Cross-run state directory: skip inputs already processed, remove duplicates of earlier runs' documents."
    ),
    executor: ExecutorName = EXECUTOR_OPTION,
    ray_address: Optional[str] = RAY_ADDRESS_OPTION,
) -> None:
    """Clean INPUT files into OUTPUT: clean.jsonl, rejected.jsonl, duplicates.jsonl, errors.jsonl, report.json."""
    paths = list(inputs) if inputs else ["seeds"]
    cfg = _checked(paths, output, config, overrides)
    _run_and_report(paths, cfg, output, quiet, strict, log_every, executor, ray_address, workers=workers, state_dir=state)


@app.command("dedup")
def dedup_command(
    inputs: List[str] = typer.Argument(..., help="New input files or directories (or fsspec URLs) to check."),
    against: Path = typer.Option(..., "--against", help="State directory of an existing corpus (from winnow run --state); not modified."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Pipeline config; its dedup settings must match the state's."),
    output: str = typer.Option("output", "--output", "-o", help="Directory (or fsspec URL) for the output files."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Worker processes."),
    overrides: List[str] = typer.Option([], "--set", help="Override a config option: stage.option=value. Repeatable."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    executor: ExecutorName = EXECUTOR_OPTION,
    ray_address: Optional[str] = RAY_ADDRESS_OPTION,
) -> None:
    """Run the pipeline on INPUT and remove documents that duplicate the corpus in --against DIR."""
    if not against.is_dir():
        raise UsageFailure(f"state directory not found: {against}")
    cfg = _checked(inputs, output, config, overrides)
    _run_and_report(
        inputs, cfg, output, quiet, False, 30.0, executor, ray_address, workers=workers, state_dir=against, state_readonly=True
    )


def _checked(paths: List[str], output: str, config: Optional[Path], overrides: List[str]) -> PipelineConfig:
    """Usage checks before any work: inputs exist and are supported, output is a directory (a URL:
    its scheme is usable), config is valid."""
    for p in paths:
        if not _reachable(p, must_exist=True):
            raise UsageFailure(f"input not found: {p}")
        path = fs.as_path(p)
        if path.is_file() and not is_supported(path):
            raise UsageFailure(f"input {p}: unsupported file type (expected .jsonl, .jsonl.gz, .jsonl.zst or .txt)")
    _reachable(output, must_exist=False)
    target = fs.local_or_url(output)
    if isinstance(target, Path) and target.exists() and not target.is_dir():
        raise UsageFailure(f"output {output} exists and is not a directory")
    try:
        return load_config(_resolve_config(config), overrides)
    except ConfigError as exc:
        raise UsageFailure(f"config: {exc}") from None


def _run_and_report(
    paths: List[str],
    cfg: PipelineConfig,
    output: str,
    quiet: bool,
    strict: bool,
    log_every: float,
    executor: ExecutorName,
    ray_address: Optional[str],
    **run_options,
) -> dict:
    """Run with progress (bar on a terminal, log lines under cron), print the summary, apply --strict."""
    mode = choose_mode(quiet)
    with _executor(executor, ray_address, run_options.get("workers"), quiet) as ex:  # usage errors before any output
        if mode == "log":
            log_line(f"run started: {', '.join(map(str, paths))} -> {output}")
        try:
            with RunProgress(mode, log_every) as progress:
                report = run_pipeline(paths, cfg, output, progress=progress, executor=ex, **run_options)
        except StateError as exc:  # locked by another run, incompatible settings: one line, exit 2
            raise UsageFailure(str(exc)) from None
        except UploadError as exc:  # finished, but not where it was asked to go: one line, exit 1
            raise FinishedButFailed(str(exc)) from None
    if not quiet:
        _print_summary(report, output, plain=mode != "bar")
    if mode == "log":
        log_line(f"run finished: {report['documents']['input']:,} documents in {report['timing']['seconds']:.1f}s")
    errors = report["documents"]["errors"]
    if strict and errors:
        raise FinishedButFailed(f"{errors} input error(s), see {_errors_file(output)} (outputs written; failing because of --strict)")
    return report


def _top_rules(rules: dict[str, int], n: int = 3) -> str:
    top = sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    more = len(rules) - len(top)
    return ", ".join(f"{rule} {count}" for rule, count in top) + (f", +{more} more" if more > 0 else "")


def _errors_file(output: str) -> str:
    return f"{str(output).rstrip('/')}/errors.jsonl"


def _print_summary(report: dict, output: str, plain: bool = False) -> None:
    """The end-of-run tables on stderr: where the documents went, then what each stage did."""
    console = Console(stderr=True, highlight=False, width=120 if plain else None, no_color=plain, soft_wrap=True)
    docs = report["documents"]
    total = docs["input"] or 1
    t = report["timing"]
    status = "all accounted for" if report["accounted"] else "NOT all accounted for"
    table_box = box.ASCII if plain else box.SIMPLE_HEAVY
    console.print(f"winnow run -> {output}: {docs['input']:,} documents in, {status}")
    summary = Table(box=table_box)
    for col in ("in", "kept", "rejected", "duplicates", "errors"):
        summary.add_column(col, justify="right")
    values = [docs["input"], docs["clean"], docs["rejected"], docs["duplicates"], docs["errors"]]
    summary.add_row(*(f"{v:,}" for v in values))
    summary.add_row(*(f"{v / total:.1%}" for v in values))
    console.print(summary)
    stages = Table(box=table_box)
    for col in ("stage", "docs in", "docs out", "chars removed", "share of text", "seconds", "top rules"):
        stages.add_column(col, justify="left" if col in ("stage", "top rules") else "right")
    for s in report["stages"]:
        stages.add_row(
            s["stage"], f"{s['docs_in']:,}", f"{s['docs_out']:,}", f"{s['chars_removed']:,}",
            f"{s['share_removed']:.1%}", f"{s['seconds']:.2f}", _top_rules(s["rules"]),
        )
    console.print(stages)
    for note in report.get("recovered", []):
        console.print(f"recovered: {note}")
    console.print(
        f"{t['seconds']:.2f}s with {t['workers']} worker(s), {t['input_mb']:.2f} MB, {t['mb_per_s'] or 0:.2f} MB/s"
        + (f" | {docs['errors']} input error(s): see {_errors_file(output)}" if docs["errors"] else "")
    )


def _show_document(output: Path, doc_id: str, show_text: bool) -> None:
    recover_output(output)
    lines = describe(output, doc_id, show_text=show_text)
    if lines is None:
        raise UsageFailure(f"no document with id {doc_id!r} in {output}")
    typer.echo("\n".join(lines))


@app.command("inspect")
def inspect_command(
    output: Path = typer.Argument(Path("output"), help="The run's output directory."),
    doc_id: str = typer.Option(..., "--id", help="Document id, as in the output files."),
    text: bool = typer.Option(True, "--text/--no-text", help="Also print the text before (re-read from the input) and after."),
) -> None:
    """Show one document: where it ended up, every removal (stage, rule, text), its text before and after."""
    _show_document(output, doc_id, text)


@app.command("explain")
def explain_command(
    doc_id: str = typer.Argument(..., help="Document id, as in the output files."),
    output: Path = typer.Option(Path("output"), "--output", "-o", help="The run's output directory."),
    text: bool = typer.Option(False, "--text/--no-text", help="Also print the text before and after."),
) -> None:
    """Short form of inspect: where a document ended up and every removal, with stage and rule."""
    _show_document(output, doc_id, text)


@app.command("report")
def report_command(
    output: Path = typer.Argument(Path("output"), help="The run's output directory."),
) -> None:
    """Write DIR/report.html: the run on one page with charts, self-contained (opens offline)."""
    recover_output(output)
    if not (output / "report.json").exists():
        raise UsageFailure(f"no finished run in {output} (report.json missing)")
    typer.echo(str(write_report(output)))


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point: usage problems print one line and exit 2, never a traceback."""
    try:
        result = app(args=argv, prog_name="winnow", standalone_mode=False)
    except UsageFailure as exc:
        err.print(f"winnow: error: {exc}")
        sys.exit(EXIT_USAGE)
    except FinishedButFailed as exc:
        err.print(f"winnow: error: {exc}")
        sys.exit(EXIT_FINISHED_BUT_FAILED)
    except KeyboardInterrupt:
        err.print("winnow: interrupted; previous outputs left as they were")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("winnow: aborted")
        sys.exit(130)
    except TyperException as exc:  # usage errors from argument parsing
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            sys.exit(0)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err.print(f"winnow: error: {exc.format_message()}{where}")
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # a crash: traceback for the bug report, then one line to grep for
        traceback.print_exc()
        err.print(f"winnow: error: run failed ({type(exc).__name__}: {exc}); previous outputs left as they were")
        sys.exit(EXIT_CRASH)
    sys.exit(result if isinstance(result, int) else EXIT_OK)
