"""Cross-run state: the lock, the manifest of processed inputs, the index, crash safety, --against."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from pipeline.config import load_config
from pipeline.runner import run
from pipeline.state import LOCK, MANIFEST, StateDir, StateError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "dedup"
PIPELINE = FIXTURES / "pipeline.yaml"
ARTICLES = [orjson.loads(l) for l in (FIXTURES / "articles.jsonl").read_bytes().splitlines()]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def article(i: int, first: int = 0, last: int | None = None) -> str:
    return " ".join(ARTICLES[i]["sentences"][first:last])


def outputs(out: Path) -> dict[str, list[dict]]:
    return {n: [orjson.loads(l) for l in (out / f"{n}.jsonl").read_bytes().splitlines()] for n in ("clean", "duplicates")}


def snapshot(state: Path) -> dict[str, bytes]:
    """Every committed file of a state directory (what a crash must not change)."""
    return {str(p.relative_to(state)): p.read_bytes() for p in sorted(state.rglob("*")) if p.is_file() and p.name != LOCK}


def winnow(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def batches(tmp_path):
    """Two cron deliveries: the second repeats a story of the first (re-scraped with a new footer)."""
    first = write_jsonl(tmp_path / "monday.jsonl", [
        {"id": "mon-harbour", "text": article(0)},
        {"id": "mon-library", "text": article(1)},
    ])
    second = write_jsonl(tmp_path / "tuesday.jsonl", [
        {"id": "tue-harbour", "text": article(0, 0, 15) + "\n\nShare this story with your neighbours."},
        {"id": "tue-transit", "text": article(2)},
        {"id": "tue-transit-copy", "text": article(2).upper()},
        {"id": "tue-library", "text": article(1).replace(". ", "! ")},
    ])
    return first, second


def test_next_run_removes_copies_of_earlier_documents(tmp_path, batches):
    first, second = batches
    state = tmp_path / "state"
    cfg = load_config(PIPELINE)
    run([first], cfg, tmp_path / "out1", workers=1, state_dir=state)
    report = run([second], cfg, tmp_path / "out2", workers=1, state_dir=state)
    out = outputs(tmp_path / "out2")
    assert [r["id"] for r in out["clean"]] == ["tue-transit"]
    assert {d["id"]: (d["duplicate_of"], d["rule"]) for d in out["duplicates"]} == {
        "tue-harbour": ("mon-harbour", "near"),
        "tue-transit-copy": ("tue-transit", "exact"),
        "tue-library": ("mon-library", "exact"),
    }
    details = next(s for s in report["stages"] if s["stage"] == "dedup")["details"]
    assert details["earlier_documents"] == 2 and details["duplicates_of_earlier"] == 2
    manifest = orjson.loads((state / MANIFEST).read_bytes())
    assert manifest["runs"] == 2 and [i["path"] for i in manifest["inputs"]] == [str(first), str(second)]
    assert manifest["components"]["dedup"]["documents"] == 3  # kept documents only
    assert report["state"]["run"] == 2 and report["skipped_inputs"] == []


def test_rerunning_a_processed_input_adds_nothing(tmp_path, batches):
    first, _ = batches
    state = tmp_path / "state"
    cfg = load_config(PIPELINE)
    run([first], cfg, tmp_path / "out1", workers=1, state_dir=state)
    before = snapshot(state)
    copy = tmp_path / "renamed.jsonl"
    copy.write_bytes(first.read_bytes())  # same content under another name is the same input
    report = run([first, copy], cfg, tmp_path / "out2", workers=1, state_dir=state)
    assert report["documents"]["input"] == 0 and report["accounted"]
    assert [s["path"] for s in report["skipped_inputs"]] == [str(first), str(copy)]
    assert all(s["reason"] == "already processed" and s["run"] == 1 for s in report["skipped_inputs"])
    after = snapshot(state)
    assert {k: v for k, v in after.items() if k != MANIFEST} == {k: v for k, v in before.items() if k != MANIFEST}
    # a changed file is a new input
    first.write_bytes(first.read_bytes() + orjson.dumps({"id": "mon-wildfire", "text": article(3)}) + b"\n")
    report = run([first], cfg, tmp_path / "out3", workers=1, state_dir=state)
    assert report["documents"] == {"input": 3, "clean": 1, "rejected": 0, "duplicates": 2, "errors": 0}


def test_dedup_against_checks_without_modifying_the_state(tmp_path, batches):
    first, second = batches
    state = tmp_path / "state"
    run([first], load_config(PIPELINE), tmp_path / "o1", workers=1, state_dir=state)
    before = snapshot(state)
    proc = winnow("dedup", str(second), "--against", str(state), "-c", str(PIPELINE), "-o", str(tmp_path / "o2"), "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {d["id"]: d["duplicate_of"] for d in outputs(tmp_path / "o2")["duplicates"]}["tue-harbour"] == "mon-harbour"
    assert snapshot(state) == before and not (state / LOCK).exists()
    # settings that do not match the index are refused, naming the setting
    with pytest.raises(StateError, match="built with dedup num_perm=128, this run has 64"):
        run([second], load_config(PIPELINE, ["dedup.num_perm=64"]), tmp_path / "o3", workers=1, state_dir=state, state_readonly=True)
    proc = winnow("dedup", str(second), "--against", str(tmp_path / "nope"), "-c", str(PIPELINE), cwd=tmp_path)
    assert proc.returncode == 2 and "state directory not found" in proc.stderr


def test_lock_held_by_a_live_run_fails_fast_naming_it(tmp_path, batches):
    first, _ = batches
    state = tmp_path / "state"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        state.mkdir()
        (state / LOCK).write_bytes(orjson.dumps({"pid": holder.pid, "host": socket.gethostname(), "started": "2026-01-01T03:00:00Z"}))
        proc = winnow("run", str(first), "-c", str(PIPELINE), "-o", str(tmp_path / "out"), "--state", str(state), cwd=tmp_path)
        assert proc.returncode == 2
        (line,) = [l for l in proc.stderr.splitlines() if l.startswith("winnow: error:")]  # one line, no traceback
        assert "Traceback" not in proc.stderr
        assert f"locked by pid {holder.pid}" in line and "2026-01-01T03:00:00Z" in line
        assert not (tmp_path / "out" / "clean.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_of_a_dead_run_is_cleared(tmp_path, batches, caplog):
    first, _ = batches
    state = tmp_path / "state"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    state.mkdir()
    (state / LOCK).write_bytes(orjson.dumps({"pid": gone.pid, "host": socket.gethostname(), "started": "2026-01-01T03:00:00Z"}))
    report = run([first], load_config(PIPELINE), tmp_path / "out", workers=1, state_dir=state)
    assert report["documents"]["clean"] == 2 and not (state / LOCK).exists()
    assert "stale lock" in caplog.text


def test_second_opener_is_refused_while_first_holds_the_lock(tmp_path):
    with StateDir(tmp_path / "s"):
        with pytest.raises(StateError, match=f"locked by pid {os.getpid()}"):
            StateDir(tmp_path / "s").open()
    StateDir(tmp_path / "s").open()  # released on exit


def _big_input(path: Path, n: int) -> Path:
    rng = random.Random(7)
    sentences = [s for a in ARTICLES for s in a["sentences"]]
    return write_jsonl(path, [{"id": f"doc-{i}", "text": " ".join(rng.sample(sentences, 6))} for i in range(n)])


def test_kill_9_mid_run_leaves_the_state_as_it_was(tmp_path, batches):
    first, _ = batches
    state = tmp_path / "state"
    cmd = ["-c", str(PIPELINE), "--state", str(state), "-w", "1", "-q"]
    run([first], load_config(PIPELINE), tmp_path / "o1", workers=1, state_dir=state)
    before = snapshot(state)
    big = _big_input(tmp_path / "big.jsonl", 3000)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", str(big), "-o", str(tmp_path / "o2"), *cmd], cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (state / ".staging").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)  # the run has resolved duplicates and is writing its index segment
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert (state / ".staging").is_dir()  # killed inside the window between staging and commit
    assert {k: v for k, v in snapshot(state).items() if not k.startswith(".staging")} == before
    assert not (tmp_path / "o2" / "clean.jsonl").exists()
    # the rerun clears the dead run's lock and leftovers, and completes
    report = run([big], load_config(PIPELINE), tmp_path / "o2", workers=1, state_dir=state)
    assert report["documents"]["input"] == 3000 and report["accounted"]
    assert not (state / ".staging").exists() and not (state / LOCK).exists()
    assert orjson.loads((state / MANIFEST).read_bytes())["runs"] == 2


def test_files_moved_in_by_a_run_killed_before_its_manifest_are_replaced(tmp_path, batches):
    first, second = batches
    state = tmp_path / "state"
    orphan = state / "dedup" / "seg-000001"  # as if a first run died between rename and manifest
    orphan.mkdir(parents=True)
    (orphan / "keys.npy").write_bytes(b"half-written")
    cfg = load_config(PIPELINE)
    run([first], cfg, tmp_path / "o1", workers=1, state_dir=state)
    assert (orphan / "keys.npy").read_bytes() != b"half-written"
    report = run([second], cfg, tmp_path / "o2", workers=1, state_dir=state)
    assert report["documents"]["duplicates"] == 3  # the index written over the orphan is sound


def test_two_cron_runs_decide_like_one_run_over_both_inputs(tmp_path, batches):
    first, second = batches
    cfg = load_config(PIPELINE)
    run([first, second], cfg, tmp_path / "once", workers=1)
    once = outputs(tmp_path / "once")
    state = tmp_path / "state"
    run([first], cfg, tmp_path / "run1", workers=2, state_dir=state)
    run([second], cfg, tmp_path / "run2", workers=2, state_dir=state)
    split = [outputs(tmp_path / "run1"), outputs(tmp_path / "run2")]
    assert [r["id"] for r in once["clean"]] == [r["id"] for o in split for r in o["clean"]]
    decided = {d["id"]: (d["duplicate_of"], d["rule"]) for o in split for d in o["duplicates"]}
    assert decided == {d["id"]: (d["duplicate_of"], d["rule"]) for d in once["duplicates"]}


def test_url_inputs_are_fingerprinted_and_skipped_like_local_files(tmp_path, batches):
    """--state with an fsspec URL input (here memory://): hashed through fsspec, skipped on rerun."""
    import fsspec

    first, _ = batches
    mem = fsspec.filesystem("memory")
    mem.pipe_file("/winnow-state-in/monday.jsonl", first.read_bytes())
    try:
        cfg = load_config(PIPELINE)
        report = run(["memory://winnow-state-in"], cfg, tmp_path / "o1", workers=1, state_dir=tmp_path / "state")
        assert report["documents"]["clean"] == 2
        again = run(["memory://winnow-state-in"], cfg, tmp_path / "o2", workers=1, state_dir=tmp_path / "state")
    finally:
        mem.rm("/winnow-state-in", recursive=True)
    assert again["documents"]["input"] == 0
    assert [s["path"] for s in again["skipped_inputs"]] == ["memory:///winnow-state-in/monday.jsonl"]


def test_superseded_component_files_go_at_commit_and_a_rerun_rewrites_nothing(tmp_path, batches, caplog):
    """Boilerplate's per-site line counts are a new file each run that sees new documents: the one it
    replaces goes when the manifest commits (not a run later, with a warning), and a run whose every
    input was processed before leaves every component file as it was."""
    first, second = (write_jsonl(tmp_path / f"{p.stem}-site.jsonl", [dict(orjson.loads(line), url=f"https://news.example.org/{p.stem}/{k}")
                                                                     for k, line in enumerate(p.read_bytes().splitlines())])
                     for p in batches)
    state = tmp_path / "state"
    cfg = load_config(ROOT / "configs" / "default.yaml")
    run([first], cfg, tmp_path / "out1", workers=1, state_dir=state)
    run([second], cfg, tmp_path / "out2", workers=1, state_dir=state)
    manifest = orjson.loads((state / MANIFEST).read_bytes())
    assert sorted(p.name for p in (state / "boilerplate").iterdir()) == ["line-counts-000002.npz"]
    assert manifest["components"]["boilerplate"]["files"] == ["boilerplate/line-counts-000002.npz"]
    before = snapshot(state)
    with caplog.at_level("WARNING"):
        report = run([first, second], cfg, tmp_path / "out3", workers=1, state_dir=state)
    assert report["documents"]["input"] == 0 and len(report["skipped_inputs"]) == 2
    after = snapshot(state)
    assert {k: v for k, v in after.items() if k != MANIFEST} == {k: v for k, v in before.items() if k != MANIFEST}
    assert "not part of the committed state" not in caplog.text
