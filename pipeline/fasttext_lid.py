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

import struct
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

EOS = "</s>"
LABEL_PREFIX = "__label__"
_MAGIC, _VERSION = 793712314, 12
_HS_LOSS, _SUPERVISED = 1, 3
_FNV_OFFSET, _FNV_PRIME = np.uint32(2166136261), np.uint32(16777619)
_LOG_FLOOR = 1e-5  # fastText's std_log(x) = log(x + 1e-5)


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

    def cstring(self) -> bytes:
        end = self.data.index(b"\0", self.offset)
        value, self.offset = self.data[self.offset : end], end + 1
        return value


def _product_quantizer(r: _Reader) -> tuple[np.ndarray, int, int, int]:
    dim, nsubq, dsub, lastdsub = r.take("iiii")
    return r.array(np.float32, dim * 256), nsubq, dsub, lastdsub


def _dequantize(codes: np.ndarray, pq: tuple[np.ndarray, int, int, int], norms: np.ndarray | None) -> np.ndarray:
    """Rows of a product-quantised matrix as float32, each term ``norm * centroid`` as fastText adds it."""
    centroids, nsubq, dsub, lastdsub = pq
    codes = codes.reshape(-1, nsubq).astype(np.int64)
    parts = []
    for m in range(nsubq):
        width = lastdsub if m == nsubq - 1 else dsub
        table = centroids[m * 256 * dsub : m * 256 * dsub + 256 * width].reshape(256, width)
        parts.append(table[codes[:, m]])
    rows = np.concatenate(parts, axis=1)
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
        words: dict[str, int] = {}
        labels: list[str] = []
        counts: list[int] = []
        for i in range(size):
            token = r.cstring().decode("utf-8", "replace")
            count, kind = r.take("qb")
            if kind == 0:
                words[token] = i
            else:
                labels.append(token)
                counts.append(count)
        if len(words) != nwords or len(labels) != nlabels:
            raise ValueError(f"{path}: dictionary sizes do not match its header")
        pruned = r.array(np.int32, 2 * max(pruneidx_size, 0)).reshape(-1, 2)
        (quant_input,) = r.take("?")
        inputs = _matrix(r, quant_input)
        (qout,) = r.take("?")
        outputs = _matrix(r, quant_input and qout)
        self.dim, self.bucket, self.minn, self.maxn, self.nwords = dim, bucket, minn, maxn, nwords
        self.words, self.labels = words, labels
        self.bucket_rows = None  # n-gram bucket -> input row (-1: pruned away); None: not pruned
        if pruneidx_size >= 0:
            small = len(inputs) < 2**16  # lid.176.ftz: 50,000 rows, a 4 MB table that stays in cache
            self.bucket_rows = np.full(bucket, 2**16 - 1 if small else -1, dtype=np.uint16 if small else np.int32)
            self.bucket_rows[pruned[:, 0]] = nwords + pruned[:, 1]
            self._no_row = 2**16 - 1 if small else -1
        self.inputs = inputs.astype(np.float64)
        self.outputs = outputs[: nlabels - 1].astype(np.float64)  # one row per inner node of the tree
        self._levels = _tree_levels(counts)
        self.cache_tokens = cache_tokens
        self._token_index: dict[str, int] = {}
        self._token_sums = np.zeros((1024, dim), dtype=np.float64)
        self._token_counts = np.zeros(1024, dtype=np.int64)

    # --- tokens -> summed input rows (cached) -------------------------------------------------

    def _token_ids(self, tokens: list[str]) -> list[int]:
        """Index of each token's (row sum, row count) in the cache, computing the new ones together."""
        index = self._token_index
        found = list(map(index.get, tokens))
        if None in found:
            new = sorted(set(tokens).difference(index))
            if len(index) + len(new) > self.cache_tokens:  # bounded memory: start afresh
                index.clear()
            sums, counts = self._token_rows(new)
            start = len(index)
            self._reserve(start + len(new))
            self._token_sums[start : start + len(new)] = sums
            self._token_counts[start : start + len(new)] = counts
            index.update(zip(new, range(start, start + len(new))))
            found = list(map(index.__getitem__, tokens))
        return found

    def _reserve(self, rows: int) -> None:
        if rows > len(self._token_counts):
            size = max(rows, 2 * len(self._token_counts))
            sums, counts = np.zeros((size, self.dim)), np.zeros(size, dtype=np.int64)
            sums[: len(self._token_counts)], counts[: len(self._token_counts)] = self._token_sums, self._token_counts
            self._token_sums, self._token_counts = sums, counts

    def _token_rows(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Sum and number of input rows of each token, as fastText's ``getLine`` collects them: its
        vocabulary row if it has one, and the rows of its character n-grams the pruned model kept
        ("</s>": its row only; a ``__label__`` token: nothing). A sparse (token x row) product sums
        them without copying a row per n-gram, each token's rows in a fixed order."""
        sums = np.zeros((len(tokens), self.dim))
        counts = np.zeros(len(tokens), dtype=np.int64)
        joined = "<" + "><".join(tokens) + ">"
        if EOS in tokens or "<" + LABEL_PREFIX in joined:
            subword = [i for i, t in enumerate(tokens) if t != EOS and not t.startswith(LABEL_PREFIX)]
            joined = "<" + "><".join(tokens[i] for i in subword) + ">"
        else:
            subword = list(range(len(tokens)))
        if self.maxn > 0 and subword:
            owners, rows = self._ngram_rows(joined, [tokens[i] for i in subword])
            order = np.argsort(owners, kind="stable")
            per_token = np.bincount(owners, minlength=len(subword))
            pointers = np.concatenate(([0], np.cumsum(per_token)))
            incidence = csr_matrix((np.ones(len(rows)), rows[order], pointers), shape=(len(subword), len(self.inputs)))
            sums[subword] = incidence @ self.inputs
            counts[subword] = per_token
        word_ids = np.array(list(map(self.words.get, tokens, [-1] * len(tokens))), dtype=np.int64)
        in_vocab = np.flatnonzero(word_ids >= 0)
        sums[in_vocab] += self.inputs[word_ids[in_vocab]]
        counts[in_vocab] += 1
        return sums, counts

    def _ngram_rows(self, joined: str, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(token number, input row) of every ``minn``..``maxn``-character n-gram of each ``<token>``
        (``joined``: these, one after the other) that the model has: FNV-1a over the UTF-8 bytes (each
        byte sign-extended, as fastText's int8 cast does), modulo ``bucket``, through the pruned
        model's index."""
        raw = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        first = np.flatnonzero((raw & 0xC0) != 0x80)  # each character's first byte
        size = np.diff(np.append(first, len(raw)))
        signed = raw.astype(np.int8).astype(np.int32).view(np.uint32)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens)) + 2
        owner = np.repeat(np.arange(len(tokens)), lengths)
        room = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(first))  # characters left in the token from here
        start = np.arange(len(first))
        h = np.full(len(first), _FNV_OFFSET, dtype=np.uint32)
        owners, buckets = [], []
        for n in range(1, self.maxn + 1):
            if n > 1:  # only the starts with n characters left
                keep = room[start] >= n
                start, h = start[keep], h[keep]
            at = first[start + n - 1]  # first byte of the character this step appends
            h = (h ^ signed[at]) * _FNV_PRIME
            more = np.flatnonzero(size[start + n - 1] > 1)
            for j in range(1, 4):
                if not len(more):
                    break
                h[more] = (h[more] ^ signed[at[more] + j]) * _FNV_PRIME
                more = more[size[start[more] + n - 1] > j + 1]
            if n >= self.minn:
                owners.append(owner[start])
                buckets.append((h % np.uint32(self.bucket)).astype(np.int64))
        owners_all, rows = np.concatenate(owners), self._bucket_rows(np.concatenate(buckets))
        kept = rows >= 0
        return owners_all[kept], rows[kept]

    def _bucket_rows(self, buckets: np.ndarray) -> np.ndarray:
        """Input row of each n-gram bucket; -1 where the pruned model dropped it."""
        if self.bucket_rows is None:
            return self.nwords + buckets
        rows = self.bucket_rows[buckets].astype(np.int64)
        rows[rows == self._no_row] = -1
        return rows

    # --- lines -> labels ----------------------------------------------------------------------

    def predict(self, lines: list[str], k: int = 1) -> list[list[tuple[str, float]]]:
        """Top ``k`` (label, probability) per line, best first, as fastText's ``predict(line, k, 0.0)``
        (labels under ~1e-5 are not returned; a line without input rows gets [])."""
        if not lines:
            return []
        tokens: list[str] = []
        ends = np.empty(len(lines), dtype=np.int64)
        for i, line in enumerate(lines):
            tokens += line.replace("\0", " ").split()
            tokens.append(EOS)
            ends[i] = len(tokens)
        flat = np.array(self._token_ids(tokens), dtype=np.int64)
        starts = np.concatenate(([0], ends[:-1]))
        sums = np.add.reduceat(self._token_sums[flat], starts, axis=0)
        counts = np.add.reduceat(self._token_counts[flat], starts)
        hidden = sums / np.maximum(counts, 1)[:, None]
        scores = self._leaf_scores(hidden)
        scores[:, counts == 0] = -np.inf
        return _top_k(scores, k, self.labels)

    def _leaf_scores(self, hidden: np.ndarray) -> np.ndarray:
        """Log-probability of every label (labels x lines): the sum of fastText's std_log terms down
        its Huffman path, level by level. Each line's figures are computed in an order that does not
        depend on the other lines, so a line gets the same bits alone or in any batch."""
        nlabels = len(self.labels)
        dot = np.zeros((len(self.outputs), len(hidden)))
        for d in range(self.dim):
            dot += self.outputs[:, d : d + 1] * hidden[:, d]
        f = 1.0 / (1.0 + np.exp(-dot))
        go_left, go_right = np.log(1.0 - f + _LOG_FLOOR), np.log(f + _LOG_FLOOR)
        scores = np.zeros((2 * nlabels - 1, len(hidden)))
        for parents, lefts, rights in self._levels:
            above = scores[parents]
            scores[lefts] = above + go_left[parents - nlabels]
            scores[rights] = above + go_right[parents - nlabels]
        return scores[:nlabels]


def _tree_levels(counts: list[int]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """fastText's Huffman tree over the label counts (its exact construction), as (parents, left
    children, right children) per depth, root first."""
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
    levels, frontier = [], [2 * n - 2]
    while frontier:
        parents = [p for p in frontier if left[p] >= 0]
        if not parents:
            break
        levels.append((np.array(parents), np.array([left[p] for p in parents]), np.array([right[p] for p in parents])))
        frontier = [c for p in parents for c in (left[p], right[p])]
    return levels


def _top_k(scores: np.ndarray, k: int, labels: list[str]) -> list[list[tuple[str, float]]]:
    """Best ``k`` labels per line (``scores``: labels x lines), best first (ties: the more frequent
    label first), without those under fastText's floor (its search stops at log(1e-5))."""
    columns = np.arange(scores.shape[1])
    picked, values = [], []
    for _ in range(min(k, len(scores))):
        best = scores.argmax(axis=0)
        picked.append(best)
        values.append(scores[best, columns])
        scores[best, columns] = -np.inf
    order, best = np.array(picked).T.tolist(), np.array(values).T
    floor = np.log(_LOG_FLOOR)
    probabilities = np.exp(best).tolist()
    return [
        [(labels[j], p) for j, p, s in zip(row, prob, top) if s >= floor]
        for row, prob, top in zip(order, probabilities, best.tolist())
    ]
