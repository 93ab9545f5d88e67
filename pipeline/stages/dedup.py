"""dedup: drop documents whose normalised text was already seen (exact duplicates).

A global stage: workers hash each document's normalised text; the main process keeps the first
document of each hash (input order) and marks the others as its duplicates.
"""

from __future__ import annotations

import numpy as np
import regex
import xxhash

from ..document import Document, Duplicate
from .base import GlobalStage, StageConfig

_NON_WORD = regex.compile(r"[\W_]+")


def normalise_for_exact(text: str) -> str:
    """Case, punctuation and whitespace differences do not make a document new."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


class DedupConfig(StageConfig):
    pass


class Dedup(GlobalStage):
    name = "dedup"
    Config = DedupConfig

    def sign(self, batch: list[Document]) -> np.ndarray:
        return np.fromiter(
            (xxhash.xxh3_64_intdigest(normalise_for_exact(d.text).encode("utf-8", "surrogatepass")) for d in batch), dtype=np.uint64, count=len(batch)
        )

    def resolve(self, signatures: list[np.ndarray], ids: list[str]) -> dict[int, Duplicate]:
        hashes = np.concatenate(signatures) if signatures else np.empty(0, dtype=np.uint64)
        _, first = np.unique(hashes, return_index=True)
        keeper_of = dict(zip(hashes[first].tolist(), first.tolist()))
        decisions: dict[int, Duplicate] = {}
        for ordinal, h in enumerate(hashes.tolist()):
            keeper = keeper_of[h]
            if keeper != ordinal:
                decisions[ordinal] = Duplicate(ids[keeper], ids[keeper], 1.0, rule="exact")
        return decisions
