"""Ray executor and fsspec edges: the same input and config give byte-identical output to the local run.

One local Ray cluster (2 CPUs) is started for the module and stopped after it.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import fsspec
import orjson
import pytest

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.config import InputConfig
from pipeline.document import Document
from pipeline.executor import LocalExecutor
from pipeline.readers import Reader
from pipeline.shards import plan_shards, read_piece
from pipeline.runner import _segment_batch, run
from pipeline.stages.base import Stage, StageConfig
from pipeline.stages.spam import Spam
from pipeline.writers import OUTPUT_FILES

ray = pytest.importorskip("ray")
from pipeline.ray_executor import RayExecutor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "default.yaml"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def ray_executor():
    with RayExecutor(workers=2, object_store_memory=200 * 1024 * 1024) as ex:
        yield ex
    assert not ray.is_initialized()  # the executor stops the cluster it started


@pytest.fixture
def corpus(tmp_path) -> Path:
    """Seed articles (.txt) plus a JSONL and a gzipped copy with exact duplicates, empties, bad lines."""
    src = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "seeds", src / "seeds")
    news = (FIXTURES / "mixed" / "news.jsonl").read_bytes()
    (src / "news.jsonl").write_bytes(news)
    (src / "later").mkdir()
    with gzip.open(src / "later" / "news-again.jsonl.gz", "wb") as fh:
        fh.write(news)  # every record of the second file is a duplicate of the first
    return src


def records(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def output_bytes(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUT_FILES}


def comparable_report(out_report: dict) -> dict:
    return {k: v for k, v in out_report.items() if k not in ("timing", "inputs")} | {
        "stages": [{k: v for k, v in s.items() if k != "seconds"} for s in out_report["stages"]]
    }


@pytest.mark.slow
def test_map_keeps_input_order_and_installs_shared_state(ray_executor):
    text = "A new cycling lane opened on Saturday. Visit 카지노 for the best offers. It is two kilometres long."
    batches = [(0, [Document(id=f"doc-{i}", text=text)]) for i in range(12)]  # 12 tasks, 4 in flight
    with_spam = {"segments": [([Spam()], None)]}
    results = list(ray_executor.map(_segment_batch, iter(batches), with_spam))
    assert [docs[0].id for docs, _, _ in results] == [f"doc-{i}" for i in range(12)]
    assert all("카지노" not in docs[0].text and docs[0].removals for docs, _, _ in results)
    # a second map call with other shared state must not run on the first call's cached stages
    results = list(ray_executor.map(_segment_batch, batches[:3], {"segments": [([], None)]}))
    assert [docs[0].text for docs, _, _ in results] == [text] * 3


@pytest.mark.slow
def test_ray_output_is_identical_to_local(ray_executor, corpus, tmp_path, monkeypatch):
    cfg = load_config(DEFAULT, ["runner.batch_size=2"])  # many small batches
    monkeypatch.setattr(ray_executor, "shard_bytes", 600)  # tasks read byte ranges of news.jsonl
    assert ray_executor.reads_inputs([str(corpus)])
    local = run([corpus], cfg, tmp_path / "local", workers=1)
    on_ray = run([corpus], cfg, tmp_path / "ray", executor=ray_executor)

    docs = local["documents"]
    assert local["accounted"] and docs["input"] == 2 + 2 * 15
    assert docs["duplicates"] >= 3 and docs["rejected"] >= 4 and docs["errors"] == 4  # the corpus exercises every file
    assert output_bytes(tmp_path / "ray") == output_bytes(tmp_path / "local")
    assert comparable_report(on_ray) == comparable_report(local)
    assert on_ray["timing"]["workers"] == 2


@pytest.mark.slow
def test_ray_reads_and_writes_fsspec_urls(ray_executor, corpus, tmp_path):
    cfg = load_config(DEFAULT)
    url_in = f"file://{corpus}"
    local = run([url_in], cfg, tmp_path / "local", workers=1)
    url_out = "memory://winnow-test/ray-out"
    report = run([url_in], cfg, url_out, executor=ray_executor)
    mem = fsspec.filesystem("memory")
    try:
        remote = {name: mem.cat_file(f"/winnow-test/ray-out/{name}") for name in OUTPUT_FILES}
        assert remote == output_bytes(tmp_path / "local")
        assert orjson.loads(mem.cat_file("/winnow-test/ray-out/report.json"))["documents"] == local["documents"]
        assert report["inputs"] == [url_in] and local["documents"]["duplicates"] >= 3
    finally:
        mem.rm("/winnow-test", recursive=True)


@pytest.mark.slow
def test_cli_executor_ray_joins_running_cluster(ray_executor, corpus, tmp_path, read_output):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(corpus), "-o", str(tmp_path / "cli"), "--executor", "ray", "-q"])
    assert exit_info.value.code == 0
    assert ray.is_initialized()  # joined the module's cluster, did not stop it
    out = read_output(tmp_path / "cli")
    assert {r["id"] for r in out["duplicates"]} >= {"port-copy", "library-copy", "harvest-copy"}


def test_fsspec_memory_input_directory_matches_local(tmp_path):
    """Discovery through fs.find: nested files in order, hidden ones skipped, same bytes as local."""
    news = (FIXTURES / "mixed" / "news.jsonl").read_bytes()
    mem = fsspec.filesystem("memory")
    local_dir = tmp_path / "in"
    (local_dir / "b").mkdir(parents=True)
    (local_dir / ".cache").mkdir()
    for rel in ("a.jsonl", "b/c.jsonl", ".cache/skip.jsonl"):
        (local_dir / rel).write_bytes(news)
        mem.pipe_file(f"/winnow-in/{rel}", news)
    try:
        import stat

        from pipeline.fs import UrlPath

        info = UrlPath("memory://winnow-in/b/c.jsonl").stat()
        assert stat.S_ISREG(info.st_mode) and info.st_size == len(news)
        with pytest.raises(FileNotFoundError):
            UrlPath("memory://winnow-in/none.jsonl").stat()
        cfg = load_config(DEFAULT)
        local = run([local_dir], cfg, tmp_path / "local", workers=1)
        remote = run(["memory://winnow-in"], cfg, f"file://{tmp_path / 'remote'}", workers=1)
    finally:
        mem.rm("/winnow-in", recursive=True)
    assert remote["documents"] == local["documents"] and local["documents"]["input"] == 30
    published = sorted(p.name for p in (tmp_path / "remote").iterdir() if not p.name.startswith("."))  # not the publish lock
    assert published == sorted([*OUTPUT_FILES, "report.json"])
    for name in ("clean.jsonl", "duplicates.jsonl", "rejected.jsonl"):
        got, want = records(tmp_path / "remote" / name), records(tmp_path / "local" / name)
        assert [r["metadata"].pop("source")["path"] for r in got] == [
            "memory:///winnow-in/" + str(Path(r["metadata"].pop("source")["path"]).relative_to(local_dir)) for r in want
        ]
        assert got == want
    errors = [orjson.loads(line) for line in (tmp_path / "remote" / "errors.jsonl").read_bytes().splitlines()]
    assert [e["source"] for e in errors] == ["memory:///winnow-in/a.jsonl"] * 2 + ["memory:///winnow-in/b/c.jsonl"] * 2


def test_executor_ray_without_ray_installed_says_how_to_install(tmp_path):
    script = (
        "import sys; sys.modules['ray'] = None\n"  # makes `import ray` fail as if it were not installed
        "from pipeline.cli import main\n"
        f"main(['run', {str(FIXTURES / 'seeds')!r}, '-o', {str(tmp_path / 'out')!r}, '--executor', 'ray'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "winnow: error: --executor ray needs Ray: pip install 'winnow[ray]'"
    assert not (tmp_path / "out").exists()


class FlagShortNews(Stage):
    """A filtering stage for the order test: rejects items shorter than 30 words."""

    name = "flagshortnews"
    Config = StageConfig

    def process(self, batch: list[Document]) -> None:
        for doc in batch:
            if len(doc.text.split()) < 30:
                doc.flag(self.name, "too_short", "fewer than 30 words", len(doc.text.split()))


def test_rejected_order_does_not_depend_on_read_ahead(tmp_path, monkeypatch):
    """Input rejects (empty) and stage rejects (short) interleave in input order for any executor depth."""
    from pipeline import stages

    monkeypatch.setitem(stages._REGISTRY, "flagshortnews", f"{__name__}:FlagShortNews")
    article = (FIXTURES / "mixed" / "news.jsonl").read_bytes().splitlines()[0]
    lines = []
    for i in range(30):
        text = "" if i % 4 == 0 else "Short notice." if i % 3 == 0 else orjson.loads(article)["text"] + f" Update {i}."
        lines.append(orjson.dumps({"id": f"n{i}", "text": text}))
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text("runner:\n  batch_size: 1\nstages:\n  - normalize: {}\n  - flagshortnews: {}\n  - dedup: {}\n")
    rejected = []
    for workers in (1, 2):
        run([tmp_path / "in.jsonl"], load_config(cfg_file), tmp_path / f"out{workers}", workers=workers)
        rejected.append([r["id"] for r in records(tmp_path / f"out{workers}" / "rejected.jsonl")])
    expected = [f"n{i}" for i in range(30) if i % 4 == 0 or i % 3 == 0]
    assert rejected[0] == rejected[1] == expected


def _item_key(item) -> tuple:
    if isinstance(item, Document):
        return ("doc", item.id, item.text, item.metadata, item.source, [f.rule for f in item.flags])
    return ("error", item.source, item.line, item.error)


def test_byte_range_shards_read_exactly_what_the_sequential_reader_reads(tmp_path):
    """Every split size: same records, ids (stem:line), source lines and errors as one sequential read."""
    news = (FIXTURES / "mixed" / "news.jsonl").read_bytes().splitlines(keepends=True)
    anonymous = [orjson.dumps({"text": orjson.loads(line)["text"]}) + b"\n" for line in news[:2]]
    data = b"".join(news[:3] + [b"\n", b"  \n"] + anonymous + news[3:] + [b'{"text": "last line, no newline"}'])
    path = tmp_path / "split.jsonl"
    path.write_bytes(data)
    (tmp_path / "small.txt").write_text("Harbour traffic rose four percent in the third quarter.", encoding="utf-8")
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + data)  # content rules, not names, decide:
    (tmp_path / "packed.jsonl").write_bytes(gzip.compress(data))  # these two are read whole
    files = [path, tmp_path / "small.txt", tmp_path / "bom.jsonl", tmp_path / "packed.jsonl"]
    expected = [_item_key(item) for f in files for item in Reader([], InputConfig()).read_file(f)]
    assert any(key[1] == "split:7" for key in expected)  # ids from line numbers are exercised
    for shard_bytes in (1, 2, 7, 64, 333, len(data) // 2, len(data)):
        shards = plan_shards(files, shard_bytes, LocalExecutor(1))
        got = [_item_key(item) for shard in shards for piece in shard for item in read_piece(piece, InputConfig())]
        assert got == expected, shard_bytes
        assert all(piece.end is None for shard in shards for piece in shard if piece.path != str(path))
        assert len(shards) > 1


def test_byte_ranges_drop_over_long_lines_like_the_sequential_reader(tmp_path):
    """Lines over 8 x input.max_chars bytes are errors in any piece (one crossing a range boundary,
    one last without a newline), and the lines around them keep their numbers."""
    config = InputConfig(max_chars=40)  # 320-byte line limit
    headlines = ["Ferry timetable changes from Monday.", "Library opens on Sundays.", "Bridge works end early."]
    long_text = "The council published the full minutes of the budget meeting, line by line. " * 6
    lines = []
    for i in range(24):
        text = long_text if i % 5 == 2 else headlines[i % 3]
        lines.append(orjson.dumps({"id": f"m{i}", "text": text}) + b"\n")
    lines.append(orjson.dumps({"text": long_text}))  # over the limit and no final newline
    path = tmp_path / "minutes.jsonl"
    path.write_bytes(b"".join(lines))
    expected = [_item_key(item) for item in Reader([], config).read_file(path)]
    assert sum(key[0] == "error" for key in expected) == 6 and expected[-1][2] == 25
    for shard_bytes in (5, 100, 333, 700, len(path.read_bytes()) // 3):
        shards = plan_shards([path], shard_bytes, LocalExecutor(1))
        assert len(shards) > 1
        got = [_item_key(item) for shard in shards for piece in shard for item in read_piece(piece, config)]
        assert got == expected, shard_bytes


@pytest.mark.slow
def test_state_on_ray_skips_processed_inputs_and_matches_local(ray_executor, tmp_path, capsys):
    """--state on Ray: shards are planned from the inputs left after the state's selection, and
    copies of earlier runs' documents are removed exactly as on the local executor."""
    dedup = FIXTURES / "dedup"
    story = [orjson.loads(line) for line in (dedup / "articles.jsonl").read_bytes().splitlines()]
    monday = tmp_path / "monday.jsonl"
    monday.write_bytes(b"".join(orjson.dumps({"id": f"mon-{i}", "text": " ".join(a["sentences"])}) + b"\n" for i, a in enumerate(story[:2])))
    tuesday = tmp_path / "tuesday.jsonl"
    tuesday.write_bytes(
        orjson.dumps({"id": "tue-0", "text": " ".join(story[0]["sentences"][:15]) + "\n\nShare this story."}) + b"\n"
        + orjson.dumps({"id": "tue-2", "text": " ".join(story[2]["sentences"])}) + b"\n"
    )
    cfg = load_config(dedup / "pipeline.yaml")
    reports = {}
    for name, options in (("local", {"workers": 1}), ("ray", {"executor": ray_executor})):
        run([monday], cfg, tmp_path / f"{name}-1", state_dir=tmp_path / f"state-{name}", **options)
        reports[name] = run([monday, tuesday], cfg, tmp_path / f"{name}-2", state_dir=tmp_path / f"state-{name}", **options)
    assert [s["path"] for s in reports["ray"]["skipped_inputs"]] == [str(monday)]
    assert reports["ray"]["documents"] == reports["local"]["documents"] == {
        "input": 2, "clean": 1, "rejected": 0, "duplicates": 1, "errors": 0
    }
    assert output_bytes(tmp_path / "ray-2") == output_bytes(tmp_path / "local-2")
    # winnow dedup --against on Ray, from the CLI: the state (which now holds both days) is only read
    with pytest.raises(SystemExit) as exit_info:
        main(["dedup", str(tuesday), "--against", str(tmp_path / "state-ray"), "-c", str(dedup / "pipeline.yaml"),
              "-o", str(tmp_path / "against"), "--executor", "ray", "-q"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    assert {r["id"]: r["duplicate_of"] for r in records(tmp_path / "against" / "duplicates.jsonl")} == {"tue-0": "mon-0", "tue-2": "tue-2"}


@pytest.mark.parametrize("where", ["input", "output"])
def test_unusable_url_is_a_usage_error_before_any_work(tmp_path, capsys, where):
    args = ["nope://bucket/crawl", "-o", str(tmp_path / "out")] if where == "input" else [str(FIXTURES / "seeds"), "-o", "nope://bucket/clean"]
    with pytest.raises(SystemExit) as exit_info:
        main(["run", *args, "-q"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"winnow: error: nope://bucket/{'crawl' if where == 'input' else 'clean'}: Protocol not known: nope"
    assert not (tmp_path / "out").exists()


def test_failed_upload_keeps_the_finished_run_and_says_where(tmp_path, monkeypatch, capsys):
    def refuse(local, url_dir, name):
        raise PermissionError(f"access denied writing {name}")

    monkeypatch.setattr("pipeline.writers.upload", refuse)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(FIXTURES / "seeds"), "-o", "memory://winnow-denied/out", "-q"])
    assert exit_info.value.code == 1
    message = capsys.readouterr().err.strip()
    assert message.startswith("winnow: error: upload to memory://winnow-denied/out failed (access denied writing clean.jsonl)")
    kept = Path(message.rsplit(" ", 1)[1])
    try:
        assert sorted(p.name for p in kept.iterdir()) == sorted([*OUTPUT_FILES, "report.json"])
        assert [r["id"] for r in records(kept / "clean.jsonl")] == [p.stem for p in sorted((FIXTURES / "seeds").iterdir())]
    finally:
        shutil.rmtree(kept)


def test_default_stages_survive_pickling_as_ray_ships_them():
    """Ray sends stages to workers pickled (the fork pool never does): every default stage must
    round-trip and then process a document exactly as the original does."""
    import pickle

    from pipeline.runner import build_stages
    from pipeline.stages import GlobalStage, RunContext

    stages = build_stages(load_config(DEFAULT), RunContext())
    copies = pickle.loads(pickle.dumps(stages))
    text = (FIXTURES / "seeds" / sorted(p.name for p in (FIXTURES / "seeds").iterdir())[0]).read_text(encoding="utf-8")
    for original, copy in zip(stages, copies):
        a, b = Document(id="seed", text=text), Document(id="seed", text=text)
        if isinstance(original, GlobalStage):  # signed in workers, resolved in the driver
            assert pickle.dumps(original.sign([a])) == pickle.dumps(copy.sign([b])), original.name
            continue
        original.process([a])
        copy.process([b])
        assert (a.text, a.removals, a.flags, a.annotations) == (b.text, b.removals, b.flags, b.annotations), original.name


@pytest.mark.slow
def test_ray_with_process_local_memory_input_reads_in_the_driver(ray_executor, tmp_path):
    """Ray workers cannot see this process's memory:// filesystem, so the driver must read it."""
    mem = fsspec.filesystem("memory")
    mem.pipe_file("/winnow-mem/news.jsonl", (FIXTURES / "mixed" / "news.jsonl").read_bytes())
    try:
        assert not ray_executor.reads_inputs(["memory://winnow-mem"])
        local = run(["memory://winnow-mem"], load_config(DEFAULT), tmp_path / "local", workers=1)
        on_ray = run(["memory://winnow-mem"], load_config(DEFAULT), tmp_path / "ray", executor=ray_executor)
    finally:
        mem.rm("/winnow-mem", recursive=True)
    assert on_ray["documents"] == local["documents"] and local["documents"]["errors"] == 2
    assert output_bytes(tmp_path / "ray") == output_bytes(tmp_path / "local")
