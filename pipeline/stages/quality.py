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

Speed: a batch is measured at once (``tokenize_batch``: one numpy pass over the code points of all
its texts, tokens and stripped lines hashed from prefix sums; ``batch_lines``: every document's
logical lines as array rows, so bullets, ellipses, punctuation, the article and repeated lines and
paragraphs are counted for the batch; ``ngram_ratios_batch``: repeated n-grams of all documents;
``count_stopwords_batch``: the stopword probes). Only pages that may be hard-wrapped or are in a
script without spaces are cut into lines in Python. Without ``record_stats``, ``_may_fail`` compares
every value with its limit for the whole batch and only documents a rule may flag are read one by one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable

import numpy as np
import regex
from pydantic import Field, ValidationError, field_serializer, field_validator

from ..arrays import code_points, cumulative_powers, mix64
from ..document import Document
from ..lexicons import stopwords as broad_stopwords
from .base import Stage, StageConfig, gc_paused

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
_LOREM = regex.compile(r"lorem ipsum", regex.IGNORECASE)
_STOPWORD_PROBES = (160, 1600)  # characters


@lru_cache(maxsize=None)
def stopword_list(lang: str) -> frozenset[str]:
    """A tight list from ``pipeline/data/quality/stopwords.json``, else stopwordsiso's list."""
    tight = json.loads((_DATA / "stopwords.json").read_text(encoding="utf-8"))
    if lang in tight and not lang.startswith("_"):
        return frozenset(w.casefold() for w in tight[lang])  # [] = the rule does not apply
    return broad_stopwords(lang)


@lru_cache(maxsize=None)
def policy_phrases(lang: str) -> tuple[str, ...]:
    """The language's lower-case cookie/consent/policy phrases and the English ones."""
    phrases = json.loads((_DATA / "policy_phrases.json").read_text(encoding="utf-8"))
    return tuple(phrases["en"] + (phrases.get(lang, []) if lang != "en" else []))


def names_a_phrase(lines: list[str], phrases: list[tuple[str, ...]]) -> list[bool]:
    """Per line: does it, lower-cased, contain one of its ``phrases`` (lower-case)? The lines with the
    same phrases are searched together: lower-cased one by one, joined by newlines (which neither
    holds), each phrase found with ``str.find`` over all of them at once."""
    out = [False] * len(lines)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, wanted in enumerate(phrases):
        groups.setdefault(wanted, []).append(i)
    for wanted, members in groups.items():
        lowered = [lines[i].lower() for i in members]
        text = "\n".join(lowered)
        starts = np.zeros(len(members), dtype=np.int64)
        np.cumsum(np.fromiter(map(len, lowered[:-1]), dtype=np.int64, count=len(members) - 1) + 1, out=starts[1:])
        hits = []
        for phrase in wanted:
            at = text.find(phrase)
            while at >= 0:
                hits.append(at)
                at = text.find(phrase, at + 1)
        for j in np.unique(np.searchsorted(starts, hits, side="right") - 1).tolist():
            out[members[j]] = True
    return out


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


@dataclass
class Units:
    """The text cut into units (words, or characters for scripts written without spaces)."""

    tokens: list[str]
    char_mode: bool
    words: float  # estimated word count


@lru_cache(maxsize=4096)
def _is_no_space(char: str) -> bool:
    return _NO_SPACE_CHAR.match(char) is not None


def is_char_mode(text: str) -> bool:
    """Most visible characters are in a script written without spaces (decided on the first
    ``_SCRIPT_SAMPLE`` characters)."""
    sample = text[:_SCRIPT_SAMPLE]
    if not _FROM_FIRST_NO_SPACE_CHAR.search(sample):  # no such script can occur: skip the rest
        return False
    no_space = sum(sample.count(c) for c in set(sample) if c >= _FIRST_NO_SPACE_CHAR and _is_no_space(c))
    visible = len("".join(sample.split())) if no_space else 0
    return bool(visible) and no_space / visible > 0.5


def split_units(text: str, chars_per_word: float) -> Units:
    """Character units for scripts written without spaces, else whitespace-delimited words (the
    definition the batch path follows, for one text)."""
    if is_char_mode(text):
        tokens = _CHAR_UNIT.findall(text)
        return Units(tokens, True, len(tokens) / chars_per_word)
    tokens = text.split()
    return Units(tokens, False, float(len(tokens)))


_HASH_BASE = np.uint64(1_000_003)
_BUCKET_BITS = 20


def _ngram_groups(keys: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate positions grouped by key: positions in key order (first occurrence first), the
    group-start flags, group starts and group sizes."""
    positions = candidates[keys[candidates].argsort(kind="stable")]
    sorted_keys = keys[positions]
    new_group = np.empty(len(positions), dtype=bool)
    new_group[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new_group[1:])
    group_starts = new_group.nonzero()[0]
    counts = np.diff(np.append(group_starts, len(positions)))
    return positions, new_group, group_starts, counts


def ngram_ratios_batch(
    ids: np.ndarray, lengths: np.ndarray, offsets: np.ndarray, top_ns: Iterable[int], dup_ns: Iterable[int]
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Gopher's repetition measures over token n-grams for a batch of documents at once.

    ``ids`` are 64-bit token keys (equal tokens, equal keys), ``lengths`` their characters and
    document d owns tokens ``offsets[d]:offsets[d+1]``. Per document:
    top[n]: share of characters covered by the most frequent n-gram (all its occurrences; 0 when
    no n-gram repeats); dup[n]: share of characters inside n-grams that repeat an earlier occurrence.

    One pass per n = 1, 2, ... with a 64-bit polynomial key per n-gram (the key of an n-gram extends
    its (n-1)-gram prefix's key and wraps on overflow by design; the first token's key is mixed with
    its document number, so n-grams of different documents never match). Only n-grams whose (n-1)-gram
    prefix and suffix both repeat can repeat, so each pass sorts just those candidates (a stable
    argsort: the first member of each group of equal keys is its first occurrence, the others are
    repeats), and the passes stop once nothing repeats anywhere in the batch.
    """
    top_ns, dup_ns = sorted(set(top_ns)), sorted(set(dup_ns))
    docs = len(offsets) - 1
    top = {n: np.zeros(docs) for n in top_ns}
    dup = {n: np.zeros(docs) for n in dup_ns}
    size = len(ids)
    if not size or not (top_ns or dup_ns):
        return top, dup
    doc_of = np.repeat(np.arange(docs), np.diff(offsets))
    doc_end = offsets[1:][doc_of]  # per token: the end of its document
    cumulative = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(lengths, out=cumulative[1:])
    totals = (cumulative[offsets[1:]] - cumulative[offsets[:-1]]).astype(np.float64)  # characters per document
    totals[totals == 0] = 1
    keys = doc_of.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # valid at the current candidates only
    mark = np.zeros(size + 1, dtype=bool)  # scratch, all False between passes
    candidates = np.arange(size)
    repeated = candidates  # starts of the (n-1)-grams that occur more than once
    for n in range(1, max(top_ns + dup_ns) + 1):
        if n > 1:  # the n-gram at i can repeat only if the (n-1)-grams at i and i + 1 do
            mark[repeated] = True
            candidates = repeated[mark[repeated + 1]]
            mark[repeated] = False
            candidates = candidates[candidates + n <= doc_end[candidates]]  # it stays inside its document
        if len(candidates) < 2:
            break  # nothing repeats, so no longer n-gram does either
        keys[candidates] = keys[candidates] * _HASH_BASE + ids[candidates + (n - 1)]
        if n == 1 and 1 not in top and 1 not in dup:
            # only which tokens may repeat matters: a superset from hash buckets is enough (every
            # later pass groups by exact keys), and it saves sorting every token of the batch
            bucket = (keys >> np.uint64(64 - _BUCKET_BITS)).astype(np.intp)
            repeated = np.flatnonzero(np.bincount(bucket, minlength=1 << _BUCKET_BITS)[bucket] > 1)
            continue
        positions, new_group, group_starts, counts = _ngram_groups(keys, candidates)
        if len(group_starts) == len(positions):
            break
        if n in top:
            several = counts > 1
            first = positions[group_starts[several]]
            count = counts[several]
            chars = cumulative[first + n] - cumulative[first]
            group_doc = doc_of[first]
            # per document: the largest count, then the most characters among groups with that count
            order = np.lexsort((chars, count, group_doc))
            last = np.append(group_doc[order][1:] != group_doc[order][:-1], True)
            best = order[last]
            top[n][group_doc[best]] = count[best] * chars[best] / totals[group_doc[best]]
        if n in dup:
            # characters in the union of the repeats [s, s + n): sorted by start, each adds what lies
            # past the previous one's end (all have the same length, and none crosses a document end)
            starts = np.sort(positions[~new_group])
            ends = starts + n
            begin = starts.copy()
            np.maximum(starts[1:], ends[:-1], out=begin[1:])
            covered = cumulative[ends] - cumulative[begin]
            dup[n] = np.bincount(doc_of[starts], weights=covered, minlength=docs) / totals
        repeated = positions[np.repeat(counts > 1, counts)]
    return top, dup


def ngram_ratios(tokens: list[str], top_ns: list[int], dup_ns: list[int]) -> tuple[dict[int, float], dict[int, float]]:
    """``ngram_ratios_batch`` for one list of tokens."""
    first_seen: dict[str, int] = {}  # token -> position of its first occurrence, used as its key
    ids = np.fromiter(map(first_seen.setdefault, tokens, range(len(tokens))), dtype=np.uint64, count=len(tokens))
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    top, dup = ngram_ratios_batch(ids, lengths, np.array([0, len(tokens)]), top_ns, dup_ns)
    return {n: float(top[n][0]) for n in top_ns}, {n: float(dup[n][0]) for n in dup_ns}


# bits of char_classes(); the two rare ones are the highest, so ``classes >= _NO_SPACE`` finds them
# (_NOT_SPACE is bit 0, so ``classes & _NOT_SPACE`` viewed as bool is a valid mask)
_NOT_SPACE, _SPACE, _REGEX_SPACE, _LETTER, _PUNCT_SYMBOL, _NO_SPACE, _SPLITS_DIFFER = 1, 2, 4, 8, 16, 32, 64


@lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """A byte of class bits per code point, built once per process from the same definitions the
    rules use: str.isspace (what ``str.split`` splits on, = stdlib ``re``'s ``\\s``), and the regex
    module's ``\\s``, ``\\p{L}`` and ``[\\p{P}\\p{S}]``, and the scripts written without spaces."""
    everything = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    table = np.zeros(0x110000, dtype=np.uint8)
    for bit, pattern in ((_SPACE, re.compile(r"\s+")), (_REGEX_SPACE, regex.compile(r"\s+")),
                         (_LETTER, regex.compile(r"\p{L}+")), (_PUNCT_SYMBOL, regex.compile(r"[\p{P}\p{S}]+")),
                         (_NO_SPACE, regex.compile(rf"[{_NO_SPACE_SCRIPT}]+"))):
        for run in pattern.finditer(everything):
            table[run.start() : run.end()] |= bit
    space, regex_space = (table & _SPACE) != 0, (table & _REGEX_SPACE) != 0
    table[~space] |= _NOT_SPACE
    table[space != regex_space] |= _SPLITS_DIFFER
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
    """One text's figures (the batch tokenizer measures the same; this one also handles the rare
    separators on which str.split and the regex module's \\s disagree)."""
    classes = char_classes()[code_points(text)]
    space = (classes & _SPACE).astype(bool)
    in_word = ~space & ((classes & _PUNCT_SYMBOL) == 0)
    token_ids, _ = _token_ids(space)
    regex_space = (classes & _REGEX_SPACE).astype(bool)
    regex_ids, regex_tokens = _token_ids(regex_space)
    with_letter = _token_count((classes & _LETTER).astype(bool), regex_ids)
    return WordFigures(_token_count(in_word, token_ids), int(np.count_nonzero(in_word)), regex_tokens - with_letter)


# Token keys: a polynomial hash of the token's code points mod 2**64, computed for all tokens at once
# from prefix sums (H(token) = (P[end] - P[start]) * B**-start; B is odd, so invertible mod 2**64).
_POLY = 0x100000001B3
_POWERS: list[np.ndarray] = [np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64)]  # B**i, B**-i


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    if len(_POWERS[0]) < n + 1:
        size = max(n + 1, 2 * len(_POWERS[0]), 1 << 16)
        for k, base in enumerate((_POLY, pow(_POLY, -1, 2**64))):
            _POWERS[k] = cumulative_powers(base, size)
    return _POWERS[0], _POWERS[1]




# per class byte, two 32-bit fields: 1 if the character counts for a word's length (a token character
# that is not punctuation), and 1 << 32 if it is a letter. Summed over a token (a difference of prefix
# sums over the whole text, exact mod 2**64), each field holds the token's count.
_FIGURES = np.array(
    [(((c & _PUNCT_SYMBOL) == 0) and bool(c & _NOT_SPACE)) + (((c & _LETTER) != 0) << 32) for c in range(256)], dtype=np.uint64
)
_LOW32 = np.uint64(0xFFFFFFFF)


@dataclass
class BatchTokens:
    """Whitespace-delimited tokens of a batch of texts, from one numpy pass over their code points."""

    keys: np.ndarray  # uint64 per token: equal tokens, equal keys
    lengths: np.ndarray  # characters per token
    doc: np.ndarray  # document of each token
    line: np.ndarray  # physical line of each token, numbered across the batch
    line_base: np.ndarray  # document d's lines are line_base[d]:line_base[d+1] (text.split("\n"))
    offsets: np.ndarray  # document d owns tokens offsets[d]:offsets[d+1]
    words: np.ndarray  # per document: Gopher's words (tokens with a character that is not punctuation)
    word_chars: np.ndarray  # per document: their characters that are not punctuation
    without_letter: np.ndarray  # per document: tokens without a letter
    line_words: list[np.ndarray]  # per document: tokens per physical line
    char_mode: np.ndarray  # per document: ``is_char_mode``
    joined: str  # the texts joined by "\n" (so batch line l is ``joined.split("\n")[l]``)
    codes: np.ndarray  # its code points
    classes: np.ndarray  # their ``char_classes`` bits
    doc_starts: np.ndarray  # where each text starts in ``joined``
    starts: np.ndarray  # per token: its first character in ``joined``
    ends: np.ndarray  # ... and the end
    line_tokens: np.ndarray  # physical line l holds tokens line_tokens[l]:line_tokens[l+1]
    line_start: np.ndarray  # per physical line: where it starts in ``joined`` once stripped (0 if blank)
    line_end: np.ndarray  # ... and ends
    line_keys: np.ndarray  # uint64 per physical line: its stripped text's hash


def _per_document(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sums of per-token ``values`` over each document's tokens ``offsets[d]:offsets[d+1]``."""
    cumulative = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, out=cumulative[1:])
    return cumulative[offsets[1:]] - cumulative[offsets[:-1]]


def tokenize_batch(texts: list[str]) -> BatchTokens:
    """One pass over the code points of the whole batch: token boundaries, keys and figures come from
    prefix sums over the full text (spaces add to them but never lie inside a token, so differences
    between a token's end and start see only its own characters)."""
    joined = "\n".join(texts)
    codes = code_points(joined)
    size = len(codes)
    classes = char_classes().take(codes)
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
    powers, inverse_powers = _powers(size)
    prefix = np.zeros(size + 1, dtype=np.uint64)
    np.multiply(codes, powers[:size], out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    keys = mix64((prefix[ends] - prefix[token_starts]) * inverse_powers[token_starts] ^ lengths.astype(np.uint64))
    # tokens per physical line: the tokens before each newline, differenced (newlines are few)
    tokens_before = np.concatenate(([0], np.searchsorted(token_starts, newlines), [len(token_starts)]))
    tokens_per_line = np.diff(tokens_before)
    # each line stripped: from its first token's start to its last token's end; keyed like a token
    filled = np.flatnonzero(tokens_per_line)
    line_start, line_end = np.zeros(len(tokens_per_line), dtype=np.int64), np.zeros(len(tokens_per_line), dtype=np.int64)
    line_start[filled], line_end[filled] = token_starts[tokens_before[filled]], ends[tokens_before[filled + 1] - 1]
    line_keys = mix64((prefix[line_end] - prefix[line_start]) * inverse_powers[line_start] ^ (line_end - line_start).astype(np.uint64))
    np.cumsum(_FIGURES.take(classes), out=prefix[1:])
    figures = prefix[ends] - prefix[token_starts]
    word_chars = ((prefix[doc_ends] - prefix[doc_starts]) & _LOW32).astype(np.int64)  # per document
    global_line = np.repeat(np.arange(len(tokens_per_line), dtype=np.int32), tokens_per_line)
    offsets = tokens_before[line_base]
    doc = np.repeat(np.arange(docs), np.diff(offsets))
    words = _per_document(figures & _LOW32 != 0, offsets)
    without_letter = np.diff(offsets) - _per_document(figures > _LOW32, offsets)
    char_mode = np.zeros(docs, dtype=bool)
    rare = np.flatnonzero(classes >= _NO_SPACE)  # rare characters: scripts without spaces, odd separators
    if len(rare):
        # is_char_mode on each document's first _SCRIPT_SAMPLE characters
        sample_end = np.minimum(doc_starts + _SCRIPT_SAMPLE, doc_ends)
        no_space = rare[(classes[rare] & _NO_SPACE) != 0]
        in_sample = np.searchsorted(no_space, sample_end) - np.searchsorted(no_space, doc_starts)
        for d in np.flatnonzero(in_sample):
            visible = np.count_nonzero(not_space[doc_starts[d] + 1 : sample_end[d] + 1])
            char_mode[d] = in_sample[d] * 2 > visible
        disagree = rare[(classes[rare] & _SPLITS_DIFFER) != 0]
        for d in np.unique(np.searchsorted(doc_starts, disagree, side="right") - 1):
            without_letter[d] = word_figures(texts[d]).without_letter  # str.split and regex's \s differ here
    return BatchTokens(
        keys=keys,
        lengths=lengths,
        doc=doc,
        line=global_line,
        line_base=line_base,
        offsets=offsets,
        words=words,
        word_chars=word_chars,
        without_letter=without_letter,
        line_words=[tokens_per_line[line_base[d] : line_base[d + 1]] for d in range(docs)],
        char_mode=char_mode,
        joined=joined,
        codes=codes,
        classes=classes,
        doc_starts=doc_starts,
        starts=token_starts,
        ends=ends,
        line_tokens=tokens_before,
        line_start=line_start,
        line_end=line_end,
        line_keys=line_keys,
    )


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Every position of the ranges ``starts[i]:ends[i]``, one range after the other."""
    sizes = ends - starts
    return np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes - starts, sizes)


def stopword_candidates(tokens: BatchTokens, docs: np.ndarray, counts: np.ndarray) -> list[list[str]]:
    """Per document ``docs[i]``: ``_PUNCT_OR_SYMBOL.sub("", text).casefold().split()`` of the text
    of its first ``counts[i]`` tokens, read from the batch's code points (punctuation and symbols
    dropped by their class bit, which removes no whitespace; one decode for all documents)."""
    first = tokens.offsets[docs]
    filled = counts > 0
    starts, ends = np.zeros(len(docs), dtype=np.int64), np.zeros(len(docs), dtype=np.int64)
    starts[filled] = tokens.starts[first[filled]]
    ends[filled] = tokens.ends[first[filled] + counts[filled] - 1]
    positions = _ranges(starts, ends)
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


def plain_stopword_hits(tokens: BatchTokens, docs: list[int], langs: list[str]) -> list[int]:
    """Per document ``docs[i]``: its tokens that are, as they stand, stopwords of ``langs[i]`` - a
    lower bound of its stopword count (``Quality`` only takes it as enough, never as too few)."""
    out = np.zeros(len(docs), dtype=np.int64)
    by_lang: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        by_lang.setdefault(lang, []).append(i)
    for lang, members in by_lang.items():
        keys = _plain_stopword_keys(lang)
        chosen = np.asarray(docs, dtype=np.int64)[members]
        starts, ends = tokens.offsets[chosen], tokens.offsets[chosen + 1]
        positions = _ranges(starts, ends)
        found = np.isin(tokens.keys[positions], keys)
        owner = np.repeat(np.arange(len(members)), ends - starts)
        out[members] = np.bincount(owner[found], minlength=len(members))
    return out.tolist()


# -- lines: logical lines of a batch, and the article among them ---------------------------------
#
# Hard-wrapped text (copies from ODT/PDF, e-mail) breaks lines mid-sentence, so line rules would count
# every wrap as a line that "does not end in punctuation". Wraps are joined back: a line continues on
# the next (non-blank, not bulleted) line when it does not end in terminal punctuation, has
# ``_WRAP_MIN_WORDS`` or more words, and the next line's first word would not have fitted on it (line +
# space + word >= ``_WRAP_REACH`` x the widest line: how greedy wrapping decides). Only documents whose
# widest line is within ``_WRAP_WIDTH`` characters (typewriter/PDF widths; web text puts a paragraph per
# line) and where at least half the lines wrap so are joined: a list of short lines of similar length
# (menus, repeated slogans) is not mistaken for wrapped prose. Other documents' logical lines are
# their non-blank lines, stripped; blank lines separate paragraphs.
#
# The article: logical lines that read like prose (``_PROSE_MIN_WORDS`` or more words, ending in
# terminal punctuation). When they hold ``article_min_words`` or more words, the repetition rules judge
# the article and the FineWeb line rule is skipped: menus, tag lists and share buttons that boilerplate
# removal left around a surviving article do not reject it.

_WRAP_WIDTH = (40, 150)
_WRAP_REACH = 0.9
_WRAP_MIN_WORDS = 4
_PROSE_MIN_WORDS = 8
_BULLET_CODES = np.array(sorted(map(ord, _BULLET_CHARS)), dtype=np.uint32)
_TERMINAL_PUNCT_CODES = np.array(sorted(map(ord, _TERMINAL_PUNCT_CHARS)), dtype=np.uint32)
_DOT, _ELLIPSIS_CHAR, _HASH = ord("."), ord("…"), ord("#")
_MARGIN = 1e-9  # ``_may_fail`` compares with the limits this much early
_REPETITION_LIMITS = ("max_dup_line_ratio", "max_dup_line_char_ratio", "max_dup_paragraph_ratio", "max_dup_paragraph_char_ratio")
_REPETITION_STATS = ("dup_line_ratio", "dup_line_char_ratio", "dup_paragraph_ratio", "dup_paragraph_char_ratio")
_REPETITION_RULES = tuple(  # (kind, rule, message) per value of ``_REPETITION_STATS``
    (kind, f"max_{stat}", what)
    for stat, kind, what in zip(_REPETITION_STATS, ("line", "line", "paragraph", "paragraph"),
                                ("repeated {kind}s{where}", "characters in repeated {kind}s{where}") * 2)
)


def _hard_wraps(stripped: list[str], line_words: list[int]) -> list[bool]:
    """Per physical line: does it continue on the next line (see above)."""
    width = max(map(len, stripped), default=0)
    if not _WRAP_WIDTH[0] <= width <= _WRAP_WIDTH[1]:
        return []
    reach = _WRAP_REACH * width
    wraps = [
        bool(nxt) and n >= _WRAP_MIN_WORDS and line[-1] not in _TERMINAL_PUNCT_CHARS and nxt[0] not in _BULLET_CHARS
        and len(line) + 1 + len(nxt.split(None, 1)[0]) >= reach
        for line, nxt, n in zip(stripped, stripped[1:], line_words)
    ]
    return wraps if sum(wraps) * 2 >= sum(map(bool, stripped)) else []


@dataclass
class LogicalLines:
    """One document's logical lines, the Python way (for the few documents ``BatchLines`` does not
    cut with numpy: hard-wrap widths and scripts written without spaces)."""

    lines: list[str]  # hard wraps joined
    words: list[int]  # words per logical line
    block: list[int]  # per logical line: its paragraph (blank-line-separated block)
    spans: list[tuple[int, int]]  # physical lines (first, last) of each logical line
    wrapped: int  # line breaks that were hard wraps


def logical_lines(text: str, line_words: list[int]) -> LogicalLines:
    """``line_words``: words per physical line (``text.split("\\n")``)."""
    stripped = list(map(str.strip, text.split("\n")))
    wraps = _hard_wraps(stripped, line_words)
    lines: list[str] = []
    words: list[int] = []
    block: list[int] = []
    spans: list[tuple[int, int]] = []
    paragraph, joining = 0, False
    for i, (line, n) in enumerate(zip(stripped, line_words)):
        if not line:
            paragraph += 1
            joining = False
            continue
        if joining:
            lines[-1] += " " + line
            words[-1] += n
            spans[-1] = (spans[-1][0], i)
        else:
            lines.append(line)
            words.append(n)
            block.append(paragraph)
            spans.append((i, i))
        joining = i < len(wraps) and wraps[i]
    return LogicalLines(lines, words, block, spans, len(stripped) - len(lines) - stripped.count(""))


def _per_doc(doc: np.ndarray, docs: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(doc, weights=weights, minlength=docs)


def _repeats(doc: np.ndarray, key: np.ndarray, length: np.ndarray, docs: int) -> tuple[np.ndarray, np.ndarray]:
    """Per document: how many items repeat an earlier item of it with the same key, and their
    characters (Gopher's dup line/paragraph: all copies but the first)."""
    order = np.lexsort((key, doc))
    sorted_doc, sorted_key = doc[order], key[order]
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = (sorted_doc[1:] == sorted_doc[:-1]) & (sorted_key[1:] == sorted_key[:-1])
    return _per_doc(sorted_doc[repeat], docs), _per_doc(sorted_doc[repeat], docs, length[order][repeat])


@dataclass
class LineFigures:
    """Per document (lists, index = document): what the line and repetition rules measure."""

    lines: list[int]  # logical lines
    bullet: list[int]  # ... starting with a bullet
    ellipsis: list[int]  # ... ending in an ellipsis
    punct: list[int]  # ... ending in terminal punctuation
    repetition: list[list[float]]  # Gopher's shares: ``_REPETITION_STATS``, on the scope lines (the
    # article's, or all): lines that repeat an earlier one, and their share of the scope's characters
    # (the article's lines joined by "\n", or the text), then the same for paragraphs


@dataclass
class BatchLines:
    """The logical lines of a batch of documents as arrays, one row per line, in document order."""

    doc: np.ndarray
    words: np.ndarray
    length: np.ndarray  # characters
    first: np.ndarray  # first code point
    last: np.ndarray  # last code point
    ellipsis: np.ndarray  # ends in "..." or "…"
    block: np.ndarray  # paragraph: equal in consecutive lines of one paragraph
    span_first: np.ndarray  # physical lines of the batch (first, last) the line joins
    span_last: np.ndarray
    start: np.ndarray  # where the line is in ``joined`` (-1: joined from several, see ``python_text``)
    end: np.ndarray
    key: np.ndarray  # equal lines, equal keys (exact: see ``_exact_keys``)
    joined: str  # the batch's texts
    python_text: dict[int, str]  # the rows cut by ``logical_lines``: their text
    offsets: np.ndarray  # document d's lines are rows offsets[d]:offsets[d+1]
    wrapped: list[int]  # per document: line breaks that were hard wraps

    def text(self, row: int) -> str:
        return self.texts([row])[0]

    def texts(self, rows: list[int]) -> list[str]:
        python_text, joined = self.python_text, self.joined
        return [python_text[row] if row in python_text else joined[start:end]
                for row, start, end in zip(rows, self.start[rows].tolist(), self.end[rows].tolist())]

    @property
    def prose(self) -> np.ndarray:
        return (self.words >= _PROSE_MIN_WORDS) & np.isin(self.last, _TERMINAL_PUNCT_CODES)

    def shortest_with(self, min_words: int) -> list[int]:
        """Per document: the row of its shortest line (in characters) of ``min_words`` words or more
        (-1 when it has none)."""
        rows = np.flatnonzero(self.words >= min_words)
        rows = rows[np.lexsort((self.length[rows], self.doc[rows]))]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = self.doc[rows[1:]] != self.doc[rows[:-1]]
        out = np.full(len(self.offsets) - 1, -1, dtype=np.int64)
        out[self.doc[rows[first]]] = rows[first]
        return out.tolist()

    def figures(self, article: np.ndarray, text_chars: np.ndarray) -> LineFigures:
        """The line rules' counts, and the repetition rules' on each document's scope: its article
        lines where ``article`` is set, else all its lines (``text_chars``: its characters)."""
        docs = len(self.offsets) - 1
        terminal = np.isin(self.last, _TERMINAL_PUNCT_CODES)
        scope = np.flatnonzero(~article[self.doc] | ((self.words >= _PROSE_MIN_WORDS) & terminal))
        doc, block, key, length = self.doc[scope], self.block[scope], self.key[scope], self.length[scope]
        scope_lines = _per_doc(doc, docs)
        dup_lines, dup_line_chars = _repeats(doc, key, length, docs)
        # paragraphs: runs of scope lines of one document and block; equal when their lines are
        new = np.ones(len(scope), dtype=bool)
        new[1:] = (doc[1:] != doc[:-1]) | (block[1:] != block[:-1])
        starts = np.flatnonzero(new)
        sizes = np.diff(np.append(starts, len(scope)))
        paragraph_key = key[starts].copy()
        multi = np.flatnonzero(sizes > 1)
        if len(multi):  # a paragraph of several lines: its key is its sequence of line keys
            line_keys, seen = key.tolist(), {}
            base = len(self.key)
            for p, start, size in zip(multi.tolist(), starts[multi].tolist(), sizes[multi].tolist()):
                paragraph_key[p] = base + seen.setdefault(tuple(line_keys[start : start + size]), len(seen))
        paragraph_chars = np.add.reduceat(length, starts) + sizes - 1 if len(scope) else length
        paragraph_doc = doc[starts]
        dup_paragraphs, dup_paragraph_chars = _repeats(paragraph_doc, paragraph_key, paragraph_chars, docs)
        article_chars = _per_doc(doc, docs, length) + scope_lines - 1
        scope_chars = np.maximum(np.where(article, article_chars, text_chars), 1)
        paragraphs = _per_doc(paragraph_doc, docs)
        repetition = np.column_stack((dup_lines / np.maximum(scope_lines, 1), dup_line_chars / scope_chars,
                                      dup_paragraphs / np.maximum(paragraphs, 1), dup_paragraph_chars / scope_chars))
        return LineFigures(
            lines=np.diff(self.offsets).tolist(),
            bullet=_per_doc(self.doc, docs, np.isin(self.first, _BULLET_CODES)).astype(np.int64).tolist(),
            ellipsis=_per_doc(self.doc, docs, self.ellipsis).astype(np.int64).tolist(),
            punct=_per_doc(self.doc, docs, terminal).astype(np.int64).tolist(),
            repetition=repetition.tolist(),
        )


def _exact_keys(hashes: np.ndarray, texts: Callable[[list[int]], list[str]]) -> np.ndarray:
    """Per row, a key equal for equal texts only: the row's own number, or for rows whose hash
    another row shares, the first such row with the same text (``texts(rows)``: compared in Python)."""
    keys = np.arange(len(hashes))
    order = np.argsort(hashes, kind="stable")
    same = hashes[order[1:]] == hashes[order[:-1]]
    shared = np.zeros(len(hashes), dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    rows = order[shared].tolist()
    first_seen: dict[str, int] = {}
    keys[rows] = list(map(first_seen.setdefault, texts(rows), rows))
    return keys


def batch_lines(texts: list[str], tokens: BatchTokens, chars_per_word: float) -> BatchLines:
    """The logical lines of every document. Most documents cannot have hard wraps (their widest line
    is outside ``_WRAP_WIDTH``): their lines are the non-blank physical lines, measured with numpy
    from the token bounds. Documents that may wrap, and those in scripts written without spaces
    (words estimated from characters), go through ``logical_lines``."""
    docs = len(texts)
    codes, line_base, line_tokens = tokens.codes, tokens.line_base, tokens.line_tokens
    line_doc = np.repeat(np.arange(docs), np.diff(line_base))
    tokens_per_line = np.diff(line_tokens)
    length = tokens.line_end - tokens.line_start
    width = np.maximum.reduceat(length, line_base[:-1])
    python_docs = tokens.char_mode | ((width >= _WRAP_WIDTH[0]) & (width <= _WRAP_WIDTH[1]))
    rows = np.flatnonzero((tokens_per_line > 0) & ~python_docs[line_doc])
    start, end = tokens.line_start[rows], tokens.line_end[rows]
    last = codes[end - 1]
    ellipsis = last == _ELLIPSIS_CHAR
    dotted = np.flatnonzero((last == _DOT) & (end - start >= 3))
    ellipsis[dotted] = (codes[end[dotted] - 2] == _DOT) & (codes[end[dotted] - 3] == _DOT)
    columns = {
        "doc": line_doc[rows],
        "words": tokens_per_line[rows],
        "length": end - start,
        "first": codes[start],
        "last": last,
        "ellipsis": ellipsis,
        "block": np.cumsum(tokens_per_line == 0)[rows],
        "span_first": rows,
        "span_last": rows,
        "start": start,
        "end": end,
        "hash": tokens.line_keys[rows],
    }
    wrapped = [0] * docs
    python_text: dict[int, str] = {}
    slow = np.flatnonzero(python_docs).tolist()
    if slow:
        extra: dict[str, list] = {name: [] for name in columns}
        text: list[str] = []
        for d in slow:
            first_line = int(line_base[d])
            if tokens.char_mode[d]:
                line_words = [round(len(line) / chars_per_word) for line in texts[d].split("\n")]
            else:
                line_words = tokens.line_words[d].tolist()
            page = logical_lines(texts[d], line_words)
            wrapped[d] = page.wrapped
            text += page.lines
            extra["doc"] += [d] * len(page.lines)
            extra["words"] += page.words
            extra["length"] += list(map(len, page.lines))
            extra["first"] += [ord(line[0]) for line in page.lines]
            extra["last"] += [ord(line[-1]) for line in page.lines]
            extra["ellipsis"] += [line.endswith(_ELLIPSES) for line in page.lines]
            extra["block"] += page.block
            extra["span_first"] += [first_line + first for first, _ in page.spans]
            extra["span_last"] += [first_line + last for _, last in page.spans]
        extra["start"] = extra["end"] = [-1] * len(text)
        extra["hash"] = [hash(line) & 0xFFFFFFFFFFFFFFFF for line in text]
        order = np.argsort(np.concatenate((columns["doc"], extra["doc"])), kind="stable")
        for name in columns:
            columns[name] = np.concatenate((columns[name], np.asarray(extra[name], dtype=columns[name].dtype)))[order]
        python_text = dict(zip(np.flatnonzero(order >= len(rows)).tolist(), text))
    hashes = columns.pop("hash")
    offsets = np.zeros(docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(columns["doc"], minlength=docs), out=offsets[1:])
    lines = BatchLines(**columns, key=hashes, joined=tokens.joined, python_text=python_text, offsets=offsets, wrapped=wrapped)
    lines.key = _exact_keys(hashes, lines.texts)
    return lines


def symbol_counts(tokens: BatchTokens) -> list[int]:
    """Per document: '#' + '...' (non-overlapping, as ``str.count``) + '…', found among the few
    punctuation characters of the batch."""
    punct = np.flatnonzero(tokens.classes & _PUNCT_SYMBOL)
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
    """One document cut up for the rules, plus the values measured so far."""

    d: int  # its place in the batch
    text: str
    lang: str
    char_mode: bool
    words: float  # (estimated) word count
    tokens: int  # whitespace tokens, or character units
    article: bool  # the repetition rules judge the article lines only
    stats: dict[str, Any]


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
    ngrams: tuple[dict[tuple[str, float], list[str]], list[list[float]], list[bool]] = ({}, [], [])
    # n-gram stats keys per (language, scale), and per document the values and whether one exceeds its limit


class Quality(Stage):
    name = "quality"
    Config = QualityConfig
    config: QualityConfig

    def __init__(self, config: QualityConfig | None = None, context: Any = None):
        super().__init__(config, context)
        char_classes()  # built here, before the pool forks, so workers share the table (~0.1-0.2 s each)
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
        measured = [
            Measured(d, text, lang, char_mode, w, n, a, {
                "unit": "char" if char_mode else "word", "words": w,
                "repetition_scope": "article" if a else "text", "wrapped_lines": wrapped,
            })
            for d, (text, lang, char_mode, w, n, a, wrapped) in enumerate(zip(
                texts, langs, tokens.char_mode.tolist(), words.tolist(), counts.tolist(), article.tolist(), lines.wrapped))
        ]
        top, dup, scope_sizes = self._ngram_measures(batch, article, prose, measured)
        batch.ngrams = self._ngram_table(top, dup, measured)
        stopwords = self._stopword_counts(tokens, measured, quick=not stats)
        judge = [True] * docs if stats else self._may_fail(batch, measured, scope_sizes, stopwords)
        results: list[tuple[list[Flag], dict[str, Any]]] = []
        for d, m in enumerate(measured):
            if not judge[d]:
                results.append(([], {}))
                continue
            t = self.thresholds(m.lang)
            checks = self._length_checks(m, t)
            if m.tokens:
                checks += self._junk_checks(m, t, batch)
                checks += self._repetition_checks(m, t, batch, scope_sizes[d])
                checks += self._prose_checks(m, t, batch, stopwords.get(d))
            stats = {k: round(v, 4) if isinstance(v, float) else v for k, v in m.stats.items()} if self.config.record_stats else m.stats
            results.append(([c for c in checks if c], stats))
        return results

    def _may_fail(self, batch: BatchMeasures, measured: list[Measured], scope_sizes: list[int], stopwords: dict[int, int]) -> list[bool]:
        """Per document: may a rule flag it? Every rule's value is compared with its limit for the
        whole batch at once, with a margin (so this errs only towards yes: the rules themselves then
        decide); the policy rule is yes unless one long line names no policy, and text in a script
        written without spaces always is yes."""
        docs = len(measured)
        languages: dict[str, int] = {}
        language = np.array([languages.setdefault(m.lang, len(languages)) for m in measured], dtype=np.int64)
        thresholds = [self.thresholds(lang) for lang in languages]

        def limit(name: str, scale: np.ndarray | float = 1.0) -> np.ndarray:
            values = [np.nan if getattr(t, name) is None else getattr(t, name) for t in thresholds]
            return np.array(values, dtype=np.float64)[language] * scale

        def above(value: np.ndarray, name: str, margin: float = _MARGIN) -> np.ndarray:
            return value > limit(name) - margin

        def below(value: np.ndarray, name: str, margin: float = _MARGIN) -> np.ndarray:
            return value < limit(name) + margin

        words = np.array([m.words for m in measured])
        tokens = np.array([m.tokens for m in measured])
        char_mode = np.array([m.char_mode for m in measured], dtype=bool)
        article = np.array([m.article for m in measured], dtype=bool)
        figures = batch.figures
        lines = np.maximum(np.array(figures.lines), 1)
        repetition = np.array(figures.repetition).reshape(docs, 4)
        scale = np.where(char_mode, self.config.chars_per_word, 1.0)
        # the policy rule's shortcut (see ``_policy_check``) for the documents it applies to
        chosen = [d for d, row in enumerate(batch.long_line) if row >= 0 and thresholds[language[d]].max_policy_word_ratio is not None]
        no_shortcut = np.ones(docs, dtype=bool)
        no_shortcut[chosen] = names_a_phrase(batch.lines.texts([batch.long_line[d] for d in chosen]),
                                             [policy_phrases(measured[d].lang) for d in chosen])
        word_count = np.array(batch.words, dtype=np.float64)
        mean_length = np.divide(np.array(batch.word_chars, dtype=np.float64), word_count, out=np.zeros(docs), where=word_count > 0)
        found = np.array([stopwords.get(d, np.inf) for d in range(docs)], dtype=np.float64)
        may = above(words, "max_words") | below(words, "min_words")
        judged = (
            above(np.array(batch.lorem, dtype=np.float64), "max_lorem_ipsum", margin=0)  # counts: exact
            | (no_shortcut & ~np.isnan(limit("max_policy_word_ratio")) & (tokens > 0))
            | above(np.array(batch.symbols) / np.maximum(words, 1e-300), "max_symbol_word_ratio")
            | ((np.array(figures.lines) >= _MIN_LINES) & (above(np.array(figures.bullet) / lines, "max_bullet_line_ratio")
                                                         | above(np.array(figures.ellipsis) / lines, "max_ellipsis_line_ratio")))
            | (repetition > np.column_stack([limit(name) for name in _REPETITION_LIMITS]) - _MARGIN).any(axis=1)
            | (np.array(batch.ngrams[2]) & ~(np.array(scope_sizes) < limit("min_words_for_ngrams", scale)))
            | ((np.array(figures.lines) >= 5) & ~article & below(np.array(figures.punct) / lines, "min_line_punct_ratio"))
            | char_mode
            | below(1 - np.array(batch.without_letter) / np.maximum(tokens, 1), "min_alpha_word_ratio")
            | below(mean_length, "min_mean_word_length") | above(mean_length, "max_mean_word_length")
            | below(found, "min_stopwords", margin=0)
        )
        return (may | ((tokens > 0) & judged)).tolist()

    def _ngram_measures(
        self, batch: BatchMeasures, article: np.ndarray, prose: np.ndarray, measured: list[Measured]
    ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], list[int]]:
        """Top and dup n-gram shares per document, and how many units each judged: the word tokens
        on the lines in scope (the physical lines of its article's lines when it has one, else all)
        for all documents in one call, character units in another (each with its own n-gram sizes)."""
        tokens, lines = batch.tokens, batch.lines
        docs = len(measured)
        top_ns, dup_ns = self._ngram_sizes([m for m in measured if not m.char_mode])
        in_scope = ~np.repeat(article | tokens.char_mode, np.diff(tokens.line_base))  # per physical line
        rows = np.flatnonzero(prose & article[lines.doc] & ~tokens.char_mode[lines.doc])
        in_scope[_ranges(lines.span_first[rows], lines.span_last[rows] + 1)] = True
        keep = in_scope[tokens.line]
        scope_doc = tokens.doc[keep]
        offsets = np.zeros(docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(scope_doc, minlength=docs), out=offsets[1:])
        top_arrays, dup_arrays = ngram_ratios_batch(tokens.keys[keep], tokens.lengths[keep], offsets, top_ns, dup_ns)
        top, dup = dict(top_arrays), dict(dup_arrays)
        sizes_out = np.diff(offsets).tolist()
        if batch.units:
            chosen = list(batch.units)
            char_units = {}
            for d in chosen:  # the article's units, or all
                a, b = lines.offsets[d], lines.offsets[d + 1]
                article_lines = lines.texts([row for row in range(a, b) if prose[row]])
                char_units[d] = _CHAR_UNIT.findall("\n".join(article_lines)) if article[d] else batch.units[d]
            first_seen: dict[str, int] = {}  # unit -> position of its first occurrence, used as its key
            flat = [u for d in chosen for u in char_units[d]]
            ids = mix64(np.fromiter(map(first_seen.setdefault, flat, range(len(flat))), dtype=np.uint64, count=len(flat)))
            lengths = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
            char_offsets = np.cumsum([0] + [len(char_units[d]) for d in chosen])
            top_ns, dup_ns = self._ngram_sizes([measured[d] for d in chosen])
            char_top, char_dup = ngram_ratios_batch(ids, lengths, char_offsets, top_ns, dup_ns)
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

    def _ngram_sizes(self, measured: list[Measured]) -> tuple[list[int], list[int]]:
        top: set[int] = set()
        dup: set[int] = set()
        for lang, char_mode in {(m.lang, m.char_mode) for m in measured}:
            t = self.thresholds(lang)
            scale = self.config.chars_per_word if char_mode else 1
            top.update(round(n * scale) for n in (t.max_top_ngram_char_ratio or {}))
            dup.update(round(n * scale) for n in (t.max_dup_ngram_char_ratio or {}))
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
        """Consent walls. The rule needs nearly every line to name a policy, so lines are tried
        longest first and the check stops at ``article_min_words`` words of other text: whether it
        stops depends only on the words of all other lines, so one line that long naming no policy
        settles it (the shortest such line is read: most texts)."""
        if t.max_policy_word_ratio is None:
            return None
        phrases = policy_phrases(m.lang)
        long_line = batch.long_line[m.d]
        if long_line >= 0:
            lowered = batch.lines.text(long_line).lower()
            if not any(map(lowered.__contains__, phrases)):
                return None
        first, end = batch.lines.offsets[m.d], batch.lines.offsets[m.d + 1]
        lines, words = batch.lines.texts(list(range(first, end))), batch.line_words[first:end]
        other = policy = 0
        for i in sorted(range(len(lines)), key=words.__getitem__, reverse=True):
            lowered = lines[i].lower()
            if any(map(lowered.__contains__, phrases)):
                policy += words[i]
            else:
                other += words[i]
                if other >= self.config.article_min_words:
                    return None  # enough other text: an article that mentions cookies, or a banner beside one
        ratio = policy / max(policy + other, 1)
        m.stats["policy_word_ratio"] = ratio
        return _upper("max_policy_word_ratio", "words in cookie/consent/policy lines", ratio, t.max_policy_word_ratio)

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
        keys, rows, exceeded = batch.ngrams
        m.stats.update(zip(keys[m.lang, scale], rows[d]))
        if exceeded[d]:  # (most are not: messages are built only for a flag)
            unit = "character" if m.char_mode else "word"
            values = iter(rows[d])
            for rule, what, limits, _ in self._ngram_limits(m.lang, scale):
                for (n, limit, _), value in zip(limits, values):
                    if value > limit:
                        checks.append(_upper(rule, what, value, limit, n=n, unit=unit, where=where))
        return checks

    def _ngram_table(
        self, top: dict[int, np.ndarray], dup: dict[int, np.ndarray], measured: list[Measured]
    ) -> tuple[dict[tuple[str, float], list[str]], list[list[float]], list[bool]]:
        """The n-gram stats keys in the order the rules read them per (language, scale), and per
        document its values and whether one exceeds its limit."""
        groups: dict[tuple[str, float], list[int]] = {}
        for m in measured:
            groups.setdefault((m.lang, self.config.chars_per_word if m.char_mode else 1), []).append(m.d)
        keys: dict[tuple[str, float], list[str]] = {}
        same_rules: dict[tuple, list[int]] = {}  # languages with the same n-gram limits are read together
        for (lang, scale), docs in groups.items():
            rules = self._ngram_limits(lang, scale)
            keys[lang, scale] = self._ngram_keys[lang, scale]
            same_rules.setdefault(tuple((kind, tuple(limits)) for _, _, limits, kind in rules), []).extend(docs)
        rows: list[list[float]] = [[]] * len(measured)
        exceeded = [False] * len(measured)
        for signature, docs in same_rules.items():
            rules = [(None, None, list(limits), kind) for kind, limits in signature]
            columns = [(top if kind == "top" else dup)[n][docs] for _, _, limits, kind in rules for n, _, _ in limits]
            if not columns:
                continue
            limits = np.array([limit for _, _, rule_limits, _ in rules for _, limit, _ in rule_limits], dtype=np.float64)
            table = np.column_stack(columns)
            for d, row, over in zip(docs, table.tolist(), (table > limits).any(axis=1).tolist()):
                rows[d], exceeded[d] = row, over
        return keys, rows, exceeded

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

    def _stopword_counts(self, tokens: BatchTokens, measured: list[Measured], quick: bool = False) -> dict[int, int]:
        """Stopwords of the documents the stopword rule judges, counted for the batch at once.
        ``quick`` (no values wanted): a document with enough stopwords among its bare lower-case
        tokens (``plain_stopword_hits``) gets that count, the others are counted in full."""
        judged = [d for d, m in enumerate(measured) if m.tokens and not m.char_mode and stopword_list(m.lang)
                  and self.thresholds(m.lang).min_stopwords is not None]
        enough = [None if self.config.record_stats else self.thresholds(measured[d].lang).min_stopwords for d in judged]
        settled: dict[int, int] = {}
        if quick and judged:
            hits = plain_stopword_hits(tokens, judged, [measured[d].lang for d in judged])
            settled = {d: n for d, n, least in zip(judged, hits, enough) if least is not None and n >= least}
            enough = [least for d, least in zip(judged, enough) if d not in settled]
            judged = [d for d in judged if d not in settled]
        counts = count_stopwords_batch(tokens, judged, [stopword_list(measured[d].lang) for d in judged], enough)
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
