"""The pipeline core: config validation, reader formats, policy, determinism, accounting."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
import zstandard

from pipeline.config import ConfigError, load_config
from pipeline.document import Document
from pipeline.runner import run
from pipeline.stages.base import Stage, StageConfig

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "default.yaml"

ARTICLE = (
    "The city council approved the new budget on Tuesday after a long debate about school funding. "
    "Council members said the plan would add two hundred teachers over the next three years."
)


def write_jsonl(path: Path, records: list[dict], opener=open) -> Path:
    with opener(path, "wb") as fh:
        for r in records:
            fh.write(orjson.dumps(r) + b"\n")
    return path


# -- config ---------------------------------------------------------------------------------------


def test_default_config_lists_stages_in_order():
    cfg = load_config(DEFAULT)
    names = [s.name for s in cfg.stages]
    assert names[0] == "normalize" and names[-1] == "dedup"
    assert names.index("boilerplate") < names.index("spam")


def test_unknown_option_is_refused_with_key_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - normalize:\n      ftfyy: true\n")
    with pytest.raises(ConfigError, match=r"normalize\.ftfyy: unknown option"):
        load_config(bad)


def test_unknown_stage_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - normalise: {}\n")
    with pytest.raises(ConfigError, match="unknown stage 'normalise'"):
        load_config(bad)


def test_set_override_is_typed_and_validated():
    cfg = load_config(DEFAULT, ["normalize.ftfy=false", "input.text_field=content", "runner.batch_size=7"])
    assert cfg.stage("normalize").config.ftfy is False
    assert cfg.input.text_field == "content"
    assert cfg.runner.batch_size == 7
    with pytest.raises(ConfigError, match="runner.batch_size"):
        load_config(DEFAULT, ["runner.batch_size=zero"])
    with pytest.raises(ConfigError, match="no stage 'nope'"):
        load_config(DEFAULT, ["nope.x=1"])


# -- readers --------------------------------------------------------------------------------------


def test_all_input_formats_ids_and_carried_fields(tmp_path, read_output):
    src = tmp_path / "in"
    (src / "nested").mkdir(parents=True)
    write_jsonl(src / "a.jsonl", [{"id": "a1", "text": ARTICLE, "url": "https://example.org/a"}, {"text": ARTICLE + " Later."}])
    write_jsonl(src / "nested" / "b.jsonl.gz", [{"id": 7, "text": ARTICLE + " Gz."}], opener=gzip.open)
    with open(src / "c.jsonl.zst", "wb") as fh:
        fh.write(zstandard.ZstdCompressor().compress(orjson.dumps({"id": "c1", "text": ARTICLE + " Zst."}) + b"\n"))
    (src / "d.txt").write_text("Headline of the day\n\n" + ARTICLE + " Txt.", encoding="utf-8")
    out = tmp_path / "out"
    report = run([src], load_config(DEFAULT, ["dedup.near=false"]), out, workers=1)  # near-copies on purpose
    records = read_output(out)
    ids = [r["id"] for r in records["clean"]]
    assert ids == ["a1", "a:2", "c1", "d", "7"]  # sorted walk: files before the nested directory
    first = records["clean"][0]
    assert first["metadata"]["url"] == "https://example.org/a"
    assert first["metadata"]["source"] == {"path": str(src / "a.jsonl"), "line": 1}
    assert report["documents"]["input"] == 5 and report["accounted"]


def test_custom_field_names(tmp_path, read_output):
    write_jsonl(tmp_path / "x.jsonl", [{"doc_id": "k", "content": ARTICLE}])
    out = tmp_path / "out"
    run([tmp_path / "x.jsonl"], load_config(DEFAULT, ["input.text_field=content", "input.id_field=doc_id"]), out, workers=1)
    assert [r["id"] for r in read_output(out)["clean"]] == ["k"]


def test_bad_records_are_accounted_for(tmp_path, read_output):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        orjson.dumps({"id": "ok", "text": ARTICLE}) + b"\n"
        + b"{not json\n"
        + b"[1, 2]\n"
        + orjson.dumps({"id": "notext"}) + b"\n"
        + orjson.dumps({"id": "num", "text": 5}) + b"\n"
        + orjson.dumps({"id": "empty", "text": "   "}) + b"\n"
    )
    out = tmp_path / "out"
    report = run([path], load_config(DEFAULT), out, workers=1)
    records = read_output(out)
    assert [r["id"] for r in records["clean"]] == ["ok"]
    assert [(e["line"], e["error"].split(":")[0]) for e in records["errors"]] == [
        (2, "malformed JSON"), (3, "record is a JSON list, not an object"), (4, "missing 'text' field"), (5, "'text' is a int, not a string"),
    ]
    assert [(r["id"], r["stage"], r["rule"]) for r in records["rejected"]] == [("empty", "input", "empty")]
    assert report["documents"] == {"input": 6, "clean": 1, "rejected": 1, "duplicates": 0, "errors": 4}


# -- policy and determinism -----------------------------------------------------------------------


class ShortConfig(StageConfig):
    min_words: int = 30


class FlagShort(Stage):
    """A test stage: flags documents with fewer than ``min_words`` words."""

    name = "flagshort"
    Config = ShortConfig

    def process(self, batch: list[Document]) -> None:
        for doc in batch:
            n = len(doc.text.split())
            if n < self.config.min_words:
                doc.flag(self.name, "too_short", f"{n} words < {self.config.min_words}", n)


@pytest.fixture
def flagshort_registered(monkeypatch):
    from pipeline import stages

    monkeypatch.setitem(stages._REGISTRY, "flagshort", f"{__name__}:FlagShort")


@pytest.mark.parametrize("mode", ["filter", "annotate"])
def test_policy_filter_rejects_annotate_records(tmp_path, read_output, flagshort_registered, mode):
    write_jsonl(tmp_path / "x.jsonl", [{"id": "short", "text": "Too short to keep."}, {"id": "long", "text": ARTICLE}])
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(f"stages:\n  - normalize: {{}}\n  - flagshort:\n      mode: {mode}\n")
    out = tmp_path / "out"
    run([tmp_path / "x.jsonl"], load_config(cfg_file), out, workers=1)
    records = read_output(out)
    if mode == "filter":
        assert [r["id"] for r in records["clean"]] == ["long"]
        (rej,) = records["rejected"]
        assert (rej["id"], rej["stage"], rej["rule"], rej["reason"]) == ("short", "flagshort", "too_short", "4 words < 30")
    else:
        assert [r["id"] for r in records["clean"]] == ["short", "long"]
        assert records["clean"][0]["metadata"]["flags"][0]["rule"] == "too_short"


def test_exact_duplicates_keep_first(tmp_path, read_output):
    write_jsonl(tmp_path / "x.jsonl", [
        {"id": "orig", "text": ARTICLE},
        {"id": "copy", "text": ARTICLE.upper().replace(".", " .")},
        {"id": "other", "text": "A completely different story about football and the weather in spring."},
    ])
    out = tmp_path / "out"
    run([tmp_path / "x.jsonl"], load_config(DEFAULT), out, workers=1)
    records = read_output(out)
    assert [r["id"] for r in records["clean"]] == ["orig", "other"]
    (dup,) = records["duplicates"]
    assert (dup["id"], dup["duplicate_of"], dup["rule"]) == ("copy", "orig", "exact")


def test_output_identical_across_workers_and_batch_sizes(tmp_path):
    records = []
    for i in range(120):
        body = f"Report {i}: " + ARTICLE if i % 7 else ARTICLE  # every 7th is an exact duplicate
        records.append({"id": f"d{i}", "text": f"Headline {i}\n\n{body}\n\nLeave a Reply\n\n• Share"})
    records.append({"id": "bad", "text": ""})
    write_jsonl(tmp_path / "x.jsonl", records)
    outputs = []
    for workers, batch in ((1, 256), (2, 8), (2, 1)):
        out = tmp_path / f"out-{workers}-{batch}"
        run([tmp_path / "x.jsonl"], load_config(DEFAULT, [f"runner.batch_size={batch}"]), out, workers=workers)
        outputs.append({n: (out / n).read_bytes() for n in ("clean.jsonl", "rejected.jsonl", "duplicates.jsonl", "errors.jsonl")})
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0]["duplicates.jsonl"].count(b'"rule":"exact"') == 17
    assert outputs[0]["duplicates.jsonl"].count(b"\n") == 119  # the "Report i:" variants are near-copies


def test_dedup_last_or_not_writes_the_same_records(tmp_path):
    """Dedup last: the spill holds finished clean records, copied out (duplicates re-encoded from
    them). A stage after dedup: the spill is decoded back into documents. Same bytes either way."""
    records = [{"id": f"d{i}", "text": f"Headline {i % 9}\n\n" + ARTICLE, "url": f"https://example.org/{i}", "score": i / 7}
               for i in range(40)]
    records += [{"id": "empty", "text": " "}, {"id": "near", "text": "Headline 3\n\n" + ARTICLE.replace("two", "2")}]
    write_jsonl(tmp_path / "x.jsonl", records)
    outputs = []
    for stages, workers in (("normalize, dedup", 1), ("normalize, dedup", 2), ("normalize, dedup, spam", 1)):
        config = tmp_path / f"{len(outputs)}.yaml"
        config.write_text("stages:\n" + "".join(f"  - {name}: {{}}\n" for name in stages.split(", ")))
        out = tmp_path / f"out-{len(outputs)}"
        report = run([tmp_path / "x.jsonl"], load_config(config, ["runner.batch_size=8"]), out, workers=workers)
        assert report["accounted"]
        outputs.append({n: (out / n).read_bytes() for n in ("clean.jsonl", "rejected.jsonl", "duplicates.jsonl")})
    assert outputs[0] == outputs[1] == outputs[2]
    duplicates = outputs[0]["duplicates.jsonl"]
    assert duplicates.count(b'"rule":"exact"') == 4 and duplicates.count(b'"rule":"near"') == 36  # copies of d0: exact
    assert outputs[0]["clean.jsonl"].count(b"\n") == 1 and outputs[0]["rejected.jsonl"].count(b"\n") == 1
    assert b'"score":0.14285714285714285' in outputs[0]["clean.jsonl"] + outputs[0]["duplicates.jsonl"]


def test_report_counts_and_per_stage_figures(tmp_path, seeds_dir):
    out = tmp_path / "out"
    report = run([seeds_dir], load_config(DEFAULT), out, workers=1)
    on_disk = orjson.loads((out / "report.json").read_bytes())
    assert on_disk["documents"] == report["documents"]
    by_stage = {s["stage"]: s for s in on_disk["stages"]}
    assert by_stage["boilerplate"]["chars_removed"] > 100
    assert by_stage["boilerplate"]["rules"]["comment_form"] == 4
    assert by_stage["spam"]["chars_removed"] >= 3
    assert on_disk["timing"]["input_mb"] > 0.004


def test_failed_run_leaves_previous_outputs(tmp_path, seeds_dir, flagshort_registered, monkeypatch):
    out = tmp_path / "out"
    run([seeds_dir], load_config(DEFAULT), out, workers=1)
    before = (out / "clean.jsonl").read_bytes()

    def boom(self, batch):
        raise RuntimeError("stage crashed")

    monkeypatch.setattr(FlagShort, "process", boom)
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text("stages:\n  - flagshort: {}\n")
    with pytest.raises(RuntimeError, match="stage crashed"):
        run([seeds_dir], load_config(cfg_file), out, workers=1)
    assert (out / "clean.jsonl").read_bytes() == before
    assert not list(out.glob(".winnow-run-*"))
