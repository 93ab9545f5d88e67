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


class GrowingPowers:
    """``cumulative_powers(base, n)`` for any ``n``, from one table grown on demand (doubling), so
    batch after batch does not compute the same powers again."""

    def __init__(self, base: int | np.uint64):
        self.base = base
        self._table = cumulative_powers(base, 0)

    def __call__(self, size: int) -> np.ndarray:
        if len(self._table) < size:
            self._table = cumulative_powers(self.base, max(size, 2 * len(self._table)))
        return self._table[:size]


def joined_code_points(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The code points of all ``texts`` end to end (one encode for a whole batch, not one per
    text), and where each text starts: text ``i`` is ``codes[starts[i]:starts[i + 1]]``."""
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=starts[1:])
    return code_points("".join(texts)), starts


def segment_or(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Bitwise or of each segment ``values[starts[i]:starts[i + 1]]`` (0 for an empty one): which
    bits occur anywhere in each text of a batch, in one call."""
    out = np.zeros(len(starts) - 1, dtype=values.dtype)
    nonempty = np.flatnonzero(np.diff(starts) > 0)
    if nonempty.size:  # reduceat would give an empty segment the next value, so leave those out
        out[nonempty] = np.bitwise_or.reduceat(values, starts[nonempty])
    return out


class KeyTable:
    """A hash table of uint64 keys (already well mixed, e.g. by ``mix64``) to int64 values, read
    and filled a whole array of keys at a time: open addressing, linear probing, at most half full.

    Why: a binary search (``np.searchsorted``) into a sorted array of 100,000+ keys costs ~17
    scattered reads per key; here a key takes ~1.3 reads, and adding keys needs no re-sort.
    """

    def __init__(self, capacity: int = 4096):
        self._reset(capacity)

    def _reset(self, capacity: int) -> None:
        size = 1 << max(capacity - 1, 1).bit_length()
        self._keys = np.zeros(size, dtype=np.uint64)
        self._values = np.full(size, -1, dtype=np.int64)  # -1: empty slot
        self._mask = np.uint64(size - 1)
        self.count = 0

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key; -1 for keys not in the table."""
        found = np.full(len(keys), -1, dtype=np.int64)
        slot = (keys & self._mask).astype(np.intp)
        pending = np.arange(len(keys))
        while len(pending):
            values = self._values[slot]
            hit = (self._keys[slot] == keys[pending]) & (values >= 0)
            found[pending[hit]] = values[hit]
            going_on = ~hit & (values >= 0)  # another key is here: look at the next slot
            pending, slot = pending[going_on], (slot[going_on] + 1) & int(self._mask)
        return found

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Add keys that are not in the table yet (each once) with their values."""
        if 2 * (self.count + len(keys)) > len(self._keys):  # grow: at most half full keeps probes short
            old = self._values >= 0
            old_keys, old_values = self._keys[old], self._values[old]
            self._reset(2 * (self.count + len(keys)))
            self._insert(old_keys, old_values)
        self._insert(keys, values)

    def _insert(self, keys: np.ndarray, values: np.ndarray) -> None:
        slot = (keys & self._mask).astype(np.intp)
        pending = np.arange(len(keys))
        while len(pending):
            free = self._values[slot] < 0
            taken, first = np.unique(slot[free], return_index=True)  # one key per free slot and round
            winners = np.flatnonzero(free)[first]
            self._keys[taken], self._values[taken] = keys[pending[winners]], values[pending[winners]]
            going_on = np.ones(len(pending), dtype=bool)
            going_on[winners] = False
            pending, slot = pending[going_on], (slot[going_on] + 1) & int(self._mask)
        self.count += len(keys)
