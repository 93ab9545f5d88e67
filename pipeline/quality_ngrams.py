"""Gopher's repeated n-gram measures for a whole batch of token sequences, in numpy.

The quality stage's ``max_top_ngram_char_ratio`` and ``max_dup_ngram_char_ratio`` read these values;
a single token list is a batch of one (``ngram_ratios``).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .arrays import mix64

_HASH_BASE = np.uint64(1_000_003)
_FIRST_KEY = np.uint64(0x9E3779B97F4A7C15 * 1_000_003 % 2**64)  # a 1-gram's key: document x this + token
_SPREAD_BITS = 3  # ``_shared_buckets``: about 2**this buckets per candidate
_BUCKET_BITS = (10, 20)  # the first pass's buckets: 2-4 per token within these bounds (a table that stays in cache)


def _ngram_groups(keys: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate positions grouped by key, each group in text order (its first occurrence first):
    the positions, the group-start flags, group starts and group sizes.

    One plain sort of the keys with the position in their low bits (several times faster than a
    stable argsort). Two keys that differ only in those bits would share a group: that is checked
    (it does not happen in practice), and then the exact key order is taken instead."""
    bits = np.uint64(len(keys).bit_length())
    low = (np.uint64(1) << bits) - np.uint64(1)
    candidate_keys = keys[candidates]
    packed = (candidate_keys & ~low) | candidates.astype(np.uint64)
    packed.sort()
    positions = (packed & low).view(np.int64)
    new_group = np.empty(len(positions), dtype=bool)
    new_group[0] = True
    np.greater(packed[1:] ^ packed[:-1], low, out=new_group[1:])  # the high bits differ
    sorted_keys = keys[positions]
    if (sorted_keys[1:] != sorted_keys[:-1])[~new_group[1:]].any():
        positions = candidates[np.lexsort((candidates, candidate_keys))]
        sorted_keys = keys[positions]
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new_group[1:])
    group_starts = new_group.nonzero()[0]
    counts = np.diff(np.append(group_starts, len(positions)))
    return positions, new_group, group_starts, counts


def _shared_buckets(keys: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The candidates whose key shares its hash bucket with another candidate's (a superset of those
    whose key repeats; a table of a few buckets per candidate, which stays in cache): most n-grams
    occur once, and the sort in ``_ngram_groups`` then sees only the rest."""
    bits = min(max(int(len(candidates)).bit_length() + _SPREAD_BITS, 4), _BUCKET_BITS[1] + 2)  # (<= 32 MB)
    bucket = (keys[candidates] >> np.uint64(64 - bits)).view(np.int64)
    return candidates[np.bincount(bucket, minlength=1 << bits)[bucket] > 1]


def _most_frequent(out: np.ndarray, count: np.ndarray, chars: np.ndarray, group_doc: np.ndarray, totals: np.ndarray) -> None:
    """Per document of the repeated n-grams (``count`` occurrences of ``chars`` characters each, in
    ``group_doc``): the share of its characters covered by its most frequent one (the most characters
    among those as frequent), written to ``out``. Count and characters packed into one int64, so
    one ``np.maximum.at`` finds it."""
    if not len(count):
        return
    if chars.max() >= 1 << 32 or count.max() >= 1 << 31:  # (never in practice: an n-gram of 4G characters)
        order = np.lexsort((chars, count, group_doc))
        last = np.append(group_doc[order][1:] != group_doc[order][:-1], True)
        best = order[last]
        out[group_doc[best]] = count[best] * chars[best] / totals[group_doc[best]]
        return
    packed = np.zeros(len(out), dtype=np.int64)
    np.maximum.at(packed, group_doc, (count.astype(np.int64) << 32) | chars)
    docs = np.flatnonzero(packed)
    out[docs] = (packed[docs] >> 32) * (packed[docs] & 0xFFFFFFFF) / totals[docs]


def ngram_ratios_batch(
    ids: np.ndarray, lengths: np.ndarray, offsets: np.ndarray, top_ns: Iterable[int], dup_ns: Iterable[int],
    dup_enough: np.ndarray | None = None,
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Gopher's repetition measures over token n-grams for a batch of documents at once.

    ``ids`` are 64-bit token keys (equal tokens, equal keys), ``lengths`` their characters and
    document d owns tokens ``offsets[d]:offsets[d+1]``. Per document:
    top[n]: share of characters covered by the most frequent n-gram (all its occurrences; 0 when
    no n-gram repeats); dup[n]: share of characters inside n-grams that repeat an earlier occurrence.

    One pass per n = 1, 2, ... with a 64-bit polynomial key per n-gram (the key of an n-gram extends
    its (n-1)-gram prefix's key and wraps on overflow by design; the first token's key is mixed with
    its document number, so n-grams of different documents never match). Only n-grams whose (n-1)-gram
    prefix and suffix both repeat can repeat, so each pass groups just those candidates
    (``_ngram_groups``: the first member of each group is its first occurrence, the others are
    repeats), and the passes stop once nothing repeats anywhere in the batch.

    ``dup_enough`` (per document, or None): once every top size is done and a document's dup[n] is
    at or below this, its later dup values are left at 0 and its positions leave the later passes.
    They could only be lower: a repeat of an n-gram makes the two (n-1)-grams inside it repeats, so
    the characters in repeated n-grams never grow with n. (The quality stage passes the smallest
    dup limit of each document's language when it wants flags only, not every value.)
    """
    top_ns, dup_ns = sorted(set(top_ns)), sorted(set(dup_ns))
    docs = len(offsets) - 1
    top = {n: np.zeros(docs) for n in top_ns}
    dup = {n: np.zeros(docs) for n in dup_ns}
    size = len(ids)
    if not size or not (top_ns or dup_ns):
        return top, dup
    doc_of = np.repeat(np.arange(docs), np.diff(offsets))
    cumulative = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(lengths, out=cumulative[1:])
    totals = (cumulative[offsets[1:]] - cumulative[offsets[:-1]]).astype(np.float64)  # characters per document
    totals[totals == 0] = 1
    keys = (np.arange(docs, dtype=np.uint64) * _FIRST_KEY)[doc_of]
    keys += ids  # every position's 1-gram; later valid at the candidates only
    if 1 in top or 1 in dup:
        first_n, candidates = 1, np.arange(size)
    else:
        # only which tokens may repeat matters: a superset from hash buckets is enough (every pass
        # groups by exact keys), and it saves sorting every token of the batch
        bits = min(max(size.bit_length() + 1, _BUCKET_BITS[0]), _BUCKET_BITS[1])
        bucket = (keys >> np.uint64(64 - bits)).view(np.int64)
        may_repeat = np.bincount(bucket, minlength=1 << bits)[bucket] > 1
        pairs = may_repeat[:-1] & may_repeat[1:]
        inner = offsets[1:-1]
        pairs[inner[(inner > 0) & (inner < size)] - 1] = False  # a 2-gram stays inside its document
        first_n, candidates = 2, np.flatnonzero(pairs)
    mark = np.zeros(size + 1, dtype=bool)  # scratch, all False between passes
    last_top = max(top_ns, default=0)
    for n in range(first_n, max(top_ns + dup_ns) + 1):
        if len(candidates) < 2:
            break  # nothing repeats, so no longer n-gram does either
        if n > 1:
            keys[candidates] = keys[candidates] * _HASH_BASE + ids[candidates + (n - 1)]
        candidates = _shared_buckets(keys, candidates)
        if len(candidates) < 2:
            break
        positions, new_group, group_starts, counts = _ngram_groups(keys, candidates)
        if len(group_starts) == len(positions):
            break
        if n in top:
            several = counts > 1
            first = positions[group_starts[several]]
            _most_frequent(top[n], counts[several], cumulative[first + n] - cumulative[first], doc_of[first], totals)
        if n in dup:
            # characters in the union of the repeats [s, s + n): sorted by start, each adds what lies
            # past the previous one's end (all have the same length, and none crosses a document end)
            starts = np.sort(positions[~new_group])
            ends = starts + n
            begin = starts.copy()
            np.maximum(starts[1:], ends[:-1], out=begin[1:])
            covered = cumulative[ends] - cumulative[begin]
            dup[n] = np.bincount(doc_of[starts], weights=covered, minlength=docs) / totals
        # the (n+1)-gram at i can repeat only if the n-grams at i and i + 1 do, inside one document
        repeated = positions[np.repeat(counts > 1, counts)]
        mark[repeated] = True
        candidates = repeated[mark[repeated + 1]]
        mark[repeated] = False
        candidates = candidates[doc_of[candidates + n] == doc_of[candidates]]
        if dup_enough is not None and n in dup and n >= last_top:
            candidates = candidates[dup[n][doc_of[candidates]] > dup_enough[doc_of[candidates]]]
    return top, dup


def unit_ids(units: list[str]) -> np.ndarray:
    """An id per unit (token or character unit) for ``ngram_ratios_batch``: the position of its
    first occurrence, spread by ``mix64`` (equal units, equal ids; no hashing of the strings)."""
    first_seen: dict[str, int] = {}
    return mix64(np.fromiter(map(first_seen.setdefault, units, range(len(units))), dtype=np.uint64, count=len(units)))


def ngram_ratios(tokens: list[str], top_ns: list[int], dup_ns: list[int]) -> tuple[dict[int, float], dict[int, float]]:
    """``ngram_ratios_batch`` for one list of tokens."""
    ids = unit_ids(tokens)
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    top, dup = ngram_ratios_batch(ids, lengths, np.array([0, len(tokens)]), top_ns, dup_ns)
    return {n: float(top[n][0]) for n in top_ns}, {n: float(dup[n][0]) for n in dup_ns}

