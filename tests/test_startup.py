"""Start-up work remembered between runs (pipeline.disk_cache): same values as computing them."""

from __future__ import annotations

import orjson
import pytest
from datasketch.lsh import _optimal_param

from pipeline.dedup.minhash import lsh_params
from pipeline.disk_cache import remembered


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
