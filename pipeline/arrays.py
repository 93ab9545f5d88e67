"""Numpy building blocks shared by the stages that work on whole batches of text as arrays."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as uint32 (lone surrogates kept), in one C-level conversion."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


_LAST_CASED = 0x1E921  # the highest code point that str.lower() changes (ADLAM CAPITAL SHA)
# İ lowers to two code points, Σ to σ or ς depending on its neighbours: no table can say
_NOT_ONE_TO_ONE = ("\u0130", "\u03a3")


@lru_cache(maxsize=1)
def _lower_table() -> np.ndarray:
    """Per code point up to ``_LAST_CASED``: its lower case (the one-to-one part of str.lower)."""
    chars = "".join(map(chr, range(_LAST_CASED + 1))).replace("\u0130", "\x00")
    table = code_points(chars.lower()).copy()
    table[0x130] = 0x130  # never used: texts holding it take str.lower()
    table[0x3A3] = 0x3A3
    return table


def lowered_code_points(text: str) -> np.ndarray:
    """``code_points(text.lower())``, mapped by a table in numpy: several times faster than
    str.lower() on non-ASCII text. A text holding İ or Σ (see ``_NOT_ONE_TO_ONE``) takes str.lower()."""
    if any(char in text for char in _NOT_ONE_TO_ONE):
        return code_points(text.lower())
    codes = code_points(text)
    out = _lower_table().take(codes, mode="clip")
    if len(codes) and codes.max() > _LAST_CASED:  # emoji, rare CJK: unchanged
        above = (codes > _LAST_CASED).nonzero()[0]
        out[above] = codes[above]
    return out


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on each uint64: spreads every bit of a key over all 64 (``x`` is not
    changed). Polynomial hashes that share a base with what is built from them need it, or
    "2009 (2)" and "2019 (1)" collide."""
    x = x ^ (x >> np.uint64(30))
    x *= _MIX_1
    x ^= x >> np.uint64(27)
    x *= _MIX_2
    x ^= x >> np.uint64(31)
    return x


def cumulative_powers(base: int | np.uint64, size: int) -> np.ndarray:
    """base**0 .. base**(size-1) modulo 2**64 (uint64 arithmetic wraps)."""
    table = np.empty(size, dtype=np.uint64)
    if size:
        table[0] = 1
        np.cumprod(np.full(size - 1, base, dtype=np.uint64), out=table[1:])
    return table


def joined_code_points(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The code points of all ``texts`` end to end (one encode for a whole batch, not one per
    text), and where each text starts: text ``i`` is ``codes[starts[i]:starts[i + 1]]``."""
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=starts[1:])
    return code_points("".join(texts)), starts


def concatenated_ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``starts[i] .. starts[i] + sizes[i] - 1`` for each i, end to end: the indices that gather
    some segments of an array (some lines' characters, some pages' tokens) in one take."""
    offsets = np.cumsum(sizes) - sizes
    return np.arange(int(sizes.sum()), dtype=np.int64) + np.repeat(starts - offsets, sizes)


def segment_or(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Bitwise or of each segment ``values[starts[i]:starts[i + 1]]`` (0 for an empty one): which
    bits occur anywhere in each text of a batch, in one call."""
    out = np.zeros(len(starts) - 1, dtype=values.dtype)
    nonempty = np.flatnonzero(np.diff(starts) > 0)
    if nonempty.size:  # reduceat would give an empty segment the next value, so leave those out
        out[nonempty] = np.bitwise_or.reduceat(values, starts[nonempty])
    return out


class HashedSet:
    """A set of well-mixed uint64 hashes (see ``mix64``) that answers for a whole array at once:
    buckets picked by the top bits, a bucket's slots side by side (one cache line for up to 8), so a
    lookup is one row gathered and compared - several times faster than ``np.isin`` or
    ``np.searchsorted`` for many values against a few thousand keys."""

    def __init__(self, keys: np.ndarray):
        keys = np.sort(np.asarray(keys, dtype=np.uint64))
        keys = keys[np.append(True, keys[1:] != keys[:-1])[: len(keys)]]  # (np.unique is slower on small arrays)
        bits = max(int(len(keys)).bit_length(), 4)  # about one key per bucket
        self._shift = np.uint64(64 - bits)
        bucket = (keys >> self._shift).astype(np.intp)  # keys are sorted, so buckets are too
        rank = np.arange(len(keys)) - np.searchsorted(bucket, bucket)  # place within its bucket
        width = -(-(int(rank.max(initial=0)) + 1) // 8) * 8
        # an empty slot holds a value of the next bucket, which no value looked up in this one equals
        spare = ((np.arange(1 << bits, dtype=np.uint64) + np.uint64(1)) % np.uint64(1 << bits)) << self._shift
        self._table = np.repeat(spare[:, None], width, axis=1)
        self._table[bucket, rank] = keys

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Per value: is it in the set?"""
        rows = self._table.take((values >> self._shift).astype(np.intp), axis=0)
        hits = (rows == values[:, None]).view(np.uint64)  # 8 slots' answers per uint64
        return (hits != 0).any(axis=1) if hits.shape[1] > 1 else hits[:, 0] != 0
