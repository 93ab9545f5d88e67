"""Whitespace tokens of a batch of texts, and what the quality rules count on them, in numpy.

``tokenize_batch`` makes one pass over the code points of all the batch's texts: token and line
bounds from a per-code-point class table (``char_classes``), token and stripped-line keys from
polynomial prefix hashes, Gopher's word figures, and which texts are in a script written without
spaces. ``symbol_counts``, ``lorem_counts`` and the stopword counts read the same arrays.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import regex

from .arrays import GrowingPowers, HashedSet, code_points, concatenated_ranges, every_code_point, mix64
from .disk_cache import remembered_table
from .lexicons import stopwords as broad_stopwords

_DATA = Path(__file__).resolve().parent / "data" / "quality"
_NO_SPACE_SCRIPT = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
_SCRIPT_SAMPLE = 5000
# char mode units: one no-space-script character with its combining marks (Thai vowel and tone
# marks), or a run of other letters/digits ("G20", "APEC")
_CHAR_UNIT = regex.compile(rf"[[{_NO_SPACE_SCRIPT}]--\p{{M}}]\p{{M}}*|[[\p{{L}}\p{{N}}]--[{_NO_SPACE_SCRIPT}]]+", regex.V1)
_PUNCT_OR_SYMBOL = regex.compile(r"[\p{P}\p{S}]+")
_LOREM = regex.compile(r"lorem ipsum", regex.IGNORECASE)
_STOPWORD_PROBES = (160, 1600)  # characters


@lru_cache(maxsize=None)
def stopword_list(lang: str) -> frozenset[str]:
    """A tight list from ``pipeline/data/quality/stopwords.json``, else stopwordsiso's list."""
    tight = json.loads((_DATA / "stopwords.json").read_text(encoding="utf-8"))
    if lang in tight and not lang.startswith("_"):
        return frozenset(w.casefold() for w in tight[lang])  # [] = the rule does not apply
    return broad_stopwords(lang)


_DOT, _ELLIPSIS_CHAR, _HASH = ord("."), ord("…"), ord("#")


# bits of char_classes(); the two rare ones are the highest, so ``classes >= _NO_SPACE`` finds them
# (_NOT_SPACE is bit 0, so ``classes & _NOT_SPACE`` viewed as bool is a valid mask); _NOT_LETTER: a
# token character that is not a letter (digits, punctuation, marks: few in most texts)
_NOT_SPACE, _SPACE, _REGEX_SPACE, _LETTER, _PUNCT_SYMBOL, _NOT_LETTER, _NO_SPACE, _SPLITS_DIFFER = 1, 2, 4, 8, 16, 32, 64, 128
_CLASS_BITS = 2  # the version of how the derived bits below are computed, in the disk cache's key
# (bit, regular-expression module, pattern) of the classes read off every code point
_CLASS_PATTERNS = ((_SPACE, "re", r"\s+"), (_REGEX_SPACE, "regex", r"\s+"), (_LETTER, "regex", r"\p{L}+"),
                   (_PUNCT_SYMBOL, "regex", r"[\p{P}\p{S}]+"), (_NO_SPACE, "regex", rf"[{_NO_SPACE_SCRIPT}]+"))


def _build_char_classes() -> np.ndarray:
    """The table of ``char_classes``, from the definitions (~0.1 s: a regex pass over every code point)."""
    everything = every_code_point()
    table = np.zeros(0x110000, dtype=np.uint8)
    for bit, module, pattern in _CLASS_PATTERNS:
        for run in {"re": re, "regex": regex}[module].finditer(pattern, everything):
            table[run.start() : run.end()] |= bit
    space, regex_space = (table & _SPACE) != 0, (table & _REGEX_SPACE) != 0
    table[~space] |= _NOT_SPACE
    table[(table & (_NOT_SPACE | _LETTER)) == _NOT_SPACE] |= _NOT_LETTER
    table[space != regex_space] |= _SPLITS_DIFFER
    return table


@lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """A byte of class bits per code point, from the same definitions the rules use: str.isspace
    (what ``str.split`` splits on, = stdlib ``re``'s ``\\s``), and the regex module's ``\\s``,
    ``\\p{L}`` and ``[\\p{P}\\p{S}]``, and the scripts written without spaces. Remembered on disk
    (``disk_cache.remembered_table``): a cron job cleaning two files does not pay the build each time."""
    derived = (_NOT_SPACE, _NOT_LETTER, _SPLITS_DIFFER, _CLASS_BITS)
    return remembered_table("quality-char-classes", (_CLASS_PATTERNS, derived), _build_char_classes)


def _regex_tokens_without_letter(classes: np.ndarray) -> int:
    """Tokens without a letter among the tokens the regex module's \\s delimits, in one text's
    class bits (for the rare texts where it and str.split disagree)."""
    inside = (classes & _REGEX_SPACE) == 0
    starts = inside.copy()
    starts[1:] &= ~inside[:-1]
    token = np.cumsum(starts)
    with_letter = np.unique(token[(classes & _LETTER) != 0]).size
    return int(token[-1]) - with_letter if len(token) else 0


# Token keys: a polynomial hash of the token's code points mod 2**64, computed for all tokens at once
# from prefix sums (H(token) = (P[end] - P[start]) * B**-start; B is odd, so invertible mod 2**64).
_POLY = 0x100000001B3
_POWERS = GrowingPowers(_POLY, minimum=1 << 16)  # B**i
_INVERSE_POWERS = GrowingPowers(pow(_POLY, -1, 2**64), minimum=1 << 16)  # B**-i


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    return _POWERS(n + 1), _INVERSE_POWERS(n + 1)




@dataclass
class BatchTokens:
    """Whitespace-delimited tokens of a batch of texts, from one numpy pass over their code points."""

    keys: np.ndarray  # uint64 per token: equal tokens, equal keys
    lengths: np.ndarray  # characters per token
    line: np.ndarray  # physical line of each token, numbered across the batch
    line_base: np.ndarray  # document d's lines are line_base[d]:line_base[d+1] (text.split("\n"))
    offsets: np.ndarray  # document d owns tokens offsets[d]:offsets[d+1]
    words: np.ndarray  # per document: Gopher's words (tokens with a character that is not punctuation)
    word_chars: np.ndarray  # per document: their characters that are not punctuation
    without_letter: np.ndarray  # per document: tokens without a letter
    char_mode: np.ndarray  # per document: ``is_char_mode``
    joined: str  # the texts joined by "\n" (so batch line l is ``joined.split("\n")[l]``)
    codes: np.ndarray  # its code points
    classes: np.ndarray  # their ``char_classes`` bits
    punct: np.ndarray  # where the punctuation and symbol characters are in ``joined``
    doc_starts: np.ndarray  # where each text starts in ``joined``
    starts: np.ndarray  # per token: its first character in ``joined``
    ends: np.ndarray  # ... and the end
    line_tokens: np.ndarray  # physical line l holds tokens line_tokens[l]:line_tokens[l+1]
    line_start: np.ndarray  # per physical line: where it starts in ``joined`` once stripped (0 if blank)
    line_end: np.ndarray  # ... and ends
    line_keys: np.ndarray  # uint64 per physical line: its stripped text's hash
    tokens_per_line: np.ndarray  # per physical line

    @property
    def doc(self) -> np.ndarray:
        """The document of each token."""
        return np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))

    def line_words(self, d: int) -> np.ndarray:
        """Tokens per physical line of document ``d`` (``text.split("\\n")``)."""
        return self.tokens_per_line[self.line_base[d] : self.line_base[d + 1]]


def _per_document(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sums of per-token ``values`` over each document's tokens ``offsets[d]:offsets[d+1]`` (one
    reduceat over the few document segments; an empty document's segment is 0)."""
    out = np.zeros(len(offsets) - 1, dtype=np.int64)
    filled = np.flatnonzero(offsets[1:] > offsets[:-1])
    if len(filled):
        out[filled] = np.add.reduceat(values, offsets[filled], dtype=np.int64)
    return out


def _span_keys(prefix: np.ndarray, inverse_powers: np.ndarray, bounds: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The key of each span ``bounds[2i]:bounds[2i+1]`` (in order, not overlapping; ``lengths``: the
    differences) of the text whose polynomial prefix sums are ``prefix``: its hash moved to position
    0, with its length mixed in. The prefix sums are read in one gather at the interleaved bounds,
    and B**-start is built up from the steps between starts (small powers, in cache) rather than
    gathered from the whole table."""
    at_bounds = prefix.take(bounds)
    keys = at_bounds[1::2] - at_bounds[0::2]
    steps = np.empty(len(lengths), dtype=np.int64)
    if len(steps):
        steps[0] = bounds[0]
        np.subtract(bounds[2::2], bounds[1:-1:2], out=steps[1:])  # start - previous end ...
        steps[1:] += lengths[:-1]  # ... + the previous length: start - previous start
    moved = inverse_powers.take(steps)
    np.multiply.accumulate(moved, out=moved)  # B**-starts[i]
    keys *= moved
    keys ^= lengths.view(np.uint64)
    return mix64(keys)


def tokenize_batch(texts: list[str]) -> BatchTokens:
    """One pass over the code points of the whole batch: token boundaries, keys and figures come from
    prefix sums over the full text (spaces add to them but never lie inside a token, so differences
    between a token's end and start see only its own characters)."""
    joined = "\n".join(texts)
    codes = code_points(joined)
    size = len(codes)
    wide = codes.astype(np.uint64)  # once: what the class lookup (as int64 indices) and the hash read
    classes = char_classes().take(wide.view(np.int64))
    docs = len(texts)
    text_lengths = np.fromiter(map(len, texts), dtype=np.int64, count=docs)
    doc_starts = np.zeros(docs, dtype=np.int64)
    np.cumsum(text_lengths[:-1] + 1, out=doc_starts[1:])
    doc_ends = doc_starts + text_lengths
    newlines = np.flatnonzero(codes == 10)
    line_base = np.append(np.searchsorted(newlines, doc_starts), len(newlines) + 1)  # newlines before each text
    not_space = np.zeros(size + 2, dtype=bool)  # padded with a space either side
    not_space[1:-1] = (classes & _NOT_SPACE).view(bool)
    bounds = np.flatnonzero(not_space[1:] != not_space[:-1])  # token starts and ends, alternating
    token_starts, ends = bounds[0::2], bounds[1::2]
    lengths = ends - token_starts
    # per character: how many tokens start at or before it (so a token character's token is this - 1)
    started = np.zeros(size, dtype=np.int32)
    started[token_starts] = 1
    np.cumsum(started, out=started)
    powers, inverse_powers = _powers(size)
    prefix = np.empty(size + 1, dtype=np.uint64)
    prefix[0] = 0
    np.multiply(wide, powers[:size], out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    keys = _span_keys(prefix, inverse_powers, bounds, lengths)
    # tokens per physical line: the tokens before each newline, differenced (newlines are few)
    tokens_before = np.concatenate(([0], started[newlines], [len(token_starts)]))
    tokens_per_line = np.diff(tokens_before)
    # each line stripped: from its first token's start to its last token's end; keyed like a token
    filled = np.flatnonzero(tokens_per_line)
    line_start, line_end = np.zeros(len(tokens_per_line), dtype=np.int64), np.zeros(len(tokens_per_line), dtype=np.int64)
    line_start[filled], line_end[filled] = token_starts[tokens_before[filled]], ends[tokens_before[filled + 1] - 1]
    line_keys = np.zeros(len(tokens_per_line), dtype=np.uint64)  # a blank line's: that of an empty span
    line_bounds = np.empty(2 * len(filled), dtype=np.int64)
    line_bounds[0::2], line_bounds[1::2] = line_start[filled], line_end[filled]
    line_keys[filled] = _span_keys(prefix, inverse_powers, line_bounds, line_end[filled] - line_start[filled])
    # the few characters of the top class bits (see ``_NO_SPACE``): token characters that are not
    # letters, scripts without spaces, odd separators - found in one pass, sorted out among themselves
    special = np.flatnonzero(classes >= _NOT_LETTER)
    special_classes = classes[special]
    # Gopher's word figures from the few token characters that are not letters: a token is a word
    # unless all its characters are punctuation, and has a letter unless none of them is one
    is_not_letter = (special_classes & _NOT_LETTER) != 0
    not_letter = special[is_not_letter]
    token_of = started[not_letter] - 1
    is_punct = (special_classes[is_not_letter] & _PUNCT_SYMBOL) != 0
    punct_chars = np.bincount(token_of[is_punct], minlength=len(lengths))
    global_line = np.repeat(np.arange(len(tokens_per_line), dtype=np.int32), tokens_per_line)
    offsets = tokens_before[line_base]
    words = _per_document(punct_chars < lengths, offsets)
    word_chars = _per_document(lengths - punct_chars, offsets)
    without_letter = _per_document(np.bincount(token_of, minlength=len(lengths)) == lengths, offsets)
    char_mode = np.zeros(docs, dtype=bool)
    rare = special[special_classes >= _NO_SPACE]  # rare characters: scripts without spaces, odd separators
    if len(rare):
        # is_char_mode on each document's first _SCRIPT_SAMPLE characters
        sample_end = np.minimum(doc_starts + _SCRIPT_SAMPLE, doc_ends)
        no_space = rare[(classes[rare] & _NO_SPACE) != 0]
        in_sample = np.searchsorted(no_space, sample_end) - np.searchsorted(no_space, doc_starts)
        for d in np.flatnonzero(in_sample):
            visible = np.count_nonzero(not_space[doc_starts[d] + 1 : sample_end[d] + 1])
            char_mode[d] = in_sample[d] * 2 > visible
        disagree = rare[(classes[rare] & _SPLITS_DIFFER) != 0]
        for d in np.unique(np.searchsorted(doc_starts, disagree, side="right") - 1):  # str.split and regex's \s differ
            without_letter[d] = _regex_tokens_without_letter(classes[doc_starts[d] : doc_ends[d]])
    return BatchTokens(
        keys=keys,
        lengths=lengths,
        line=global_line,
        line_base=line_base,
        offsets=offsets,
        words=words,
        word_chars=word_chars,
        without_letter=without_letter,
        tokens_per_line=tokens_per_line,
        char_mode=char_mode,
        joined=joined,
        codes=codes,
        classes=classes,
        punct=not_letter[is_punct],
        doc_starts=doc_starts,
        starts=token_starts,
        ends=ends,
        line_tokens=tokens_before,
        line_start=line_start,
        line_end=line_end,
        line_keys=line_keys,
    )


def stopword_candidates(tokens: BatchTokens, docs: np.ndarray, counts: np.ndarray) -> list[list[str]]:
    """Per document ``docs[i]``: ``_PUNCT_OR_SYMBOL.sub("", text).casefold().split()`` of the text
    of its first ``counts[i]`` tokens, read from the batch's code points (punctuation and symbols
    dropped by their class bit, which removes no whitespace; one decode for all documents)."""
    first = tokens.offsets[docs]
    filled = counts > 0
    starts, ends = np.zeros(len(docs), dtype=np.int64), np.zeros(len(docs), dtype=np.int64)
    starts[filled] = tokens.starts[first[filled]]
    ends[filled] = tokens.ends[first[filled] + counts[filled] - 1]
    positions = concatenated_ranges(starts, ends - starts)
    keep = (tokens.classes[positions] & _PUNCT_SYMBOL) == 0
    text = tokens.codes[positions[keep]].tobytes().decode("utf-32-le", "surrogatepass")
    bounds = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(np.bincount(np.repeat(np.arange(len(docs)), ends - starts)[keep], minlength=len(docs)), out=bounds[1:])
    return [text[a:b].casefold().split() for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]


def count_stopwords_batch(tokens: BatchTokens, docs: list[int], known: list[frozenset[str]], enough: list[int | None]) -> list[int]:
    """Per document ``docs[i]`` of the batch, how many words are stopwords (of ``known[i]``; words as
    ``_PUNCT_OR_SYMBOL.sub("", text).casefold().split()``). With ``enough``, the whole tokens of the
    first ``_STOPWORD_PROBES`` characters are tried first and their count returned once it reaches
    ``enough`` (most texts); else the whole text is counted."""
    found: list[int | None] = [None] * len(docs)
    doc_ids = np.asarray(docs, dtype=np.int64)
    doc_starts = tokens.doc_starts[doc_ids]
    lengths = (np.append(tokens.doc_starts[1:] - 1, len(tokens.codes))[doc_ids] - doc_starts).tolist()
    for probe in _STOPWORD_PROBES:
        probing = [i for i in range(len(docs)) if found[i] is None and enough[i] is not None and lengths[i] > probe]
        # the tokens that start in the probe, without the last one (the cut may have split it)
        started = np.searchsorted(tokens.starts, doc_starts[probing] + probe) - tokens.offsets[doc_ids[probing]]
        for i, words in zip(probing, stopword_candidates(tokens, doc_ids[probing], np.maximum(started - 1, 0))):
            count = sum(map(known[i].__contains__, words))
            if count >= enough[i]:  # type: ignore[operator]
                found[i] = count
    rest = [i for i in range(len(docs)) if found[i] is None]
    counts = tokens.offsets[doc_ids[rest] + 1] - tokens.offsets[doc_ids[rest]]
    for i, words in zip(rest, stopword_candidates(tokens, doc_ids[rest], counts)):
        found[i] = sum(map(known[i].__contains__, words))
    return found  # type: ignore[return-value]


@lru_cache(maxsize=None)
def _plain_stopword_keys(lang: str) -> np.ndarray:
    """Token keys of the language's stopwords that a bare token matches as it is (one word, lower
    case, no punctuation: what ``_PUNCT_OR_SYMBOL.sub`` and ``casefold`` leave unchanged), sorted."""
    plain = [w for w in stopword_list(lang) if w.split() == [w] and w.casefold() == w and not _PUNCT_OR_SYMBOL.search(w)]
    return np.unique(tokenize_batch([" ".join(sorted(plain))]).keys) if plain else np.zeros(0, dtype=np.uint64)


def _salts(languages: list[str]) -> np.ndarray:
    """A fixed 64-bit salt per language code (not its place in any list: the same whatever order
    languages arrive in)."""
    return mix64(np.array([zlib.crc32(lang.encode("utf-8")) + 1 for lang in languages], dtype=np.uint64))


@lru_cache(maxsize=8)
def _plain_stopword_set(languages: tuple[str, ...]) -> HashedSet:
    """The plain stopword keys of all ``languages``, each salted with its language's salt."""
    salts = _salts(list(languages))
    return HashedSet(np.concatenate([_plain_stopword_keys(lang) ^ salt for lang, salt in zip(languages, salts)]))


_LOOKED_UP: set[str] = set()  # languages met so far: one set holds them all, rebuilt only for a new one


def plain_stopword_hits(tokens: BatchTokens, docs: list[int], langs: list[str], first: int | None = None) -> list[int]:
    """Per document ``docs[i]``: its tokens (its ``first`` ones, or all) that are, as they stand,
    stopwords of ``langs[i]`` - a lower bound of its stopword count (``Quality`` only takes it as
    enough, never as too few). One lookup for all languages: each language's keys are salted with
    its own salt, and every token is looked up salted with its document's language's."""
    _LOOKED_UP.update(langs)
    distinct = sorted(set(langs))
    salt_of = dict(zip(distinct, _salts(distinct).tolist()))
    chosen = np.asarray(docs, dtype=np.int64)
    starts, ends = tokens.offsets[chosen], tokens.offsets[chosen + 1]
    if first is not None:
        ends = np.minimum(ends, starts + first)
    owner = np.repeat(np.arange(len(docs)), ends - starts)
    salt = np.array([salt_of[lang] for lang in langs], dtype=np.uint64)[owner]
    found = _plain_stopword_set(tuple(sorted(_LOOKED_UP))).contains(tokens.keys[concatenated_ranges(starts, ends - starts)] ^ salt)
    return np.bincount(owner[found], minlength=len(docs)).tolist()


def symbol_counts(tokens: BatchTokens) -> list[int]:
    """Per document: '#' + '...' (non-overlapping, as ``str.count``) + '…', found among the few
    punctuation characters of the batch."""
    punct = tokens.punct
    codes = tokens.codes[punct]
    dots = punct[codes == _DOT]
    new_run = np.ones(len(dots), dtype=bool)  # runs of dots: each adds its length // 3
    new_run[1:] = dots[1:] != dots[:-1] + 1
    run_starts = np.flatnonzero(new_run)
    run_lengths = np.diff(np.append(run_starts, len(dots)))
    positions = np.concatenate((punct[(codes == _HASH) | (codes == _ELLIPSIS_CHAR)], dots[run_starts]))
    weights = np.concatenate((np.ones(len(positions) - len(run_starts)), run_lengths // 3))
    doc = np.searchsorted(tokens.doc_starts, positions, side="right") - 1
    return np.bincount(doc, weights=weights, minlength=len(tokens.doc_starts)).astype(np.int64).tolist()


def lorem_counts(tokens: BatchTokens) -> list[int]:
    """Per document: matches of ``_LOREM`` (none can span the newline between two texts)."""
    starts = [m.start() for m in _LOREM.finditer(tokens.joined)]
    doc = np.searchsorted(tokens.doc_starts, starts, side="right") - 1
    return np.bincount(doc, minlength=len(tokens.doc_starts)).tolist()


