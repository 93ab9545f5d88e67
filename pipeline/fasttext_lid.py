"""fastText supervised-model inference (lid.176.ftz) in numpy, a whole batch of lines at a time.

Why: fasttext-predict's C++ ``predict`` costs ~20-60 µs for a 200-character line (a string, a hash
and a hash-map probe per character n-gram, one line per call; its batch call returns no scores), and
was most of the language stage. The model is small (16 dimensions, 50,000 input rows after pruning,
176 labels in a hierarchical softmax), so the same computation is cheap as arrays:

* a token's input vector (its vocabulary row + its character 2-4-gram rows, FNV-1a hashed exactly as
  fastText does, ids mapped through the pruned model's index) is computed once per worker for all
  new tokens of a batch at once, then cached;
* a line's hidden vector is the mean of its tokens' rows; the hierarchical softmax scores every
  label at once, level by level down the Huffman tree.

Same model file, same tokenisation (ASCII whitespace and NUL split words, "</s>" ends each line,
``__label__`` tokens ignored), same answers as fastText's ``predict(text, k, 0.0)``: the scores agree
to ~1e-6 (float64 sums here, float32 there), which ``tests/test_language.py`` checks against
fasttext-predict. The binary format read here is fastText 0.9's (model version 12).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .arrays import GrowingPowers, mix64

EOS = "</s>"
LABEL_PREFIX = "__label__"
_MAGIC, _VERSION = 793712314, 12
_HS_LOSS, _SUPERVISED = 1, 3
_FNV_OFFSET, _FNV_PRIME = np.uint32(2166136261), np.uint32(16777619)
_LOG_FLOOR = 1e-5  # fastText's std_log(x) = log(x + 1e-5)
_ENTRY = struct.Struct("<qb")  # a dictionary entry after its word: count, kind (0: word, 1: label)
_RECENT_TOKENS = 2**17  # entries of the token cache's direct-mapped front table (a power of two)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: type, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += values.nbytes
        return values

    def entries(self, size: int) -> list[tuple[bytes, int, int]]:
        """``size`` dictionary entries (word, count, kind): a C string, an int64 and an int8 each
        (read in one loop: ~7,000 entries at every start-up)."""
        data, offset, entry = self.data, self.offset, _ENTRY
        out = []
        for _ in range(size):
            end = data.index(b"\0", offset)
            out.append((data[offset:end], *entry.unpack_from(data, end + 1)))
            offset = end + 1 + entry.size
        self.offset = offset
        return out


def _product_quantizer(r: _Reader) -> tuple[np.ndarray, int, int, int]:
    dim, nsubq, dsub, lastdsub = r.take("iiii")
    return r.array(np.float32, dim * 256), nsubq, dsub, lastdsub


def _dequantize(codes: np.ndarray, pq: tuple[np.ndarray, int, int, int], norms: np.ndarray | None) -> np.ndarray:
    """Rows of a product-quantised matrix as float32, each term ``norm * centroid`` as fastText adds
    it. Column c of a row is entry ``within[c]`` of centroid ``code[sub[c]]`` of sub-quantizer
    ``sub[c]`` (the last one ``lastdsub`` wide): one gather for the whole matrix."""
    centroids, nsubq, dsub, lastdsub = pq
    widths = np.array([dsub] * (nsubq - 1) + [lastdsub])
    sub = np.repeat(np.arange(nsubq), widths)
    within = np.arange(len(sub)) - np.repeat(np.cumsum(widths) - widths, widths)
    rows = centroids.take(codes.reshape(-1, nsubq).astype(np.intp)[:, sub] * widths[sub] + (sub * 256 * dsub + within))
    return rows if norms is None else (rows * norms[:, None]).astype(np.float32)


def _matrix(r: _Reader, quantized: bool) -> np.ndarray:
    if not quantized:
        m, n = r.take("qq")
        return r.array(np.float32, m * n).reshape(m, n)
    qnorm, m, _n, codesize = r.take("?qqi")
    codes = r.array(np.uint8, codesize)
    pq = _product_quantizer(r)
    norms = None
    if qnorm:
        norm_codes = r.array(np.uint8, m)
        norm_centroids, *_ = _product_quantizer(r)
        norms = norm_centroids[norm_codes.astype(np.int64)]
    return _dequantize(codes, pq, norms)


class FastTextModel:
    """A supervised fastText model (hierarchical softmax, char n-grams, no word n-grams), read-only."""

    def __init__(self, path: str | Path, cache_tokens: int = 200_000):
        r = _Reader(Path(path).read_bytes())
        magic, version = r.take("ii")
        if magic != _MAGIC or version != _VERSION:
            raise ValueError(f"{path}: not a fastText 0.9 model (magic {magic}, version {version})")
        (dim, _ws, _epoch, _min_count, _neg, word_ngrams, loss, model, bucket, minn, maxn, _lr_update, _t) = r.take("12id")
        if (loss, model, word_ngrams) != (_HS_LOSS, _SUPERVISED, 1):
            raise ValueError(f"{path}: only supervised hierarchical-softmax models without word n-grams are supported")
        size, nwords, nlabels, _ntokens, pruneidx_size = r.take("iiiqq")
        words: dict[bytes, int] = {}
        labels: list[str] = []
        counts: list[int] = []
        for i, (token, count, kind) in enumerate(r.entries(size)):
            if kind == 0:
                words[token] = i
            else:
                labels.append(token.decode("utf-8", "replace"))
                counts.append(count)
        if len(words) != nwords or len(labels) != nlabels:
            raise ValueError(f"{path}: dictionary sizes do not match its header")
        pruned = r.array(np.int32, 2 * max(pruneidx_size, 0)).reshape(-1, 2)
        (quant_input,) = r.take("?")
        inputs = _matrix(r, quant_input)
        (qout,) = r.take("?")
        outputs = _matrix(r, quant_input and qout)
        self.dim, self.bucket, self.minn, self.maxn, self.nwords = dim, bucket, minn, maxn, nwords
        self.labels = labels
        self.bucket_rows = None  # n-gram bucket -> input row (-1: pruned away); None: not pruned
        if pruneidx_size >= 0:
            small = len(inputs) < 2**16  # lid.176.ftz: 50,000 rows, a 4 MB table that stays in cache
            self.bucket_rows = np.full(bucket, 2**16 - 1 if small else -1, dtype=np.uint16 if small else np.int32)
            self.bucket_rows[pruned[:, 0]] = nwords + pruned[:, 1]
            self._no_row = 2**16 - 1 if small else -1
        self.inputs = inputs.astype(np.float64)
        self._tree = _tree_plan(counts)
        # one row per inner node of the tree, in the plan's order (inner node i has row i - nlabels)
        self.outputs = outputs[self._tree.inner - nlabels].astype(np.float64)
        self.cache_tokens = cache_tokens
        vocabulary = np.frombuffer(b"".join(words), dtype=np.uint8)
        ends = np.cumsum([len(word) for word in words])
        vocab_keys = _span_keys(vocabulary, ends - [len(word) for word in words], ends)
        order = np.argsort(vocab_keys, kind="stable")
        self._vocab_keys, self._vocab_ids = vocab_keys[order], np.array(list(words.values()), dtype=np.int64)[order]
        eos = words.get(EOS.encode())
        self._eos = (self.inputs[eos].copy(), 1) if eos is not None else (np.zeros(dim), 0)
        self._clear_cache()

    def _clear_cache(self) -> None:
        # every cached token's key, sorted, and where its row sum is: the bulk, and those added
        # since the bulk was last rebuilt (a new batch's tokens go into the small array; copying the
        # whole bulk for every batch cost more than the rest of the lookup at 100,000 documents)
        self._keys, self._slots = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        self._fresh_keys, self._fresh_slots = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        self._token_sums = np.zeros((0, self.dim))
        self._token_counts = np.zeros(0, dtype=np.int64)
        self._used = 0
        # and in front of the binary searches, a direct-mapped table of tokens met lately (the key's
        # low bits name its entry; an empty entry holds a key of another entry, never looked up there)
        self._recent_keys = np.arange(_RECENT_TOKENS, dtype=np.uint64) ^ np.uint64(1)
        self._recent_slots = np.full(_RECENT_TOKENS, -1, dtype=np.int64)

    # --- lines -> labels ----------------------------------------------------------------------

    def predict(self, lines: list[str], k: int = 1) -> list[list[tuple[str, float]]]:
        """Top ``k`` (label, probability) per line, best first, as fastText's ``predict(line, k, 0.0)``
        (labels under ~1e-5 are not returned; a line without input rows gets [])."""
        labels, probabilities = self.top_labels(lines, k)
        return [
            [(self.labels[j], p) for j, p in zip(row, chances) if j >= 0]
            for row, chances in zip(labels.tolist(), probabilities.tolist())
        ]

    def top_labels(self, lines: list[str], k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``predict`` as arrays (lines x k): label numbers (-1: none) and probabilities (0: none)."""
        if not lines:
            return np.zeros((0, k), dtype=np.int64), np.zeros((0, k))
        text = "\n".join(lines) + "\n"
        if text.count("\n") != len(lines) or LABEL_PREFIX in text or EOS in text:
            text = "\n".join(map(_as_fasttext_reads, lines)) + "\n"
        raw, starts, ends = _tokens_of(text)
        line_of = np.searchsorted(np.flatnonzero(raw == 10), starts)  # newlines before each token
        slots = self._token_slots(raw, starts, ends)
        # each line's token row sums added up in token order, read straight from the cache
        pointers = np.zeros(len(lines) + 1, dtype=np.int64)
        np.cumsum(np.bincount(line_of, minlength=len(lines)), out=pointers[1:])
        hidden = _segment_sums(self._token_sums, slots, pointers)
        counted = np.concatenate(([0], np.cumsum(self._token_counts[slots])))
        rows = counted[pointers[1:]] - counted[pointers[:-1]]
        hidden += self._eos[0]
        rows += self._eos[1]
        scores = self._leaf_scores(hidden / np.maximum(rows, 1)[:, None])
        scores[:, rows == 0] = -np.inf
        return _top_k(scores, k)

    # --- tokens -> summed input rows (cached) -------------------------------------------------

    def _token_slots(self, raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Where each token occurrence's row sum and row count are cached; the tokens met for the
        first time are computed together and cached (by a 64-bit key of their bytes)."""
        keys = _span_keys(raw, starts, ends)
        slot = self._cached_slots(keys)
        unknown = np.flatnonzero(slot < 0)
        if len(unknown):
            new_keys, first, inverse = np.unique(keys[unknown], return_index=True, return_inverse=True)
            if self._used and self._used + len(new_keys) > self.cache_tokens:  # bounded memory: start afresh
                self._clear_cache()
                return self._token_slots(raw, starts, ends)
            sums, counts = self._new_tokens(raw, starts[unknown[first]], ends[unknown[first]], new_keys)
            slots = self._store(sums, counts)
            slot[unknown] = slots[inverse]
            self._add_sorted(new_keys, slots)
            self._remember(new_keys, slots)
        return slot

    def _cached_slots(self, keys: np.ndarray) -> np.ndarray:
        """Where each token's row sum is cached (-1: not cached). Most tokens of a batch were met
        lately: one probe of the direct-mapped table finds them; the rest take a binary search of
        the sorted keys (~17 scattered reads each, most of the lookup's cost when all took it)."""
        entry = (keys & np.uint64(_RECENT_TOKENS - 1)).astype(np.intp)
        slot = np.where(self._recent_keys[entry] == keys, self._recent_slots[entry], -1)
        missed = np.flatnonzero(slot < 0)
        for sorted_keys, sorted_slots in ((self._keys, self._slots), (self._fresh_keys, self._fresh_slots)):
            if len(missed) and len(sorted_keys):
                at = np.minimum(np.searchsorted(sorted_keys, keys[missed]), len(sorted_keys) - 1)
                hit = sorted_keys[at] == keys[missed]
                found = missed[hit]
                slot[found] = sorted_slots[at[hit]]
                self._remember(keys[found], slot[found])
                missed = missed[~hit]
        return slot

    def _add_sorted(self, keys: np.ndarray, slots: np.ndarray) -> None:
        """Add tokens (``keys`` sorted, none cached yet) to the small sorted array; once it holds a
        sixteenth of the bulk, merge it in (a few full copies in all, however many batches)."""
        where = np.searchsorted(self._fresh_keys, keys)
        self._fresh_keys, self._fresh_slots = np.insert(self._fresh_keys, where, keys), np.insert(self._fresh_slots, where, slots)
        if len(self._fresh_keys) > max(4096, len(self._keys) // 16):
            where = np.searchsorted(self._keys, self._fresh_keys)
            self._keys, self._slots = np.insert(self._keys, where, self._fresh_keys), np.insert(self._slots, where, self._fresh_slots)
            self._fresh_keys, self._fresh_slots = self._fresh_keys[:0], self._fresh_slots[:0]

    def _remember(self, keys: np.ndarray, slots: np.ndarray) -> None:
        """Put tokens in the direct-mapped table, each in its entry (one per entry when several share it)."""
        entries, first = np.unique((keys & np.uint64(_RECENT_TOKENS - 1)).astype(np.intp), return_index=True)
        self._recent_keys[entries], self._recent_slots[entries] = keys[first], slots[first]

    def _store(self, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Append to the cache's row sums (capacity doubled as needed); their slots."""
        end = self._used + len(counts)
        if end > len(self._token_counts):
            size = max(end, min(2 * len(self._token_counts), self.cache_tokens), 4096)  # at most cache_tokens rows
            grown_sums, grown_counts = np.zeros((size, self.dim)), np.zeros(size, dtype=np.int64)
            grown_sums[: self._used], grown_counts[: self._used] = self._token_sums[: self._used], self._token_counts[: self._used]
            self._token_sums, self._token_counts = grown_sums, grown_counts
        self._token_sums[self._used : end], self._token_counts[self._used : end] = sums, counts
        slots = np.arange(self._used, end)
        self._used = end
        return slots

    def _new_tokens(self, raw: np.ndarray, starts: np.ndarray, ends: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sum and number of input rows of each token, as fastText's ``getLine`` collects them: its
        vocabulary row if it has one, and the rows of its character n-grams the pruned model kept.
        (``_segment_sums``: the n-gram rows of each token, summed in order.)"""
        sums = np.zeros((len(keys), self.dim))
        counts = np.zeros(len(keys), dtype=np.int64)
        if self.maxn > 0 and len(keys):
            owners, rows = self._ngram_rows(*_bracketed(raw, starts, ends))
            per_token = np.bincount(owners, minlength=len(keys))
            pointers = np.concatenate(([0], np.cumsum(per_token)))
            sums = _segment_sums(self.inputs, rows, pointers)
            counts = per_token
        at = np.minimum(np.searchsorted(self._vocab_keys, keys), len(self._vocab_keys) - 1)
        in_vocab = np.flatnonzero(self._vocab_keys[at] == keys)
        sums[in_vocab] += self.inputs[self._vocab_ids[at[in_vocab]]]
        counts[in_vocab] += 1
        return sums, counts

    def _ngram_rows(self, raw: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(token number, input row) of every ``minn``..``maxn``-character n-gram of each ``<token>``
        (``raw``: their UTF-8 bytes, one after the other, ``lengths`` bytes each) that the model has,
        token by token: FNV-1a over the bytes (each sign-extended, as fastText's int8 cast does),
        modulo ``bucket``, through the pruned model's index."""
        first = np.flatnonzero((raw & 0xC0) != 0x80)  # each character's first byte
        size = np.diff(np.append(first, len(raw)))
        signed = raw.astype(np.int8).astype(np.int32).view(np.uint32)
        owner = np.repeat(np.arange(len(lengths)), lengths)[first]
        room = np.cumsum(np.bincount(owner, minlength=len(lengths)))[owner] - np.arange(len(first))  # characters left in the token
        lead = signed[first]  # each character's first byte, as fastText hashes it
        wide = np.flatnonzero(size > 1)  # characters of more than one byte
        # h[s]: the hash of the n characters from character s on, for every s at once; an n-gram that
        # runs past its token is hashed too (cheaper than dropping it) and left out below
        h = np.full(len(first), _FNV_OFFSET, dtype=np.uint32)
        owners, rows = [], []
        for n in range(1, self.maxn + 1):
            h = (h[: len(first) - n + 1] ^ lead[n - 1 :]) * _FNV_PRIME  # append character s + n - 1
            appended = wide[wide >= n - 1]  # ... its other bytes, where it has more
            for j in range(1, 4):
                appended = appended[size[appended] > j]
                if not len(appended):
                    break
                at = appended - (n - 1)
                h[at] = (h[at] ^ signed[first[appended] + j]) * _FNV_PRIME
            if n >= self.minn:
                whole = np.flatnonzero(room[: len(h)] >= n)  # n-grams inside their token
                found = self._bucket_rows(h[whole] % np.uint32(self.bucket))
                kept = found >= 0
                owners.append(owner[whole[kept]])
                rows.append(found[kept])
        owners_all = np.concatenate(owners)
        order = np.argsort(owners_all, kind="stable")  # each token's n-grams together, in a fixed order
        return owners_all[order], np.concatenate(rows)[order]

    def _bucket_rows(self, buckets: np.ndarray) -> np.ndarray:
        """Input row of each n-gram bucket; -1 where the pruned model dropped it."""
        if self.bucket_rows is None:
            return self.nwords + buckets
        rows = self.bucket_rows[buckets].astype(np.int32)
        rows[rows == self._no_row] = -1
        return rows

    def _leaf_scores(self, hidden: np.ndarray) -> np.ndarray:
        """Log-probability of every label (labels x lines): the sum of fastText's std_log terms down
        its Huffman path, level by level (each level's nodes in a block: one gather of their parents'
        scores, two additions). Each line's figures are computed in an order that does not depend
        on the other lines, so a line gets the same bits alone or in any batch."""
        f = np.einsum("nd,bd->nb", self.outputs, hidden)  # no BLAS: the same sums in any batch
        np.negative(f, out=f)
        np.exp(f, out=f)
        f += 1.0
        np.divide(1.0, f, out=f)  # the sigmoid of each inner node, in the plan's order
        go_left = np.subtract(1.0, f)
        go_left += _LOG_FLOOR
        np.log(go_left, out=go_left)
        f += _LOG_FLOOR
        go_right = np.log(f, out=f)
        scores = np.empty((self._tree.size, len(hidden)))
        for first, count, rows, start in self._tree.levels:
            parent = 0.0 if rows is None else scores[rows]
            np.add(parent, go_left[first : first + count], out=scores[start : start + count])
            np.add(parent, go_right[first : first + count], out=scores[start + count : start + 2 * count])
        return scores[self._tree.leaves]


_SEPARATOR = np.zeros(256, dtype=bool)
_SEPARATOR[[ord(c) for c in " \n\r\t\v\f\0"]] = True  # fastText's readWord splits on these bytes
_FASTTEXT_SPACE = re.compile("[ \n\r\t\v\f\0]+")
_KEY_BASE = np.uint64(0x100000001B3)
_KEY_BASE_INVERSE = np.uint64(pow(int(_KEY_BASE), -1, 2**64))
_KEY_POWERS, _KEY_INVERSE_POWERS = GrowingPowers(_KEY_BASE), GrowingPowers(_KEY_BASE_INVERSE)


def _tokens_of(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTF-8 bytes of ``text`` (a lone surrogate becomes "?") and the [start, end) byte span of each token."""
    raw = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    inside = ~_SEPARATOR[raw]
    edges = np.diff(inside.astype(np.int8), prepend=0, append=0)
    return raw, np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _span_keys(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit key per byte span: a polynomial hash (prefix sums of byte x base**-position, so no
    loop over tokens), then splitmix64 with the length mixed in."""
    if not len(raw):
        return np.zeros(len(starts), dtype=np.uint64)
    inverse = _KEY_INVERSE_POWERS(len(raw) + 1)
    prefix = np.zeros(len(raw) + 1, dtype=np.uint64)
    np.cumsum((raw.astype(np.uint64) + np.uint64(1)) * inverse[:-1], dtype=np.uint64, out=prefix[1:])
    forward = _KEY_POWERS(len(raw) + 1)
    spans = (prefix[ends] - prefix[starts]) * forward[ends - 1]  # sum of (byte + 1) x base**(end - 1 - position)
    return mix64(spans ^ mix64((ends - starts).astype(np.uint64)))


def _bracketed(raw: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of "<token>" for each span, one after the other, and their lengths."""
    lengths = ends - starts + 2
    out_start = np.cumsum(lengths) - lengths
    out = np.empty(int(lengths.sum()), dtype=np.uint8)
    offset = np.arange(len(out)) - np.repeat(out_start, lengths)  # position inside "<token>"
    source = np.repeat(starts - 1, lengths) + offset
    out[:] = raw[np.clip(source, 0, len(raw) - 1)]
    out[out_start] = ord("<")
    out[out_start + lengths - 1] = ord(">")
    return out, lengths


def _as_fasttext_reads(line: str) -> str:
    """A line as fastText's ``getLine`` uses it: its words up to a literal "</s>" (where fastText
    stops reading, as at a line break), without ``__label__`` tokens (labels, not input)."""
    words = _FASTTEXT_SPACE.split(line.split("\n", 1)[0])
    if EOS in words:
        words = words[: words.index(EOS)]
    return " ".join(w for w in words if w and not w.startswith(LABEL_PREFIX))


class _TreePlan(NamedTuple):
    """fastText's Huffman tree over the labels, laid out for ``_leaf_scores``: its inner nodes level
    by level from the root (``inner``: their numbers, which orders the output rows), per level the
    slice of those nodes and where their own scores are (None: the root, score 0), each level's
    children (left ones, then right ones) in a block of their own, and where each label ends up."""

    inner: np.ndarray
    levels: list[tuple[int, int, np.ndarray | None, int]]  # (first inner node, how many, their scores' rows, block start)
    size: int  # rows of all the blocks
    leaves: np.ndarray  # label -> row of its score


def _tree_plan(counts: list[int]) -> _TreePlan:
    """The plan of fastText's Huffman tree over the label counts (its exact construction)."""
    n = len(counts)
    count = [*counts, *([10**15] * (n - 1))]
    left, right = [-1] * (2 * n - 1), [-1] * (2 * n - 1)
    leaf, node = n - 1, n
    for i in range(n, 2 * n - 1):
        pair = []
        for _ in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                pair.append(leaf)
                leaf -= 1
            else:
                pair.append(node)
                node += 1
        left[i], right[i] = pair
        count[i] = count[pair[0]] + count[pair[1]]
    inner: list[int] = []
    levels: list[tuple[int, int, np.ndarray | None, int]] = []
    row_of: dict[int, int] = {}
    leaves = np.zeros(n, dtype=np.intp)
    parents, size = ([2 * n - 2] if n > 1 else []), 0
    while parents:
        rows = np.array([row_of[p] for p in parents], dtype=np.intp) if levels else None
        levels.append((len(inner), len(parents), rows, size))
        inner += parents
        for i, child in enumerate([left[p] for p in parents] + [right[p] for p in parents]):
            row_of[child] = size + i
            if child < n:
                leaves[child] = size + i
        size += 2 * len(parents)
        parents = [c for p in parents for c in (left[p], right[p]) if c >= n]
    return _TreePlan(np.array(inner, dtype=np.intp), levels, size, leaves)


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` labels per line (``scores``: labels x lines), best first (ties: the more frequent
    label first), without those under fastText's floor (its search stops at log(1e-5))."""
    scores = np.ascontiguousarray(scores.T)  # lines x labels
    rows = np.arange(len(scores))
    picked, values = [], []
    for _ in range(min(k, scores.shape[1])):
        best = scores.argmax(axis=1)
        picked.append(best)
        values.append(scores[rows, best])
        scores[rows, best] = -np.inf
    labels, best = np.array(picked).T.reshape(len(rows), -1), np.array(values).T.reshape(len(rows), -1)
    below = best < np.log(_LOG_FLOOR)
    labels[below] = -1
    return labels, np.where(below, 0.0, np.exp(best))


def _segment_sums(matrix: np.ndarray, rows: np.ndarray, pointers: np.ndarray) -> np.ndarray:
    """Row i: the sum of ``matrix[rows[pointers[i]:pointers[i + 1]]]`` (zeros for none), added
    from zero in order - the same bits as the product of a 0/1 sparse matrix with ``matrix``, as
    this module computed it before, without importing scipy (~0.15 s of every start-up; ~0.02 s
    slower over 10,000 documents). Step k adds the k-th row of every segment longer than k to its
    sum (segments longest first, so those are a prefix); the rows of all steps are gathered at once.
    (``np.add.reduceat`` adds long segments in another order: other low bits.)"""
    lengths = np.diff(pointers)
    order = np.argsort(-lengths, kind="stable")
    starts = pointers[:-1].take(order)
    going = np.searchsorted(-lengths.take(order), -np.arange(int(lengths.max(initial=0))), side="left")  # per step k: segments longer than k
    step = np.repeat(np.arange(len(going)), going)
    rank = np.arange(len(step)) - np.repeat(np.cumsum(going) - going, going)  # which segment, longest first
    gathered = matrix.take(rows.take(starts.take(rank) + step), axis=0)
    sums = np.zeros((len(lengths), matrix.shape[1]))
    offset = 0
    for count in going.tolist():
        sums[:count] += gathered[offset : offset + count]
        offset += count
    out = np.empty_like(sums)
    out[order] = sums
    return out
