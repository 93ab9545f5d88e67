"""The line classifier behind the boilerplate stage: which lines of a page's text are the article.

Each non-blank line gets cheap features (jusText's idea, without HTML), computed for all lines at
once with numpy over token counts rather than line by line:

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress, repeat
from typing import Callable

import numpy as np
import regex
from pydantic import BaseModel, ConfigDict, Field

from .boilerplate_rules import AFFIXES, EDGE_CHARS, PREFIXES, AnchoredPatterns, PhraseRules

_TERMINAL = frozenset(".!?…;:。！？")
_CLOSERS = frozenset("\"'”’»«“)]*")
_BLANK_RUNS = regex.compile(r"\n{3,}")
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
_MATCH_CACHE_LINES = 200_000  # lines whose pattern verdict is remembered (menus repeat across pages)


def _with_punctuation(words, prefixes: bool = False) -> frozenset[str]:
    """Words plus their forms with punctuation attached (tokens are split on whitespace only)."""
    out = {word + affix for word in words for affix in AFFIXES}
    if prefixes:
        out |= {prefix + word for word in words for prefix in PREFIXES}
    return frozenset(out)


_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: invertible modulo 2**64
_HASH_BASE_INVERSE = np.uint64(pow(int(_HASH_BASE), -1, 2**64))
_FILTER_BITS = 20  # a table of 2**20 flags: which hash prefixes the vocabulary holds
_MAX_SPACE = 0x3000  # the highest code point str.split() treats as whitespace
_IS_SPACE = np.array([chr(c).isspace() for c in range(_MAX_SPACE + 1)], dtype=bool)
_MAX_PUNCT = max(map(ord, _TERMINAL | _CLOSERS)) + 1
_IS_TERMINAL = np.zeros(_MAX_PUNCT + 1, dtype=bool)  # by code point; the last entry: everything above
_IS_TERMINAL[list(map(ord, _TERMINAL))] = True
_IS_CLOSER = np.zeros(_MAX_PUNCT + 1, dtype=bool)
_IS_CLOSER[list(map(ord, _CLOSERS))] = True


def _nonzero(flags: np.ndarray) -> np.ndarray:
    """``np.flatnonzero`` for 1-d arrays, without its wrapper's overhead (called ~20 times a page)."""
    return flags.nonzero()[0]


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _cumulative_powers(base: np.uint64, size: int) -> np.ndarray:
    """base**0 .. base**(size-1) modulo 2**64 (uint64 arithmetic wraps)."""
    factors = np.full(size, base, dtype=np.uint64)
    factors[0] = 1
    return np.cumprod(factors, dtype=np.uint64)


class _Tokens:
    """Whitespace tokens of a text as numpy arrays, without making a Python string per token: each
    token is identified by a polynomial hash of its code points (mod 2**64, plus its length), so
    looking words up in a vocabulary is one ``searchsorted`` for the whole text. Same tokens as
    ``str.split()`` (the same whitespace table)."""

    def __init__(self) -> None:
        self._powers = np.ones(1, dtype=np.uint64)
        self._inverse_powers = np.ones(1, dtype=np.uint64)

    def _tables(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self._powers) < n:  # grown on demand, doubling
            size = max(n, 2 * len(self._powers))
            with np.errstate(over="ignore"):
                self._powers = _cumulative_powers(_HASH_BASE, size)
                self._inverse_powers = _cumulative_powers(_HASH_BASE_INVERSE, size)
        return self._powers[:n], self._inverse_powers[:n]

    def split(self, codes: np.ndarray, space: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, end, hash) of every token of a text given as code points (``space``: which are
        whitespace, if known)."""
        n = len(codes)
        if space is None:
            space = _IS_SPACE[np.minimum(codes, _MAX_SPACE)] & (codes <= _MAX_SPACE)
        edges = np.diff(np.concatenate(([1], space.view(np.int8), [1])))
        starts, ends = _nonzero(edges == -1), _nonzero(edges == 1)
        powers, inverse = self._tables(n + 1)
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(codes * powers[:n], out=prefix[1:])  # array arithmetic wraps modulo 2**64 silently
        hashes = (prefix[ends] - prefix[starts]) * inverse[starts] + (ends - starts).astype(np.uint64)
        return starts, ends, hashes

    def hash_words(self, words: list[str]) -> np.ndarray:
        """The hash ``split`` gives each of ``words`` (single tokens).

        Token hashes do not depend on position, so one ``split`` of the space-joined words gives
        them all; the word-by-word loop below only runs to name a word that is not one token."""
        if words:
            _, _, hashes = self.split(_codepoints(" ".join(words)))
            if len(hashes) == len(words):
                return hashes
        out = []
        for word in words:
            _, _, h = self.split(_codepoints(word))
            if len(h) != 1:
                raise ValueError(f"not a single token: {word!r}")
            out.append(h[0])
        return np.array(out, dtype=np.uint64)


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
    extract_title: bool = True
    """Move the headline (first line; the heading repeating it if cleaner) to ``metadata.title``."""
    max_title_chars: int = Field(200, ge=1)


@dataclass
class CleanResult:
    text: str
    title: str | None
    removed: list[tuple[str, str, int]] = field(default_factory=list)
    """(rule, line, character offset of the line) for every removed line."""
    language: str | None = None
    lines_removed: int = 0
    lines_kept: int = 0


@dataclass
class LineView:
    """The classifier's per-line features and decisions, for a later pass (``zones``) that may
    set more ``codes`` (only lines still ``KEEP``; ``code(rule name)`` gives a rule's code)."""

    stripped: list[str]
    nonblank: np.ndarray
    lengths: np.ndarray
    n_words: np.ndarray
    n_stop: np.ndarray
    ends: np.ndarray
    good: np.ndarray
    codes: np.ndarray
    clusters: list[tuple[int, int, int]]
    """(first line, last line, prose chars) of each prose cluster."""
    code: Callable[[str], int]


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


class LineClassifier:
    """Phrase rules + thresholds; ``clean(text)`` returns the article and what was cut, and why."""

    def __init__(self, rules: PhraseRules, params: LineParams, zones: Callable[[LineView], None] | None = None):
        self.rules = rules
        self.params = params
        self.zones = zones  # a later pass over the decisions (pipeline.boilerplate_zones), or None
        self.names = _Rules()
        self.section_codes = {self.names.code(n) for n in rules.section_rules}
        self.comment_codes = {self.names.code(n) for n in rules.section_rules if n.startswith("comments")}
        for name in ("title", "comments", "header_zone", "footer_zone", "link_block", "repeated", "symbols"):
            self.names.code(name)
        self.languages = list(rules.stopwords)
        if len(self.languages) >= _CONTAINS_BIT:
            raise ValueError(f"boilerplate: at most {_CONTAINS_BIT} stopword languages, got {len(self.languages)}")
        self.stopwords = [_with_punctuation(rules.stopwords[lang]) for lang in self.languages]
        anchors = _with_punctuation(set(rules.line_patterns.by_anchor) | set(rules.contains.by_anchor), prefixes=True)
        # token -> bit set: bit k = stopword of language k, _ANCHOR_BIT = a phrase rule's anchor word
        # (the gate for pattern rules), _LINE_KEY_BIT / _CONTAINS_BIT = a token that selects a
        # whole-line / contains pattern (a line without one cannot match it); one dict probe per
        # token gives the language guess, stopword counts and both gates
        self.token_bits: dict[str, int] = {}
        for k, words in enumerate(self.stopwords):
            for word in words:
                self.token_bits[word] = self.token_bits.get(word, 0) | (1 << k)
        for word in anchors:
            self.token_bits[word] = self.token_bits.get(word, 0) | (1 << _ANCHOR_BIT)
        for bit, patterns in ((_LINE_KEY_BIT, rules.line_patterns), (_CONTAINS_BIT, rules.contains)):
            for word in patterns.by_token:
                self.token_bits[word] = self.token_bits.get(word, 0) | (1 << bit)
        self._language_bits = np.arange(len(self.languages), dtype=np.int64)
        self._tokens = _Tokens()
        vocabulary = sorted(w for w in self.token_bits if w.split() == [w])  # "por qué" is never one token
        hashes = self._tokens.hash_words(vocabulary)
        if len(np.unique(hashes)) != len(vocabulary):  # pragma: no cover - 64-bit hash collision
            raise ValueError("boilerplate: token hash collision in the vocabulary")
        order = np.argsort(hashes)
        self._vocab_hashes = hashes[order]  # sorted: a token's bits are one searchsorted away
        self._vocab_bits = np.array([self.token_bits[vocabulary[i]] for i in order.tolist()], dtype=np.int64)
        self._vocab_filter = np.zeros(1 << _FILTER_BITS, dtype=bool)  # most other tokens skip the search
        self._vocab_filter[self._vocab_hashes >> np.uint64(64 - _FILTER_BITS)] = True
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
        self.is_meta[[self.names.code(n) for n in ("byline", "date", "credit", "title")]] = True

    # -- features -------------------------------------------------------------------------------
    def _phrase_codes(self, stripped, lowered, lengths, n_words, gates) -> tuple[np.ndarray, np.ndarray]:
        """Rule code per line from the phrase data (0 = no rule), and which came from a phrase
        found inside the line (rather than the whole line)."""
        rules, code = self.rules, self.names.code
        codes = np.zeros(len(stripped), dtype=np.int32)
        contained = np.zeros(len(stripped), dtype=bool)  # lines coded by a ``contains`` phrase
        n = len(stripped)
        keys = map(str.strip, lowered, repeat(EDGE_CHARS, n))
        codes[:] = np.fromiter(map(self._phrase_codes_by_key.get, keys, repeat(KEEP)), dtype=np.int32, count=n)
        codes[(lengths == 0) | (lengths > _PHRASE_MAX_CHARS)] = KEEP
        anchored, line_gate, contains_gate = gates
        candidates = anchored & (codes == 0)
        for i in _nonzero(candidates & line_gate & (lengths <= _PATTERN_MAX_CHARS) & (n_words <= _PATTERN_MAX_WORDS)).tolist():
            name = self._match(rules.line_patterns, stripped[i], True)
            if name is not None:
                codes[i] = code(name)
        if rules.bare_regex is not None:
            rows = _nonzero((codes == 0) & (lengths > 0) & (lengths <= _BARE_MAX_CHARS)).tolist()
            for i in [i for i in rows if not stripped[i][0].isalpha() or "@" in stripped[i]]:
                m = rules.bare_regex.fullmatch(stripped[i].strip(EDGE_CHARS))
                if m is not None:
                    codes[i] = code(m.lastgroup or "pattern")
        for i in _nonzero(candidates & contains_gate & (codes == 0) & (lengths <= self.params.contains_max_chars)).tolist():
            name = self._match(rules.contains, stripped[i], False)
            if name is not None:
                codes[i] = code(name)
                contained[i] = True
        return codes, contained

    def _match(self, patterns: AnchoredPatterns, line: str, whole_line: bool) -> str | None:
        """``patterns.match``, remembered per line: template lines recur on every page of a site."""
        key = (whole_line, line)
        cache = self._match_cache
        if key in cache:
            return cache[key]
        if len(cache) >= _MATCH_CACHE_LINES:
            cache.clear()
        name = cache[key] = patterns.match(line, whole_line)
        return name

    def _features(self, text: str, low: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
        """Per token: its bits (``token_bits``) and line; per line: the number of tokens and whether
        it ends a sentence; and whether any line has blanks at its edges. All with numpy over the
        text's code points, no Python object per token or line."""
        codes = _codepoints(low)
        space = _IS_SPACE[np.minimum(codes, _MAX_SPACE)] & (codes <= _MAX_SPACE)
        starts, _, hashes = self._tokens.split(codes, space)
        bits = np.zeros(len(hashes), dtype=np.int64)
        maybe = _nonzero(self._vocab_filter[hashes >> np.uint64(64 - _FILTER_BITS)])
        where = np.searchsorted(self._vocab_hashes, hashes[maybe])
        where[where == len(self._vocab_hashes)] = 0
        bits[maybe] = np.where(self._vocab_hashes[where] == hashes[maybe], self._vocab_bits[where], 0)
        newline = codes == 10
        line_of_token = np.cumsum(newline)[starts] if len(starts) else starts
        n_words = np.bincount(line_of_token, minlength=n)
        line_ends = np.append(_nonzero(newline), len(codes))  # one past each line's last character
        line_starts = np.concatenate(([0], line_ends[:-1] + 1))
        nonempty = line_ends > line_starts
        padded = np.zeros(n, dtype=bool)  # a line that str.strip() would shorten
        padded[nonempty] = space[line_starts[nonempty]] | space[line_ends[nonempty] - 1]
        if len(low) != len(text) or padded.any():  # rare: the sentence ends of the stripped lines, one by one
            return bits, line_of_token, n_words, None, True
        # lower() keeps punctuation as it is, and the lines need no strip: the last two characters
        last = np.where(nonempty, codes[np.maximum(line_ends - 1, 0)] if len(codes) else 0, 0)
        before = np.where(line_ends - line_starts >= 2, codes[np.maximum(line_ends - 2, 0)] if len(codes) else 0, 0)
        last, before = np.minimum(last, _MAX_PUNCT), np.minimum(before, _MAX_PUNCT)
        ends = nonempty & (_IS_TERMINAL[last] | (_IS_CLOSER[last] & _IS_TERMINAL[before]))
        return bits, line_of_token, n_words, ends, False

    # -- the decision -----------------------------------------------------------------------------
    def clean(self, text: str, repeated: Callable[[list[str]], np.ndarray] | None = None) -> CleanResult:
        """Decide line by line what is article. ``repeated(lines)`` says which of some lines are
        common across documents (the stage's corpus statistics)."""
        p = self.params
        lines = text.split("\n")
        n = len(lines)
        low = text.lower()
        bits, line_of_token, n_words, ends, padded = self._features(text, low, n)
        stripped = [line.strip() for line in lines] if padded else lines
        lengths = np.fromiter(map(len, stripped), dtype=np.int64, count=n)
        nonblank = lengths > 0
        if ends is None:
            ends = np.fromiter(
                ((s[-1:] in _TERMINAL) or (s[-1:] in _CLOSERS and s[-2:-1] in _TERMINAL) for s in stripped), dtype=bool, count=n
            )
        language_id = self._language(bits)
        language = self.languages[language_id] if language_id is not None else None

        def lines_with(bit: int) -> np.ndarray:
            return np.bincount(line_of_token[(bits >> bit) & 1 == 1], minlength=n)

        if language_id is not None:
            n_stop = lines_with(language_id)
            dense = n_stop >= p.min_stopword_density * n_words
        else:  # no stopword list fits: prose is judged by length and sentence ends alone
            n_stop = np.zeros(n, dtype=np.int64)
            dense = np.ones(n, dtype=bool)
        good = (n_words >= p.good_min_words) & dense & (ends | (n_words >= p.long_line_words))
        short = nonblank & ~good & (n_words <= p.short_max_words) & ~ends
        # a menu entry: a few words, no sentence end, no stopword ("Sport", "Über uns")
        menu_like = short & (n_stop == 0)

        anchored = lines_with(_ANCHOR_BIT) > 0
        line_gate = lines_with(_LINE_KEY_BIT) > 0
        contains_gate = lines_with(_CONTAINS_BIT) > 0
        if "©" in text:  # glued to a year ("©2024"), so no token of its own: such lines are tried
            copyright = np.fromiter(("©" in s for s in stripped), dtype=bool, count=n)
            anchored |= copyright
            line_gate |= copyright
            contains_gate |= copyright
        lowered = low.split("\n")
        if len(lowered) != n:  # lower() never adds line breaks; guard anyway
            lowered = [line.lower() for line in lines]
        codes, contained = self._phrase_codes(stripped, lowered, lengths, n_words, (anchored, line_gate, contains_gate))
        self._spare_embedded_prose(contained, good, nonblank, codes)
        title = None
        if p.extract_title:
            title = self._mark_title(stripped, good, codes)
        self._mark_comments(good & (codes == 0), lengths, codes)
        good_idx = _nonzero(good & (codes == 0))
        clusters = self._clusters(good_idx, nonblank, lengths)
        self._mark_sections(good_idx, nonblank, codes)
        heaviest = max((w for _, _, w in clusters), default=0)
        if heaviest >= p.min_article_chars and heaviest >= p.min_prose_share * int(lengths.sum()):
            self._mark_outside(clusters, good, menu_like, nonblank, codes)
        elif heaviest > 0:  # little prose (a recipe, a product page, lyrics): only menus go, not the zones
            free = nonblank & (codes == KEEP) & ~good
            self._mark_menu_runs(free & menu_like, free, nonblank, codes)
        # no prose at all (a keyword list, a table): no structure to judge by, so only phrase rules
        # apply and later stages (spam, quality) see the page as it is
        if repeated is not None:
            self._mark_repeated(repeated, stripped, good, nonblank, codes, clusters)
        if self.zones is not None:
            self.zones(LineView(stripped, nonblank, lengths, n_words, n_stop, ends, good, codes, clusters, self.names.code))
        return self._result(lines, stripped, nonblank, codes, title, language)

    def _spare_embedded_prose(self, contained, good, nonblank, codes) -> None:
        """A prose line between two prose lines is article, whatever phrase it holds ("customers
        who follow us on the long walk..."): ``contains`` rules do not remove it."""
        nb = _nonzero(nonblank)
        plain_good = good & ((codes == KEEP) | contained)  # prose not named by a whole-line rule
        prev_good = np.zeros(len(codes), dtype=bool)
        next_good = np.zeros(len(codes), dtype=bool)
        prev_good[nb[1:]] = plain_good[nb[:-1]]
        next_good[nb[:-1]] = plain_good[nb[1:]]
        codes[contained & good & prev_good & next_good] = KEEP

    def _language(self, bits: np.ndarray, sample: int = 150) -> int | None:
        """Index of the language whose stopwords cover most words of a sample of the text
        (``bits``: each token's bit set from ``token_bits``)."""
        mid = max(0, len(bits) // 2 - sample // 2)
        window = bits[mid : mid + sample]
        if not len(window):
            return None
        hits = ((window[:, None] >> self._language_bits) & 1).sum(axis=0)
        best = int(np.argmax(hits))
        return best if hits[best] >= 0.05 * len(window) else None

    def _mark_title(self, stripped: list[str], good: np.ndarray, codes: np.ndarray) -> str | None:
        """The first line (the page's <title>) is removed as the headline; with "<headline> | <site>",
        the heading that repeats it further down is the cleaner title."""
        p = self.params
        first = next((i for i, s in enumerate(stripped) if s), None)
        if first is None or codes[first] or not any(stripped[first + 1 :]):
            return None  # a one-line document is its own text, not a title
        line = stripped[first]
        if len(line) > p.max_title_chars or line[-1] in _TERMINAL:
            return None
        if line.count(" ") * _CHARS_PER_WORD < len(line) - _CHARS_PER_WORD and len(line) > _UNSPACED_TITLE_CHARS:
            return None  # a long line in a script without spaces (Thai, Chinese): a paragraph, not a title
        codes[first] = self.names.code("title")
        cuts = list(_TITLE_SEPARATORS.finditer(line))  # "<headline> - <site>", "<site> | <headline>"
        candidates = {line} | {line[: m.start()] for m in cuts} | {line[m.end() :] for m in cuts}
        for j in range(first + 1, min(len(stripped), first + 400)):
            if stripped[j] in candidates and not good[j] and not codes[j]:
                return stripped[j]  # the article's own heading: the title, and it stays in the text
        return line

    def _mark_comments(self, free_good: np.ndarray, lengths: np.ndarray, codes: np.ndarray) -> None:
        """Cut at the first comments heading that follows the article (more prose before than after)."""
        heads = _nonzero(self.is_comments[codes]).tolist()
        if not heads:
            return
        prose = np.cumsum(np.where(free_good, lengths, 0))
        total = int(prose[-1])
        for i in heads:
            before = int(prose[i])
            if before >= self.params.min_article_chars and before > total - before:
                tail = codes[i + 1 :]
                tail[tail == KEEP] = self.names.code("comments")
                return

    def _clusters(self, good_idx: np.ndarray, nonblank: np.ndarray, lengths: np.ndarray) -> list[tuple[int, int, int]]:
        """(first line, last line, prose chars) of each run of prose lines with small gaps."""
        if not len(good_idx):
            return []
        seen = np.cumsum(nonblank)
        gaps = seen[good_idx[1:] - 1] - seen[good_idx[:-1]]  # non-blank lines strictly between
        breaks = _nonzero(gaps > self.params.max_gap_lines)
        starts = np.concatenate(([0], breaks + 1))
        ends = np.concatenate((breaks, [len(good_idx) - 1]))
        weights = np.add.reduceat(lengths[good_idx], starts)
        return [(int(good_idx[a]), int(good_idx[b]), int(w)) for a, b, w in zip(starts, ends, weights)]

    def _mark_outside(self, clusters, good, menu_like, nonblank, codes) -> None:
        """Menus and footers: short lines before and after the article, menu runs inside it."""
        p = self.params
        heaviest = max(w for _, _, w in clusters)
        kept = [(a, b) for a, b, w in clusters if w >= p.minor_cluster_ratio * heaviest]
        first, last = kept[0][0], kept[-1][1]
        protected = self._content_blocks(good & (codes == KEEP), nonblank)
        for a, b, _ in clusters:
            protected[a : b + 1] = True
        for a, _ in kept:
            j, taken = a - 1, 0  # headings: the lines right above a kept cluster
            while j >= 0 and taken < p.heading_lookback:
                if nonblank[j] and not self.is_meta[codes[j]]:  # look past "By ..." and dates
                    if codes[j] or good[j]:
                        break
                    protected[j] = True
                    taken += 1
                j -= 1
        # the article's edges: content-like lines (not menu entries) right before and after it,
        # up to the first phrase-rule line or menu-like line, e.g. a recipe's ingredient list
        nb = _nonzero(nonblank)
        for start, step, limit in ((first, -1, p.extend_before), (last, 1, p.extend_after)):
            k = int(np.searchsorted(nb, start)) + step
            for _ in range(limit):
                if not 0 <= k < len(nb):
                    break
                j = nb[k]
                if codes[j] or menu_like[j]:
                    break
                protected[j] = True
                k += step
        minor = np.zeros(len(codes), dtype=bool)
        if p.drop_minor_prose:  # prose far from the article: sidebar blurbs, newsletter pitches
            for a, b, w in clusters:
                if w < p.minor_cluster_ratio * heaviest and (b < first or a > last):
                    minor[a : b + 1] = True
            protected &= ~minor
        free = nonblank & (codes == KEEP) & ~protected & (~good | minor)
        idx = np.arange(len(codes))
        codes[free & (idx < first)] = self.names.code("header_zone")
        codes[free & (idx > last)] = self.names.code("footer_zone")
        # between kept clusters: only runs of menu-like lines (a list in an article has words)
        between = free & (idx > first) & (idx < last)
        self._mark_menu_runs(between & menu_like, between, nonblank, codes)

    def _content_blocks(self, good: np.ndarray, nonblank: np.ndarray) -> np.ndarray:
        """Lines of blocks (runs of lines between blank lines) that hold prose: a paragraph broken
        by <br> ("... bietet Platz für" / "9 Personen ...") is one block. Long blocks are left
        out: some extractors put no blank lines at all, and then a block is the whole page."""
        block = np.cumsum(~nonblank)
        size = np.bincount(block, weights=nonblank)
        prose = np.bincount(block, weights=good)
        content = (prose > 0) & ((size <= self.params.max_block_lines) | (prose >= 0.5 * size))
        return content[block] & nonblank

    def _mark_menu_runs(self, menu: np.ndarray, candidates: np.ndarray, nonblank: np.ndarray, codes: np.ndarray) -> None:
        """Mark runs of at least ``menu_run_lines`` consecutive (blank lines aside) menu-like lines."""
        nb = _nonzero(nonblank)
        flags = menu[nb]
        if not flags.any():
            return
        edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
        starts, stops = _nonzero(edges == 1), _nonzero(edges == -1)
        code = self.names.code("link_block")
        for a, b in zip(starts.tolist(), stops.tolist()):
            if b - a >= self.params.menu_run_lines:
                rows = nb[a:b]
                codes[rows[candidates[rows]]] = code

    def _mark_sections(self, good_idx: np.ndarray, nonblank: np.ndarray, codes: np.ndarray) -> None:
        """After a "Related articles" heading, remove the non-prose lines up to the next prose line."""
        heads = _nonzero(self.is_section[codes])
        for i in heads.tolist():
            nxt = np.searchsorted(good_idx, i + 1)
            stop = int(good_idx[nxt]) if nxt < len(good_idx) else len(codes)
            span = codes[i + 1 : stop]
            span[(span == KEEP) & nonblank[i + 1 : stop]] = codes[i]

    def _mark_repeated(self, repeated, stripped, good, nonblank, codes, clusters) -> None:
        """Lines common across documents go, unless they are article prose or head a paragraph."""
        in_cluster = np.zeros(len(codes), dtype=bool)
        for a, b, _ in clusters:
            in_cluster[a : b + 1] = True
        nb = _nonzero(nonblank)
        next_good = np.zeros(len(codes), dtype=bool)
        next_good[nb[:-1]] = good[nb[1:]]
        # article prose stays; so does a common subheading ("Fazit") right above prose
        candidates = _nonzero(nonblank & (codes == KEEP) & ~(in_cluster & good) & ~next_good)
        if not len(candidates):
            return
        hits = repeated([stripped[i] for i in candidates.tolist()])
        codes[candidates[hits]] = self.names.code("repeated")

    def _result(self, lines, stripped, nonblank, codes, title, language) -> CleanResult:
        keep_mask = codes == KEEP
        text = _BLANK_RUNS.sub("\n\n", "\n".join(compress(lines, keep_mask.tolist()))).strip()
        cut = _nonzero(nonblank & ~keep_mask)
        removed: list[tuple[str, str, int]] = []
        if len(cut):
            line_chars = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines)) + 1
            offsets = np.cumsum(line_chars) - line_chars  # where each line starts in the text
            names = self.names.names
            removed = [(names[c], stripped[i], o) for i, c, o in zip(cut.tolist(), codes[cut].tolist(), offsets[cut].tolist())]
        n_removed = len(cut)
        return CleanResult(text, title, removed, language, n_removed, int(nonblank.sum()) - n_removed)
