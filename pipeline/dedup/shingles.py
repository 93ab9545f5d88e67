"""Word n-gram shingles of a whole batch at once, hashed with numpy: no per-token Python loop.

The batch's texts are UTF-8 encoded and joined into one byte array; ``bytes.translate`` lowercases
ASCII and turns ASCII punctuation, ``_`` and whitespace into spaces; numpy lowercases Latin-1,
Greek and Cyrillic capitals and blanks the Unicode punctuation blocks by their UTF-8 bytes. That
is the ``[\\W_]+`` normalisation of lowercased text, done on bytes. Each token is hashed from its
bytes read 8 at a time as unaligned uint64 words, n-gram hashes combine token hashes, and a
MurmurHash3 finaliser spreads the bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash

_COMBINE = np.uint64(0x9E3779B97F4A7C15)
_SPACE = 0x20
_WORDS_INLINE = 8  # tokens up to 64 bytes are hashed in vectorised rounds


def _ascii_table() -> bytes:
    """bytes.translate table: ASCII letters lowercased, ASCII non-alphanumerics to a space."""
    table = bytearray(range(256))
    for b in range(0x80):
        ch = chr(b)
        if "A" <= ch <= "Z":
            table[b] = ord(ch.lower())
        elif not ch.isalnum():
            table[b] = _SPACE
    return bytes(table)


_TRANSLATE = _ascii_table()
# little-endian masks keeping the first k bytes of a uint64 word, k = 0..8
_KEEP = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


_FMIX = {
    64: (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(33), np.uint64(0xC4CEB9FE1A85EC53), np.uint64(33)),
    32: (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16)),
}


def fmix(x: np.ndarray, width: int = 64) -> np.ndarray:
    """MurmurHash3's finaliser (a bijection that avalanches), element-wise, wrapping; 64 or 32 bits."""
    s1, m1, s2, m2, s3 = _FMIX[width]
    x = (x ^ (x >> s1)) * m1
    x = (x ^ (x >> s2)) * m2
    return x ^ (x >> s3)


def fmix64(x: np.ndarray) -> np.ndarray:
    return fmix(x, 64)


def _fold_multibyte(buf: np.ndarray) -> None:
    """Lowercase and blank the common multi-byte UTF-8 characters in place, without decoding.

    Lowercased: Latin-1 capitals (C3 80-9E), basic Greek (CE 91-A9) and Cyrillic (D0 80-AF) -
    byte-for-byte what ``str.lower`` gives for them. Blanked: Latin-1 punctuation and symbols
    U+0080-U+00BF (C2 xx) and × ÷, general punctuation U+2000-U+206F (E2 80 xx, E2 81 80-AF) and CJK
    punctuation U+3000-U+303F (E3 80 xx). Capitals of other scripts keep their case.
    """
    lead = np.flatnonzero(buf[:-2] - np.uint8(0xC2) <= 0xE3 - 0xC2)  # 0xC2 <= b <= 0xE3, uint8 wraps
    if len(lead) == 0:
        return
    b0, b1, b2 = buf[lead], buf[lead + 1], buf[lead + 2]
    # Latin-1 capitals except the multiplication sign; Greek Α-Ο and Cyrillic А-П: +0x20
    plus = ((b0 == 0xC3) & (b1 <= 0x9E) & (b1 != 0x97)) | ((b0 == 0xCE) & (b1 >= 0x91) & (b1 <= 0x9F))
    plus |= (b0 == 0xD0) & (b1 >= 0x90) & (b1 <= 0x9F)
    buf[lead[plus] + 1] += 0x20
    # Greek Π-Ω -> CF 80-89; Cyrillic Р-Я -> D1 80-8F; Cyrillic Ѐ-Џ -> D1 90-9F
    greek = lead[(b0 == 0xCE) & (b1 >= 0xA0) & (b1 <= 0xA9) & (b1 != 0xA2)]
    buf[greek], buf[greek + 1] = 0xCF, buf[greek + 1] - 0x20
    cyr_high = lead[(b0 == 0xD0) & (b1 >= 0xA0) & (b1 <= 0xAF)]
    buf[cyr_high], buf[cyr_high + 1] = 0xD1, buf[cyr_high + 1] - 0x20
    cyr_ext = lead[(b0 == 0xD0) & (b1 <= 0x8F)]
    buf[cyr_ext], buf[cyr_ext + 1] = 0xD1, buf[cyr_ext + 1] + 0x10
    two = lead[(b0 == 0xC2) | ((b0 == 0xC3) & ((b1 == 0x97) | (b1 == 0xB7)))]  # and × ÷
    three = lead[((b0 == 0xE2) & ((b1 == 0x80) | ((b1 == 0x81) & (b2 < 0xB0)))) | ((b0 == 0xE3) & (b1 == 0x80))]
    for k in range(2):
        buf[two + k] = _SPACE
    for k in range(3):
        buf[three + k] = _SPACE


def _token_hashes(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Hash each token buf[start:end] 8 bytes at a time (gathered as uint64 words), plus its length.

    Tokens longer than ``_WORDS_INLINE`` words (URLs, base64 blobs) are rare: they are hashed one by
    one with xxh3 instead of costing every token another numpy round."""
    # the 8 bytes starting at every offset, as one unaligned uint64 view (a gather, no copy of buf)
    windows = np.ndarray(shape=(len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    lengths = ends - starts
    word = windows[starts] & _KEEP[np.minimum(lengths, 8)]
    h = lengths.astype(np.uint64) * _COMBINE + word
    long = np.flatnonzero(lengths > 8)  # most words fit in one uint64
    for offset in range(8, 8 * _WORDS_INLINE, 8):
        if len(long) == 0:
            break
        word = windows[starts[long] + offset] & _KEEP[np.minimum(lengths[long] - offset, 8)]
        previous = h[long]
        h[long] = (previous ^ (previous >> np.uint64(32))) * _COMBINE + word  # cheap round; fmix at the end
        long = long[lengths[long] > offset + 8]
    h = fmix64(h)
    if len(long):
        data = buf.tobytes() if len(long) > 16 else None
        for i in long.tolist():
            token = data[starts[i] : ends[i]] if data is not None else buf[starts[i] : ends[i]].tobytes()
            h[i] = xxhash.xxh3_64_intdigest(token)
    return h


@dataclass
class Tokens:
    """Token hashes of a batch in document order, with each document's slice."""

    hashes: np.ndarray  # uint64, one per token
    offsets: np.ndarray  # int64, len(docs) + 1: tokens of doc i are hashes[offsets[i]:offsets[i + 1]]


def tokenize(texts: list[str]) -> Tokens:
    """Hash every word token of every text (case- and punctuation-insensitive, see module doc)."""
    parts = [t.encode("utf-8", "surrogatepass") for t in texts]
    lengths = np.fromiter((len(p) + 1 for p in parts), dtype=np.int64, count=len(parts))
    doc_start = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=doc_start[1:])
    data = (b" ".join(parts) + b" " * 9).translate(_TRANSLATE)
    buf = np.frombuffer(data, dtype=np.uint8)
    if not data.isascii():
        buf = buf.copy()
        _fold_multibyte(buf)
    is_word = buf != _SPACE
    edges = np.flatnonzero(is_word[1:] != is_word[:-1]) + 1  # word starts and ends alternate
    if len(buf) and is_word[0]:
        edges = np.concatenate(([0], edges))
    starts, ends = edges[0::2], edges[1::2]
    hashes = _token_hashes(buf, starts, ends)
    offsets = np.searchsorted(starts, doc_start).astype(np.int64)
    return Tokens(hashes, offsets)


def exact_hashes(tokens: Tokens) -> np.ndarray:
    """One 64-bit hash per document of its token sequence: equal iff normalised texts are equal."""
    h, off = tokens.hashes, tokens.offsets
    return np.fromiter(
        (xxhash.xxh3_64_intdigest(h[off[i] : off[i + 1]].tobytes()) for i in range(len(off) - 1)),
        dtype=np.uint64,
        count=len(off) - 1,
    )


def shingle_hashes(tokens: Tokens, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of each document's word ``size``-grams, flat, plus per-document offsets.

    A document with fewer than ``size`` (but at least one) tokens gets one shingle of all its tokens;
    a document without tokens gets none.
    """
    h, off = tokens.hashes, tokens.offsets
    n_tok = np.diff(off)
    total = len(h)
    short = np.flatnonzero((n_tok > 0) & (n_tok < size))
    first = off[:-1][short]
    short_grams = h[first].copy()  # for short documents: the hash of all their tokens
    gram = h  # gram[i]: hash of tokens i..i+k (unmixed; mixed once at the end), two arrays live
    for k in range(1, size):
        nxt = np.zeros(total, dtype=np.uint64)
        if total > k:
            nxt[: total - k] = gram[: total - k] * _COMBINE + h[k:]
        gram = nxt
        done = n_tok[short] == k + 1
        short_grams[done] = gram[first[done]]
    valid = np.ones(total, dtype=bool)
    # a shingle starting in the last size-1 tokens of a document would cross into the next one
    tail = off[1:, None] - np.arange(1, size)[None, :]
    valid[tail[tail >= off[:-1, None]]] = False
    valid[first] = True
    gram[first] = short_grams
    per_doc = np.where(n_tok >= size, n_tok - size + 1, np.minimum(n_tok, 1))
    out_off = np.zeros(len(n_tok) + 1, dtype=np.int64)
    np.cumsum(per_doc, out=out_off[1:])
    return fmix64(gram[valid]), out_off
