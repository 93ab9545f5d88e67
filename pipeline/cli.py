"""The ``winnow`` command line. Thin: parse arguments, call the runner, print what happened."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from enum import Enum
from pathlib import Path
from typing import List, Optional

import orjson
import typer
from typer.exceptions import TyperException
from rich.console import Console
from rich.table import Table

from . import __version__
from . import fs
from .config import ConfigError, load_config
from .runner import run as run_pipeline
from .writers import UploadError

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


def _executor(name: ExecutorName, ray_address: Optional[str], workers: Optional[int]):
    """A context manager giving the run's executor (None: the runner's local default)."""
    if name is ExecutorName.local:
        if ray_address:
            raise UsageFailure("--ray-address needs --executor ray")
        return nullcontext(None)
    from .ray_executor import RayExecutor, RayUnavailable

    try:
        return RayExecutor(address=ray_address, workers=workers)
    except RayUnavailable as exc:
        raise UsageFailure(str(exc)) from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UsageFailure(f"cannot start or join Ray ({ray_address or 'local'}): {exc}") from None


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
    executor: ExecutorName = typer.Option(
        ExecutorName.local, "--executor", help="local: this machine's processes. ray: Ray tasks (pip install 'winnow[ray]'). Same output."
    ),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", help="Join this Ray cluster (auto, or HEAD_IP:6379 of `ray start --head`); default: start a local one with --workers CPUs."
    ),
) -> None:
    """Clean INPUT files into OUTPUT: clean.jsonl, rejected.jsonl, duplicates.jsonl, errors.jsonl, report.json."""
    paths = list(inputs) if inputs else ["seeds"]
    for p in paths:
        if not _reachable(p, must_exist=True):
            raise UsageFailure(f"input not found: {p}")
    _reachable(output, must_exist=False)
    try:
        cfg = load_config(_resolve_config(config), overrides)
    except ConfigError as exc:
        raise UsageFailure(f"config: {exc}") from None
    with _executor(executor, ray_address, workers) as ex:
        try:
            report = run_pipeline(paths, cfg, output, workers=workers, executor=ex)
        except UploadError as exc:
            err.print(f"winnow: error: {exc}")
            raise typer.Exit(1) from None
    if not quiet:
        _print_summary(report, output)


def _print_summary(report: dict, output: str) -> None:
    console = Console(stderr=True, highlight=False)
    docs = report["documents"]
    table = Table(title=f"winnow run -> {output}", title_justify="left")
    for col in ("stage", "docs in", "docs out", "chars removed", "share", "seconds"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for s in report["stages"]:
        table.add_row(
            s["stage"], str(s["docs_in"]), str(s["docs_out"]), f"{s['chars_removed']:,}", f"{s['share_removed']:.1%}", f"{s['seconds']:.2f}"
        )
    console.print(table)
    t = report["timing"]
    console.print(
        f"documents: {docs['input']} in, {docs['clean']} clean, {docs['rejected']} rejected, "
        f"{docs['duplicates']} duplicates, {docs['errors']} errors | {t['seconds']:.2f}s, {t['mb_per_s'] or 0:.2f} MB/s"
    )


@app.command("explain")
def explain_command(
    doc_id: str = typer.Argument(..., help="Document id, as in the output files."),
    output: Path = typer.Option(Path("output"), "--output", "-o", help="The run's output directory."),
) -> None:
    """Show where a document ended up and every piece of text removed from it, with stage and rule."""
    found = _find_record(output, doc_id)
    if found is None:
        raise UsageFailure(f"no document with id {doc_id!r} in {output}")
    name, record = found
    typer.echo(f"{doc_id}: {name.replace('.jsonl', '')}")
    if name == "rejected.jsonl":
        typer.echo(f"  rejected by {record['stage']} ({record['rule']}): {record['reason']}")
    if name == "duplicates.jsonl":
        typer.echo(f"  duplicate of {record['duplicate_of']} (cluster {record['cluster']}, similarity {record['similarity']})")
    meta = record.get("metadata", {})
    removed = meta.get("removed", [])
    typer.echo(f"  {len(removed)} removal(s)")
    for r in removed:
        text = r["text"] if len(r["text"]) <= 100 else r["text"][:97] + "..."
        typer.echo(f"  - [{r['stage']}/{r['rule']}] {text!r}")


def _find_record(output: Path, doc_id: str) -> Optional[tuple[str, dict]]:
    for name in ("clean.jsonl", "rejected.jsonl", "duplicates.jsonl"):
        path = output / name
        if not path.exists():
            continue
        needle = orjson.dumps(doc_id)
        with open(path, "rb") as fh:
            for line in fh:
                if needle in line:
                    record = orjson.loads(line)
                    if record.get("id") == doc_id:
                        return name, record
    return None


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point: usage problems print one line and exit 2, never a traceback."""
    try:
        result = app(args=argv, prog_name="winnow", standalone_mode=False)
    except UsageFailure as exc:
        err.print(f"winnow: error: {exc}")
        sys.exit(2)
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
        sys.exit(2)
    sys.exit(result if isinstance(result, int) else 0)
