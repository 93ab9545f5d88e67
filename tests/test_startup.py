"""Start-up work remembered between runs (pipeline.disk_cache): same values as computing them."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from datasketch.lsh import _optimal_param

from pipeline.boilerplate_lines import _Tokens, _vocabulary
from pipeline.boilerplate_rules import load_rules
from pipeline.dedup.minhash import lsh_params
from pipeline.disk_cache import remembered, remembered_arrays, remembered_table


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WINNOW_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_computed_once_then_read_back(cache):
    calls = []

    def compute():
        calls.append(1)
        return [32, 4]

    assert remembered("demo", "k", compute) == [32, 4]
    assert remembered("demo", "k", compute) == [32, 4]
    assert len(calls) == 1
    assert orjson.loads((cache / "demo.json").read_bytes()) == {"k": [32, 4]}


def test_damaged_or_invalid_entries_are_computed_again(cache):
    (cache / "demo.json").write_bytes(b"{not json")
    assert remembered("demo", "k", lambda: 7) == 7
    (cache / "demo.json").write_bytes(orjson.dumps({"k": "garbage"}))
    assert remembered("demo", "k", lambda: 8, valid=lambda v: isinstance(v, int)) == 8


@pytest.mark.parametrize("threshold", [0.4, 0.8, 0.55])
def test_lsh_params_equal_datasketchs_optimiser_fresh_and_remembered(cache, threshold):
    expected = tuple(int(v) for v in _optimal_param(threshold, 128, 0.5, 0.5))
    assert lsh_params(threshold, 128) == expected  # computed
    assert lsh_params(threshold, 128) == expected  # read back
    assert any(key.startswith(f"{threshold!r}/128/datasketch-") for key in orjson.loads((cache / "lsh-params.json").read_bytes()))


def test_unwritable_cache_only_costs_the_computation(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("WINNOW_CACHE_DIR", str(blocker / "cache"))
    assert lsh_params(0.8, 128) == tuple(int(v) for v in _optimal_param(0.8, 128, 0.5, 0.5))


def test_table_computed_once_keyed_by_its_ingredients(cache):
    calls = []

    def compute():
        calls.append(1)
        table = np.zeros(0x110000, dtype=np.uint8)
        table[[ord("a"), ord("é")]] = 3
        return table

    first = remembered_table("demo-table", ("[aé]", 3), compute)
    again = remembered_table("demo-table", ("[aé]", 3), compute)
    assert np.array_equal(first, again) and again.dtype == np.uint8 and len(calls) == 1
    remembered_table("demo-table", ("[aéè]", 3), compute)  # another definition: its own file
    assert len(calls) == 2 and len(list(cache.glob("demo-table-*.npy"))) == 2


def test_damaged_table_file_is_computed_again(cache):
    def ones():
        return np.ones(0x110000, dtype=np.bool_)

    remembered_table("demo-table", "v", ones, np.bool_)
    (path,) = cache.glob("demo-table-*.npy")
    path.write_bytes(b"\x93NUMPY garbage")
    assert remembered_table("demo-table", "v", ones, np.bool_).all()
    np.save(path, np.ones(10, dtype=np.bool_))  # loads, but is not a table over every code point
    assert remembered_table("demo-table", "v", ones, np.bool_).size == 0x110000
    np.save(path, np.full(0x110000, 7, dtype=np.uint16))  # every code point, but not the kind asked for
    again = remembered_table("demo-table", "v", ones, np.bool_)
    assert again.dtype == np.bool_ and again.all()


def test_spam_tables_read_back_equal_the_computed_ones(cache):
    from pipeline.stages import spam

    built = {f: getattr(spam, f).__wrapped__() for f in ("_script_trigger_table", "_group_table", "_vietnamese_letter_table")}
    assert len(list(cache.glob("spam-*.npy"))) == 3
    for f, table in built.items():
        assert np.array_equal(getattr(spam, f).__wrapped__(), table)  # now from the files
    assert built["_group_table"][ord("카")] & spam._LETTER and built["_script_trigger_table"][ord("카")]
    assert not built["_script_trigger_table"][ord("a")] and built["_vietnamese_letter_table"][ord("ư")]


def test_arrays_computed_once_and_a_damaged_file_computed_again(cache):
    calls = []

    def compute():
        calls.append(1)
        return {"keys": np.array([3, 1, 2], dtype=np.uint64), "words": np.frombuffer("a\nb".encode(), dtype=np.uint8)}

    first = remembered_arrays("demo-arrays", ("v1", [1, 2]), ("keys", "words"), compute)
    again = remembered_arrays("demo-arrays", ("v1", [1, 2]), ("keys", "words"), compute)
    assert len(calls) == 1 and all(np.array_equal(first[k], again[k]) and first[k].dtype == again[k].dtype for k in first)
    (path,) = cache.glob("demo-arrays-*.npz")
    path.write_bytes(b"PK\x03\x04 cut short")
    assert np.array_equal(remembered_arrays("demo-arrays", ("v1", [1, 2]), ("keys", "words"), compute)["keys"], [3, 1, 2])
    assert len(calls) == 2
    remembered_arrays("demo-arrays", ("v1", [1, 2]), ("keys", "other"), compute)  # names differ: computed again
    assert len(calls) == 3


def test_boilerplate_vocabulary_read_back_from_disk_is_the_computed_one(cache):
    rules = load_rules(("de", "en"))
    languages = tuple(rules.stopwords)
    rules.__dict__.pop("_vocabulary", None)
    table, words = _vocabulary(rules, languages, _Tokens())  # computed
    assert len(list(cache.glob("boilerplate-vocabulary-*.npz"))) == 1
    rules.__dict__.pop("_vocabulary")
    again, again_words = _vocabulary(rules, languages, _Tokens())  # read back
    assert again_words == words and np.array_equal(again.keys, table.keys) and np.array_equal(again.bits, table.bits)
    assert np.array_equal(_Tokens().hash_words(words), table.keys)  # word k is the word of hash k
    english = languages.index("en")
    assert again.lookup(_Tokens().hash_words(["the", "the,", "zebra"])).tolist()[2] == 0
    assert all(bits >> english & 1 for bits in again.lookup(_Tokens().hash_words(["the", "the,"])).tolist())
