"""The benchmark corpus builder, the clustering metrics and the eval runner (tiny inputs, no dev data)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks import corpus
from benchmarks.eval import discover, merge_results, render, run_all
from benchmarks.metrics import dedup_quality, labels_from_links, pair_scores

FIXTURES = Path(__file__).parent / "fixtures" / "bench"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The dev-set files, gzipped like the real ones, from a few hand-written pages."""
    target = tmp_path / "data"
    target.mkdir()
    for src in FIXTURES.glob("*.jsonl"):
        with open(src, "rb") as fh, gzip.open(target / (src.name + ".gz"), "wb") as out:
            shutil.copyfileobj(fh, out)
    monkeypatch.setattr(corpus, "MIN_POOL", 5)
    monkeypatch.setattr(corpus, "CHUNK_DOCS", 70)  # several chunks, so the split into processes matters
    return target


def test_corpus_is_deterministic_whatever_the_number_of_processes(data_dir: Path, tmp_path: Path) -> None:
    one = corpus.build(400, seed=7, directory=tmp_path / "a", data_dir=data_dir, processes=1, log=lambda m: None)
    two = corpus.build(400, seed=7, directory=tmp_path / "b", data_dir=data_dir, processes=2, log=lambda m: None)
    assert one.path.read_bytes() == two.path.read_bytes()
    assert np.array_equal(one.cluster, two.cluster)
    other_seed = corpus.build(400, seed=8, directory=tmp_path / "a", data_dir=data_dir, processes=1, log=lambda m: None)
    assert other_seed.path.read_bytes() != one.path.read_bytes()


def test_corpus_records_match_their_recorded_truth(data_dir: Path, tmp_path: Path) -> None:
    built = corpus.build(400, seed=3, directory=tmp_path, data_dir=data_dir, processes=1, log=lambda m: None)
    records = list(corpus.iter_records(built.path))
    assert [r["id"] for r in records] == [corpus.doc_id(i) for i in range(400)]
    assert [r["cluster"] for r in records] == built.cluster.tolist()
    assert built.bytes == sum(len(r["text"].encode("utf-8")) for r in records)

    originals = {r["cluster"]: r["text"] for r in records if r["variant"] == "original"}
    kinds = {r["variant"] for r in records}
    assert {"original", "exact"} <= kinds and len(kinds) > 4
    assert sum(r["variant"] == "exact" for r in records) == round(400 * corpus.EXACT_SHARE)
    for r in records:
        base = originals[r["cluster"]]  # every document derives from an original that is in the corpus
        if r["variant"] == "exact":
            assert r["text"] == base
        elif r["variant"] != "original":
            assert r["jaccard"] == pytest.approx(corpus.jaccard(base, r["text"]), abs=1e-4)
            if r["variant"] == "truncate":
                assert base.startswith(r["text"]) and len(r["text"]) < len(base)
            if r["variant"] == "boilerplate":
                assert len(r["text"]) > len(base)


def test_corpus_is_reused_from_the_cache(data_dir: Path, tmp_path: Path) -> None:
    messages: list[str] = []
    first = corpus.build(150, seed=1, directory=tmp_path, data_dir=data_dir, processes=1, log=messages.append)
    again = corpus.build(150, seed=1, directory=tmp_path, data_dir=tmp_path / "missing", processes=1, log=messages.append)
    assert len(messages) == 1 and again.path == first.path and again.bytes == first.bytes


def test_pair_scores_on_a_hand_counted_example() -> None:
    truth = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([5, 5, 6, 6, 6, 7])  # one wrong merge, one missed link
    scores = pair_scores(truth, predicted)
    # true pairs: 3 + 1 = 4; predicted pairs: 1 + 3 = 4; shared: (0,1) and (3,4)
    assert (scores["true_pairs"], scores["predicted_pairs"], scores["correct_pairs"]) == (4, 4, 2)
    assert scores["precision"] == scores["recall"] == 0.5
    assert scores["ari"] == pytest.approx((2 - 16 / 15) / (4 - 16 / 15), abs=1e-4)
    perfect = pair_scores(truth, truth + 10)
    assert perfect["f1"] == perfect["ari"] == 1.0
    nothing_found = pair_scores(truth, np.arange(6))
    assert nothing_found["recall"] == 0.0 and nothing_found["precision"] == 1.0


def test_labels_from_links_follow_chains() -> None:
    labels = labels_from_links(7, [(1, 0), (2, 1), (6, 4), (5, 6)])
    assert labels[0] == labels[1] == labels[2]
    assert labels[4] == labels[5] == labels[6]
    assert len({labels[0], labels[3], labels[4]}) == 3


def test_dedup_quality_scores_links_against_the_corpus_truth(data_dir: Path, tmp_path: Path) -> None:
    built = corpus.build(300, seed=5, directory=tmp_path, data_dir=data_dir, processes=1, log=lambda m: None)
    records = list(corpus.iter_records(built.path))
    original_of = {r["cluster"]: i for i, r in enumerate(records) if r["variant"] == "original"}
    exact_links = [(i, original_of[r["cluster"]]) for i, r in enumerate(records) if r["variant"] == "exact"]
    all_links = [(i, original_of[r["cluster"]]) for i, r in enumerate(records) if r["variant"] != "original"]

    perfect = dedup_quality(built, all_links, len(records))
    assert perfect["precision"] == perfect["recall"] == perfect["ari"] == 1.0
    assert set(perfect["variant_recall"].values()) <= {1.0, None}

    exact_only = dedup_quality(built, exact_links, len(records))
    assert exact_only["precision"] == 1.0 and 0 < exact_only["recall"] < 1
    assert exact_only["variant_recall"]["exact"] == 1.0 and exact_only["variant_recall"]["edit"] == 0.0

    wrong = [(i, (i + 1) % len(records)) for i in range(0, len(records), 2)]  # pairs of unrelated neighbours
    assert dedup_quality(built, wrong, len(records))["precision"] < 0.2


def test_eval_runs_every_module_and_survives_a_failing_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "fake_evals"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "eval_broken.py").write_text("def run(data_dir):\n    raise ValueError('no dev set')\n\ndef table(result):\n    return ''\n")
    (package / "eval_count.py").write_text(
        "def run(data_dir):\n    return {'files': len(list(data_dir.iterdir()))}\n\n"
        "def table(result):\n    return f\"| files |\\n| --- |\\n| {result['files']} |\"\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    areas = discover(package)
    assert areas == ["broken", "count"]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.jsonl.gz").write_bytes(b"")
    results, markdown, ok = run_all(areas, tmp_path / "data", package="fake_evals", log=lambda m: None)
    assert not ok
    assert results["count"]["result"] == {"files": 1}
    assert "ValueError: no dev set" in results["broken"]["result"]["error"]
    assert markdown.index("## broken") < markdown.index("## count") and "| 1 |" in markdown


def test_a_partial_update_replaces_only_its_areas_and_renders_every_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "fake_partial"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for area in ("alpha", "beta"):
        (package / f"eval_{area}.py").write_text(
            "def run(data_dir):\n    return {'value': 2}\n\n"
            f"def table(result):\n    return f\"| {area} |\\n| --- |\\n| {{result['value']}} |\""
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    saved = {"alpha": {"seconds": 1.0, "result": {"value": 1}}, "beta": {"seconds": 1.0, "result": {"value": 1}}}
    fresh, _, ok = run_all(["beta"], tmp_path, package="fake_partial", log=lambda m: None)
    merged = merge_results(saved, fresh)
    assert ok and merged["alpha"]["result"] == {"value": 1} and merged["beta"]["result"] == {"value": 2}
    markdown = render(merged, package="fake_partial")
    assert markdown.index("## alpha") < markdown.index("## beta")
    assert "| alpha |\n| --- |\n| 1 |" in markdown and "| beta |\n| --- |\n| 2 |" in markdown
