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
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import Annotated, Any, Iterable, Iterator

import numpy as np
import regex
from pydantic import Field, ValidationError, field_serializer, field_validator

from ..document import Document
from ..lexicons import stopwords as broad_stopwords
from .base import Stage, StageConfig

_DATA = Path(__file__).resolve().parents[1] / "data" / "quality"
_NO_SPACE_SCRIPT = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
_NO_SPACE_CHAR = regex.compile(rf"[{_NO_SPACE_SCRIPT}]")
_FIRST_NO_SPACE_CHAR = "\u0e00"  # Thai, the lowest-numbered of those scripts
_FROM_FIRST_NO_SPACE_CHAR = re.compile("[\u0e00-\U0010ffff]")
_SCRIPT_SAMPLE = 5000
_MIN_LINES = 3  # line-share rules (bullets, ellipses) say nothing about a one- or two-line text
# char mode units: one no-space-script character with its combining marks (Thai vowel and tone
# marks), or a run of other letters/digits ("G20", "APEC")
_CHAR_UNIT = regex.compile(rf"[[{_NO_SPACE_SCRIPT}]--\p{{M}}]\p{{M}}*|[[\p{{L}}\p{{N}}]--[{_NO_SPACE_SCRIPT}]]+", regex.V1)
_PUNCT_OR_SYMBOL = regex.compile(r"[\p{P}\p{S}]+")
# Line rules, tested on the stripped non-empty lines with str methods (no regex per line)
_BULLET_CHARS = frozenset("•●○◦▪▫■□►▶▸‣⁃∙·-*–—✓✔➢➤→")
_ELLIPSES = ("...", "…")
_TERMINAL_PUNCT_CHARS = frozenset(".!?。！？…\"'”’»)]:;")
_PARAGRAPH_BREAK = regex.compile(r"\n\s*\n")
_LOREM = regex.compile(r"lorem ipsum", regex.IGNORECASE)


@lru_cache(maxsize=None)
def stopword_list(lang: str) -> frozenset[str]:
    """A tight list from ``pipeline/data/quality/stopwords.json``, else stopwordsiso's list."""
    tight = json.loads((_DATA / "stopwords.json").read_text(encoding="utf-8"))
    if lang in tight and not lang.startswith("_"):
        return frozenset(w.casefold() for w in tight[lang])  # [] = the rule does not apply
    return broad_stopwords(lang)


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
    max_dup_line_ratio: float | None = 0.3
    max_dup_line_char_ratio: float | None = 0.2
    max_dup_paragraph_ratio: float | None = 0.3
    max_dup_paragraph_char_ratio: float | None = 0.2
    max_top_ngram_char_ratio: dict[NgramSize, float] | None = Field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    """n -> the largest share of characters the most frequent word n-gram may cover."""
    max_dup_ngram_char_ratio: dict[NgramSize, float] | None = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )
    """n -> the largest share of characters that may sit in repeats of an earlier word n-gram."""
    max_lorem_ipsum: int | None = 0
    """C4: placeholder text."""
    min_line_punct_ratio: float | None = 0.12
    """FineWeb: share of lines ending in punctuation (only with 5 or more lines)."""

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


@dataclass
class Units:
    """The text cut into units (words, or characters for scripts written without spaces)."""

    tokens: list[str]
    char_mode: bool
    words: float  # estimated word count


@lru_cache(maxsize=4096)
def _is_no_space(char: str) -> bool:
    return _NO_SPACE_CHAR.match(char) is not None


def split_units(text: str, chars_per_word: float) -> Units:
    """Character units when most visible characters are in a script written without spaces
    (decided on the first ``_SCRIPT_SAMPLE`` characters)."""
    sample = text[:_SCRIPT_SAMPLE]
    if _FROM_FIRST_NO_SPACE_CHAR.search(sample):  # else no such script can occur: skip the rest
        no_space = sum(sample.count(c) for c in set(sample) if c >= _FIRST_NO_SPACE_CHAR and _is_no_space(c))
        visible = len("".join(sample.split())) if no_space else 0
        if visible and no_space / visible > 0.5:
            tokens = _CHAR_UNIT.findall(text)
            return Units(tokens, True, len(tokens) / chars_per_word)
    tokens = text.split()
    return Units(tokens, False, float(len(tokens)))


def _duplicates(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and their characters (Gopher's dup line/paragraph)."""
    distinct = set(items)  # each first occurrence; everything else is a repeat
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))


_HASH_BASE = np.uint64(1_000_003)


def ngram_ratios(
    tokens: list[str], top_ns: list[int], dup_ns: list[int], dup_limits: dict[int, float] | None = None
) -> tuple[dict[int, float], dict[int, float]]:
    """Gopher's repetition measures over token n-grams, vectorised with numpy.

    top[n]: share of characters covered by the most frequent n-gram (all its occurrences);
    dup[n]: share of characters inside n-grams that repeat an earlier occurrence.

    One pass per n = 1, 2, ... with a 64-bit polynomial key per n-gram (token ids = position of the
    token's first occurrence; the key of an n-gram extends its (n-1)-gram prefix's key and wraps on
    overflow by design). Only n-grams whose (n-1)-gram prefix and suffix both repeat can repeat, so
    each pass sorts just those candidates (a stable argsort: the first member of each group of equal
    keys is its first occurrence, the others are repeats), and the passes stop once nothing repeats.
    (The one possible difference from keying every n-gram: two different n-grams whose 64-bit keys
    collide count as a repeat only if both are candidates; a collision is ~1e-19 per pair.)

    With ``dup_limits`` (n -> limit) the passes also stop once every top n is measured and no later
    dup value can exceed its limit (dup[n] never grows with n: a repeated (n+1)-gram is two repeated
    n-grams); the n-grams not measured are left out of ``dup``.
    """
    top = {n: 0.0 for n in top_ns}
    dup = {n: 0.0 for n in dup_ns}
    wanted = set(top_ns) | set(dup_ns)
    if not tokens or not wanted:
        return top, dup
    size = len(tokens)
    last_top = max(top_ns, default=0)
    first_seen: dict[str, int] = {}  # token -> position of its first occurrence, used as its id
    ids = np.fromiter(map(first_seen.setdefault, tokens, range(size)), dtype=np.uint64, count=size)
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=size)
    total = int(lengths.sum())
    cumulative = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(lengths, out=cumulative[1:])
    index = np.arange(size)
    keys = np.zeros(size, dtype=np.uint64)  # valid at the current candidates only
    repeated = np.ones(size + 1, dtype=bool)  # the (n-1)-gram starting here occurs more than once
    for n in range(1, min(max(wanted), size) + 1):
        m = size - n + 1
        candidates = (repeated[:m] & repeated[1 : m + 1]).nonzero()[0]
        if len(candidates) < 2:
            break  # nothing repeats, so no longer n-gram does either
        keys[candidates] = keys[candidates] * _HASH_BASE + ids[candidates + (n - 1)]
        positions = candidates[keys[candidates].argsort(kind="stable")]
        sorted_keys = keys[positions]
        new_group = np.empty(len(positions), dtype=bool)
        new_group[0] = True
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new_group[1:])
        group_starts = new_group.nonzero()[0]
        if len(group_starts) == len(positions):
            break
        counts = np.empty(len(group_starts), dtype=np.intp)
        np.subtract(group_starts[1:], group_starts[:-1], out=counts[:-1])
        counts[-1] = len(positions) - group_starts[-1]
        if n in top:
            best = counts.max()
            first = positions[group_starts[counts == best]]
            top[n] = float(((cumulative[first + n] - cumulative[first]) * best).max()) / total
        if n in dup:
            starts = positions[~new_group]
            reach = np.zeros(size, dtype=np.intp)  # end of the furthest repeat starting at or before i
            reach[starts] = starts + n
            covered = np.maximum.accumulate(reach) > index
            dup[n] = float(lengths[covered].sum()) / total
            if dup_limits is not None and n >= last_top and all(dup[n] <= v for k, v in dup_limits.items() if k > n):
                for k in dup_ns:
                    if k > n:
                        del dup[k]
                break
        repeated = np.zeros(m + 1, dtype=bool)
        repeated[positions[np.repeat(counts > 1, counts)]] = True
    return top, dup


_SPACE, _REGEX_SPACE, _LETTER, _PUNCT_SYMBOL = 1, 2, 4, 8  # bits of char_classes()


@lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """A byte of class bits per code point, built once per process from the same definitions the
    rules use: str.isspace (what ``str.split`` splits on, = stdlib ``re``'s ``\\s``), and the regex
    module's ``\\s``, ``\\p{L}`` and ``[\\p{P}\\p{S}]``."""
    everything = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    table = np.zeros(0x110000, dtype=np.uint8)
    for bit, pattern in ((_SPACE, re.compile(r"\s+")), (_REGEX_SPACE, regex.compile(r"\s+")),
                         (_LETTER, regex.compile(r"\p{L}+")), (_PUNCT_SYMBOL, regex.compile(r"[\p{P}\p{S}]+"))):
        for run in pattern.finditer(everything):
            table[run.start() : run.end()] |= bit
    return table


def _token_count(inside: np.ndarray, token_ids: np.ndarray) -> int:
    """How many tokens have at least one character where ``inside`` is set (ids rise along the text)."""
    ids = token_ids[inside]
    return int(np.count_nonzero(ids[1:] != ids[:-1])) + 1 if len(ids) else 0


def _token_ids(space: np.ndarray) -> tuple[np.ndarray, int]:
    """Per character, the number of the whitespace-delimited token it is in, and how many tokens."""
    starts = ~space
    starts[1:] &= space[:-1]
    ids = np.cumsum(starts)
    return ids, int(ids[-1]) if len(ids) else 0


@dataclass
class WordFigures:
    """Gopher's word figures for the whole text, measured on its code points with numpy."""

    words: int  # tokens of the text with punctuation and symbols removed (``sub(...).split()``)
    word_chars: int  # their characters
    without_letter: int  # \\s-delimited tokens (regex module) without a letter


def word_figures(text: str) -> WordFigures:
    classes = char_classes()[np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)]
    space = (classes & _SPACE).astype(bool)
    in_word = ~space & ((classes & _PUNCT_SYMBOL) == 0)
    token_ids, _ = _token_ids(space)
    regex_space = (classes & _REGEX_SPACE).astype(bool)
    regex_ids, regex_tokens = _token_ids(regex_space)
    with_letter = _token_count((classes & _LETTER).astype(bool), regex_ids)
    return WordFigures(_token_count(in_word, token_ids), int(np.count_nonzero(in_word)), regex_tokens - with_letter)


def _words(tokens: list[str]) -> Iterator[str]:
    """``_PUNCT_OR_SYMBOL.sub("", text).split()`` token by token (removing punctuation never
    touches whitespace), so a caller that stops early pays only for what it reads."""
    for token in tokens:
        word = _PUNCT_OR_SYMBOL.sub("", token)
        if word:
            yield word


def _count_stopwords(words: Iterable[str], known: frozenset[str], enough: int | None) -> int:
    """How many words are stopwords, counting no further than ``enough`` (None: count all)."""
    if enough is None:
        return sum(map(known.__contains__, " ".join(words).casefold().split()))
    found = 0
    for word in words:  # casefold never yields whitespace, so word by word = the whole text at once
        if word.casefold() in known:
            found += 1
            if found >= enough:
                break
    return found


# -- the stage -----------------------------------------------------------------------------------

Flag = tuple[str, str, Any]  # rule, reason, value


def _upper(rule: str, what: str, value: float, limit: float | None) -> Flag | None:
    if limit is not None and value > limit:
        return rule, f"{what} {round(value, 4)} > {limit}", round(value, 4)
    return None


def _lower(rule: str, what: str, value: float, limit: float | None) -> Flag | None:
    if limit is not None and value < limit:
        return rule, f"{what} {round(value, 4)} < {limit}", round(value, 4)
    return None


@dataclass
class Measured:
    """One document cut up for the rules, plus the values measured so far."""

    text: str
    lang: str
    units: Units
    lines: list[str]
    paragraphs: list[str]
    stats: dict[str, Any]


class Quality(Stage):
    name = "quality"
    Config = QualityConfig
    config: QualityConfig

    def __init__(self, config: QualityConfig | None = None, context: Any = None):
        super().__init__(config, context)
        self._thresholds: dict[str, Thresholds] = {}

    def process(self, batch: list[Document]) -> None:
        for doc in batch:
            lang = (doc.annotations.get("language") or {}).get("lang", "und")
            flags, stats = self.assess(doc.text, lang)
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
        t = self.thresholds(lang)
        units = split_units(text, self.config.chars_per_word)
        m = Measured(
            text=text,
            lang=lang,
            units=units,
            lines=[line for line in map(str.strip, text.split("\n")) if line],
            paragraphs=[p for p in map(str.strip, _PARAGRAPH_BREAK.split(text)) if p],
            stats={"unit": "char" if units.char_mode else "word", "words": round(units.words, 1)},
        )
        checks = self._length_checks(m, t)
        if units.tokens:
            checks += self._junk_checks(m, t) + self._repetition_checks(m, t) + self._prose_checks(m, t)
        return [c for c in checks if c], m.stats

    def _length_checks(self, m: Measured, t: Thresholds) -> list[Flag | None]:
        u = m.units
        what = f"words ({len(u.tokens)} characters / {self.config.chars_per_word})" if u.char_mode else "words"
        return [_lower("min_words", what, u.words, t.min_words), _upper("max_words", what, u.words, t.max_words)]

    def _junk_checks(self, m: Measured, t: Thresholds) -> list[Flag | None]:
        """C4's lorem ipsum; Gopher's symbols, bullet and ellipsis lines."""
        checks: list[Flag | None] = []
        lorem = len(_LOREM.findall(m.text))
        if t.max_lorem_ipsum is not None and lorem > t.max_lorem_ipsum:
            checks.append(("max_lorem_ipsum", f"'lorem ipsum' {lorem} times > {t.max_lorem_ipsum}", lorem))
        symbols = (m.text.count("#") + m.text.count("...") + m.text.count("…")) / m.units.words
        m.stats["symbol_word_ratio"] = round(symbols, 4)
        checks.append(_upper("max_symbol_word_ratio", "('#' + ellipses) per word", symbols, t.max_symbol_word_ratio))
        if len(m.lines) >= _MIN_LINES:
            bullet = sum(map(_BULLET_CHARS.__contains__, map(itemgetter(0), m.lines))) / len(m.lines)
            ellipsis = sum(map(methodcaller("endswith", _ELLIPSES), m.lines)) / len(m.lines)
            m.stats.update(bullet_line_ratio=round(bullet, 4), ellipsis_line_ratio=round(ellipsis, 4))
            checks.append(_upper("max_bullet_line_ratio", "lines starting with a bullet", bullet, t.max_bullet_line_ratio))
            checks.append(_upper("max_ellipsis_line_ratio", "lines ending in an ellipsis", ellipsis, t.max_ellipsis_line_ratio))
        return checks

    def _repetition_checks(self, m: Measured, t: Thresholds) -> list[Flag | None]:
        """Gopher's repeated lines, paragraphs and n-grams (n-grams of characters x chars_per_word
        for scripts written without spaces)."""
        checks: list[Flag | None] = []
        for kind, items in (("line", m.lines), ("paragraph", m.paragraphs)):
            count, chars = _duplicates(items)
            ratio, char_ratio = count / max(len(items), 1), chars / len(m.text)
            m.stats[f"dup_{kind}_ratio"], m.stats[f"dup_{kind}_char_ratio"] = round(ratio, 4), round(char_ratio, 4)
            checks.append(_upper(f"max_dup_{kind}_ratio", f"repeated {kind}s", ratio, getattr(t, f"max_dup_{kind}_ratio")))
            limit = getattr(t, f"max_dup_{kind}_char_ratio")
            checks.append(_upper(f"max_dup_{kind}_char_ratio", f"characters in repeated {kind}s", char_ratio, limit))

        char_mode = m.units.char_mode
        unit = "character" if char_mode else "word"
        scale = self.config.chars_per_word if char_mode else 1
        top_limits = {round(n * scale): v for n, v in (t.max_top_ngram_char_ratio or {}).items()}
        dup_limits = {round(n * scale): v for n, v in (t.max_dup_ngram_char_ratio or {}).items()}
        stop_early = None if self.config.record_stats else dup_limits
        top, dup = ngram_ratios(m.units.tokens, list(top_limits), list(dup_limits), stop_early)
        for kind, what, limits, values in (
            ("top", "most frequent {n}-{unit} n-gram covers", top_limits, top),
            ("dup", "text in repeated {n}-{unit} n-grams", dup_limits, dup),
        ):
            rule = f"max_{kind}_ngram_char_ratio"
            for n, limit in sorted(limits.items()):
                if n not in values:
                    continue  # not measured: it cannot exceed its limit
                m.stats[f"{kind}_{n}gram_char_ratio"] = round(values[n], 4)
                checks.append(_upper(rule, what.format(n=n, unit=unit), values[n], limit))
        return checks

    def _prose_checks(self, m: Measured, t: Thresholds) -> list[Flag | None]:
        """Does it read like prose: FineWeb's line punctuation, Gopher's word length, letters, stopwords."""
        checks: list[Flag | None] = []
        if len(m.lines) >= 5:
            punct = sum(map(_TERMINAL_PUNCT_CHARS.__contains__, map(itemgetter(-1), m.lines))) / len(m.lines)
            m.stats["line_punct_ratio"] = round(punct, 4)
            checks.append(_lower("min_line_punct_ratio", "lines ending in punctuation", punct, t.min_line_punct_ratio))
        tokens = m.units.tokens
        if m.units.char_mode:
            without_letter = sum(1 for t in tokens if not any(map(str.isalpha, t)))
        else:
            figures = word_figures(m.text)
            without_letter = figures.without_letter
        alpha = 1 - without_letter / len(tokens)
        m.stats["alpha_word_ratio"] = round(alpha, 4)
        unit = "characters" if m.units.char_mode else "words"
        checks.append(_lower("min_alpha_word_ratio", f"{unit} with a letter", alpha, t.min_alpha_word_ratio))
        if m.units.char_mode:
            return checks  # no word boundaries: word length and stopwords do not apply

        # Gopher: punctuation is not part of a word
        mean_length = figures.word_chars / figures.words if figures.words else 0.0
        m.stats["mean_word_length"] = round(mean_length, 3)
        checks.append(_lower("min_mean_word_length", "mean word length", mean_length, t.min_mean_word_length))
        checks.append(_upper("max_mean_word_length", "mean word length", mean_length, t.max_mean_word_length))
        known = stopword_list(m.lang)
        if known and t.min_stopwords is not None:
            found = _count_stopwords(_words(tokens), known, None if self.config.record_stats else t.min_stopwords)
            m.stats["stopwords"] = found
            if found < t.min_stopwords:
                checks.append(("min_stopwords", f"{found} {m.lang} stopwords < {t.min_stopwords}", found))
        return checks
