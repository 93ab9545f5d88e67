"""quality: document-level heuristics in the spirit of Gopher, C4 and FineWeb.

Each rule measures one thing (word count, mean word length, symbol and ellipsis ratios, bullet
lines, repeated lines/paragraphs, repeated n-grams, stopwords, lorem ipsum, lines ending in
punctuation) and flags the document with the rule's config key as its name and the measured value,
e.g. ``max_bullet_line_ratio: bullet lines 0.95 > 0.9``. Thresholds are config options; any may be
overridden per language (``by_language``) or switched off (``null``).

Gopher's rules assume words separated by spaces and misjudge Chinese, Japanese and Thai, where a
"word" would be a whole clause. For text mostly in such scripts the unit is the character: counts
are estimated as characters / ``chars_per_word`` and n-gram rules use n x ``chars_per_word``
characters; mean word length and the stopword rule do not apply. The language comes from the
language stage's annotation (script alone decides when it is missing).

Real text the original rules misjudge (see ``logical_lines``): line rules see logical lines, with the hard
wraps of ODT/PDF/e-mail copies joined back; a page with an article is judged on the article by the
repetition rules, so menus left around it by boilerplate removal do not reject it. A consent wall
(C4's policy lines) is caught by ``max_policy_word_ratio``.

Speed: a batch is measured at once by the kernels beside this module (a single text is a batch of
one): ``pipeline/quality_tokens.py`` (one numpy pass over the code points of all its texts: tokens
and stripped lines hashed from prefix sums, word figures, symbols, stopword counts),
``pipeline/quality_lines.py`` (every document's logical lines as array rows: bullets, ellipses,
punctuation, the article, repeated lines and paragraphs; the policy phrase search) and
``pipeline/quality_ngrams.py`` (repeated n-grams of all documents). Only pages that may be
hard-wrapped or are in a script without spaces are cut into lines in Python. Without
``record_stats``, ``_may_fail`` compares every value with its limit for the whole batch and only
documents a rule may flag are read one by one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, Iterable

import numpy as np
from pydantic import Field, ValidationError, field_serializer, field_validator

from ..arrays import concatenated_ranges
from ..document import Document
from ..quality_lines import BatchLines, LineFigures, _per_doc, batch_lines, names_a_phrase
from ..quality_ngrams import ngram_ratios_batch, unit_ids
from ..quality_tokens import (
    _CHAR_UNIT,
    _DATA,
    BatchTokens,
    char_classes,
    count_stopwords_batch,
    lorem_counts,
    plain_stopword_hits,
    stopword_list,
    symbol_counts,
    tokenize_batch,
)
from .base import Stage, StageConfig, gc_paused

_MIN_LINES = 3  # line-share rules (bullets, ellipses) say nothing about a one- or two-line text
_PLAIN_PROBES = (24, 100)  # tokens: most texts have enough bare stopwords among their first 24, nearly all in 100
_MARGIN = 1e-9  # ``_may_fail`` compares with the limits this much early
_REPETITION_LIMITS = ("max_dup_line_ratio", "max_dup_line_char_ratio", "max_dup_paragraph_ratio", "max_dup_paragraph_char_ratio")
_REPETITION_STATS = ("dup_line_ratio", "dup_line_char_ratio", "dup_paragraph_ratio", "dup_paragraph_char_ratio")
_REPETITION_RULES = tuple(  # (kind, rule, message) per value of ``_REPETITION_STATS``
    (kind, f"max_{stat}", what)
    for stat, kind, what in zip(_REPETITION_STATS, ("line", "line", "paragraph", "paragraph"),
                                ("repeated {kind}s{where}", "characters in repeated {kind}s{where}") * 2)
)


@lru_cache(maxsize=None)
def policy_phrases(lang: str) -> tuple[str, ...]:
    """The language's lower-case cookie/consent/policy phrases and the English ones."""
    phrases = json.loads((_DATA / "policy_phrases.json").read_text(encoding="utf-8"))
    return tuple(phrases["en"] + (phrases.get(lang, []) if lang != "en" else []))



NgramSize = Annotated[int, Field(ge=1, le=50)]


class Thresholds(StageConfig):
    """Every rule's threshold (``None`` switches the rule off). Defaults follow Gopher unless noted."""

    min_words: int | None = 10
    """Gopher uses 50 for pretraining corpora; 10 keeps short news briefs."""
    max_words: int | None = 100_000
    min_mean_word_length: float | None = 3.0
    max_mean_word_length: float | None = 10.0
    max_symbol_word_ratio: float | None = 0.1
    """('#' + ellipses) per word."""
    max_bullet_line_ratio: float | None = 0.9
    """Only for documents of 3 or more lines (so is the ellipsis rule)."""
    max_ellipsis_line_ratio: float | None = 0.3
    min_alpha_word_ratio: float | None = 0.8
    """Share of words with at least one letter."""
    min_stopwords: int | None = 2
    max_dup_line_ratio: float | None = 0.4
    """Gopher 0.3 (and 0.2 for the char ratios): real news that carries one story twice in a
    compilation reaches 0.33; a text said twice is 0.5."""
    max_dup_line_char_ratio: float | None = 0.4
    max_dup_paragraph_ratio: float | None = 0.4
    max_dup_paragraph_char_ratio: float | None = 0.4
    max_top_ngram_char_ratio: dict[NgramSize, float] | None = Field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    """n -> the largest share of characters the most frequent word n-gram may cover."""
    max_dup_ngram_char_ratio: dict[NgramSize, float] | None = Field(
        default_factory=lambda: {5: 0.50, 6: 0.49, 7: 0.48, 8: 0.47, 9: 0.46, 10: 0.45}
    )
    """n -> the largest share of characters that may sit in repeats of an earlier word n-gram.
    Gopher's 0.15 ... 0.10 rejects news whose captions repeat body sentences (0.29-0.32) or that
    quote a statement in full (0.39); a text said twice (0.5) still fails at 10-grams."""
    max_lorem_ipsum: int | None = 0
    """C4: placeholder text."""
    min_line_punct_ratio: float | None = 0.12
    """FineWeb: share of lines ending in punctuation (only with 5 or more lines, hard wraps joined,
    and only on pages without an article)."""
    max_policy_word_ratio: float | None = 0.5
    """Share of words in lines naming cookies, consent or privacy/terms (C4's policy lines, phrases
    per language in ``pipeline/data/quality/policy_phrases.json``): a consent wall with nothing
    else. Judged only when fewer than ``article_min_words`` words lie outside such lines."""
    min_words_for_ngrams: int | None = 50
    """The n-gram rules judge only texts (or articles) of this many words or more: Gopher set their
    limits for documents of 50+ words; on a 20-word text one repeated phrase is a third of it."""

    @field_serializer("max_top_ngram_char_ratio", "max_dup_ngram_char_ratio")
    def _string_keys(self, value: dict[int, float] | None) -> dict[str, float] | None:
        return None if value is None else {str(n): ratio for n, ratio in sorted(value.items())}  # JSON report


THRESHOLD_KEYS = frozenset(Thresholds.model_fields) - frozenset(StageConfig.model_fields)


def _format_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"


class QualityConfig(Thresholds):
    chars_per_word: float = Field(2.0, gt=0)
    """Scripts written without spaces: words are estimated as characters / this."""
    by_language: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-language threshold overrides (ISO 639-1), e.g. {de: {max_mean_word_length: 12}}."""
    article_min_words: int = Field(50, ge=1)
    """Words in prose lines (8+ words ending in terminal punctuation) from which a page has an
    article: the repetition rules then judge the article alone, and the line punctuation rule is
    skipped (menus and share buttons left around it do not reject it)."""
    article_min_share: float = Field(0.1, ge=0, le=1)
    """...and at least this share of all its words: a few prose lines do not shield a page that is
    mostly repeated junk from the repetition rules."""
    record_stats: bool = False
    """Also write every measured value to ``metadata.quality`` (flags always carry theirs)."""

    @field_validator("by_language")
    @classmethod
    def _check_overrides(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for lang, override in value.items():
            unknown = set(override) - THRESHOLD_KEYS
            if unknown:
                raise ValueError(f"{lang}: unknown threshold {sorted(unknown)[0]!r}")
            try:
                Thresholds(**override)
            except ValidationError as exc:
                raise ValueError(f"{lang}: {_format_error(exc)}") from None
        return {lang.lower(): override for lang, override in value.items()}

    def for_language(self, lang: str) -> Thresholds:
        base = {k: getattr(self, k) for k in THRESHOLD_KEYS}
        return Thresholds(**{**base, **self.by_language.get(lang, {})})


# -- measurements --------------------------------------------------------------------------------


# -- the stage -----------------------------------------------------------------------------------

Flag = tuple[str, str, Any]  # rule, reason, value


def _upper(rule: str, what: str, value: float, limit: float | None, **fields: Any) -> Flag | None:
    """A flag when ``value`` exceeds ``limit``; ``what`` is formatted with ``fields`` only then."""
    if limit is not None and value > limit:
        return rule, f"{what.format(**fields)} {round(value, 4)} > {limit}", round(value, 4)
    return None


def _lower(rule: str, what: str, value: float, limit: float | None, **fields: Any) -> Flag | None:
    if limit is not None and value < limit:
        return rule, f"{what.format(**fields)} {round(value, 4)} < {limit}", round(value, 4)
    return None


@dataclass
class Measured:
    """One document the rules judge, plus the values measured so far."""

    d: int  # its place in the batch
    lang: str
    char_mode: bool
    words: float  # (estimated) word count
    tokens: int  # whitespace tokens, or character units
    article: bool  # the repetition rules judge the article lines only
    stats: dict[str, Any]


@dataclass
class BatchDocs:
    """Per document of a batch (index = document), as arrays: what decides which limits apply."""

    langs: list[str]
    languages: list[str]  # the distinct languages, in order of appearance
    language: np.ndarray  # per document: its index in ``languages``
    char_mode: np.ndarray  # measured in character units (a script written without spaces)
    words: np.ndarray  # (estimated) word count
    units: np.ndarray  # whitespace tokens, or character units
    article: np.ndarray  # the repetition rules judge the article lines only
    _all_groups: dict[tuple[str, bool], np.ndarray] | None = field(default=None, repr=False)

    def groups(self, docs: list[int] | None = None) -> dict[tuple[str, bool], np.ndarray]:
        """The documents (all, or ``docs``) per (language, char mode)."""
        if docs is None and self._all_groups is not None:
            return self._all_groups
        chosen = list(range(len(self.langs))) if docs is None else docs
        members: dict[tuple[str, bool], list[int]] = {}
        for d, lang, char_mode in zip(chosen, [self.langs[d] for d in chosen], self.char_mode[chosen].tolist()):
            members.setdefault((lang, char_mode), []).append(d)
        out = {key: np.array(group, dtype=np.int64) for key, group in members.items()}
        if docs is None:
            self._all_groups = out
        return out


@dataclass
class NgramTable:
    """The n-gram values the rules read: per (language, scale) its stats keys in rule order, and per
    document its row of values (in a table shared by the languages with the same limits) and whether
    one exceeds its limit."""

    keys: dict[tuple[str, float], list[str]]
    tables: list[np.ndarray]
    table_of: np.ndarray  # per document: its table (-1: none)
    row_of: np.ndarray  # ... and its row there
    exceeded: np.ndarray

    def row(self, d: int) -> list[float]:
        return self.tables[self.table_of[d]][self.row_of[d]].tolist() if self.table_of[d] >= 0 else []


@dataclass
class BatchMeasures:
    """What the rules read for a whole batch (per document, at its index)."""

    tokens: BatchTokens
    lines: BatchLines
    line_words: list[int]  # per logical line of the batch
    long_line: list[int]  # per document: its shortest line of ``article_min_words`` words or more
    figures: LineFigures
    symbols: list[int]
    lorem: list[int]
    units: dict[int, list[str]]  # character units of the documents in char mode
    words: list[int]  # Gopher's words (``BatchTokens.words``)
    word_chars: list[int]
    without_letter: list[int]
    ngrams: NgramTable | None = None
    long_line_named: list[bool] | None = None  # per document: its long line names a policy (or it has none)
    policy_words: dict[int, tuple[int, int]] = field(default_factory=dict)  # see ``Quality._policy_words``


class Quality(Stage):
    name = "quality"
    Config = QualityConfig
    config: QualityConfig

    def __init__(self, config: QualityConfig | None = None, context: Any = None):
        super().__init__(config, context)
        char_classes()  # read (or built) here, before the pool forks, so workers share the table
        self._thresholds: dict[str, Thresholds] = {}
        self._ngram_rules: dict[tuple[str, float], list] = {}
        self._ngram_keys: dict[tuple[str, float], list[str]] = {}  # their stats keys, in order

    def process(self, batch: list[Document]) -> None:
        langs = [(doc.annotations.get("language") or {}).get("lang", "und") for doc in batch]
        with gc_paused():
            assessed = self.assess_batch([doc.text for doc in batch], langs, stats=self.config.record_stats)
        for doc, (flags, stats) in zip(batch, assessed):
            for rule, reason, value in flags:
                doc.flag(self.name, rule, reason, value)
            if self.config.record_stats:
                doc.annotations[self.name] = stats

    def thresholds(self, lang: str) -> Thresholds:
        if lang not in self._thresholds:
            self._thresholds[lang] = self.config.for_language(lang)
        return self._thresholds[lang]

    def assess(self, text: str, lang: str = "und") -> tuple[list[Flag], dict[str, Any]]:
        """Every rule the text fails, most specific first (the first one rejects), and the values."""
        return self.assess_batch([text], [lang])[0]

    def assess_batch(self, texts: list[str], langs: list[str], stats: bool = True) -> list[tuple[list[Flag], dict[str, Any]]]:
        """``assess`` for many texts: tokens, lines, word figures and n-gram repetition are measured
        for the whole batch with numpy, and read against the limits per document. ``stats=False``:
        documents that no rule can flag (``_may_fail``) are skipped, with no values ({})."""
        if not texts:
            return []
        docs = len(texts)
        tokens = tokenize_batch(texts)
        counts = np.diff(tokens.offsets)  # word tokens, or character units
        units: dict[int, list[str]] = {}
        for d in np.flatnonzero(tokens.char_mode).tolist():
            units[d] = _CHAR_UNIT.findall(texts[d])
            counts[d] = len(units[d])
        words = np.where(tokens.char_mode, counts / self.config.chars_per_word, counts.astype(np.float64))
        lines = batch_lines(texts, tokens, self.config.chars_per_word)
        prose = lines.prose
        article_words = _per_doc(lines.doc, docs, lines.words * prose)
        article = article_words >= np.maximum(self.config.article_min_words, self.config.article_min_share * words)
        text_chars = np.fromiter(map(len, texts), dtype=np.int64, count=docs)
        batch = BatchMeasures(tokens, lines, lines.words.tolist(),
                              lines.shortest_with(self.config.article_min_words), lines.figures(article, text_chars),
                              symbol_counts(tokens), lorem_counts(tokens), units, tokens.words.tolist(),
                              tokens.word_chars.tolist(), tokens.without_letter.tolist())
        languages: dict[str, int] = {}
        language = np.array([languages.setdefault(lang, len(languages)) for lang in langs], dtype=np.int64)
        info = BatchDocs(langs, list(languages), language, tokens.char_mode, words, counts, article)
        top, dup, scope_sizes = self._ngram_measures(batch, info, prose, values=stats)
        batch.ngrams = self._ngram_table(top, dup, info)
        stopwords = self._stopword_counts(tokens, info, quick=not stats)
        judge = range(docs) if stats else np.flatnonzero(self._may_fail(batch, info, scope_sizes, stopwords)).tolist()
        results: list[tuple[list[Flag], dict[str, Any]]] = [([], {}) for _ in range(docs)]
        batch.policy_words = self._policy_words(batch, info, judge)
        wrapped = lines.wrapped
        for d in judge:
            lang, char_mode, w, n, a = langs[d], bool(info.char_mode[d]), float(words[d]), int(counts[d]), bool(article[d])
            m = Measured(d, lang, char_mode, w, n, a, {
                "unit": "char" if char_mode else "word", "words": w,
                "repetition_scope": "article" if a else "text", "wrapped_lines": wrapped[d],
            })
            t = self.thresholds(lang)
            checks = self._length_checks(m, t)
            if m.tokens:
                checks += self._junk_checks(m, t, batch)
                checks += self._repetition_checks(m, t, batch, scope_sizes[d])
                checks += self._prose_checks(m, t, batch, stopwords.get(d))
            stats = {k: round(v, 4) if isinstance(v, float) else v for k, v in m.stats.items()} if self.config.record_stats else m.stats
            results[d] = ([c for c in checks if c], stats)
        return results

    def _may_fail(self, batch: BatchMeasures, info: BatchDocs, scope_sizes: list[int], stopwords: dict[int, int]) -> np.ndarray:
        """Per document: may a rule flag it? Every rule's value is compared with its limit for the
        whole batch at once, with a margin (so this errs only towards yes: the rules themselves then
        decide); the policy rule is yes unless one long line names no policy, and text in a script
        written without spaces always is yes."""
        docs = len(info.langs)
        language = info.language
        thresholds = [self.thresholds(lang) for lang in info.languages]

        def limit(name: str, scale: np.ndarray | float = 1.0) -> np.ndarray:
            values = [np.nan if getattr(t, name) is None else getattr(t, name) for t in thresholds]
            return np.array(values, dtype=np.float64)[language] * scale

        def above(value: np.ndarray, name: str, margin: float = _MARGIN) -> np.ndarray:
            return value > limit(name) - margin

        def below(value: np.ndarray, name: str, margin: float = _MARGIN) -> np.ndarray:
            return value < limit(name) + margin

        words, tokens, char_mode = info.words, info.units, info.char_mode
        figures = batch.figures
        line_count = np.array(figures.lines)
        lines = np.maximum(line_count, 1)
        repetition = np.array(figures.repetition).reshape(docs, 4)
        scale = np.where(char_mode, self.config.chars_per_word, 1.0)
        no_shortcut = np.array(self._long_line_named(batch, info))  # the policy rule's (see there)
        word_count = np.array(batch.words, dtype=np.float64)
        mean_length = np.divide(np.array(batch.word_chars, dtype=np.float64), word_count, out=np.zeros(docs), where=word_count > 0)
        found = np.full(docs, np.inf)
        found[list(stopwords)] = list(stopwords.values())
        may = above(words, "max_words") | below(words, "min_words")
        judged = (
            above(np.array(batch.lorem, dtype=np.float64), "max_lorem_ipsum", margin=0)  # counts: exact
            | (no_shortcut & ~np.isnan(limit("max_policy_word_ratio")) & (tokens > 0))
            | above(np.array(batch.symbols) / np.maximum(words, 1e-300), "max_symbol_word_ratio")
            | ((line_count >= _MIN_LINES) & (above(np.array(figures.bullet) / lines, "max_bullet_line_ratio")
                                             | above(np.array(figures.ellipsis) / lines, "max_ellipsis_line_ratio")))
            | (repetition > np.column_stack([limit(name) for name in _REPETITION_LIMITS]) - _MARGIN).any(axis=1)
            | (batch.ngrams.exceeded & ~(np.array(scope_sizes) < limit("min_words_for_ngrams", scale)))
            | ((line_count >= 5) & ~info.article & below(np.array(figures.punct) / lines, "min_line_punct_ratio"))
            | char_mode
            | below(1 - np.array(batch.without_letter) / np.maximum(tokens, 1), "min_alpha_word_ratio")
            | below(mean_length, "min_mean_word_length") | above(mean_length, "max_mean_word_length")
            | below(found, "min_stopwords", margin=0)
        )
        return may | ((tokens > 0) & judged)

    def _ngram_measures(
        self, batch: BatchMeasures, info: BatchDocs, prose: np.ndarray, values: bool = True
    ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], list[int]]:
        """Top and dup n-gram shares per document, and how many units each judged: the word tokens
        on the lines in scope (the physical lines of its article's lines when it has one, else all)
        for all documents in one call, character units in another (each with its own n-gram sizes).
        ``values=False`` (only flags wanted): a document's larger dup sizes are not measured once a
        smaller one is within all its dup limits (``ngram_ratios_batch``'s ``dup_enough``)."""
        tokens, lines, article = batch.tokens, batch.lines, info.article
        docs = len(info.langs)
        dup_enough = None if values else self._dup_enough(info)
        top_ns, dup_ns = self._ngram_sizes(key for key in info.groups() if not key[1])
        in_scope = ~np.repeat(article | tokens.char_mode, np.diff(tokens.line_base))  # per physical line
        rows = np.flatnonzero(prose & article[lines.doc] & ~tokens.char_mode[lines.doc])
        in_scope[concatenated_ranges(lines.span_first[rows], lines.span_last[rows] + 1 - lines.span_first[rows])] = True
        keep = np.flatnonzero(np.repeat(in_scope, tokens.tokens_per_line))  # (3x faster than in_scope[tokens.line])
        offsets = np.searchsorted(keep, tokens.offsets)  # kept tokens before each document's first
        top_arrays, dup_arrays = ngram_ratios_batch(tokens.keys.take(keep), tokens.lengths.take(keep), offsets, top_ns, dup_ns, dup_enough)
        top, dup = dict(top_arrays), dict(dup_arrays)
        sizes_out = np.diff(offsets).tolist()
        if batch.units:
            chosen = list(batch.units)
            char_units = {}
            for d in chosen:  # the article's units, or all
                a, b = lines.offsets[d], lines.offsets[d + 1]
                article_lines = lines.texts([row for row in range(a, b) if prose[row]])
                char_units[d] = _CHAR_UNIT.findall("\n".join(article_lines)) if article[d] else batch.units[d]
            flat = [u for d in chosen for u in char_units[d]]
            ids = unit_ids(flat)
            lengths = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
            char_offsets = np.cumsum([0] + [len(char_units[d]) for d in chosen])
            top_ns, dup_ns = self._ngram_sizes(info.groups(chosen))
            chosen_enough = None if dup_enough is None else dup_enough[chosen]
            char_top, char_dup = ngram_ratios_batch(ids, lengths, char_offsets, top_ns, dup_ns, chosen_enough)
            for n in top_ns:
                top.setdefault(n, np.zeros(docs))
            for n in dup_ns:
                dup.setdefault(n, np.zeros(docs))
            for i, d in enumerate(chosen):
                sizes_out[d] = len(char_units[d])
                for n in top_ns:
                    top[n][d] = char_top[n][i]
                for n in dup_ns:
                    dup[n][d] = char_dup[n][i]
        return top, dup, sizes_out

    def _dup_enough(self, info: BatchDocs) -> np.ndarray:
        """Per document: the smallest limit of its language's dup n-gram rule (inf when it has none:
        no dup value of it is read)."""
        smallest = [min((self.thresholds(lang).max_dup_ngram_char_ratio or {}).values(), default=np.inf)
                    for lang in info.languages]
        return np.array(smallest, dtype=np.float64)[info.language]

    def _ngram_sizes(self, groups: Iterable[tuple[str, bool]]) -> tuple[list[int], list[int]]:
        """The n-gram sizes (in units) the rules of these (language, char mode) groups read."""
        top: set[int] = set()
        dup: set[int] = set()
        for lang, char_mode in groups:
            scale = self.config.chars_per_word if char_mode else 1
            for (_, _, limits, kind) in self._ngram_limits(lang, scale):
                (top if kind == "top" else dup).update(n for n, _, _ in limits)
        return sorted(top), sorted(dup)

    def _length_checks(self, m: Measured, t: Thresholds) -> list[Flag | None]:
        what = f"words ({m.tokens} characters / {self.config.chars_per_word})" if m.char_mode else "words"
        return [_lower("min_words", what, m.words, t.min_words), _upper("max_words", what, m.words, t.max_words)]

    def _junk_checks(self, m: Measured, t: Thresholds, batch: BatchMeasures) -> list[Flag | None]:
        """C4's lorem ipsum; Gopher's symbols, bullet and ellipsis lines (on logical lines)."""
        checks: list[Flag | None] = []
        lorem = batch.lorem[m.d]
        if t.max_lorem_ipsum is not None and lorem > t.max_lorem_ipsum:
            checks.append(("max_lorem_ipsum", f"'lorem ipsum' {lorem} times > {t.max_lorem_ipsum}", lorem))
        checks.append(self._policy_check(m, t, batch))
        symbols = batch.symbols[m.d] / m.words
        m.stats["symbol_word_ratio"] = symbols
        checks.append(_upper("max_symbol_word_ratio", "('#' + ellipses) per word", symbols, t.max_symbol_word_ratio))
        figures = batch.figures
        lines = figures.lines[m.d]
        if lines >= _MIN_LINES:
            bullet, ellipsis = figures.bullet[m.d] / lines, figures.ellipsis[m.d] / lines
            m.stats.update(bullet_line_ratio=bullet, ellipsis_line_ratio=ellipsis)
            checks.append(_upper("max_bullet_line_ratio", "lines starting with a bullet", bullet, t.max_bullet_line_ratio))
            checks.append(_upper("max_ellipsis_line_ratio", "lines ending in an ellipsis", ellipsis, t.max_ellipsis_line_ratio))
        return checks

    def _policy_check(self, m: Measured, t: Thresholds, batch: BatchMeasures) -> Flag | None:
        """Consent walls: the share of words in lines naming a cookie/consent/policy phrase, judged
        only when fewer than ``article_min_words`` words lie in the other lines (counted for the
        batch by ``_policy_words``)."""
        if t.max_policy_word_ratio is None or m.d not in batch.policy_words:
            return None
        policy, other = batch.policy_words[m.d]
        if other >= self.config.article_min_words:
            return None  # enough other text: an article that mentions cookies, or a banner beside one
        ratio = policy / max(policy + other, 1)
        m.stats["policy_word_ratio"] = ratio
        return _upper("max_policy_word_ratio", "words in cookie/consent/policy lines", ratio, t.max_policy_word_ratio)

    def _long_line_named(self, batch: BatchMeasures, info: BatchDocs) -> list[bool]:
        """Per document: does its long line (``BatchMeasures.long_line``) name a policy? True when
        it has none or the policy rule is off. A long line naming none holds ``article_min_words``
        words of other text, which settles the policy rule without reading the other lines."""
        if batch.long_line_named is None:
            long_line = np.array(batch.long_line)
            rule_on = np.array([self.thresholds(lang).max_policy_word_ratio is not None for lang in info.languages])
            chosen = np.flatnonzero((long_line >= 0) & rule_on[info.language]).tolist()
            named = np.ones(len(info.langs), dtype=bool)
            named[chosen] = names_a_phrase(batch.lines.texts(long_line[chosen].tolist()), [policy_phrases(info.langs[d]) for d in chosen])
            batch.long_line_named = named.tolist()
        return batch.long_line_named

    def _policy_words(self, batch: BatchMeasures, info: BatchDocs, docs: Iterable[int]) -> dict[int, tuple[int, int]]:
        """For those of ``docs`` the policy rule reads in full: the words in their lines naming a
        policy phrase and in the others (every such line searched for the batch at once)."""
        named_long_line = self._long_line_named(batch, info)
        chosen = [d for d in docs if named_long_line[d] and self.thresholds(info.langs[d]).max_policy_word_ratio is not None]
        offsets = batch.lines.offsets
        rows = [list(range(offsets[d], offsets[d + 1])) for d in chosen]
        flat = [row for doc_rows in rows for row in doc_rows]
        named = iter(names_a_phrase(batch.lines.texts(flat), [policy_phrases(info.langs[d]) for d, doc_rows in zip(chosen, rows) for _ in doc_rows]))
        words = batch.line_words
        out = {}
        for d, doc_rows in zip(chosen, rows):
            policy = other = 0
            for row in doc_rows:
                if next(named):
                    policy += words[row]
                else:
                    other += words[row]
            out[d] = (policy, other)
        return out

    def _repetition_checks(self, m: Measured, t: Thresholds, batch: BatchMeasures, scope_tokens: int) -> list[Flag | None]:
        """Gopher's repeated lines, paragraphs and n-grams, on the article when the page has one
        (n-grams of characters x chars_per_word for scripts written without spaces; the values are
        the batch's, read against the limits here)."""
        checks: list[Flag | None] = []
        d = m.d
        where = " of the article" if m.article else ""
        values = batch.figures.repetition[d]
        m.stats.update(zip(_REPETITION_STATS, values))
        limits = (t.max_dup_line_ratio, t.max_dup_line_char_ratio, t.max_dup_paragraph_ratio, t.max_dup_paragraph_char_ratio)
        for (kind, rule, what), value, limit in zip(_REPETITION_RULES, values, limits):
            checks.append(_upper(rule, what, value, limit, kind=kind, where=where))

        scale = self.config.chars_per_word if m.char_mode else 1
        if t.min_words_for_ngrams is not None and scope_tokens < t.min_words_for_ngrams * scale:
            return checks  # too short for n-gram shares to mean anything
        ngrams = batch.ngrams
        assert ngrams is not None
        row = ngrams.row(d)
        m.stats.update(zip(ngrams.keys[m.lang, scale], row))
        if ngrams.exceeded[d]:  # (most are not: messages are built only for a flag)
            unit = "character" if m.char_mode else "word"
            values = iter(row)
            for rule, what, limits, _ in self._ngram_limits(m.lang, scale):
                for (n, limit, _), value in zip(limits, values):
                    if value > limit:
                        checks.append(_upper(rule, what, value, limit, n=n, unit=unit, where=where))
        return checks

    def _ngram_table(self, top: dict[int, np.ndarray], dup: dict[int, np.ndarray], info: BatchDocs) -> NgramTable:
        """The n-gram values of every document, read against the limits of its language and scale
        (languages with the same n-gram limits together)."""
        docs = len(info.langs)
        keys: dict[tuple[str, float], list[str]] = {}
        same_rules: dict[tuple, list[np.ndarray]] = {}
        for (lang, char_mode), members in info.groups().items():
            scale = self.config.chars_per_word if char_mode else 1
            rules = self._ngram_limits(lang, scale)
            keys[lang, scale] = self._ngram_keys[lang, scale]
            same_rules.setdefault(tuple((kind, tuple(limits)) for _, _, limits, kind in rules), []).append(members)
        tables: list[np.ndarray] = []
        table_of = np.full(docs, -1, dtype=np.int64)
        row_of = np.zeros(docs, dtype=np.int64)
        exceeded = np.zeros(docs, dtype=bool)
        for signature, groups in same_rules.items():
            members = np.concatenate(groups)
            columns = [(top if kind == "top" else dup)[n][members] for kind, limits in signature for n, _, _ in limits]
            if not columns:
                continue
            limits = np.array([limit for _, rule_limits in signature for _, limit, _ in rule_limits], dtype=np.float64)
            table = np.column_stack(columns)
            table_of[members], row_of[members] = len(tables), np.arange(len(members))
            exceeded[members] = (table > limits).any(axis=1)
            tables.append(table)
        return NgramTable(keys, tables, table_of, row_of, exceeded)

    def _ngram_limits(self, lang: str, scale: float) -> list[tuple[str, str, list[tuple[int, float, str]], str]]:
        """Per n-gram rule: its name, message, (n in units, limit, stats key) and which values it reads."""
        if (lang, scale) in self._ngram_rules:
            return self._ngram_rules[lang, scale]
        t = self.thresholds(lang)
        out = []
        for kind, what, limits in (
            ("top", "most frequent {n}-{unit} n-gram{where} covers", t.max_top_ngram_char_ratio),
            ("dup", "text{where} in repeated {n}-{unit} n-grams", t.max_dup_ngram_char_ratio),
        ):
            sizes = sorted((round(n * scale), v) for n, v in (limits or {}).items())
            out.append((f"max_{kind}_ngram_char_ratio", what, [(n, v, f"{kind}_{n}gram_char_ratio") for n, v in sizes], kind))
        self._ngram_rules[lang, scale] = out
        self._ngram_keys[lang, scale] = [stat for _, _, limits, _ in out for _, _, stat in limits]
        return out

    def _stopword_counts(self, tokens: BatchTokens, info: BatchDocs, quick: bool = False) -> dict[int, int]:
        """Stopwords of the documents the stopword rule judges, counted for the batch at once.
        ``quick`` (no values wanted): a document with enough stopwords among its bare lower-case
        tokens (``plain_stopword_hits``: its first ``_PLAIN_PROBES[0]``, for the rest their first
        ``_PLAIN_PROBES[1]``) gets that count, the others are counted in full."""
        thresholds = [self.thresholds(lang) for lang in info.languages]
        applies = np.array([bool(stopword_list(lang)) and t.min_stopwords is not None for lang, t in zip(info.languages, thresholds)])
        judged = np.flatnonzero((info.units > 0) & ~info.char_mode & applies[info.language]).tolist()
        langs = [info.langs[d] for d in judged]
        enough = [None if self.config.record_stats else thresholds[i].min_stopwords for i in info.language[judged].tolist()]
        settled: dict[int, int] = {}
        for probe in _PLAIN_PROBES if quick else ():
            if not judged:
                break
            hits = plain_stopword_hits(tokens, judged, langs, first=probe)
            settled.update((d, n) for d, n, least in zip(judged, hits, enough) if least is not None and n >= least)
            rest = [i for i, d in enumerate(judged) if d not in settled]
            judged, langs, enough = [judged[i] for i in rest], [langs[i] for i in rest], [enough[i] for i in rest]
        counts = count_stopwords_batch(tokens, judged, [stopword_list(lang) for lang in langs], enough)
        return {**settled, **dict(zip(judged, counts))}

    def _prose_checks(self, m: Measured, t: Thresholds, batch: BatchMeasures, stopwords: int | None) -> list[Flag | None]:
        """Does it read like prose: FineWeb's line punctuation (pages without an article), Gopher's
        word length, letters, stopwords (``stopwords``: counted when the rule applies)."""
        checks: list[Flag | None] = []
        lines = batch.figures.lines[m.d]
        if lines >= 5:
            punct = batch.figures.punct[m.d] / lines
            m.stats["line_punct_ratio"] = punct
            if not m.article:
                checks.append(_lower("min_line_punct_ratio", "lines ending in punctuation", punct, t.min_line_punct_ratio))
        if m.char_mode:
            without_letter = sum(1 for u in batch.units[m.d] if not any(map(str.isalpha, u)))
        else:
            without_letter = batch.without_letter[m.d]
        alpha = 1 - without_letter / m.tokens
        m.stats["alpha_word_ratio"] = alpha
        unit = "characters" if m.char_mode else "words"
        checks.append(_lower("min_alpha_word_ratio", f"{unit} with a letter", alpha, t.min_alpha_word_ratio))
        if m.char_mode:
            return checks  # no word boundaries: word length and stopwords do not apply

        # Gopher: punctuation is not part of a word
        words = batch.words[m.d]
        mean_length = batch.word_chars[m.d] / words if words else 0.0
        m.stats["mean_word_length"] = mean_length
        checks.append(_lower("min_mean_word_length", "mean word length", mean_length, t.min_mean_word_length))
        checks.append(_upper("max_mean_word_length", "mean word length", mean_length, t.max_mean_word_length))
        if stopwords is not None and t.min_stopwords is not None:
            found = m.stats["stopwords"] = stopwords
            if found < t.min_stopwords:
                checks.append(("min_stopwords", f"{found} {m.lang} stopwords < {t.min_stopwords}", found))
        return checks

