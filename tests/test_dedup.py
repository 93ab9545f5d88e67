"""The dedup stage: shingling, MinHash backends, LSH candidates, verified clusters, keepers."""

from __future__ import annotations

from pathlib import Path

import datasketch
import numpy as np
import orjson
import pytest
import regex

from pipeline.config import load_config
from pipeline.dedup import lsh, minhash, shingles
from pipeline.document import Document
from pipeline.runner import run
from pipeline.stages.dedup import Dedup, DedupConfig

FIXTURES = Path(__file__).parent / "fixtures" / "dedup"
ARTICLES = {a["id"]: a for a in (orjson.loads(l) for l in (FIXTURES / "articles.jsonl").read_bytes().splitlines())}
PIPELINE = FIXTURES / "pipeline.yaml"


def config(*overrides: str):
    return load_config(PIPELINE, list(overrides))


def body(name: str, first: int = 0, last: int | None = None) -> str:
    return " ".join(ARTICLES[name]["sentences"][first:last])


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def outputs(out: Path) -> dict[str, list[dict]]:
    return {
        name: [orjson.loads(l) for l in (out / f"{name}.jsonl").read_bytes().splitlines()]
        for name in ("clean", "duplicates", "rejected", "errors")
    }


# -- shingles -------------------------------------------------------------------------------------


def test_tokens_ignore_case_punctuation_and_unicode_quotes():
    raw = "It’s the “Harbour” plan—approved: 48 million dollars; STRASSE vs. Straße_2019! ÉTÉ Été"
    reference = " ".join(regex.sub(r"[\W_]+", " ", raw.lower()).split())
    assert shingles.tokenize([raw]).hashes.tolist() == shingles.tokenize([reference]).hashes.tolist()
    assert len(shingles.tokenize([raw]).hashes) == len(reference.split())
    # capitals folded on the bytes: Latin-1, Greek, Cyrillic (as str.lower does)
    for text in ("ÀÉÎÕÜÝÞ × ÷ ßÿ", "ΑΘΗΝΑ ΠΟΛΗ Ωρα", "МОСКВА Ёлка ЀЏ", "Ελλάδα Россия Österreich"):
        folded = " ".join(regex.sub(r"[\W_]+", " ", text.lower()).split())
        assert shingles.tokenize([text]).hashes.tolist() == shingles.tokenize([folded]).hashes.tolist(), text
    # one hash per distinct word: no collisions between the article's words
    long_words = ["w" + "a" * n for n in (60, 62, 63, 64, 70, 200)] + ["a" * 90 + c + "a" * 90 for c in "bc"]
    assert len(set(shingles.tokenize([" ".join(long_words)]).hashes.tolist())) == len(long_words)
    assert shingles.tokenize(["x " + long_words[-1]]).hashes[1] == shingles.tokenize([long_words[-1].upper()]).hashes[0]
    words = regex.sub(r"[\W_]+", " ", body("harbour").lower()).split()
    assert len(set(shingles.tokenize([body("harbour")]).hashes.tolist())) == len(set(words)) > 200


def test_shingles_per_document_including_short_and_empty():
    tokens = shingles.tokenize(["one two three four five six seven", "", "just three words", "   ...   "])
    flat, offsets = shingles.shingle_hashes(tokens, 5)
    assert np.diff(offsets).tolist() == [3, 0, 1, 0]  # 7-5+1; none; one short shingle; none
    # the short document's one shingle equals the 3-gram hash of the same words elsewhere
    again, _ = shingles.shingle_hashes(shingles.tokenize(["just three words"]), 3)
    assert flat[offsets[2]] == again[0]
    exact = shingles.exact_hashes(tokens)
    assert exact[1] == exact[3] and exact[0] != exact[2]  # both empty after normalisation


def test_batch_composition_does_not_change_shingles():
    texts = [body("harbour"), body("library"), "Short one.", body("transit")]
    together, off = shingles.shingle_hashes(shingles.tokenize(texts), 5)
    for i, text in enumerate(texts):
        alone, _ = shingles.shingle_hashes(shingles.tokenize([text]), 5)
        assert together[off[i] : off[i + 1]].tolist() == alone.tolist()


# -- MinHash backends -----------------------------------------------------------------------------


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 42)])
def test_datasketch_backend_is_bit_identical_to_datasketch_minhash(num_perm, seed):
    texts = [body("harbour"), body("wildfire", 2, 5), "Too short", ""]
    flat, offsets = shingles.shingle_hashes(shingles.tokenize(texts), 5)
    ours = minhash.signatures("datasketch", flat, offsets, num_perm, seed)
    for i in range(len(texts)):
        reference = datasketch.MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda v: v)
        reference.update_batch(minhash.shingles32(flat[offsets[i] : offsets[i + 1]]).tolist())
        assert reference.hashvalues.dtype == np.uint32
        assert np.array_equal(reference.hashvalues, ours[i]), f"document {i}"


def test_rensa_and_datasketch_estimate_the_same_similarity():
    a = body("harbour", 0, 12)
    b = body("harbour", 2, 14)
    flat, offsets = shingles.shingle_hashes(shingles.tokenize([a, b]), 5)
    sets = [set(flat[offsets[i] : offsets[i + 1]].tolist()) for i in range(2)]
    true_jaccard = len(sets[0] & sets[1]) / len(sets[0] | sets[1])
    for backend in ("rensa", "datasketch"):
        sig = minhash.signatures(backend, flat, offsets, 256, 7)
        estimate = float(np.mean(sig[0] == sig[1]))
        assert abs(estimate - true_jaccard) < 0.12, backend


# -- LSH candidates -------------------------------------------------------------------------------


def test_bucket_pairs_small_and_large_buckets():
    keys = shingles.fmix64(np.array([5, 9, 5, 7, 9, 5], dtype=np.uint64))  # band keys are 64-bit hashes
    left, right = lsh.bucket_pairs(keys)
    assert sorted(zip(left.tolist(), right.tolist())) == [(0, 2), (0, 5), (1, 4), (2, 5)]
    big = np.zeros(lsh.ALL_PAIRS_UP_TO + 10, dtype=np.uint64)
    left, right = lsh.bucket_pairs(big)
    assert len(left) < len(big) * 2  # star + chain, not all pairs
    assert set(left.tolist()) | set(right.tolist()) == set(range(len(big)))


# -- the stage in a run ---------------------------------------------------------------------------


def _corpus() -> list[dict]:
    harbour = body("harbour")
    return [
        {"id": "harbour-herald", "text": harbour, "published": "2024-03-05"},
        {"id": "library", "text": body("library")},
        # syndicated copy: same story with the partner site's furniture around it
        {"id": "harbour-wire", "text": "From our partners at the Coastal Wire.\n\n" + harbour + "\n\nRead more stories from the Coastal Wire.", "published": "2024-03-06"},
        {"id": "transit", "text": body("transit")},
        # revision: the last sentence changed and one added
        {"id": "harbour-rev2", "text": body("harbour", 0, 15) + " Bids are now due on the fifteenth of February. The exhibition has been extended by a week.", "published": "2024-03-07"},
        # exact copy apart from case and punctuation
        {"id": "library-copy", "text": body("library").upper().replace(". ", " . ")},
        {"id": "wildfire", "text": body("wildfire")},
        {"id": "wildfire-truncated", "text": body("wildfire", 0, 6)},
    ]


def test_run_removes_copies_and_names_the_kept_document(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", _corpus())
    report = run([src], config(), tmp_path / "out", workers=1)
    out = outputs(tmp_path / "out")
    assert [r["id"] for r in out["clean"]] == ["harbour-herald", "library", "transit", "wildfire"]
    dups = {r["id"]: r for r in out["duplicates"]}
    assert {k: (v["duplicate_of"], v["rule"]) for k, v in dups.items()} == {
        "harbour-wire": ("harbour-herald", "near"),
        "harbour-rev2": ("harbour-herald", "near"),
        "library-copy": ("library", "exact"),
        "wildfire-truncated": ("wildfire", "near"),
    }
    assert dups["library-copy"]["similarity"] == 1.0
    assert 0.5 <= dups["harbour-rev2"]["similarity"] < 1.0
    assert dups["harbour-wire"]["cluster"] == "harbour-herald"
    assert report["accounted"] and report["documents"]["duplicates"] == 4
    details = next(s for s in report["stages"] if s["stage"] == "dedup")["details"]
    assert (details["exact"], details["near"]) == (1, 3)


@pytest.mark.parametrize("keep,kept", [("longest", "harbour-wire"), ("published", "harbour-rev2"), ("first", "harbour-herald")])
def test_keep_policy_chooses_the_cluster_keeper(tmp_path, keep, kept):
    src = write_jsonl(tmp_path / "in.jsonl", _corpus())
    run([src], config(f"dedup.keep={keep}", "dedup.verify=pairs"), tmp_path / "out", workers=1)
    out = outputs(tmp_path / "out")
    harbour = [r for r in out["clean"] if r["id"].startswith("harbour")]
    assert [r["id"] for r in harbour] == [kept]
    assert all(d["duplicate_of"] == kept for d in out["duplicates"] if d["id"].startswith("harbour"))


def test_keeper_verification_stops_chains(tmp_path):
    # A~B and B~C share ~54% of their shingles, A and C only ~25%: a chain, not one story
    docs = [
        {"id": "a", "text": body("harbour", 0, 10)},
        {"id": "b", "text": body("harbour", 3, 13)},
        {"id": "c", "text": body("harbour", 6, 16)},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", docs)
    run([src], config("dedup.threshold=0.4", "dedup.verify=pairs"), tmp_path / "pairs", workers=1)
    chained = {d["id"]: d for d in outputs(tmp_path / "pairs")["duplicates"]}
    assert chained["c"]["duplicate_of"] == "a" and chained["c"]["similarity"] < 0.4
    run([src], config("dedup.threshold=0.4", "dedup.verify=keeper"), tmp_path / "keeper", workers=1)
    out = outputs(tmp_path / "keeper")
    assert [r["id"] for r in out["clean"]] == ["a", "c"]
    (dup,) = out["duplicates"]
    assert (dup["id"], dup["duplicate_of"]) == ("b", "a") and dup["similarity"] >= 0.4


def test_datasketch_backend_gives_the_same_decisions(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", _corpus())
    decided = []
    for backend in ("rensa", "datasketch"):
        run([src], config(f"dedup.backend={backend}"), tmp_path / backend, workers=1)
        decided.append(sorted((d["id"], d["duplicate_of"]) for d in outputs(tmp_path / backend)["duplicates"]))
    assert decided[0] == decided[1]


def test_stage_resolves_batches_with_nothing_left():
    stage = Dedup(DedupConfig())
    sigs = [stage.sign([]), stage.sign([Document("x", body("transit"))]), stage.sign([])]
    assert stage.resolve(sigs, ["x"]) == {}


def test_bands_and_rows_are_validated():
    with pytest.raises(ValueError, match="exceeds num_perm"):
        DedupConfig(num_perm=64, bands=20, rows=5)
    with pytest.raises(ValueError, match="both bands and rows"):
        DedupConfig(bands=10)
    assert Dedup(DedupConfig(threshold=0.5)).bands * Dedup(DedupConfig(threshold=0.5)).rows <= 128


def test_components_match_scipys_connected_components_and_labelling():
    """The numpy union-find labels components like scipy.sparse.csgraph (order of lowest node), on
    random graphs, a long chain given backwards, self-loops and isolated nodes."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from pipeline.dedup.clusters import components

    rng = np.random.default_rng(7)
    graphs = [(int(n), rng.integers(0, n, m), rng.integers(0, n, m)) for n, m in rng.integers(1, 300, (200, 2))]
    chain = np.arange(999)[::-1]
    graphs += [(1000, chain, chain + 1), (5, np.array([2, 4]), np.array([2, 1])), (3, np.array([], dtype=np.int64), np.array([], dtype=np.int64))]
    for n, left, right in graphs:
        graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
        assert components(n, left, right).tolist() == connected_components(graph, directed=False)[1].tolist()
    assert components(1000, chain, chain + 1).tolist() == [0] * 1000
    assert components(5, np.array([2, 4]), np.array([2, 1])).tolist() == [0, 1, 2, 3, 1]
