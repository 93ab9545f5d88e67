"""kill -9 at any point never loses or duplicates data: previous outputs survive, a rerun completes.

Real processes, real SIGKILL (to the whole process group, as a cron timeout or the OOM killer would).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from pipeline.config import load_config
from pipeline.runner import run
from pipeline.writers import COMMIT_MARKER, OUTPUT_FILES, recover_output

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
ARTICLES = [orjson.loads(line) for line in (FIXTURES / "articles.jsonl").read_bytes().splitlines()]
RECORDS_PER_FILE = 1500
# Exact dedup only: the "Correction n" variants below are near-duplicates, and clean.jsonl must be
# large enough to be written batch by batch. normalize runs *after* dedup with ftfy on everything
# (its slowest setting), so that "writing" phase lasts long enough to be hit by a kill on any machine.
CONFIG = (
    "stages:\n  - boilerplate: {}\n  - dedup:\n      near: false\n"
    "  - normalize:\n      always_ftfy: true\n"
)


def visible_files(out: Path) -> dict[str, bytes]:
    """What a user of the output directory sees (hidden staging and lock files excluded)."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if not p.name.startswith(".")}


def record_files(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUT_FILES}


@pytest.fixture(scope="module")
def big_run(tmp_path_factory):
    """A few seconds' worth of input (with exact duplicates and bad lines) and its clean reference run."""
    base = tmp_path_factory.mktemp("kill")
    src = base / "in"
    src.mkdir()
    n = 0
    for f in range(3):
        lines = []
        for _ in range(RECORDS_PER_FILE):
            a = ARTICLES[n % len(ARTICLES)]
            text = a["text"] if n % 10 == 0 else f"{a['text']}\n\nCorrection {n}: an earlier version misstated a figure."
            lines.append(orjson.dumps({"id": f"{a['id']}-{n}", "url": a["url"], "text": text}))
            n += 1
        lines.insert(100, b'{"id": "broken", "text": ')  # one malformed line per file
        (src / f"part-{f}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    config = base / "config.yaml"
    config.write_text(CONFIG)
    reference = base / "reference"
    report = run([src], load_config(config), reference, workers=1)
    assert report["documents"]["duplicates"] > 0 and report["documents"]["errors"] == 3
    return {"src": src, "config": config, "reference": reference, "input": report["documents"]["input"]}


def previous_outputs(out: Path, config: Path) -> dict[str, bytes]:
    run([FIXTURES / "articles.jsonl"], load_config(config), out, workers=1)
    return visible_files(out)


def start_winnow(src: Path, out: Path, config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", str(src), "-o", str(out), "-c", str(config), "-w", "2", "--quiet"],
        cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def staged_bytes(out: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in out.glob(f".winnow-run-*/{pattern}") if p.exists())


def kill_when(proc: subprocess.Popen, ready, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"run finished before the kill point: {proc.stderr.read().decode()}"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.005)
    time.sleep(random.uniform(0, 0.01))  # a little jitter: not always the same byte
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


@pytest.mark.slow
# "reading": the first buffer of any staged file hits the disk (the dedup spill, long before any
# output); "writing": clean.jsonl is being written, after dedup resolved.
@pytest.mark.parametrize("phase, pattern", [("reading", "*"), ("writing", "clean.jsonl")])
def test_kill_9_mid_run_keeps_previous_outputs_and_rerun_completes(tmp_path, big_run, phase, pattern):
    out = tmp_path / "out"
    before = previous_outputs(out, big_run["config"])

    proc = start_winnow(big_run["src"], out, big_run["config"])
    kill_when(proc, lambda: staged_bytes(out, pattern) > 0)

    assert visible_files(out) == before  # byte-identical, nothing half-written in place
    assert list(out.glob(".winnow-run-*")), "the killed run's staging dir is what it leaves behind"

    report = run([big_run["src"]], load_config(big_run["config"]), out, workers=1)
    assert record_files(out) == record_files(big_run["reference"])  # no loss, no duplication
    assert report["accounted"] and report["documents"]["input"] == big_run["input"]
    assert any("left by a killed run" in note for note in report["recovered"])
    assert not list(out.glob(".winnow-run-*"))


PUBLISH_CRASH = """
import os, runpy, signal, sys
from pathlib import Path
out = Path(sys.argv[2]).resolve()
real_replace, placed = os.replace, []
def replace(src, dst):
    if Path(dst).resolve().parent == out:
        if len(placed) == 2:  # two of the five files renamed into place, then the power goes
            os.kill(os.getpid(), signal.SIGKILL)
        placed.append(dst)
    real_replace(src, dst)
os.replace = replace
sys.argv = ["winnow", "run", sys.argv[1], "-o", str(out), "-w", "1", "--quiet"]
runpy.run_module("pipeline", run_name="__main__")
"""


def test_kill_9_between_renames_is_rolled_forward(tmp_path):
    src = FIXTURES / "seeds"
    reference = tmp_path / "reference"
    run([src], load_config(ROOT / "configs" / "default.yaml"), reference, workers=1)
    out = tmp_path / "out"
    run([FIXTURES / "articles.jsonl"], load_config(ROOT / "configs" / "default.yaml"), out, workers=1)
    old_report = (out / "report.json").read_bytes()

    proc = subprocess.run([sys.executable, "-c", PUBLISH_CRASH, str(src), str(out)], cwd=ROOT, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()

    # mid-publish: two new files in place, the old report.json still says which run is complete
    assert (out / "clean.jsonl").read_bytes() == (reference / "clean.jsonl").read_bytes()
    assert (out / "report.json").read_bytes() == old_report
    (staging,) = out.glob(".winnow-run-*")
    assert (staging / COMMIT_MARKER).exists()

    notes = recover_output(out)  # what the next run, `winnow report` or `winnow inspect` does first
    assert notes == [f"completed the interrupted publish of {staging.name}"]
    assert record_files(out) == record_files(reference)
    assert orjson.loads((out / "report.json").read_bytes())["documents"] == orjson.loads(
        (reference / "report.json").read_bytes()
    )["documents"]
    assert not staging.exists()


def test_publish_waits_for_the_lock_of_another_publish(tmp_path):
    """Two runs into one directory never interleave their renames (flock on .winnow-publish.lock)."""
    import threading

    from pipeline.writers import REPORT_FILE, _PublishLock

    config = load_config(ROOT / "configs" / "default.yaml")
    out = tmp_path / "out"
    run([FIXTURES / "articles.jsonl"], config, out, workers=1)
    before = visible_files(out)
    worker = threading.Thread(target=run, args=([FIXTURES / "seeds"], config, out), kwargs={"workers": 1})
    with _PublishLock(out):  # another run is publishing
        worker.start()
        deadline = time.monotonic() + 30
        while not list(out.glob(f".winnow-run-*/{REPORT_FILE}")):  # staged, now waiting for the lock
            assert time.monotonic() < deadline and worker.is_alive()
            time.sleep(0.005)
        time.sleep(0.1)
        assert visible_files(out) == before
        assert not list(out.glob(f".winnow-run-*/{COMMIT_MARKER}"))
    worker.join(30)
    assert not worker.is_alive()
    after = visible_files(out)
    assert after != before and after["clean.jsonl"].count(b"\n") == 2  # the two seed articles
