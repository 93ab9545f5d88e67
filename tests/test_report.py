"""A run a person can read: exit codes, cron log lines, the summary, report.html, inspect."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from pipeline.cli import main
from pipeline.progress import RunProgress
from pipeline.report_html import gather

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
ARTICLES = [orjson.loads(line) for line in (FIXTURES / "articles.jsonl").read_bytes().splitlines()]
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ winnow: "


DEFAULT = str(ROOT / "configs" / "default.yaml")


def winnow_process(*args: str) -> subprocess.CompletedProcess:
    """The real thing, as cron runs it: a separate process whose stderr is not a terminal."""
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=ROOT)


def winnow(*args: str) -> subprocess.CompletedProcess:
    """The console-script entry point in this process (fast): exit code, stdout, stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code
    return subprocess.CompletedProcess(args, code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="module")
def messy_input(tmp_path_factory) -> Path:
    """6 articles, 2 more copies of the first (a cluster of 3), 1 of the second (cluster of 2), 1 empty, 1 broken."""
    src = tmp_path_factory.mktemp("report") / "in"
    src.mkdir()
    records = list(ARTICLES)
    records += [dict(ARTICLES[0], id="bbc-001-syndicated"), dict(ARTICLES[0], id="bbc-001-amp"), dict(ARTICLES[1], id="local-017-print")]
    records.append({"id": "blank-page", "text": "  \n "})
    lines = [orjson.dumps(r) for r in records] + [b'{"id": "cut-off", "text": "The minister said']
    (src / "crawl.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return src


@pytest.fixture(scope="module")
def finished_run(messy_input, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("report-out") / "out"
    proc = winnow_process("run", str(messy_input), "-o", str(out), "-w", "1")
    return out, proc


# -- exit codes and what cron sees ----------------------------------------------------------------


def test_not_a_terminal_gives_timestamped_log_lines_and_a_summary(finished_run):
    out, proc = finished_run
    assert proc.returncode == 0  # input errors without --strict: done
    first, *rest = proc.stderr.splitlines()
    assert re.fullmatch(STAMP + r"run started: .+ -> .+", first)
    assert "\x1b[" not in proc.stderr  # no terminal escape codes in a log file
    assert f"winnow run -> {out}: 11 documents in, all accounted for" in proc.stderr
    row = next(line for line in rest if re.match(r"\|\s+11 \|", line))
    assert [int(c.replace(",", "")) for c in row.strip("|").split("|")] == [11, 6, 1, 3, 1]  # in, kept, rejected, duplicates, errors
    assert re.search(r"\| dedup\s+\|\s+9 \|\s+6 \|.*\| duplicate:exact 3", proc.stderr)
    assert f"1 input error(s): see {out / 'errors.jsonl'}" in proc.stderr


def test_strict_writes_outputs_and_exits_1(messy_input, tmp_path):
    out = tmp_path / "out"
    proc = winnow("run", str(messy_input), "-o", str(out), "-c", DEFAULT, "-w", "1", "--strict", "--quiet")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"winnow: error: 1 input error(s), see {out / 'errors.jsonl'} (outputs written; failing because of --strict)"
    ]
    assert orjson.loads((out / "report.json").read_bytes())["documents"]["clean"] == 6
    clean_only = tmp_path / "ok.jsonl"
    clean_only.write_bytes((FIXTURES / "articles.jsonl").read_bytes())
    assert winnow("run", str(clean_only), "-o", str(tmp_path / "ok"), "-c", DEFAULT, "-w", "1", "--strict", "-q").returncode == 0


def test_crash_exits_3_and_keeps_previous_outputs(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert winnow("run", str(FIXTURES / "seeds"), "-o", str(out), "-c", DEFAULT, "-w", "1", "--quiet").returncode == 0
    before = (out / "clean.jsonl").read_bytes()
    from pipeline.stages.spam import Spam

    def boom(self, batch):
        raise RuntimeError("spam model file is corrupt")

    monkeypatch.setattr(Spam, "process", boom)
    proc = winnow("run", str(FIXTURES / "articles.jsonl"), "-o", str(out), "-c", DEFAULT, "-w", "1", "-q")
    assert proc.returncode == 3
    assert "Traceback" in proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "winnow: error: run failed (RuntimeError: spam model file is corrupt); previous outputs left as they were"
    )
    assert (out / "clean.jsonl").read_bytes() == before


def test_usage_errors_exit_2(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    proc = winnow("run", str(FIXTURES / "seeds"), "-o", str(tmp_path / "file"), "-c", DEFAULT)
    assert proc.returncode == 2 and proc.stderr.strip() == f"winnow: error: output {tmp_path / 'file'} exists and is not a directory"
    (tmp_path / "export.csv").write_text("id,text\n1,hello\n")
    proc = winnow("run", str(tmp_path / "export.csv"), "-o", str(tmp_path / "out"), "-c", DEFAULT)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"winnow: error: input {tmp_path / 'export.csv'}: unsupported file type (expected .jsonl, .jsonl.gz, .jsonl.zst or .txt)"
    )
    proc = winnow("report", str(tmp_path / "nothing-here"))
    assert proc.returncode == 2 and "report.json missing" in proc.stderr


def test_quiet_prints_nothing(messy_input, tmp_path):
    proc = winnow_process("run", str(messy_input), "-o", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == ""


def test_progress_log_lines_report_bytes_documents_and_errors():
    stream = io.StringIO()
    with RunProgress("log", log_every=0, stream=stream) as progress:
        progress("input_bytes", 2_000_000)
        progress("bytes", 1_000_000)  # first event: the start line stands in for it
        progress("doc", 40)
        progress("error", 2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(re.match(STAMP, line) for line in lines)
    assert "read 1.0 of 2.0 MB (50%), 40 documents written, 0 input errors" in lines[0]
    assert "read 1.0 of 2.0 MB (50%), 42 documents written, 2 input errors" in lines[1]
    silent = io.StringIO()
    with RunProgress("off", stream=silent) as progress:
        progress("doc", 5)
    assert silent.getvalue() == ""


# -- report.html ----------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def test_report_html_is_self_contained_with_the_runs_numbers(finished_run):
    out, _ = finished_run
    proc = winnow("report", str(out))
    assert proc.returncode == 0 and proc.stdout.strip() == str(out / "report.html")
    page = (out / "report.html").read_text(encoding="utf-8")
    parsed = _Tags()
    parsed.feed(page)
    assert parsed.tags.count("svg") == 4  # documents per stage, removal reasons, text cuts, cluster sizes
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert not re.search(r"https?://|//[a-z]", page)  # nothing to fetch: opens offline
    text = " ".join(parsed.text)
    assert "every input record accounted for" in text
    assert re.search(r"<td>[^<]*crawl\.jsonl</td><td>11</td><td>malformed JSON: [^<]+</td>", page)
    data = gather(out)
    assert data["cluster_sizes"] == [(2, 1), (3, 1)]  # one pair, one triple
    assert dict(data["removed"]) == {"dedup/exact": 3, "input/empty": 1, "error/malformed JSON": 1}
    assert data["funnel"][0] == ("input records", 11) and data["funnel"][-1] == ("after dedup", 6)
    for label, value in [("2 documents", 1), ("3 documents", 1), ("dedup/exact", 3), ("error/malformed JSON", 1), ("after dedup", 6)]:
        assert re.search(rf">{re.escape(label)}</text>.*?<title>{value}</title>", page), label


# -- inspect / explain ------------------------------------------------------------------------------


def test_inspect_shows_before_after_and_every_removal(finished_run, messy_input):
    out, _ = finished_run
    proc = winnow("inspect", str(out), "--id", "local-017")
    assert proc.returncode == 0, proc.stderr
    shown = proc.stdout
    assert shown.startswith("local-017: clean\n")
    assert "[boilerplate/comment_form] 'Leave a Reply'" in shown
    before, after = shown.split("--- before (")[1].split("--- after (")
    assert before.startswith(f"{messy_input / 'crawl.jsonl'} line 2, {len(ARTICLES[1]['text']):,} chars)")
    assert ARTICLES[1]["text"] in before
    clean = {r["id"]: r for r in map(orjson.loads, (out / "clean.jsonl").read_bytes().splitlines())}
    assert after.startswith(f"clean.jsonl, {len(clean['local-017']['text']):,} chars)\n")
    assert after.rstrip("\n").endswith(clean["local-017"]["text"])
    assert "Leave a Reply" not in after


def test_inspect_duplicate_and_explain_alias(finished_run):
    out, _ = finished_run
    proc = winnow("inspect", str(out), "--id", "bbc-001-amp", "--no-text")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[:2] == ["bbc-001-amp: duplicates", "  duplicate of bbc-001 (cluster bbc-001, similarity 1.0, exact)"]
    assert winnow("explain", "bbc-001-amp", "--output", str(out)).stdout == proc.stdout  # one implementation
    missing = winnow("inspect", str(out), "--id", "no-such-doc")
    assert missing.returncode == 2 and missing.stderr.strip() == f"winnow: error: no document with id 'no-such-doc' in {out}"


def test_inspect_txt_source_and_moved_input(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    seed = FIXTURES / "seeds" / "002_8b453207a5103a73.txt"
    (src / seed.name).write_bytes(seed.read_bytes())
    out = tmp_path / "out"
    assert winnow("run", str(src), "-o", str(out), "-c", DEFAULT, "-w", "1", "-q").returncode == 0
    shown = winnow("inspect", str(out), "--id", seed.stem).stdout
    assert f"--- before ({src / seed.name}, {len(seed.read_text(encoding='utf-8')):,} chars)" in shown
    assert "[boilerplate/comment_form] 'Leave a Reply'" in shown and "Leave a Reply" not in shown.split("--- after")[1]
    (src / seed.name).unlink()  # the input is gone: the rest is still shown
    shown = winnow("inspect", str(out), "--id", seed.stem).stdout
    assert f"--- before: not available (input {src / seed.name} is no longer there)" in shown
    assert "--- after (clean.jsonl" in shown
