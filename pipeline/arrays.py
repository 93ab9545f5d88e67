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
    table[0x130] = 0x130  # never used: lines holding it take str.lower()
    table[0x3A3] = 0x3A3
    return table


def lowered_code_points(text: str) -> np.ndarray:
    """``code_points(text.lower())``, mapped by a table in numpy: several times faster than
    str.lower() on non-ASCII text."""
    return lower_code_points(code_points(text), lowers_by_context(text))


def lowers_by_context(text: str) -> bool:
    """Whether ``text`` holds a character whose lower case no table can give (``_NOT_ONE_TO_ONE``)."""
    return any(char in text for char in _NOT_ONE_TO_ONE)


def lower_code_points(codes: np.ndarray, exceptions: bool = True) -> np.ndarray:
    """``lowered_code_points`` of the text whose code points are ``codes``. The lines (split at
    "\\n") holding İ or Σ (see ``_NOT_ONE_TO_ONE``) take str.lower(), which never looks across a
    newline, so the rest of the text keeps the table. ``exceptions=False``: the caller knows the
    text holds neither (a fast ``in`` on the string), which saves a scan of the codes."""
    out = _lower_table().take(codes, mode="clip")
    if len(codes) and codes.max() > _LAST_CASED:  # emoji, rare CJK: unchanged
        above = (codes > _LAST_CASED).nonzero()[0]
        out[above] = codes[above]
    if exceptions:
        special = ((codes == 0x130) | (codes == 0x3A3)).nonzero()[0]
        if len(special):
            return _lower_lines_by_str(codes, out, special)
    return out


def _lower_lines_by_str(codes: np.ndarray, out: np.ndarray, special: np.ndarray) -> np.ndarray:
    """``out`` with the lines that hold a ``special`` position lowered by str.lower() (İ becomes
    two code points, so the pieces are joined anew)."""
    newlines = (codes == 10).nonzero()[0]
    pieces, done = [], 0
    for line in np.unique(np.searchsorted(newlines, special)).tolist():
        start = int(newlines[line - 1]) + 1 if line else 0
        end = int(newlines[line]) if line < len(newlines) else len(codes)
        text = codes[start:end].tobytes().decode("utf-32-le", "surrogatepass")
        pieces += [out[done:start], code_points(text.lower())]
        done = end
    pieces.append(out[done:])
    return np.concatenate(pieces)


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
