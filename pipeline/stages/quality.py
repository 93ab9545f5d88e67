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

Real text the original rules misjudge (see ``Layout``): line rules see logical lines, with the hard
wraps of ODT/PDF/e-mail copies joined back; a page with an article is judged on the article by the
repetition rules, so menus left around it by boilerplate removal do not reject it. A consent wall
(C4's policy lines) is caught by ``max_policy_word_ratio``.

Speed: a batch is measured at once (``tokenize_batch``: one numpy pass over the code points of all
its texts; ``ngram_ratios_batch``: repeated n-grams of all its documents; ``count_stopwords_batch``:
the stopword probes); what is left per document is line work in Python.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, compress
from operator import and_, itemgetter, methodcaller, not_
from pathlib import Path
from typing import Annotated, Any, Iterable

import numpy as np
import regex
from pydantic import Field, ValidationError, field_serializer, field_validator

from ..arrays import code_points, cumulative_powers, mix64
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


def _duplicates(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and their characters (Gopher's dup line/paragraph)."""
    distinct = set(items)  # each first occurrence; everything else is a repeat
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))


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
    doc_starts = np.zeros(docs, dtype=np.int64)
    np.cumsum([len(t) + 1 for t in texts[:-1]], out=doc_starts[1:])
    line_counts = [t.count("\n") + 1 for t in texts]
    line_base = np.zeros(docs + 1, dtype=np.int64)
    np.cumsum(line_counts, out=line_base[1:])
    not_space = np.zeros(size + 2, dtype=bool)  # padded with a space either side
    not_space[1:-1] = (classes & _NOT_SPACE).view(bool)
    bounds = np.flatnonzero(not_space[1:] != not_space[:-1])  # token starts and ends, alternating
    token_starts, ends = bounds[0::2], bounds[1::2]
    lengths = ends - token_starts
    powers, inverse_powers = _powers(size)
    prefix = np.zeros(size + 1, dtype=np.uint64)
    np.cumsum(codes * powers[:size], out=prefix[1:])
    keys = mix64((prefix[ends] - prefix[token_starts]) * inverse_powers[token_starts] ^ lengths.astype(np.uint64))
    np.cumsum(_FIGURES.take(classes), out=prefix[1:])
    figures = prefix[ends] - prefix[token_starts]
    doc_ends = doc_starts + [len(t) for t in texts]
    word_chars = ((prefix[doc_ends] - prefix[doc_starts]) & _LOW32).astype(np.int64)  # per document
    # tokens per physical line: the tokens before each newline, differenced (newlines are few)
    tokens_before = np.concatenate(([0], np.searchsorted(token_starts, np.flatnonzero(codes == 10)), [len(token_starts)]))
    tokens_per_line = np.diff(tokens_before)
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
    )


def _stopword_candidates(parts: list[str]) -> list[list[str]]:
    """``_PUNCT_OR_SYMBOL.sub("", part).casefold().split()`` of each part, with one regex call and
    one casefold for all of them (joined by NUL, which neither changes; per part if a part holds one)."""
    joined = "\0".join(parts)
    if joined.count("\0") != len(parts) - 1:
        return [_PUNCT_OR_SYMBOL.sub("", part).casefold().split() for part in parts]
    return list(map(str.split, _PUNCT_OR_SYMBOL.sub("", joined).casefold().split("\0"))) if parts else []


def count_stopwords_batch(texts: list[str], known: list[frozenset[str]], enough: list[int | None]) -> list[int]:
    """Per text, how many words are stopwords (``_PUNCT_OR_SYMBOL.sub("", text).casefold().split()``).
    With ``enough``, the whole tokens of the first ``_STOPWORD_PROBES`` characters are tried first
    and their count returned once it reaches ``enough`` (most texts); else the whole text is counted."""
    found: list[int | None] = [None] * len(texts)
    for probe in _STOPWORD_PROBES:
        probing = [i for i, text in enumerate(texts) if found[i] is None and enough[i] is not None and len(text) > probe]
        heads = []
        for i in probing:
            parts = texts[i][:probe].rsplit(None, 1)
            heads.append(parts[0] if len(parts) == 2 else "")  # without the token the cut may have split
        for i, words in zip(probing, _stopword_candidates(heads)):
            count = sum(map(known[i].__contains__, words))
            if count >= enough[i]:  # type: ignore[operator]
                found[i] = count
    rest = [i for i in range(len(texts)) if found[i] is None]
    for i, words in zip(rest, _stopword_candidates([texts[i] for i in rest])):
        found[i] = sum(map(known[i].__contains__, words))
    return found  # type: ignore[return-value]


# -- layout: logical lines, and the article among them -------------------------------------------


@dataclass
class Layout:
    """A document's lines as a reader sees them.

    Hard-wrapped text (copies from ODT/PDF, e-mail) breaks lines mid-sentence, so line rules would
    count every wrap as a line that "does not end in punctuation". Wraps are joined back: a line
    continues on the next (non-blank, not bulleted) line when it does not end in terminal punctuation,
    has ``_WRAP_MIN_WORDS`` or more words, and the next line's first word would not have fitted on it
    (line + space + word >= ``_WRAP_REACH`` x the widest line: how greedy wrapping decides). Only
    documents whose widest line is within ``_WRAP_WIDTH`` characters (typewriter/PDF widths; web text
    puts a paragraph per line) and where at least half the lines wrap so are joined: a list of short
    lines of similar length (menus, repeated slogans) is not mistaken for wrapped prose.

    The article: logical lines that read like prose (``_PROSE_MIN_WORDS`` or more words, ending in
    terminal punctuation). When they hold ``article_min_words`` or more words, the repetition rules
    judge the article and the FineWeb line rule is skipped: menus, tag lists and share buttons that
    boilerplate removal left around a surviving article do not reject it.
    """

    lines: list[str]  # logical lines (hard wraps joined)
    line_words: list[int]  # words per logical line
    block: list[int]  # per logical line: its paragraph (blank-line-separated block)
    article_lines: list[str]
    prose: list[int]  # indexes of the article's lines
    article_words: int
    article_spans: list[tuple[int, int]]  # physical lines (first, last) of each article line
    wrapped: int  # line breaks that were hard wraps


_WRAP_WIDTH = (40, 150)
_WRAP_REACH = 0.9
_WRAP_MIN_WORDS = 4
_PROSE_MIN_WORDS = 8


def _hard_wraps(stripped: list[str], line_words: list[int]) -> list[bool]:
    """Per physical line: does it continue on the next line (see ``Layout``)."""
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


def layout(text: str, line_words: list[int]) -> Layout:
    """``line_words``: words per physical line (``text.split("\n")``)."""
    stripped = list(map(str.strip, text.split("\n")))
    wraps = _hard_wraps(stripped, line_words)
    lines: list[str] = []
    words: list[int] = []
    block: list[int] = []  # paragraph number of each logical line
    spans: list[list[int]] = []  # first and last physical line of each logical line
    if wraps:
        paragraph, joining = 0, False
        for i, (line, n) in enumerate(zip(stripped, line_words)):
            if not line:
                paragraph += 1 if lines and block[-1] == paragraph else 0
                joining = False
                continue
            if joining:
                lines[-1] += " " + line
                words[-1] += n
                spans[-1][1] = i
            else:
                lines.append(line)
                words.append(n)
                block.append(paragraph)
                spans.append([i, i])
            joining = i < len(wraps) and wraps[i]
    else:  # one logical line per non-blank line; blank lines separate paragraphs
        kept = list(compress(range(len(stripped)), stripped))
        lines = list(compress(stripped, stripped))
        words = list(compress(line_words, stripped))
        block = list(compress(accumulate(map(not_, stripped)), stripped))
    is_prose = list(map(and_, map(_PROSE_MIN_WORDS.__le__, words), map(_TERMINAL_PUNCT_CHARS.__contains__, map(itemgetter(-1), lines))))
    prose = list(compress(range(len(lines)), is_prose))
    return Layout(
        lines=lines,
        line_words=words,
        block=block,
        article_lines=list(compress(lines, is_prose)),
        prose=prose,
        article_words=sum(compress(words, is_prose)),
        article_spans=[(spans[i][0], spans[i][1]) for i in prose] if wraps else [(kept[i], kept[i]) for i in prose],
        wrapped=len(stripped) - len(lines) - stripped.count(""),
    )


def paragraphs(page: Layout, article: bool) -> list[str]:
    """The page's (or its article's) logical lines joined per paragraph."""
    lines, block = page.lines, page.block
    out: list[str] = []
    last = -1
    for i in page.prose if article else range(len(lines)):
        if block[i] == last:
            out[-1] += "\n" + lines[i]
        else:
            out.append(lines[i])
            last = block[i]
    return out


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

    text: str
    lang: str
    char_mode: bool
    words: float  # (estimated) word count
    tokens: int  # whitespace tokens, or character units
    layout: Layout
    article: bool  # the repetition rules judge the article lines only
    stats: dict[str, Any]


class Quality(Stage):
    name = "quality"
    Config = QualityConfig
    config: QualityConfig

    def __init__(self, config: QualityConfig | None = None, context: Any = None):
        super().__init__(config, context)
        self._thresholds: dict[str, Thresholds] = {}
        self._ngram_rules: dict[tuple[str, float], list] = {}

    def process(self, batch: list[Document]) -> None:
        langs = [(doc.annotations.get("language") or {}).get("lang", "und") for doc in batch]
        for doc, (flags, stats) in zip(batch, self.assess_batch([doc.text for doc in batch], langs)):
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

    def assess_batch(self, texts: list[str], langs: list[str]) -> list[tuple[list[Flag], dict[str, Any]]]:
        """``assess`` for many texts: tokens, word figures and n-gram repetition in one numpy pass."""
        if not texts:
            return []
        tokens = tokenize_batch(texts)
        measured: list[Measured] = []
        narrowed = np.zeros(len(texts), dtype=bool)  # documents whose n-gram scope is not all their lines
        article_lines: list[int] = []  # physical lines of the batch in those documents' articles
        char_units: dict[int, list[str]] = {}  # n-gram units of the documents in char mode
        for d, (text, lang) in enumerate(zip(texts, langs)):
            char_mode = bool(tokens.char_mode[d])
            first_line = tokens.line_base[d]
            if char_mode:
                units = _CHAR_UNIT.findall(text)
                count, words = len(units), len(units) / self.config.chars_per_word
                line_words = [round(len(line) / self.config.chars_per_word) for line in text.split("\n")]
            else:
                count = int(tokens.offsets[d + 1] - tokens.offsets[d])
                words = float(count)
                line_words = tokens.line_words[d].tolist()
            page = layout(text, line_words)
            article = page.article_words >= max(self.config.article_min_words, self.config.article_min_share * words)
            measured.append(Measured(text, lang, char_mode, words, count, page, article, {
                "unit": "char" if char_mode else "word", "words": words,
                "repetition_scope": "article" if article else "text", "wrapped_lines": page.wrapped,
            }))
            # the units the n-gram rules look at: the article's, or all
            if char_mode:
                char_units[d] = _CHAR_UNIT.findall("\n".join(page.article_lines)) if article else units
                narrowed[d] = True
            elif article:
                narrowed[d] = True
                article_lines += [first_line + i for first, last in page.article_spans for i in range(first, last + 1)]
        in_scope = ~np.repeat(narrowed, np.diff(tokens.line_base))  # per physical line of the batch
        in_scope[article_lines] = True
        top, dup, scope_sizes = self._ngram_measures(tokens, in_scope, char_units, measured)
        stopwords = self._stopword_counts(measured)
        results = []
        for d, m in enumerate(measured):
            t = self.thresholds(m.lang)
            checks = self._length_checks(m, t)
            if m.tokens:
                checks += self._junk_checks(m, t)
                checks += self._repetition_checks(m, t, top, dup, d, scope_sizes[d])
                checks += self._prose_checks(m, t, tokens, d, stopwords.get(d))
            stats = {k: round(v, 4) if isinstance(v, float) else v for k, v in m.stats.items()} if self.config.record_stats else m.stats
            results.append(([c for c in checks if c], stats))
        return results

    def _ngram_measures(
        self, tokens: BatchTokens, in_scope: np.ndarray, char_units: dict[int, list[str]], measured: list[Measured]
    ) -> tuple[dict[int, list[float]], dict[int, list[float]], list[int]]:
        """Top and dup n-gram shares per document, and how many units each judged: the word tokens
        on the lines in scope for all documents in one call, character units in another."""
        docs = len(measured)
        top_ns, dup_ns = self._ngram_sizes(measured)
        keep = in_scope[tokens.line]
        scope_doc = tokens.doc[keep]
        offsets = np.zeros(docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(scope_doc, minlength=docs), out=offsets[1:])
        top_arrays, dup_arrays = ngram_ratios_batch(tokens.keys[keep], tokens.lengths[keep], offsets, top_ns, dup_ns)
        top = {n: v.tolist() for n, v in top_arrays.items()}
        dup = {n: v.tolist() for n, v in dup_arrays.items()}
        sizes = np.diff(offsets).tolist()
        if char_units:
            chosen = list(char_units)
            first_seen: dict[str, int] = {}  # unit -> position of its first occurrence, used as its key
            flat = [u for d in chosen for u in char_units[d]]
            ids = mix64(np.fromiter(map(first_seen.setdefault, flat, range(len(flat))), dtype=np.uint64, count=len(flat)))
            lengths = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
            char_offsets = np.cumsum([0] + [len(char_units[d]) for d in chosen])
            char_top, char_dup = ngram_ratios_batch(ids, lengths, char_offsets, top_ns, dup_ns)
            for i, d in enumerate(chosen):
                sizes[d] = len(char_units[d])
                for n in top_ns:
                    top[n][d] = float(char_top[n][i])
                for n in dup_ns:
                    dup[n][d] = float(char_dup[n][i])
        return top, dup, sizes

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

    def _junk_checks(self, m: Measured, t: Thresholds) -> list[Flag | None]:
        """C4's lorem ipsum; Gopher's symbols, bullet and ellipsis lines (on logical lines)."""
        checks: list[Flag | None] = []
        lorem = len(_LOREM.findall(m.text))
        if t.max_lorem_ipsum is not None and lorem > t.max_lorem_ipsum:
            checks.append(("max_lorem_ipsum", f"'lorem ipsum' {lorem} times > {t.max_lorem_ipsum}", lorem))
        checks.append(self._policy_check(m, t))
        symbols = (m.text.count("#") + m.text.count("...") + m.text.count("…")) / m.words
        m.stats["symbol_word_ratio"] = symbols
        checks.append(_upper("max_symbol_word_ratio", "('#' + ellipses) per word", symbols, t.max_symbol_word_ratio))
        lines = m.layout.lines
        if len(lines) >= _MIN_LINES:
            bullet = sum(map(_BULLET_CHARS.__contains__, map(itemgetter(0), lines))) / len(lines)
            ellipsis = sum(map(methodcaller("endswith", _ELLIPSES), lines)) / len(lines)
            m.stats.update(bullet_line_ratio=bullet, ellipsis_line_ratio=ellipsis)
            checks.append(_upper("max_bullet_line_ratio", "lines starting with a bullet", bullet, t.max_bullet_line_ratio))
            checks.append(_upper("max_ellipsis_line_ratio", "lines ending in an ellipsis", ellipsis, t.max_ellipsis_line_ratio))
        return checks

    def _policy_check(self, m: Measured, t: Thresholds) -> Flag | None:
        """Consent walls. The rule needs nearly every line to name a policy, so lines are tried
        longest first and the check stops at ``article_min_words`` words of other text (whether it
        stops does not depend on the order: only on the words of all other lines)."""
        if t.max_policy_word_ratio is None:
            return None
        phrases = policy_phrases(m.lang)
        lines, words = m.layout.lines, m.layout.line_words
        longest = max(words, default=0)
        if longest >= self.config.article_min_words:  # most texts: one long line decides, no sort
            lowered = lines[words.index(longest)].lower()
            if not any(map(lowered.__contains__, phrases)):
                return None
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

    def _repetition_checks(
        self, m: Measured, t: Thresholds, top: dict[int, list[float]], dup: dict[int, list[float]], d: int, scope_tokens: int
    ) -> list[Flag | None]:
        """Gopher's repeated lines, paragraphs and n-grams, on the article when the page has one
        (n-grams of characters x chars_per_word for scripts written without spaces; ``top`` and
        ``dup`` hold the batch's values, this document's at ``d``)."""
        checks: list[Flag | None] = []
        page = m.layout
        lines = page.article_lines if m.article else page.lines
        where = " of the article" if m.article else ""
        scope_chars = sum(map(len, lines)) + len(lines) - 1 if m.article else len(m.text)
        for kind, items in (("line", lines), ("paragraph", paragraphs(page, m.article))):
            count, chars = _duplicates(items)
            ratio, char_ratio = count / max(len(items), 1), chars / max(scope_chars, 1)
            m.stats[f"dup_{kind}_ratio"], m.stats[f"dup_{kind}_char_ratio"] = ratio, char_ratio
            limit, char_limit = (t.max_dup_line_ratio, t.max_dup_line_char_ratio) if kind == "line" else (
                t.max_dup_paragraph_ratio, t.max_dup_paragraph_char_ratio)
            checks.append(_upper(f"max_dup_{kind}_ratio", "repeated {kind}s{where}", ratio, limit, kind=kind, where=where))
            checks.append(_upper(f"max_dup_{kind}_char_ratio", "characters in repeated {kind}s{where}", char_ratio, char_limit,
                                 kind=kind, where=where))

        unit = "character" if m.char_mode else "word"
        scale = self.config.chars_per_word if m.char_mode else 1
        if t.min_words_for_ngrams is not None and scope_tokens < t.min_words_for_ngrams * scale:
            return checks  # too short for n-gram shares to mean anything
        for rule, what, limits, kind in self._ngram_limits(m.lang, scale):
            values = top if kind == "top" else dup
            for n, limit, stat in limits:
                value = m.stats[stat] = values[n][d]
                if value > limit:  # (most are not: the message is built only for a flag)
                    checks.append(_upper(rule, what, value, limit, n=n, unit=unit, where=where))
        return checks

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
        return out

    def _stopword_counts(self, measured: list[Measured]) -> dict[int, int]:
        """Stopwords of the documents the stopword rule judges, counted for the batch at once."""
        judged = [d for d, m in enumerate(measured) if m.tokens and not m.char_mode and stopword_list(m.lang)
                  and self.thresholds(m.lang).min_stopwords is not None]
        enough = [None if self.config.record_stats else self.thresholds(measured[d].lang).min_stopwords for d in judged]
        counts = count_stopwords_batch([measured[d].text for d in judged], [stopword_list(measured[d].lang) for d in judged], enough)
        return dict(zip(judged, counts))

    def _prose_checks(self, m: Measured, t: Thresholds, tokens: BatchTokens, d: int, stopwords: int | None) -> list[Flag | None]:
        """Does it read like prose: FineWeb's line punctuation (pages without an article), Gopher's
        word length, letters, stopwords (``stopwords``: counted when the rule applies)."""
        checks: list[Flag | None] = []
        lines = m.layout.lines
        if len(lines) >= 5:
            punct = sum(map(_TERMINAL_PUNCT_CHARS.__contains__, map(itemgetter(-1), lines))) / len(lines)
            m.stats["line_punct_ratio"] = punct
            if not m.article:
                checks.append(_lower("min_line_punct_ratio", "lines ending in punctuation", punct, t.min_line_punct_ratio))
        if m.char_mode:
            units = _CHAR_UNIT.findall(m.text)
            without_letter = sum(1 for u in units if not any(map(str.isalpha, u)))
        else:
            without_letter = int(tokens.without_letter[d])
        alpha = 1 - without_letter / m.tokens
        m.stats["alpha_word_ratio"] = alpha
        unit = "characters" if m.char_mode else "words"
        checks.append(_lower("min_alpha_word_ratio", f"{unit} with a letter", alpha, t.min_alpha_word_ratio))
        if m.char_mode:
            return checks  # no word boundaries: word length and stopwords do not apply

        # Gopher: punctuation is not part of a word
        words = int(tokens.words[d])
        mean_length = int(tokens.word_chars[d]) / words if words else 0.0
        m.stats["mean_word_length"] = mean_length
        checks.append(_lower("min_mean_word_length", "mean word length", mean_length, t.min_mean_word_length))
        checks.append(_upper("max_mean_word_length", "mean word length", mean_length, t.max_mean_word_length))
        if stopwords is not None and t.min_stopwords is not None:
            found = m.stats["stopwords"] = stopwords
            if found < t.min_stopwords:
                checks.append(("min_stopwords", f"{found} {m.lang} stopwords < {t.min_stopwords}", found))
        return checks
