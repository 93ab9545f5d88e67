"""Numpy building blocks shared by the stages that work on whole batches of text as arrays."""

from __future__ import annotations

import hashlib
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import disk_cache

_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as uint32 (lone surrogates kept), in one C-level conversion
    (the strict encoder first: about twice as fast as with an error handler, which only text with
    lone surrogates needs)."""
    try:
        data = text.encode("utf-32-le")
    except UnicodeEncodeError:
        data = text.encode("utf-32-le", "surrogatepass")
    return np.frombuffer(data, dtype=np.uint32)


# the code points besides ASCII whose str.lower() holds an ASCII letter, and that lower case: a
# text with them replaced so, then lower-cased as UTF-8 bytes (ASCII letters only), holds an ASCII
# string exactly where its str.lower() does (checked by the tests against every code point)
LOWERS_TO_ASCII = (("\u0130", "\u0130".lower()), ("\u212a", "\u212a".lower()))


def ascii_lowered_utf8(text: str, also: str = "") -> bytes:
    """UTF-8 of ``text`` with its ASCII letters lower-cased (and those of ``LOWERS_TO_ASCII`` and
    ``also`` replaced by their ``str.lower()``): it holds a string of ASCII and lower-case ``also``
    letters exactly where ``text.lower()`` does, as long as no other code point lower-cases to one
    of those letters. Several times faster than ``str.lower`` (a scan per replaced letter, one
    encode, one bytes.lower)."""
    for char, lowered in (*LOWERS_TO_ASCII, *((c, c.lower()) for c in also if c.lower() != c)):
        if char in text:
            text = text.replace(char, lowered)
    return text.encode("utf-8", "surrogatepass").lower()


def every_code_point() -> str:
    """All 1,114,112 code points in order (surrogates included): a string to scan with a regular
    expression once, to build a per-code-point table from the same definition the rules use."""
    return np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")


_LAST_CASED = 0x1E921  # the highest code point that str.lower() changes (ADLAM CAPITAL SHA)
# no table can say: Σ lowers to σ or ς depending on its neighbours, İ to two code points
_SIGMA, _DOTTED_I = "\u03a3", "\u0130"
_COMBINING_DOT = 0x307  # İ lowers to "i" and this
_FIRST_ABOVE_UNICODE = 0x110000


@lru_cache(maxsize=2)
def _lower_table(fold_spaces: bool = False) -> np.ndarray:
    """Per code point up to ``_LAST_CASED``: its lower case (the one-to-one part of str.lower: Σ
    gives σ, İ gives "i"); ``fold_spaces``: see ``lowered_code_points`` (the plain table, changed).
    Remembered on disk (~0.025 s at every start-up), keyed by this module's source and the Python
    version (its Unicode database)."""
    source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    stored = disk_cache.remembered_arrays(
        "lower-table", (source, fold_spaces, unicodedata.unidata_version), ("table",), lambda: {"table": _computed_lower_table(fold_spaces)}
    )
    return stored["table"]


def _computed_lower_table(fold_spaces: bool) -> np.ndarray:
    if not fold_spaces:
        chars = "".join(map(chr, range(_LAST_CASED + 1))).replace(_DOTTED_I, "I")
        table = code_points(chars.lower()).copy()
        table[ord(_SIGMA)] = ord("σ")
    else:
        table = _computed_lower_table(False)
        space = np.zeros(len(table), dtype=bool)
        space[[code for code, char in enumerate(map(chr, range(len(table)))) if char.isspace()]] = True
        controls = np.flatnonzero(~space[:33])
        table[controls] = _FIRST_ABOVE_UNICODE + controls
        space[10] = False
        table[space] = 32
    return table


def lowered_code_points(text: str, fold_spaces: bool = False) -> np.ndarray:
    """``code_points(text.lower())``, mapped by a table in numpy: several times faster than
    str.lower() on non-ASCII text. The lines (split at "\\n") holding Σ take str.lower() (which
    never looks across a newline); İ's second code point is inserted after the table.

    ``fold_spaces``: for splitting into tokens - every whitespace character (as str.split() sees
    it) but "\\n" becomes " ", and the other code points up to " " (control characters) move above
    Unicode, so that ``codes <= 32`` finds the whitespace in one comparison, not a table lookup."""
    table = _lower_table(fold_spaces)
    out = _by_table(code_points(text), table)
    for start, end in _lines_holding(text, _SIGMA):
        line = text[start:end].replace(_DOTTED_I, "I")  # as long as the line, and still a capital
        out[start:end] = _by_table(code_points(line.lower()), table)
    if _DOTTED_I in text:
        out = _insert_after(out, positions(text, _DOTTED_I), _COMBINING_DOT)
    return out


def _insert_after(codes: np.ndarray, positions: list[int], value: int) -> np.ndarray:
    """``codes`` with ``value`` after each of the (sorted) positions: the pieces between them
    joined in one copy (np.insert builds a mask the size of the text, several times slower)."""
    pieces = np.split(codes, np.array(positions) + 1)
    inserted = np.array([value], dtype=codes.dtype)
    return np.concatenate([part for piece in pieces[:-1] for part in (piece, inserted)] + [pieces[-1]])


def _by_table(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Each code point through a ``_lower_table`` (those above it stay as they are)."""
    out = table.take(codes, mode="clip")
    if len(codes) and codes.max() > _LAST_CASED:  # emoji, rare CJK: unchanged
        above = (codes > _LAST_CASED).nonzero()[0]
        out[above] = codes[above]
    return out


def positions(text: str, char: str) -> list[int]:
    """Where ``char`` occurs in ``text`` (str.find: no pass of numpy over a text that is mostly
    without it)."""
    found, at = [], text.find(char)
    while at >= 0:
        found.append(at)
        at = text.find(char, at + 1)
    return found


def _lines_holding(text: str, char: str) -> list[tuple[int, int]]:
    """(start, end) of each line of ``text`` (split at "\\n") that holds ``char``, in order."""
    spans = []
    for at in positions(text, char):
        if spans and at < spans[-1][1]:
            continue  # the line found before
        end = text.find("\n", at)
        spans.append((text.rfind("\n", 0, at) + 1, len(text) if end < 0 else end))
    return spans


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

    def __init__(self, base: int | np.uint64, minimum: int = 0):
        self.base = base
        self.minimum = minimum  # the first table's size: callers that always need many start there
        self._table = cumulative_powers(base, 0)

    def __call__(self, size: int) -> np.ndarray:
        if len(self._table) < size:
            self._table = cumulative_powers(self.base, max(size, 2 * len(self._table), self.minimum))
        return self._table[:size]


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


class HashedBits:
    """uint64 hashes -> int64 bits, answered for a whole array at once: one probe into a table of
    ``2**slot_bits`` slots (multiplicative hashing: a one-character token's hash has all its
    information in the low bits); the few hashes whose slot several keys share take a binary search.
    A key given twice gets its bits or-ed. ``keys`` are the sorted keys, ``bits`` theirs."""

    _FACTOR = np.uint64(0xD6E8FEB86659FD93)  # odd: spreads every bit of a hash into the top bits
    _EMPTY, _SHARED = -1, -2

    def __init__(self, hashes: np.ndarray, bits: np.ndarray, slot_bits: int):
        self.keys, inverse = np.unique(np.asarray(hashes, dtype=np.uint64), return_inverse=True)
        self.bits = np.zeros(len(self.keys), dtype=np.int64)
        np.bitwise_or.at(self.bits, inverse.ravel(), np.asarray(bits, dtype=np.int64))
        self._shift = np.uint64(64 - slot_bits)
        slot = self._slot(self.keys).astype(np.int64)
        self._slots = np.full(1 << slot_bits, self._EMPTY, dtype=np.int32)
        self._slots[slot] = np.arange(len(slot), dtype=np.int32)
        self._slots[np.bincount(slot, minlength=len(self._slots)) > 1] = self._SHARED

    def _slot(self, hashes: np.ndarray) -> np.ndarray:
        return (hashes * self._FACTOR) >> self._shift

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """The bits of each hash (0: not a key)."""
        slot = self._slots.take(self._slot(hashes))  # take: no bounds checks, faster than []
        where = np.maximum(slot, 0)
        bits = self.bits.take(where)
        bits[(self.keys.take(where) != hashes) | (slot < 0)] = 0
        shared = np.flatnonzero(slot == self._SHARED)
        if len(shared):
            where = np.searchsorted(self.keys, hashes[shared])
            where[where == len(self.keys)] = 0
            bits[shared] = np.where(self.keys[where] == hashes[shared], self.bits[where], 0)
        return bits


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
