"""Shared fixtures: small, self-contained inputs under tests/fixtures."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def seeds_dir() -> Path:
    """The two seed articles the user gave us (one story, two outlets, real boilerplate + spam)."""
    return FIXTURES / "seeds"


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.fixture
def read_output():
    """Read all four record files of an output directory into a dict of lists."""

    def _read(out: Path) -> dict[str, list[dict]]:
        return {name: read_jsonl(out / f"{name}.jsonl") for name in ("clean", "rejected", "duplicates", "errors")}

    return _read
