"""The line classifier behind the boilerplate stage: which lines of a page's text are the article.

Each non-blank line gets cheap features (jusText's idea, without HTML):

* ``GOOD`` - prose: enough words, a sentence end (or a long line), a normal share of stopwords;
* ``SHORT`` - a few words without a sentence end (menu entries, headings, teaser titles);
* ``MEDIUM`` - the rest;
* a phrase rule (``share``, ``cookie``, ``related``, ...) from ``pipeline/data/boilerplate``.

The article is the densest run of prose: GOOD lines are grouped into clusters (no more than
``max_gap_lines`` other lines between two of them); the heaviest cluster and those at least
``minor_cluster_ratio`` as heavy are the article, with everything inside and between them and the
lines that head each of them (title, subheadings). Before and after the article, short lines are
menus and footers; between its clusters, only runs of menu-like lines go. Phrase rules and
cross-document repetition apply everywhere, with guards so that article text survives unless a
specific rule names it. Precision first: when unsure, a line stays.

Speed: a whole batch of documents is classified at once. Its lines are one list and every feature
is one numpy array over all of them (a document is a range of lines), so the fixed cost of a numpy
call is paid per batch, not per page; tokens are hashed from the code points and looked up in the
vocabulary with numpy; only the few lines a rule might name, and each page's title, take a Python
loop.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from operator import itemgetter
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Protocol

import numpy as np
import regex
from pydantic import BaseModel, ConfigDict, Field

from . import arrays, boilerplate_rules, disk_cache
from .arrays import GrowingPowers, HashedBits, concatenated_ranges, lowered_code_points, mix64, positions, segment_or
from .boilerplate_edges import END_ISLAND_RULE, mark_end_islands
from .boilerplate_prose import load_prose_rules, mark_prose_rules
from .boilerplate_rules import AFFIXES, EDGE_CHARS, PREFIXED_AFFIXES, PREFIXES, AnchoredPatterns, PhraseRules

_TERMINAL = frozenset(".!?…;:。！？")
_LAST_CHAR = itemgetter(slice(-1, None))  # "" for an empty line
_FIRST_CHAR = itemgetter(0)
_CLOSERS = "\"'”’»«“)]*"


def _char_table(chars) -> np.ndarray:
    """By code point, up to the highest of ``chars``: is it one of them (every code point above: the
    last entry, False)."""
    table = np.zeros(max(map(ord, chars)) + 2, dtype=bool)
    table[list(map(ord, chars))] = True
    return table


_IS_TERMINAL = _char_table(_TERMINAL)
_IS_CLOSER = _char_table(_CLOSERS)
_BLANK_RUNS = regex.compile(r"\n{3,}")
# a quantity or a numbered item ("6 mittelgroße Eier", "1-2 Spritzer ...", "15 – 30 Min", "100. Ray Gillen"),
# not a year or a date ("2006 - 2012 site.de", "2020-02-19 20:29")
_QUANTITY = regex.compile(r"\d{1,3}(?:[.,]\d+)?\s*(?:[–-]\s*\d+(?:[.,]\d+)?)?[.)]?\s*\p{L}")
_COUNTER = regex.compile(r"\s*[(\[]\d[\d.,]*[)\]]$")  # "(3)", "[12]" after a button's label
_CLOSING_BRACKET = frozenset(")]").__contains__
_TITLE_SEPARATORS = regex.compile(r"\s+[|–—·•:\-]{1,2}\s+|\s*::\s*")
_PHRASE_MAX_CHARS = 100  # whole-line phrases ("Share", "Mehr zum Thema") are short
_PATTERN_MAX_CHARS = 160  # bylines, dates, credits, breadcrumbs
_BARE_MAX_CHARS = 60  # numbers, e-mail addresses, phone numbers, arrows
_PATTERN_MAX_WORDS = 8
KEEP = 0
_CHARS_PER_WORD = 15  # fewer spaces than one per this many characters: a script without spaces
_UNSPACED_TITLE_CHARS = 60
_ANCHOR_BIT = 62  # token bits (see LineClassifier.token_bits); bits below _CONTAINS_BIT: languages
_LINE_KEY_BIT = 61
_CONTAINS_BIT = 60
_SITE_BIT = 59  # a site word (PhraseRules.site_words)
_MATCH_CACHE_LINES = 200_000  # lines whose pattern verdict is remembered (menus repeat across pages)
_GROUP_CHARS = 4_000_000  # pages classified together at most (one longer page alone)
_LANGUAGE_SAMPLE = 150  # tokens from the middle of a page that decide its language

RepeatedTest = Callable[[np.ndarray, list[str]], np.ndarray]
"""``test(documents, lines)``: which of some lines (of the given batch documents) are common across
documents (the stage's corpus statistics)."""


def _with_punctuation(words, prefixes: bool = False) -> frozenset[str]:
    """Words plus their forms with punctuation attached (tokens are split on whitespace only)."""
    out = {word + affix for word in words for affix in AFFIXES}
    if prefixes:
        out |= {prefix + word + affix for word in words for prefix in PREFIXES for affix in PREFIXED_AFFIXES}
    return frozenset(out)


_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: invertible modulo 2**64
_HASH_BASE_INVERSE = np.uint64(pow(int(_HASH_BASE), -1, 2**64))
_SLOT_BITS = 21  # vocabulary lookup table: 2**21 slots (arrays.HashedBits)
_TOKEN_CHUNK_CHARS = 200_000  # tokens are hashed this many characters at a time (arrays stay in cache)


def _short_lines(codes: np.ndarray, max_chars: int) -> tuple[int, np.ndarray, np.ndarray]:
    """The number of lines of a text (its ``lowered_code_points(text, fold_spaces=True)``, split at
    "\\n"), those with 1 to ``max_chars`` non-blank characters - the only ones whose key, case and spacing aside,
    can be counted - and their code points, each line followed by a newline. Lines over the limit
    (most of a text: paragraphs) are ruled out from the code points, with no Python string per line."""
    newlines = _nonzero(codes == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.append(newlines, len(codes))  # one past each line's last character
    visible = np.zeros(len(codes) + 1, dtype=bool)  # a last, empty line sums this one: blank
    np.greater(codes, 32, out=visible[:-1])
    non_blank = np.add.reduceat(visible, starts, dtype=np.int32)
    rows = _nonzero((non_blank > 0) & (non_blank <= max_chars))
    sizes = ends[rows] - starts[rows] + 1  # with the newline after
    picked = codes.take(concatenated_ranges(starts[rows], sizes), mode="clip")  # clip: a last line's newline is past the end
    picked[np.cumsum(sizes) - 1] = 10
    return len(starts), rows, picked


class _TokenArrays(NamedTuple):
    """The tokens of a text, one array entry per token, in order."""

    hashes: np.ndarray  # _Tokens.split's hash
    line: np.ndarray  # the line of the text (split at "\\n") it is on
    length: np.ndarray  # characters
    ends_sentence: np.ndarray  # _sentence_end_tokens


class _Tokens:
    """Whitespace tokens of a text as numpy arrays, without making a Python string per token: each
    token is identified by a polynomial hash of its code points (mod 2**64, plus its length), so
    looking words up in a vocabulary is one ``searchsorted`` for the whole text. Same tokens as
    ``str.split()`` (the same whitespace table)."""

    def __init__(self) -> None:
        self._powers = GrowingPowers(_HASH_BASE)
        self._inverse_powers = GrowingPowers(_HASH_BASE_INVERSE)

    def _tables(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._powers(n), self._inverse_powers(n)

    def split(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, end, hash) of every token of a text given as ``lowered_code_points(text,
        fold_spaces=True)``."""
        n = len(codes)
        space = np.ones(n + 2, dtype=bool)  # bounded by spaces
        np.less_equal(codes, 32, out=space[1:-1])
        edges = _nonzero(space[:-1] != space[1:])  # where a token starts, then where it ends, ...
        starts, ends = edges[0::2], edges[1::2]
        powers, inverse = self._tables(n + 1)
        prefix = np.empty(n + 1, dtype=np.uint64)
        prefix[0] = 0
        np.multiply(codes, powers[:n], out=prefix[1:])  # array arithmetic wraps modulo 2**64 silently
        np.cumsum(prefix[1:], out=prefix[1:])  # in place: no temporary the size of the text
        hashes = (prefix[ends] - prefix[starts]) * inverse[starts] + (ends - starts).astype(np.uint64)
        return starts, ends, hashes

    def hash_words(self, words: list[str]) -> np.ndarray:
        """The hash ``split`` gives each of ``words`` (single tokens: one split of them all, as a
        token's hash does not depend on its position)."""
        _, _, hashes = self.split(lowered_code_points(" ".join(words), fold_spaces=True))
        if len(hashes) != len(words):
            raise ValueError("hash_words: every word must be one token")
        return hashes


def _nonzero(flags: np.ndarray) -> np.ndarray:
    """``np.flatnonzero`` for 1-d arrays, without its wrapper's overhead."""
    return flags.nonzero()[0]


def _sentence_end_tokens(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per token: does it end a sentence - a terminal character last, or before a last quote or
    bracket ("...end." / "...end.»"). Lower case keeps these characters as they are."""
    last = codes[ends - 1]
    out = _IS_TERMINAL.take(last, mode="clip")
    closed = _nonzero(_IS_CLOSER.take(last, mode="clip") & (ends - starts >= 2))
    out[closed] = _IS_TERMINAL.take(codes[ends[closed] - 2], mode="clip")
    return out


def _token_lines(newlines: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per token (``starts``: where each starts in a text, ``newlines``: where its "\\n" are), its
    line: the newlines before it, from where each newline falls among the token starts (no
    running count over every character)."""
    tokens_before = np.searchsorted(starts, newlines)
    per_line = np.diff(tokens_before, prepend=0, append=len(starts))
    return np.repeat(np.arange(len(newlines) + 1, dtype=np.int64), per_line)


def _runs(flags: np.ndarray, same_doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, stop) of each run of True in ``flags``; ``same_doc[k]``: item k-1 and k are in the
    same document (runs never cross documents)."""
    run_start = flags.copy()
    run_start[1:] &= ~(flags[:-1] & same_doc[1:])
    starts = _nonzero(run_start)
    label = np.cumsum(run_start) - 1
    lengths = np.bincount(label[flags], minlength=len(starts))
    return starts, starts + lengths


class LineParams(BaseModel):
    """Thresholds of the classifier; the boilerplate stage's config extends this (every option is
    documented in ``configs/default.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    good_min_words: int = Field(6, ge=1)
    long_line_words: int = Field(25, ge=1)
    min_stopword_density: float = Field(0.12, ge=0.0, le=1.0)
    short_max_words: int = Field(4, ge=0)
    max_gap_lines: int = Field(4, ge=0)
    minor_cluster_ratio: float = Field(0.1, ge=0.0, le=1.0)
    heading_lookback: int = Field(3, ge=0)
    menu_run_lines: int = Field(3, ge=1)
    max_block_lines: int = Field(12, ge=1)
    extend_before: int = Field(0, ge=0)
    extend_after: int = Field(15, ge=0)
    min_prose_share: float = Field(0.2, ge=0.0, le=1.0)
    drop_minor_prose: bool = False
    contains_max_chars: int = Field(300, ge=1)
    min_article_chars: int = Field(250, ge=0)
    head_zone: bool = True
    head_max_gap_lines: int = Field(20, ge=1)
    extract_title: bool = True
    """Move the headline (first line; the heading repeating it if cleaner) to ``metadata.title``."""
    max_title_chars: int = Field(200, ge=1)
    site_voice_min_words: int = Field(2, ge=0)
    site_voice_min_share: float = Field(0.1, ge=0.0, le=1.0)
    keep_quantities: bool = True
    """Lines that start with a quantity or an item number are content (ingredients, specifications,
    ranked lists): never part of a link block, a header or a footer zone."""
    end_island_max_lines: int = Field(3, ge=0)
    """The article's last 1..N prose lines after a break with a title-case label go (``end_island``, see
    ``pipeline.boilerplate_edges``); 0: off."""
    end_island_min_gap: int = Field(2, ge=1)
    end_island_max_share: float = Field(0.2, ge=0.0, le=1.0)
    prose_rules: bool = True
    """Prose lines named by how they start or end (a caption ending in its photo credit, an author's bio:
    ``pipeline.boilerplate_prose``) go, whatever their length and neighbours."""


@dataclass
class CleanResult:
    text: str
    title: str | None
    rules: list[str] = field(default_factory=list)
    """Per removed line: its rule, the line (stripped) and the character offset where it starts
    (three lists rather than a tuple per line: the stage makes its records straight from them)."""
    lines: list[str] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    language: str | None = None
    lines_removed: int = 0
    lines_kept: int = 0

    @property
    def removed(self) -> list[tuple[str, str, int]]:
        """(rule, line, character offset of the line) for every removed line."""
        return list(zip(self.rules, self.lines, self.offsets))


@dataclass
class LineView:
    """One page's per-line features and decisions, for a later pass (``zones``) that may set more
    ``codes`` (only lines still ``KEEP``; ``code(rule name)`` gives a rule's code). The arrays are
    views into the batch's arrays, so writes to ``codes`` count."""

    stripped: list[str]
    nonblank: np.ndarray
    lengths: np.ndarray
    n_words: np.ndarray
    n_stop: np.ndarray
    ends: np.ndarray
    good: np.ndarray
    codes: np.ndarray
    clusters: list[tuple[int, int, int]]
    """(first line, last line, prose chars) of each prose cluster, lines counted in the page."""
    code: Callable[[str], int]


class PagePass(Protocol):
    """A later pass over each page's decisions (``pipeline.boilerplate_zones``)."""

    def pages(self, codes: np.ndarray, line_doc: np.ndarray, n_docs: int, clusters: Clusters, code: Callable[[str], int]) -> np.ndarray:
        """Which pages of a batch the pass may change (the others are not visited)."""

    def __call__(self, view: LineView) -> None:
        """Set more ``codes`` of one page."""


class _Rules:
    """Rule names <-> small integer codes, so decisions live in one numpy array."""

    def __init__(self) -> None:
        self.names: list[str] = ["keep"]
        self.codes: dict[str, int] = {}

    def code(self, name: str) -> int:
        if name not in self.codes:
            self.codes[name] = len(self.names)
            self.names.append(name)
        return self.codes[name]


class _Pages:
    """The lines of a batch of texts as one list (document ``d`` is lines ``bounds[d]:bounds[d+1]``),
    with what every step needs: stripped and lower-cased lines, lengths, the non-blank lines."""

    def __init__(self, texts: list[str]) -> None:
        per_text = list(map(str.split, texts, repeat("\n")))  # no separate count of the newlines
        counts = np.fromiter(map(len, per_text), dtype=np.int64, count=len(texts))
        self.bounds = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.bounds[1:])
        self.joined = "\n".join(texts)
        self.lines: list[str] = list(chain.from_iterable(per_text))
        n = self.n = len(self.lines)
        line_chars = np.fromiter(map(len, self.lines), dtype=np.int64, count=n) + 1
        self.line_starts = np.cumsum(line_chars) - line_chars  # where each line starts in ``joined``
        self.doc = np.repeat(np.arange(len(texts)), counts)
        self.stripped: list[str] = list(map(str.strip, self.lines))
        self.lengths = np.fromiter(map(len, self.stripped), dtype=np.int64, count=n)
        self.nonblank = self.lengths > 0
        self.nb = _nonzero(self.nonblank)  # the non-blank lines, and whether each follows one of its page
        nb_doc = self.doc[self.nb]
        self.nb_same = np.zeros(len(self.nb), dtype=bool)
        self.nb_same[1:] = nb_doc[1:] == nb_doc[:-1]
        self.doc_start = np.zeros(n, dtype=bool)
        self.doc_start[self.bounds[:-1][counts > 0]] = True

    def lowered_lines(self, rows: np.ndarray) -> list[str]:
        """Some lines, lower-cased (one C-level map: cheaper than lowering them joined and
        splitting the result, which scans every new non-ASCII line twice)."""
        return list(map(str.lower, map(self.lines.__getitem__, rows.tolist())))

    def lines_holding(self, char: str) -> np.ndarray:
        """Which lines contain ``char`` (a rare one: found with str.find on the joined text)."""
        out = np.zeros(self.n, dtype=bool)
        found = positions(self.joined, char)
        if found:
            out[np.searchsorted(self.line_starts, found, side="right") - 1] = True
        return out

    def next_nonblank(self, flags: np.ndarray) -> np.ndarray:
        """Per line: ``flags`` of the next non-blank line of its page (False for a page's last)."""
        out = np.zeros(self.n, dtype=bool)
        out[self.nb[:-1]] = flags[self.nb[1:]] & self.nb_same[1:]
        return out

    def ranges(self, firsts: np.ndarray, lasts: np.ndarray) -> np.ndarray:
        """Lines inside any of the (first, last) ranges (inclusive; ranges do not overlap)."""
        delta = np.zeros(self.n + 1, dtype=np.int64)
        np.add.at(delta, firsts, 1)
        np.add.at(delta, lasts + 1, -1)
        return np.cumsum(delta[:-1]) > 0


@dataclass
class Clusters:
    """Runs of prose lines with small gaps: first and last line, prose chars, page."""

    first: np.ndarray
    last: np.ndarray
    weight: np.ndarray
    doc: np.ndarray


class LineClassifier:
    """Phrase rules + thresholds; ``clean(text)`` returns the article and what was cut, and why
    (``clean_batch(texts)``: the same for many texts at once, much faster per text)."""

    def __init__(self, rules: PhraseRules, params: LineParams, zones: PagePass | None = None):
        self.rules = rules
        self.params = params
        self.zones = zones  # a later pass over each page's decisions (pipeline.boilerplate_zones), or None
        self.names = _Rules()
        self.section_codes = {self.names.code(n) for n in rules.section_rules}
        self.comment_codes = {self.names.code(n) for n in rules.section_rules if n.startswith("comments")}
        for name in ("title", "comments", "header_zone", "footer_zone", "link_block", "repeated", "symbols"):
            self.names.code(name)
        self.languages = list(rules.stopwords)
        if len(self.languages) >= _SITE_BIT:
            raise ValueError(f"boilerplate: at most {_SITE_BIT} stopword languages, got {len(self.languages)}")
        self._tokenizer = _Tokens()
        self._vocab, self._vocab_words = _vocabulary(rules, tuple(self.languages), self._tokenizer)
        rules.line_patterns.by_token, rules.contains.by_token  # built here (start-up), not by the first batch
        self._match_cache: dict[tuple[bool, str], str | None] = {}  # (whole line?, line) -> rule
        # whole-line phrase key -> rule code; a line of bullets and punctuation alone: "symbols"
        self._phrase_codes_by_key = {key: self.names.code(name) for key, name in rules.line_phrases.items()}
        self._phrase_codes_by_key[""] = self.names.code("symbols")
        if len(self.names.names) > 200:  # codes index 256-entry tables, with room for open patterns
            raise ValueError(f"boilerplate: too many phrase rules ({len(self.names.names)})")
        self.is_section = np.zeros(256, dtype=bool)
        self.is_comments = np.zeros(256, dtype=bool)
        self.is_section[list(self.section_codes - self.comment_codes)] = True
        self.is_comments[list(self.comment_codes)] = True
        self.is_meta = np.zeros(256, dtype=bool)
        self.is_meta[[self.names.code(n) for n in ("byline", "date", "credit", "caption", "title", "share")]] = True
        self.prose_rules = load_prose_rules(rules.languages)

    # -- features -------------------------------------------------------------------------------
    def _split(self, text: str) -> _TokenArrays:
        """Every token of ``text.lower()`` as ``_TokenArrays``. Hashed with numpy over the code
        points of a few hundred kB of whole lines at a time."""
        parts: list[_TokenArrays] = []
        start, line = 0, 0
        while start <= len(text):
            stop = text.find("\n", start + _TOKEN_CHUNK_CHARS)
            stop = len(text) if stop < 0 else stop
            chunk = text[start:stop]
            codes = lowered_code_points(chunk, fold_spaces=True)
            starts, ends, hashes = self._tokenizer.split(codes)
            newlines = _nonzero(codes == 10)
            parts.append(_TokenArrays(hashes, _token_lines(newlines, starts) + line, ends - starts, _sentence_end_tokens(codes, starts, ends)))
            line += len(newlines) + 1
            start = stop + 1
        return _TokenArrays(*map(np.concatenate, zip(*parts)))

    def line_keys(self, text: str, max_chars: int) -> np.ndarray:
        """Per line of ``text`` (split on "\\n"): a 64-bit hash of its lower-cased whitespace
        tokens in order (lines that differ only in spacing and case share it; where a line stands
        does not count), where its key ``" ".join(line.lower().split())`` has 1 to ``max_chars``
        characters, else 0. For counting lines across documents (the stage's pre-pass), then
        finding them (its ``repeated`` test), without a Python call per line; only the short lines
        (``_short_lines``) are tokenized."""
        n_lines, rows, picked = _short_lines(lowered_code_points(text, fold_spaces=True), max_chars)
        out = np.zeros(n_lines, dtype=np.uint64)
        if len(rows):
            starts, ends, hashes = self._tokenizer.split(picked)
            line_hash, key_chars = self._line_hashes(hashes, _token_lines(_nonzero(picked == 10), starts), ends - starts, len(rows))
            out[rows] = np.where(key_chars <= max_chars, line_hash, 0)
        return out

    def _line_hashes(self, hashes, token_line, lengths, n) -> tuple[np.ndarray, np.ndarray]:
        m = len(hashes)
        powers, inverse = self._tokenizer._tables(m + 1)
        prefix = np.zeros(m + 1, dtype=np.uint64)
        np.cumsum(mix64(hashes) * powers[:m], out=prefix[1:])
        n_words = np.bincount(token_line, minlength=n)
        first = np.cumsum(n_words) - n_words
        line_hash = (prefix[first + n_words] - prefix[first]) * inverse[first]
        key_chars = np.bincount(token_line, weights=lengths, minlength=n).astype(np.int64) + np.maximum(n_words - 1, 0)
        return line_hash, key_chars

    def _lookup(self, hashes: np.ndarray) -> np.ndarray:
        """The bits of each token hash (one probe into the vocabulary's ``HashedBits``)."""
        return self._vocab.lookup(hashes)

    def _sole_anchors(self, bits: np.ndarray, token_line: np.ndarray, token_hashes: np.ndarray, bit: int, n: int) -> np.ndarray:
        """Per line: the vocabulary index of its only token with ``bit`` (a pattern set's anchor),
        -1 when it holds none or several (then ``AnchoredPatterns.match`` finds them itself)."""
        held = _nonzero((bits >> bit) & 1)
        lines = token_line[held]
        sole = np.bincount(lines, minlength=n)[lines] == 1
        out = np.full(n, -1, dtype=np.int64)
        out[lines[sole]] = np.searchsorted(self._vocab.keys, token_hashes[held[sole]])
        return out

    def _languages(self, bits: np.ndarray, n_tokens: np.ndarray) -> np.ndarray:
        """Per page (``n_tokens``: its number of tokens), the index of the language whose stopwords
        cover most words of a sample from the middle of the page (-1: none covers 5%)."""
        n_docs = len(n_tokens)
        if not self.languages:
            return np.full(n_docs, -1, dtype=np.int64)
        middle = np.maximum(0, n_tokens // 2 - _LANGUAGE_SAMPLE // 2)
        size = np.minimum(_LANGUAGE_SAMPLE, n_tokens - middle)
        sample = concatenated_ranges(np.cumsum(n_tokens) - n_tokens + middle, size)
        hits = np.zeros((n_docs, len(self.languages)), dtype=np.int64)
        sampled = _nonzero(size > 0)
        if len(sampled):  # a row of 0/1 bytes per sampled token: its bits 0 .. languages - 1
            stopword_of = np.unpackbits(bits.take(sample).view(np.uint8).reshape(-1, 8), axis=1, count=len(self.languages), bitorder="little")
            hits[sampled] = np.add.reduceat(stopword_of, (np.cumsum(size) - size)[sampled], axis=0, dtype=np.int64)
        best = hits.argmax(axis=1)
        found = (size > 0) & (hits[np.arange(n_docs), best] >= 0.05 * size)
        return np.where(found, best, -1)

    @staticmethod
    def _line_bits(bits: np.ndarray, n_words: np.ndarray) -> np.ndarray:
        """Per line, the union of its tokens' bits."""
        starts = np.zeros(len(n_words) + 1, dtype=np.int64)
        np.cumsum(n_words, out=starts[1:])
        return segment_or(bits.astype(np.int64, copy=False), starts)

    def _phrase_codes(self, pages: _Pages, n_words, gates, anchors) -> tuple[np.ndarray, np.ndarray]:
        """Rule code per line from the phrase data (0 = no rule), and which came from a phrase
        found inside the line (rather than the whole line). ``anchors``: per line, the vocabulary
        index of its one anchor token for line patterns and for ``contains`` (``_sole_anchors``)."""
        rules, code, stripped, lengths, n = self.rules, self.names.code, pages.stripped, pages.lengths, pages.n
        phrase_rows = _nonzero((lengths > 0) & (lengths <= _PHRASE_MAX_CHARS))  # whole-line phrases are short
        keys = list(map(str.strip, pages.lowered_lines(phrase_rows), repeat(EDGE_CHARS)))
        codes = np.zeros(n, dtype=np.int32)
        found = np.fromiter(map(self._phrase_codes_by_key.get, keys, repeat(KEEP)), dtype=np.int32, count=len(phrase_rows))
        # a button with a counter ("Kommentare (3)", "Udostępnij na FB (1)"): its phrase without the count
        for k in _nonzero((found == KEEP) & np.fromiter(map(_CLOSING_BRACKET, map(_LAST_CHAR, keys)), dtype=bool, count=len(keys))).tolist():
            bare = _COUNTER.sub("", keys[k]).strip(EDGE_CHARS)
            if bare != keys[k]:
                found[k] = self._phrase_codes_by_key.get(bare, KEEP) if bare else KEEP
        codes[phrase_rows] = found
        contained = np.zeros(n, dtype=bool)  # lines coded by a ``contains`` phrase
        anchored, line_gate, contains_gate = gates
        candidates = anchored & (codes == 0)
        rows = _nonzero(candidates & line_gate & (lengths <= _PATTERN_MAX_CHARS) & (n_words <= _PATTERN_MAX_WORDS))
        for i, lowered, anchor in self._anchored_lines(pages, rows, anchors[0]):
            line = stripped[i]
            name = self._match(rules.line_patterns, line, True, lowered, anchor)
            if name is None and _CLOSING_BRACKET(line[-1]):  # a counter after the label, as above
                name = self._match(rules.line_patterns, _COUNTER.sub("", line), True)
            if name is not None:
                codes[i] = code(name)
        if rules.bare_regex is not None:
            rows = _nonzero((codes == 0) & (lengths > 0) & (lengths <= _BARE_MAX_CHARS))
            # a bare pattern's line starts with a digit or symbol, or holds an e-mail address
            first = map(_FIRST_CHAR, map(stripped.__getitem__, rows.tolist()))
            alpha = np.fromiter(map(str.isalpha, first), dtype=bool, count=len(rows))
            for i in rows[~alpha | pages.lines_holding("@")[rows]].tolist():
                m = rules.bare_regex.fullmatch(stripped[i].strip(EDGE_CHARS))
                if m is not None:
                    codes[i] = code(m.lastgroup or "pattern")
        rows = _nonzero(candidates & contains_gate & (codes == 0) & (lengths <= self.params.contains_max_chars))
        for i, lowered, anchor in self._anchored_lines(pages, rows, anchors[1]):
            name = self._match(rules.contains, stripped[i], False, lowered, anchor)
            if name is not None:
                codes[i] = code(name)
                contained[i] = True
        return codes, contained

    def _anchored_lines(self, pages: _Pages, rows: np.ndarray, sole: np.ndarray) -> Iterator[tuple[int, str | None, str | None]]:
        """Per row: (line, its lower case or None, its one anchor word or None) for ``_match``; a
        line whose one anchor is known needs no lower case (the others are lowered in one pass)."""
        sole_l = sole[rows].tolist()
        unknown = iter(pages.lowered_lines(rows[sole[rows] < 0]))
        words = self._vocab_words
        for i, a in zip(rows.tolist(), sole_l):
            yield (i, None, words[a]) if a >= 0 else (i, next(unknown), None)

    def _match(self, patterns: AnchoredPatterns, line: str, whole_line: bool, lowered: str | None = None, anchor: str | None = None) -> str | None:
        """``patterns.match``, remembered per line: template lines recur on every page of a site."""
        key = (whole_line, line)
        cache = self._match_cache
        if key in cache:
            return cache[key]
        if len(cache) >= _MATCH_CACHE_LINES:
            cache.clear()
        name = cache[key] = patterns.match(line, whole_line, lowered, anchor)
        return name

    # -- the decision -----------------------------------------------------------------------------
    def clean(self, text: str, repeated: Callable[[list[str]], np.ndarray] | None = None) -> CleanResult:
        """Decide line by line what is article. ``repeated(lines)`` says which of some lines are
        common across documents (the stage's corpus statistics)."""
        test = None if repeated is None else (lambda _docs, lines: repeated(lines))
        return self.clean_batch([text], test)[0]

    def clean_batch(self, texts: list[str], repeated: RepeatedTest | None = None) -> list[CleanResult]:
        """``clean`` for each of ``texts``; every page is judged on its own, in one pass of array
        operations over all the lines of up to ``_GROUP_CHARS`` characters of pages at a time
        (so that memory stays bounded whatever the batch)."""
        out: list[CleanResult] = []
        start = 0
        while start < len(texts):
            stop, size = start + 1, len(texts[start])
            while stop < len(texts) and size + len(texts[stop]) <= _GROUP_CHARS:
                size += len(texts[stop])
                stop += 1
            test = repeated
            if repeated is not None and start:
                test = (lambda offset: lambda docs, lines: repeated(docs + offset, lines))(start)
            out += self._clean_group(texts[start:stop], test)
            start = stop
        return out

    def _clean_group(self, texts: list[str], repeated: RepeatedTest | None) -> list[CleanResult]:
        p = self.params
        n_docs = len(texts)
        pages = _Pages(texts)
        n, nonblank, doc = pages.n, pages.nonblank, pages.doc
        tokens = self._split(pages.joined)
        token_line, token_hashes = tokens.line, tokens.hashes
        bits = self._lookup(token_hashes)
        n_words = np.bincount(token_line, minlength=n)
        tokens_before = np.zeros(n + 1, dtype=np.int64)  # per line, and one past the last
        np.cumsum(n_words, out=tokens_before[1:])
        last_token = tokens_before[1:] - 1
        language = self._languages(bits, np.diff(tokens_before[pages.bounds]))
        stopword_bit = np.where(language >= 0, 1 << np.maximum(language, 0), 0)  # per page: its language's bit
        is_stop = (bits & stopword_bit[doc][token_line]) != 0
        n_stop = np.bincount(token_line[is_stop], minlength=n)  # counted without float weights
        n_site = np.bincount(token_line[(bits & 1 << _SITE_BIT) != 0], minlength=n)
        # no stopword list fits a page: its prose is judged by length and sentence ends alone
        dense = (language[doc] < 0) | (n_stop >= p.min_stopword_density * n_words)
        ends = np.zeros(n, dtype=bool)  # the line's last token ends a sentence
        worded = n_words > 0
        ends[worded] = tokens.ends_sentence[last_token[worded]]
        good = (n_words >= p.good_min_words) & dense & (ends | (n_words >= p.long_line_words))
        short = nonblank & ~good & (n_words <= p.short_max_words) & ~ends
        # a menu entry: a few words, no sentence end, no stopword ("Sport", "Über uns")
        menu_like = short & (n_stop == 0)

        line_bits = self._line_bits(bits, n_words)
        anchored, line_gate, contains_gate = ((line_bits >> bit) & 1 == 1 for bit in (_ANCHOR_BIT, _LINE_KEY_BIT, _CONTAINS_BIT))
        has_copyright = "©" in pages.joined
        if has_copyright:  # glued to a year ("©2024"), so no token of its own: such lines are tried
            copyright = pages.lines_holding("©")
            anchored |= copyright
            line_gate |= copyright
            contains_gate |= copyright
        keyed = _nonzero(bits >= 1 << _CONTAINS_BIT)  # the few tokens that may anchor a pattern
        anchors = [self._sole_anchors(bits[keyed], token_line[keyed], token_hashes[keyed], bit, n) for bit in (_LINE_KEY_BIT, _CONTAINS_BIT)]
        if has_copyright:  # the patterns split "©2024" in two: they find their anchors themselves
            for sole in anchors:
                sole[copyright] = -1
        codes, contained = self._phrase_codes(pages, n_words, (anchored, line_gate, contains_gate), anchors)
        # prose in the site's own voice (site_words): never vouches for a neighbour, goes at the article's edge
        voiced = np.zeros(n, dtype=bool)
        if p.site_voice_min_words:
            voiced = good & (n_site >= p.site_voice_min_words) & (n_site >= p.site_voice_min_share * n_words)
        self._spare_embedded_prose(pages, contained, good, good & ~voiced, codes)
        headings = np.full(n_docs, -1, dtype=np.int64)  # per page: the line repeating its title, if any
        titles: list[str | None] = self._mark_titles(pages, good, codes, headings) if p.extract_title else [None] * n_docs
        self._mark_comments(pages, good & (codes == 0), codes)
        good_idx = _nonzero(good & (codes == 0))
        clusters = self._clusters(pages, good_idx)
        self._mark_sections(pages, good_idx, codes)
        heaviest = np.zeros(n_docs, dtype=np.int64)
        np.maximum.at(heaviest, clusters.doc, clusters.weight)
        chars = np.bincount(doc, weights=pages.lengths, minlength=n_docs)
        article = (heaviest >= p.min_article_chars) & (heaviest >= p.min_prose_share * chars)
        if p.site_voice_min_words:  # before the zones: the article's edge as the clusters drew it
            self._mark_site_voice(pages, clusters, n_docs, heaviest, voiced, n_site > 0, good, codes)
        menu = self._mark_outside(pages, clusters, article, heaviest, good, menu_like, codes)
        if p.head_zone:
            self._mark_head(pages, clusters, article, heaviest, headings, codes)
        # little prose (a recipe, a product page, lyrics): only menus go, not the zones; no prose at
        # all (a keyword list, a table): no structure to judge by, so only phrase rules apply and
        # later stages (spam, quality) see the page as it is
        little = (~article & (heaviest > 0))[doc]
        menu |= little & nonblank & (codes == KEEP) & ~good & menu_like
        if p.keep_quantities:
            menu &= ~self._quantities(pages, menu)
        self._mark_menu_runs(pages, menu, codes)
        if repeated is not None:
            self._mark_repeated(pages, repeated, good, codes, clusters)
        if self.zones is not None:
            self._mark_zones(pages, clusters, (n_words, n_stop, ends, good, codes))
        if p.end_island_max_lines:  # last: on the article's end as every other rule left it
            self._mark_end_islands(pages, clusters, article, heaviest, good, codes)
        if p.prose_rules:  # after the zones: a line goes alone (as a tail marker, a bio cost a recipe cut short by a share row)
            long_lines = _nonzero((n_words >= p.good_min_words) & (codes == KEEP))  # prose, and teasers without a sentence end
            mark_prose_rules(self.prose_rules, self._tokenizer.hash_words, pages.stripped, long_lines, good[long_lines],
                             (token_hashes, tokens_before[:-1], n_words), codes, self.names.code)
        return self._results(pages, codes, titles, language)

    def _mark_zones(self, pages: _Pages, clusters: Clusters, arrays: tuple[np.ndarray, ...]) -> None:
        """Run the zone pass on every page that has prose clusters, with page-local views."""
        assert self.zones is not None
        n_words, n_stop, ends, good, codes = arrays
        cuts = np.searchsorted(clusters.doc, np.arange(len(pages.bounds)))  # clusters are in line order
        for d in self.zones.pages(codes, pages.doc, len(pages.bounds) - 1, clusters, self.names.code).tolist():
            a, b = int(pages.bounds[d]), int(pages.bounds[d + 1])
            c0, c1 = int(cuts[d]), int(cuts[d + 1])
            page_clusters = list(zip((clusters.first[c0:c1] - a).tolist(), (clusters.last[c0:c1] - a).tolist(),
                                     clusters.weight[c0:c1].tolist()))
            self.zones(LineView(pages.stripped[a:b], pages.nonblank[a:b], pages.lengths[a:b], n_words[a:b],
                                n_stop[a:b], ends[a:b], good[a:b], codes[a:b], page_clusters, self.names.code))

    def _spare_embedded_prose(self, pages: _Pages, contained, good, vouching, codes) -> None:
        """Prose lines between two prose lines are article, whatever phrase they hold ("customers
        who follow us on the long walk..."): ``contains`` rules do not remove them. A run of such
        lines needs prose no rule names on both sides: two boilerplate paragraphs in a row at the
        article's edge (a newsletter pitch over a comment-form notice) do not vouch for each other.
        ``vouching``: the prose that may vouch (prose in the site's own voice may not)."""
        named = contained & good
        flags = named[pages.nb]
        if not flags.any():
            return
        plain = (vouching & (codes == KEEP))[pages.nb]  # prose not named by any rule
        starts, stops = _runs(flags, pages.nb_same)
        before = np.zeros(len(starts), dtype=bool)
        after = np.zeros(len(starts), dtype=bool)
        has_before = starts > 0
        before[has_before] = plain[starts[has_before] - 1] & pages.nb_same[starts[has_before]]
        has_after = stops < len(flags)
        after[has_after] = plain[stops[has_after]] & pages.nb_same[stops[has_after]]
        spared = before & after
        if spared.any():
            delta = np.zeros(len(flags) + 1, dtype=np.int64)
            delta[starts[spared]] += 1
            delta[stops[spared]] -= 1
            codes[pages.nb[np.cumsum(delta[:-1]) > 0]] = KEEP

    def _mark_titles(self, pages: _Pages, good: np.ndarray, codes: np.ndarray, headings: np.ndarray) -> list[str | None]:
        """The first line (the page's <title>) is removed as the headline; with "<headline> | <site>",
        the heading that repeats it further down is the cleaner title."""
        p, stripped, nb = self.params, pages.stripped, pages.nb
        n_docs = len(pages.bounds) - 1
        titles: list[str | None] = [None] * n_docs
        n_nonblank = np.bincount(pages.doc[nb], minlength=n_docs)
        docs = _nonzero(n_nonblank >= 2)  # a one-line document is its own text, not a title
        firsts = nb[np.searchsorted(nb, pages.bounds[docs])]
        named = codes[firsts] != KEEP
        docs, firsts = docs[~named], firsts[~named]
        ends = pages.bounds[docs + 1].tolist()
        lengths = pages.lengths.tolist()
        title_code = self.names.code("title")
        titled = []
        for d, first, end in zip(docs.tolist(), firsts.tolist(), ends):
            line = stripped[first]
            if len(line) > p.max_title_chars or line[-1] in _TERMINAL:
                continue
            if line.count(" ") * _CHARS_PER_WORD < len(line) - _CHARS_PER_WORD and len(line) > _UNSPACED_TITLE_CHARS:
                continue  # a long line in a script without spaces (Thai, Chinese): a paragraph, not a title
            titled.append(first)
            titles[d] = line
            cuts = list(_TITLE_SEPARATORS.finditer(line))  # "<headline> - <site>", "<site> | <headline>"
            candidates = {line} | {line[: m.start()] for m in cuts} | {line[m.end() :] for m in cuts}
            sizes = set(map(len, candidates))  # compare lengths first: most lines are paragraphs
            rows = range(first + 1, min(end, first + 400))
            for j in compress(rows, map(sizes.__contains__, lengths[rows.start : rows.stop])):
                if stripped[j] not in candidates:
                    continue
                if not good[j] and not codes[j]:
                    titles[d] = stripped[j]  # the article's own heading: the title, and it stays in the text
                    headings[d] = j
                    break
        codes[titled] = title_code
        return titles

    def _mark_comments(self, pages: _Pages, free_good: np.ndarray, codes: np.ndarray) -> None:
        """Cut at the first comments heading that follows the article (more prose before than after)."""
        heads = _nonzero(self.is_comments[codes])
        if not len(heads):
            return
        prose_chars = np.where(free_good, pages.lengths, 0)
        comments = self.names.code("comments")
        for d in np.unique(pages.doc[heads]).tolist():
            a, b = int(pages.bounds[d]), int(pages.bounds[d + 1])
            prose = np.cumsum(prose_chars[a:b])
            total = int(prose[-1])
            for i in heads[(heads >= a) & (heads < b)].tolist():
                before = int(prose[i - a])
                if before >= self.params.min_article_chars and before > total - before:
                    tail = codes[i + 1 : b]
                    tail[tail == KEEP] = comments
                    break

    def _clusters(self, pages: _Pages, good_idx: np.ndarray) -> Clusters:
        """Each run of prose lines with small gaps, within a page."""
        if not len(good_idx):
            empty = np.zeros(0, dtype=np.int64)
            return Clusters(empty, empty, empty, empty)
        seen = np.cumsum(pages.nonblank)
        gaps = seen[good_idx[1:] - 1] - seen[good_idx[:-1]]  # non-blank lines strictly between
        good_doc = pages.doc[good_idx]
        breaks = _nonzero((gaps > self.params.max_gap_lines) | (good_doc[1:] != good_doc[:-1]))
        starts = np.concatenate(([0], breaks + 1))
        ends = np.concatenate((breaks, [len(good_idx) - 1]))
        weights = np.add.reduceat(pages.lengths[good_idx], starts)
        return Clusters(good_idx[starts], good_idx[ends], weights, good_doc[starts])

    def _mark_outside(self, pages: _Pages, clusters: Clusters, article, heaviest, good, menu_like, codes) -> np.ndarray:
        """Menus and footers: short lines before and after the article (of each page in
        ``article``); returns the menu-like lines inside it, of which runs go."""
        p, n, nb, doc = self.params, pages.n, pages.nb, pages.doc
        n_docs = len(article)
        in_article = article[clusters.doc]
        kept = in_article & (clusters.weight >= p.minor_cluster_ratio * heaviest[clusters.doc])
        first = np.full(n_docs, n, dtype=np.int64)
        last = np.full(n_docs, -1, dtype=np.int64)
        np.minimum.at(first, clusters.doc[kept], clusters.first[kept])
        np.maximum.at(last, clusters.doc[kept], clusters.last[kept])
        protected = self._content_blocks(pages, good & (codes == KEEP))
        protected |= pages.ranges(clusters.first[in_article], clusters.last[in_article])
        codes_l, good_l, nonblank_l, meta_l = codes.tolist(), good.tolist(), pages.nonblank.tolist(), self.is_meta.tolist()
        starts = pages.bounds.tolist()
        for a, d in zip(clusters.first[kept].tolist(), clusters.doc[kept].tolist()):
            j, taken = a - 1, 0  # headings: the lines right above a kept cluster
            while j >= starts[d] and taken < p.heading_lookback:
                if nonblank_l[j] and not meta_l[codes_l[j]]:  # look past "By ...", dates, captions and share buttons
                    if codes_l[j] or good_l[j]:
                        break
                    protected[j] = True
                    taken += 1
                j -= 1
        # the article's edges: content-like lines (not menu entries) right before and after it,
        # up to the first phrase-rule line or menu-like line, e.g. a recipe's ingredient list
        docs = _nonzero(article)
        nb_lo, nb_hi = np.searchsorted(nb, pages.bounds[docs]), np.searchsorted(nb, pages.bounds[docs + 1])
        nb_first, nb_last = np.searchsorted(nb, first[docs]), np.searchsorted(nb, last[docs])
        nb_l, menu_l = nb.tolist(), menu_like.tolist()
        for lo, hi, k_first, k_last in zip(nb_lo.tolist(), nb_hi.tolist(), nb_first.tolist(), nb_last.tolist()):
            for k, step, limit in ((k_first - 1, -1, p.extend_before), (k_last + 1, 1, p.extend_after)):
                for _ in range(limit):
                    if not lo <= k < hi:
                        break
                    j = nb_l[k]
                    if codes_l[j] or menu_l[j]:
                        break
                    protected[j] = True
                    k += step
        minor = np.zeros(n, dtype=bool)
        if p.drop_minor_prose:  # prose far from the article: sidebar blurbs, newsletter pitches
            c = clusters
            far = in_article & ~kept & ((c.last < first[c.doc]) | (c.first > last[c.doc]))
            minor = pages.ranges(c.first[far], c.last[far])
            protected &= ~minor
        free = article[doc] & pages.nonblank & (codes == KEEP) & ~protected & (~good | minor)
        if p.keep_quantities:
            free &= ~self._quantities(pages, free)
        idx = np.arange(n)
        line_first, line_last = first[doc], last[doc]
        codes[free & (idx < line_first)] = self.names.code("header_zone")
        codes[free & (idx > line_last)] = self.names.code("footer_zone")
        # between kept clusters: only runs of menu-like lines (a list in an article has words)
        return free & (idx > line_first) & (idx < line_last) & menu_like

    def _mark_head(self, pages: _Pages, clusters: Clusters, article, heaviest, headings, codes) -> None:
        """The page's head: where the page repeats its <title> as a heading right before the
        article's heaviest prose run (which starts within ``head_max_gap_lines`` lines after it: a
        strong article start), every kept line above the heading is site furniture - menus,
        breadcrumbs, teasers of other stories, even when they are prose (rule ``head_zone``)."""
        main_first = _main_first(clusters, heaviest, len(article))
        docs = _nonzero(article & (headings >= 0) & (headings < main_first))
        seen = np.cumsum(pages.nonblank)
        docs = docs[seen[main_first[docs]] - seen[headings[docs]] <= self.params.head_max_gap_lines]
        head = self.names.code("head_zone")
        for d in docs.tolist():
            a, h = int(pages.bounds[d]), int(headings[d])
            span = codes[a:h]
            span[(span == KEEP) & pages.nonblank[a:h]] = head

    def _mark_site_voice(self, pages: _Pages, clusters: Clusters, n_docs: int, heaviest, voice, mentions, good, codes) -> None:
        """The article's last paragraphs when they speak of the site, not the story ("Subscribe to
        our newsletter...", "Support our journalism...", "Comments are moderated..."): walking back
        from the end of the last main prose cluster (on pages with little prose too), prose lines
        dense with site words go (rule ``site_voice``) up to the first prose line without any (one
        that names the site once goes only when a denser one precedes it); so do such lines after
        it. Never a page's every prose line."""
        p = self.params
        kept = clusters.weight >= p.minor_cluster_ratio * heaviest[clusters.doc]  # pages with little prose too
        last = np.full(n_docs, -1, dtype=np.int64)
        np.maximum.at(last, clusters.doc[kept], clusters.last[kept])
        docs = _nonzero(last >= 0)
        if not len(docs):
            return
        site = self.names.code("site_voice")
        free = (codes == KEEP) & pages.nonblank
        voice_l, good_l, free_l, mentions_l = voice.tolist(), good.tolist(), free.tolist(), mentions.tolist()
        starts = pages.bounds[docs].tolist()
        for start, end in zip(starts, last[docs].tolist()):
            j, first_voiced = end, -1
            while j >= start:  # the trailing run: voiced prose and the lines between
                if free_l[j]:
                    if voice_l[j]:
                        first_voiced = j
                    elif good_l[j] and not mentions_l[j]:  # prose naming the site once: walk on
                        break
                j -= 1
            if first_voiced >= 0 and j >= start:  # never the whole page
                span = codes[first_voiced : end + 1]
                span[free[first_voiced : end + 1]] = site
        line_last = last[pages.doc]
        codes[voice & free & (line_last >= 0) & (np.arange(pages.n) > line_last)] = site

    @staticmethod
    def _quantities(pages: _Pages, lines: np.ndarray) -> np.ndarray:
        """Which of ``lines`` start with a quantity or an item number (``_QUANTITY``; only these
        lines are matched)."""
        rows = _nonzero(lines)
        out = np.zeros(len(lines), dtype=bool)
        stripped, match = pages.stripped, _QUANTITY.match
        out[rows] = np.fromiter((match(stripped[i]) is not None for i in rows.tolist()), dtype=bool, count=len(rows))
        return out

    def _mark_end_islands(self, pages: _Pages, clusters: Clusters, article, heaviest, good, codes) -> None:
        """Author cards and site blurbs ending the article (``pipeline.boilerplate_edges``): on pages
        with an article, from its heaviest prose run to the end of its last kept run."""
        p = self.params
        n_docs = len(article)
        kept = article[clusters.doc] & (clusters.weight >= p.minor_cluster_ratio * heaviest[clusters.doc])
        last = np.full(n_docs, -1, dtype=np.int64)
        np.maximum.at(last, clusters.doc[kept], clusters.last[kept])
        main_first = _main_first(clusters, heaviest, n_docs)
        docs = _nonzero(article & (last >= 0))
        if not len(docs):
            return
        mark_end_islands(pages.stripped, pages.lengths, good & (codes == KEEP), codes, pages.doc, (main_first[docs], last[docs], heaviest[docs]),
                         self.names.code(END_ISLAND_RULE), p.end_island_min_gap, p.end_island_max_lines, p.end_island_max_share)

    def _content_blocks(self, pages: _Pages, good: np.ndarray) -> np.ndarray:
        """Lines of blocks (runs of lines between blank lines) that hold prose: a paragraph broken
        by <br> ("... bietet Platz für" / "9 Personen ...") is one block. Long blocks are left
        out: some extractors put no blank lines at all, and then a block is the whole page."""
        block = np.cumsum(~pages.nonblank | pages.doc_start)
        size = np.bincount(block, weights=pages.nonblank)
        prose = np.bincount(block, weights=good)
        content = (prose > 0) & ((size <= self.params.max_block_lines) | (prose >= 0.5 * size))
        return content[block] & pages.nonblank

    def _mark_menu_runs(self, pages: _Pages, menu: np.ndarray, codes: np.ndarray) -> None:
        """Mark runs of at least ``menu_run_lines`` consecutive (blank lines aside) menu-like lines."""
        flags = menu[pages.nb]
        if not flags.any():
            return
        starts, stops = _runs(flags, pages.nb_same)
        long = stops - starts >= self.params.menu_run_lines
        if long.any():
            delta = np.zeros(len(flags) + 1, dtype=np.int64)
            delta[starts[long]] += 1
            delta[stops[long]] -= 1
            codes[pages.nb[np.cumsum(delta[:-1]) > 0]] = self.names.code("link_block")

    def _mark_sections(self, pages: _Pages, good_idx: np.ndarray, codes: np.ndarray) -> None:
        """After a "Related articles" heading, remove the non-prose lines up to the next prose line."""
        heads = _nonzero(self.is_section[codes])
        if not len(heads):
            return
        ends = pages.bounds[pages.doc[heads] + 1].tolist()
        nxt = np.searchsorted(good_idx, heads + 1)
        stops = np.where(nxt < len(good_idx), good_idx[np.minimum(nxt, len(good_idx) - 1)] if len(good_idx) else 0, pages.n)
        for i, stop, end in zip(heads.tolist(), stops.tolist(), ends):
            stop = min(stop, end)
            span = codes[i + 1 : stop]
            span[(span == KEEP) & pages.nonblank[i + 1 : stop]] = codes[i]

    def _mark_repeated(self, pages: _Pages, repeated: RepeatedTest, good, codes, clusters: Clusters) -> None:
        """Lines common across documents go, unless they are article prose or head a paragraph."""
        in_cluster = pages.ranges(clusters.first, clusters.last)
        # article prose stays; so does a common subheading ("Fazit") right above prose
        candidates = _nonzero(pages.nonblank & (codes == KEEP) & ~(in_cluster & good) & ~pages.next_nonblank(good))
        if not len(candidates):
            return
        hits = repeated(pages.doc[candidates], [pages.stripped[i] for i in candidates.tolist()])
        codes[candidates[hits]] = self.names.code("repeated")

    def _results(self, pages: _Pages, codes: np.ndarray, titles: list[str | None], language: np.ndarray) -> list[CleanResult]:
        n_docs, lines, doc = len(titles), pages.lines, pages.doc
        keep = codes == KEEP
        keep_l = keep.tolist()
        cut = _nonzero(pages.nonblank & ~keep)
        # the records of all cut lines as three lists made by C-level map; each page takes its slices
        offsets = pages.line_starts[cut] - pages.line_starts[pages.bounds[:-1]][doc[cut]]  # where each line starts in its text
        rules = list(map(self.names.names.__getitem__, codes[cut].tolist()))
        cut_lines = list(map(pages.stripped.__getitem__, cut.tolist()))
        offsets = offsets.tolist()
        first_record = np.searchsorted(doc[cut], np.arange(n_docs + 1)).tolist()
        n_removed = np.bincount(doc[cut], minlength=n_docs).tolist()
        n_nonblank = np.bincount(doc[pages.nb], minlength=n_docs).tolist()
        bounds, languages = pages.bounds.tolist(), language.tolist()
        out = []
        for d in range(n_docs):
            a, b = bounds[d], bounds[d + 1]
            text = "\n".join(compress(lines[a:b], keep_l[a:b]))
            if "\n\n\n" in text:
                text = _BLANK_RUNS.sub("\n\n", text)
            lang = languages[d]
            r0, r1 = first_record[d], first_record[d + 1]
            out.append(CleanResult(text.strip(), titles[d], rules[r0:r1], cut_lines[r0:r1], offsets[r0:r1], self.languages[lang] if lang >= 0 else None,
                                   n_removed[d], n_nonblank[d] - n_removed[d]))
        return out


def _main_first(clusters: Clusters, heaviest: np.ndarray, n_docs: int) -> np.ndarray:
    """Per page: the first line of its heaviest prose cluster (ties: the first one), -1 if none."""
    main_first = np.full(n_docs, -1, dtype=np.int64)
    top = _nonzero(clusters.weight == heaviest[clusters.doc])[::-1]  # written last wins: the first cluster
    main_first[clusters.doc[top]] = clusters.first[top]
    return main_first


def _token_bits(rules: PhraseRules, languages: tuple[str, ...]) -> dict[str, int]:
    """token -> bit set: bit k = stopword of language k, _ANCHOR_BIT = a phrase rule's anchor word
    (the gate for pattern rules), _LINE_KEY_BIT / _CONTAINS_BIT = a token that selects a whole-line
    / contains pattern (a line without one cannot match it); one dict probe per token gives the
    language guess, stopword counts and both gates. Built once per rule set (remembered on it)."""
    cached = rules.__dict__.get("_token_bits")
    if cached is not None and cached[0] == languages:
        return cached[1]
    token_bits: dict[str, int] = {}
    for k, lang in enumerate(languages):
        for word in _with_punctuation(rules.stopwords[lang]):
            token_bits[word] = token_bits.get(word, 0) | (1 << k)
    anchors = _with_punctuation(set(rules.line_patterns.by_anchor) | set(rules.contains.by_anchor), prefixes=True)
    for word in anchors:
        token_bits[word] = token_bits.get(word, 0) | (1 << _ANCHOR_BIT)
    for word in _with_punctuation(rules.site_words, prefixes=True):
        token_bits[word] = token_bits.get(word, 0) | (1 << _SITE_BIT)
    for bit, patterns in ((_LINE_KEY_BIT, rules.line_patterns), (_CONTAINS_BIT, rules.contains)):
        for word in patterns.by_token:
            token_bits[word] = token_bits.get(word, 0) | (1 << bit)
    object.__setattr__(rules, "_token_bits", (languages, token_bits))
    return token_bits


def _vocabulary(rules: PhraseRules, languages: tuple[str, ...], tokenizer: _Tokens) -> tuple[HashedBits, list[str]]:
    """``_token_bits`` as a ``HashedBits`` of token hashes, and the words in the order of their
    hashes (its keys). Built once per rule set, and remembered on disk between processes (~100,000
    words with punctuation forms: building and hashing them took ~0.3 s at every start-up)."""
    cached = rules.__dict__.get("_vocabulary")
    if cached is not None and cached[0] == languages:
        return cached[1]

    def compute() -> dict[str, np.ndarray]:
        token_bits = _token_bits(rules, languages)
        vocabulary = sorted(w for w in token_bits if w.split() == [w])  # "por qué" is never one token
        hashes = tokenizer.hash_words(vocabulary)
        order = np.argsort(hashes)
        if (hashes[order][1:] == hashes[order][:-1]).any():  # pragma: no cover - 64-bit hash collision
            raise ValueError("boilerplate: token hash collision in the vocabulary")
        words = "\n".join(vocabulary[i] for i in order.tolist()).encode("utf-8", "surrogatepass")
        bits = np.array([token_bits[w] for w in vocabulary], dtype=np.int64)
        return {"hashes": hashes[order], "bits": bits[order], "words": np.frombuffer(words, dtype=np.uint8)}

    stored = disk_cache.remembered_arrays("boilerplate-vocabulary", _vocabulary_ingredients(rules, languages), ("hashes", "bits", "words"), compute)
    table = HashedBits(stored["hashes"], stored["bits"], _SLOT_BITS)
    words = stored["words"].tobytes().decode("utf-8", "surrogatepass").split("\n") if len(table.keys) else []
    object.__setattr__(rules, "_vocabulary", (languages, (table, words)))
    return table, words


def _vocabulary_ingredients(rules: PhraseRules, languages: tuple[str, ...]) -> tuple:
    """Everything ``_token_bits`` and the token hash read: the word lists, and the source of the
    modules that turn them into bits and hashes (a code change starts afresh)."""
    sources = hashlib.sha256(b"".join(Path(module.__file__).read_bytes() for module in (sys.modules[__name__], boilerplate_rules, arrays)))
    return (
        sources.hexdigest(),
        languages,
        [sorted(rules.stopwords[lang]) for lang in languages],
        sorted(rules.line_patterns.by_anchor),
        sorted(rules.contains.by_anchor),
        sorted(rules.site_words),
    )
