"""The CLI contract: help reads well, bad usage is one line on stderr with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def winnow(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_commands():
    proc = winnow("--help")
    assert proc.returncode == 0
    assert "run" in proc.stdout and "explain" in proc.stdout
    run_help = winnow("run", "--help")
    assert "--workers" in run_help.stdout and "--set" in run_help.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "--bogus"), "No such option: --bogus"),
        (("run", "seeds", "--set", "normalize.nope=1"), "normalize.nope: unknown option"),
        (("run", "no/such/dir"), "input not found: no/such/dir"),
        (("run", "seeds", "--workers", "0"), "--workers"),
        (("run", "seeds", "--config", "no-such.yaml"), "config file not found"),
    ],
)
def test_bad_usage_is_one_line_exit_2(args, message, tmp_path):
    proc = winnow(*args, "--output", str(tmp_path / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("winnow: error:") and message in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "clean.jsonl").exists()


def test_explain_shows_removals(tmp_path):
    out = tmp_path / "out"
    assert winnow("run", "tests/fixtures/seeds", "--output", str(out), "--quiet").returncode == 0
    proc = winnow("explain", "002_8b453207a5103a73", "--output", str(out))
    assert proc.returncode == 0
    assert "[boilerplate/comment_form] 'Leave a Reply'" in proc.stdout
    assert winnow("explain", "nope", "--output", str(out)).returncode == 2
