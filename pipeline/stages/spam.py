"""spam: cut keyword runs injected into articles by compromised sites ("visit 카지노 North Korea").

Other cleaners drop the whole page; this stage removes only the injected run and logs it. A *run* is
a stretch of CJK (Hangul/Han/Kana), Thai or Cyrillic letters that is foreign to the main script of
its line (counted without lexicon and quoted runs, so injections cannot outvote a short line), plus
Vietnamese betting phrases (Latin script, so found by lexicon) in Latin lines of non-Vietnamese text.
A run is removed (the rule is logged) when

* ``lexicon``: it can be cut entirely into spam terms and modifiers of ``pipeline/data/spam/``, so
  compounds such as ``카지노사이트`` or ``คาสิโนออนไลน์`` match and ``토토로`` (Totoro) does not;
* ``lexicon_partial``: known parts leave at most two letters ("해외배팅사이트"), or a term of three
  or more letters is half of it ("더킹카지노");
* ``campaign``: it is an unknown run standing bare between two main-script words, in a document
  where a lexicon run of the same script was found (injections come in batches);
* ``repeated``: the same bare run occurs ``min_repeats`` times;
* ``link``: it is glued to a domain (``바카라사이트.com``);
* ``spam_line``: its whole line is spam terms and links, in another script than the document's.

Runs in brackets or quotes (glosses, quotations), after a colon to the end of a sentence, on lines
written in one script, or in documents of their own script are never cut. Lines made mostly of spam
terms and links count towards a whole-document verdict (flag ``spam_document``).
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Iterator
from importlib import resources
import re

import numpy as np
import regex
from pydantic import Field

from ..arrays import ascii_lowered_utf8, code_points, every_code_point, joined_code_points, segment_or
from ..disk_cache import remembered_table
from ..document import Document
from ..lexicons import stopwords
from .base import Stage, StageConfig

# Script groups: letters of one group never count as foreign to each other (Japanese mixes Han and
# Kana, Korean uses Hanja). ー and 々 are script Common but belong to Japanese words.
GROUP_CLASSES: dict[str, str] = {
    "cjk": r"\p{Han}\p{Hangul}\p{Hiragana}\p{Katakana}ー々〆",
    "thai": r"\p{Thai}",
    "cyrillic": r"\p{Cyrillic}",
    "latin": r"\p{Latin}",
}
RUN_GROUPS = ("cjk", "thai", "cyrillic")  # scripts whose runs can be foreign, hence candidates
# letters per group, a whole space-separated stretch per match (fewer matches: counted in Python)
_GROUP_COUNTS = regex.compile(
    "|".join(f"(?P<{g}>[{cls}]+(?: [{cls}]+)*)" for g, cls in GROUP_CLASSES.items()) + r"|(?P<other>\p{L}+)"
)
# Fast path: stdlib ``re`` with the blocks of the scripts above (5-10x faster than ``regex`` with
# script properties on long Latin text); a document without any of these is left alone.
_CJK_THAI_CYRILLIC_BLOCKS = (
    "\u0400-\u052f\u0e00-\u0e7f\u1100-\u11ff\u1c80-\u1c8f\u2de0-\u2dff\u3040-\u30ff\u3130-\u318f"
    "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua640-\ua69f\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
)
_VIETNAMESE_ONLY = "ăđơưĂĐƠƯ\u1ea0-\u1ef9"
_SCRIPT_TRIGGER = re.compile(f"[{_CJK_THAI_CYRILLIC_BLOCKS}{_VIETNAMESE_ONLY}]")


@lru_cache(maxsize=1)
def _script_trigger_table() -> np.ndarray:
    """``_SCRIPT_TRIGGER`` as a table over all code points: looking every character up in numpy is
    twice as fast as the regex scan on text that has none (almost every document)."""
    def compute() -> np.ndarray:
        table = np.zeros(0x110000, dtype=np.bool_)
        for block in re.finditer(_SCRIPT_TRIGGER.pattern + "+", every_code_point()):
            table[block.start() : block.end()] = True
        return table

    return remembered_table("spam-script-trigger", (_SCRIPT_TRIGGER.pattern, _SCRIPT_TRIGGER.flags), compute, np.bool_)


def _has_script_trigger(text: str) -> bool:
    codes = code_points(text)
    return bool(_script_trigger_table().take(codes).any())
_TRIGGER, _PLAIN_LETTER = 1, 2  # bits of ``Spam.trigger_table``
# Letter counts per line and group, as ``_GROUP_COUNTS`` counts them, in numpy: columns in name order
# (so argmax breaks ties as ``max(sorted(...))`` does), then a column for characters not counted.
COUNT_GROUPS = tuple(sorted([*GROUP_CLASSES, "other"]))
_COLUMN = {g: i for i, g in enumerate(COUNT_GROUPS)}
_NOT_COUNTED, _LETTER = len(COUNT_GROUPS), 8  # group code of other characters; bit of every \p{L}
_VIETNAMESE_BIT, _PLAIN_LETTER_BIT = 16, 32  # bits of ``Spam.char_table``: what ``_may_hint_vietnamese`` looks for


@lru_cache(maxsize=1)
def _group_table() -> np.ndarray:
    """Per code point: its group's column (first class of ``GROUP_CLASSES`` that holds it, "other"
    for any other letter, ``_NOT_COUNTED`` else), plus ``_LETTER`` for letters."""
    columns = [(r"\p{L}+", _COLUMN["other"]), *((f"[{c}]+", _COLUMN[g]) for g, c in reversed(GROUP_CLASSES.items()))]

    def compute() -> np.ndarray:
        every = every_code_point()
        table = np.full(0x110000, _NOT_COUNTED, dtype=np.uint8)
        for pattern, column in columns:
            for block in regex.finditer(pattern, every):
                table[block.start() : block.end()] = column
        for block in regex.finditer(r"\p{L}+", every):
            table[block.start() : block.end()] |= _LETTER
        return table

    return remembered_table("spam-groups", (columns, _NOT_COUNTED, _LETTER), compute)


@lru_cache(maxsize=4)
def _letter_clusters(letters: str, reach: int) -> re.Pattern:
    """Runs of ``letters`` each within ``2 * reach`` characters of the next: windows of ``reach``
    either side of each would overlap, so one match stands for them all (few matches in Python)."""
    letter = f"[{re.escape(letters)}]"
    return re.compile(f"{letter}(?:.{{0,{2 * reach}}}{letter})*", re.DOTALL)


@lru_cache(maxsize=4)
def _trigger_table(plain_letters: str) -> np.ndarray:
    """``_TRIGGER`` where ``_script_trigger_table`` is set, ``_PLAIN_LETTER`` at ``plain_letters``."""
    table = _script_trigger_table().astype(np.uint8)
    table[[ord(c) for c in plain_letters]] |= _PLAIN_LETTER
    return table


@lru_cache(maxsize=4)
def _char_table(plain_letters: str) -> np.ndarray:
    """``_group_table`` plus the bits of what ``Spam._may_hint_vietnamese`` looks for."""
    table = _group_table() | _vietnamese_letter_table()
    table[[ord(c) for c in plain_letters]] |= _PLAIN_LETTER_BIT
    return table


@lru_cache(maxsize=1)
def _vietnamese_letter_table() -> np.ndarray:
    """``_VIETNAMESE_BIT`` at the letters of ``_VIETNAMESE_LETTER_ANY_CASE``."""

    def compute() -> np.ndarray:
        table = np.zeros(0x110000, dtype=np.uint8)
        table[[m.start() for m in _VIETNAMESE_LETTER_ANY_CASE.finditer(every_code_point())]] = _VIETNAMESE_BIT
        return table

    return remembered_table("spam-vietnamese", (_VIETNAMESE_LETTER_ANY_CASE.pattern, _VIETNAMESE_LETTER_ANY_CASE.flags, _VIETNAMESE_BIT), compute)


def line_group_counts(codes: np.ndarray, lines: int, table: np.ndarray | None = None) -> np.ndarray:
    """Characters of each group on each line (``lines`` x ``COUNT_GROUPS``), counted as
    ``_GROUP_COUNTS.finditer`` does: letters after an "other" letter in the same unbroken stretch of
    letters belong to its match (\\p{L}+), so count as "other" too; spaces do not count.
    ``table`` is ``_group_table().take(codes)``, if the caller has it."""
    table = _group_table().take(codes) if table is None else table
    group = table & 7
    other = group == _COLUMN["other"]
    if other.any():
        position = np.arange(codes.size)
        last_other = np.maximum.accumulate(np.where(other, position, -1))
        last_break = np.maximum.accumulate(np.where(table & _LETTER, -1, position))
        group[(table & _LETTER != 0) & (last_other > last_break)] = _COLUMN["other"]
    line = np.cumsum(codes == 10)  # a line break itself is not counted
    width = _NOT_COUNTED + 1
    counts = np.bincount(line * width + group, minlength=lines * width)
    return counts.reshape(lines, width)[:, :_NOT_COUNTED]
_VIETNAMESE_LETTER = regex.compile(f"[{_VIETNAMESE_ONLY}]")
_VIETNAMESE_LETTER_ANY_CASE = re.compile(f"[{_VIETNAMESE_ONLY}]", re.IGNORECASE)  # as in ``_vietnamese_hint``
_ASCII_LETTER = re.compile("[A-Za-z]")
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}]")
_HANGUL = regex.compile(r"\p{Hangul}")
_SEPARATOR = r"[ \u00a0\-·・]"
_RUNS = {
    g: regex.compile(rf"\d*[{GROUP_CLASSES[g]}](?:[{GROUP_CLASSES[g]}\p{{M}}\d]|{_SEPARATOR}(?=\d*[{GROUP_CLASSES[g]}]))*")
    for g in RUN_GROUPS
}
_GLUED_DOMAIN = regex.compile(r"\.(?:[a-z0-9-]+\.)*(?:com|net|org|info|biz|io|xyz|top|vip|site|club|bet|win|me|cc|tv|kr|cn|jp|ru|th|vn)\b", regex.IGNORECASE)
_GLUED_TAIL = regex.compile(r"[a-z0-9]{1,4}(?![\p{L}\p{M}\d])")
_URL = regex.compile(r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|net|org|info|xyz|top|vip|site|club|bet|win|cc|kr|cn|jp|ru|th|vn)\b", regex.IGNORECASE)
OPENERS = "([{（［【「『〈《«‹“‘\"'„‚"
CLOSERS = ")]}）］】」』〉》»›”’\"'“‘"
_PAIR_MARKS = "()[]{}（）［］【】「」『』〈〉《》«»‹›“”\"„"  # no single quotes: apostrophes
_WORD = re.compile("[^ ]+")
_PAIR_MARK = re.compile(f"[{re.escape(_PAIR_MARKS)}]")
_OTHER_LETTER = {g: regex.compile(rf"(?![{cls}])[\p{{L}}\d]") for g, cls in GROUP_CLASSES.items()}  # or digit: "(20,4 룰렛게임 %)"
_ATTACHING = ",.;:!?…)]}%）］】」』〉》»›”’\"'。、，！？；："


def _compiled_once(source: str) -> cached_property:
    """A ``regex.Pattern`` attribute compiled from the ``source`` field on first use."""
    return cached_property(lambda lexicon: regex.compile(getattr(lexicon, source), lexicon.flags))


@dataclass(frozen=True)
class Lexicon:
    """Spam terms of one script group, compiled for whole-run and in-text matching when first
    used: a run without text of the group never needs its four large alternations (compiling those
    of every group took ~0.1 s of every start-up)."""

    group: str
    whole_pattern: str  # fullmatch: a run that is nothing but terms/modifiers/digits
    inline_pattern: str  # finditer: term compounds not glued to letters of the same group
    term_pattern: str  # search: one term anywhere
    part_pattern: str  # finditer: terms and modifiers anywhere (partial cover of unknown runs)
    flags: int = 0
    plain_terms: tuple[str, ...] = ()  # terms with no Vietnamese-only letter ("game bài"), for the pre-check

    whole = _compiled_once("whole_pattern")
    inline = _compiled_once("inline_pattern")
    term = _compiled_once("term_pattern")
    part = _compiled_once("part_pattern")


def _entry_pattern(entry: str) -> str:
    """An entry as regex: ``*`` at the end allows a short inflectional ending."""
    stem = entry.rstrip("*")
    words = [regex.escape(w) for w in stem.split()]
    pattern = rf"{_SEPARATOR}+".join(words)
    return pattern + (r"[\p{L}\p{M}]{0,4}" if entry.endswith("*") else "")


def _entry_group(entry: str) -> str:
    first = regex.search(r"\p{L}", entry)
    for group, cls in GROUP_CLASSES.items():
        if first and regex.match(f"[{cls}]", first.group()):
            return group
    raise ValueError(f"spam lexicon entry {entry!r}: no supported script")


def _read_lexicon_file(text: str, name: str) -> tuple[list[str], list[str]]:
    terms: list[str] = []
    modifiers: list[str] = []
    target = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line in ("[terms]", "[modifiers]"):
            target = terms if line == "[terms]" else modifiers
            continue
        if target is None:
            raise ValueError(f"spam lexicon {name}: entry {line!r} before [terms]/[modifiers]")
        target.append(line)
    return terms, modifiers


@lru_cache(maxsize=None)
def load_lexicons(languages: tuple[str, ...]) -> dict[str, Lexicon]:
    """Compile the shipped lexicon files of ``languages`` into one matcher per script group.

    Latin entries are Vietnamese (group ``vi``): matched as words, only in non-Vietnamese text.
    """
    root = resources.files("pipeline") / "data" / "spam"
    terms: dict[str, set[str]] = {}
    modifiers: dict[str, set[str]] = {}
    for lang in languages:
        path = root / f"{lang}.txt"
        if not path.is_file():
            raise ValueError(f"spam: no lexicon for language {lang!r} (have: pipeline/data/spam/*.txt)")
        file_terms, file_mods = _read_lexicon_file(path.read_text(encoding="utf-8"), path.name)
        for bucket, entries in ((terms, file_terms), (modifiers, file_mods)):
            for entry in entries:
                group = _entry_group(entry)
                if group == "latin":
                    if lang != "vi":
                        raise ValueError(f"spam lexicon {lang}.txt: Latin entry {entry!r} (only vi.txt may have them)")
                    if bucket is terms and entry.isascii():
                        raise ValueError(f"spam lexicon vi.txt: term {entry!r} is plain ASCII (ASCII text is never scanned)")
                    group = "vi"
                bucket.setdefault(group, set()).add(entry)
    out: dict[str, Lexicon] = {}
    for group, group_terms in terms.items():
        by_length = lambda entries: "|".join(_entry_pattern(e) for e in sorted(entries, key=lambda e: (-len(e), e)))
        core = f"(?:{by_length(group_terms)})"
        word = f"(?:{by_length(group_terms | modifiers.get(group, set()))})"
        segment = rf"\d*{word}\d*"  # digits only glued to a word ("바카라1위", "토토365")
        compound = rf"(?:{segment}{_SEPARATOR}*)*?{core}(?:{_SEPARATOR}*{segment})*"
        edge = rf"[{GROUP_CLASSES['latin' if group == 'vi' else group]}\p{{M}}]"
        # scripts written with spaces match whole words only; CJK and Thai match inside compounds
        bounded = (lambda p: rf"(?<!{edge}){p}(?!{edge})") if group in ("cyrillic", "vi") else (lambda p: p)
        flags = regex.IGNORECASE if group in ("cyrillic", "vi") else 0  # CJK and Thai have no case (and match faster)
        out[group] = Lexicon(
            group,
            whole_pattern=compound,
            inline_pattern=rf"(?<!{edge}){compound}(?!{edge})",
            term_pattern=bounded(core),
            part_pattern=bounded(word),
            flags=flags,
            plain_terms=tuple(sorted(t.rstrip("*").lower() for t in group_terms if not _VIETNAMESE_LETTER.search(t))) if group == "vi" else (),
        )
    return out


def _vietnamese_hint(lexicons: dict[str, Lexicon]) -> re.Pattern | None:
    """Cheap stdlib pre-check for Vietnamese terms: a Vietnamese-only letter, or a term without one."""
    if "vi" not in lexicons:
        return None
    plain = [re.escape(t) for t in lexicons["vi"].plain_terms]
    return re.compile("|".join([f"[{_VIETNAMESE_ONLY}]", *plain]), re.IGNORECASE)


class SpamConfig(StageConfig):
    languages: list[str] = Field(default_factory=lambda: ["ko", "zh", "ja", "th", "ru", "vi"])
    """Lexicon files to load from ``pipeline/data/spam/`` (ISO 639-1 codes)."""
    campaign: bool = True
    """Also remove unknown bare mid-sentence runs of a script that already had a lexicon hit."""
    min_repeats: int = Field(3, ge=0)
    """A bare mid-sentence run repeated this often is removed (0 disables the rule)."""
    max_shape_run_chars: int = Field(16, ge=1)
    """Longer unknown runs are text (a phrase, a sentence), never removed by shape alone."""
    max_lexicon_run_chars: int = Field(120, ge=1)
    """Longer runs are not checked against the lexicon (bounds regex work)."""
    cjk_weight: float = Field(2.0, gt=0)
    """One CJK character counts as this many letters when deciding a document's main script."""
    vietnamese_share: float = Field(0.02, ge=0, le=1)
    """Latin text with this share of Vietnamese-only letters (ă đ ơ ư ạ ...) is Vietnamese."""
    spam_line_share: float = Field(0.6, gt=0, le=1)
    """A line is spam when spam terms (and links beside them) are this share of its characters."""
    spam_line_cut_share: float = Field(0.8, gt=0, le=1)
    """A spam line this full of spam, in another script than the document's, is cut whole."""
    spam_document_share: float = Field(0.5, ge=0, lt=1)
    """A document is spam (flag ``spam_document``) when more than this share of its non-empty lines is spam."""
    min_spam_lines: int = Field(1, ge=1)
    """... and at least this many lines are spam."""
    clean_title: bool = True
    """Also cut injected runs from ``metadata.title`` (rules logged as ``title_<rule>``, position -1)."""


_MAX_SPLIT_WORDS = 12  # longer runs are sentences, judged whole


@dataclass(frozen=True)
class _Run:
    """A stretch of one script group, as found in the text and judged."""

    group: str
    start: int
    end: int
    text: str
    enclosed: bool  # a gloss or quotation (see ``_enclosed``)
    rule: str | None  # lexicon rule that matched, if any


@dataclass
class _Cut:
    start: int
    end: int
    rule: str


class Spam(Stage):
    name = "spam"
    Config = SpamConfig
    config: SpamConfig

    def __init__(self, config: SpamConfig | None = None, context=None):
        super().__init__(config, context)
        self.lexicons = load_lexicons(tuple(self.config.languages))
        self.vietnamese_hint = _vietnamese_hint(self.lexicons)
        self.plain_terms = self.lexicons["vi"].plain_terms if "vi" in self.lexicons else ()
        self.plain_letters = "".join(sorted({c for t in self.plain_terms for c in t + t.upper() if not c.isascii()}))
        # ``t in text.lower()`` as bytes: only these letters and themselves lower-case to the terms'
        # accented letters (checked by the tests against every code point)
        self._plain_terms_utf8 = tuple(t.encode("utf-8") for t in self.plain_terms)
        _trigger_table(self.plain_letters), _char_table(self.plain_letters)  # built here: forked workers inherit them

    # tables looked up (cached per process), not attributes: a pickled stage stays small
    @property
    def trigger_table(self) -> np.ndarray:
        return _trigger_table(self.plain_letters)

    @property
    def char_table(self) -> np.ndarray:
        return _char_table(self.plain_letters)

    def _may_hint_vietnamese(self, text: str) -> bool:
        """Could ``vietnamese_hint`` match? A Vietnamese-only letter, or an accented letter of a term
        without one (both cheap scans; the hint's case-insensitive alternation is slow)."""
        if self.vietnamese_hint is None:
            return False
        return bool(_VIETNAMESE_LETTER_ANY_CASE.search(text)) or any(c in text for c in self.plain_letters)

    def process(self, batch: list[Document]) -> None:
        titles = [doc.metadata.get("title") if self.config.clean_title else None for doc in batch]
        titles = [title if isinstance(title, str) else None for title in titles]
        texts = [doc.text for doc in batch] + [title for title in titles if title is not None]
        bits = iter(self._trigger_bits(texts).tolist())
        text_bits = [next(bits) for _ in batch]
        for doc, title, doc_bits in zip(batch, titles, text_bits):
            if doc_bits and self._triggered_by(doc.text, doc_bits):  # fast path: otherwise no rule could match
                self._clean(doc)
            if title is not None and (title_bits := next(bits)) and self._triggered_by(title, title_bits):
                self._clean_title(doc, title)

    def _trigger_bits(self, texts: list[str]) -> np.ndarray:
        """Per text, ``_TRIGGER`` if a script block of ``_SCRIPT_TRIGGER`` occurs in it, plus
        ``_PLAIN_LETTER`` if an accented letter of a plain Vietnamese term does: one table lookup
        over the whole batch joined (most batches have few such texts)."""
        codes, starts = joined_code_points(texts)
        return segment_or(self.trigger_table.take(codes), starts)

    def _triggered_by(self, text: str, bits: int) -> bool:
        if bits & _TRIGGER:
            return True
        if bits & _PLAIN_LETTER:
            data = ascii_lowered_utf8(text, self.plain_letters)  # (see ``Spam.__init__``)
            return any(t in data for t in self._plain_terms_utf8)
        return False

    def _plain_term_windows(self, text: str) -> list[tuple[int, int]]:
        """Where ``vietnamese_hint`` can find a plain Vietnamese term: around its accented letters
        (a term holds one, and only these code points match it case-insensitively), as far as the
        longest term reaches either side. French, Spanish and Portuguese text has such letters
        everywhere; searching it whole (a case-insensitive alternation) was slow on such text."""
        reach = max(map(len, self.plain_terms)) - 1
        return [(max(m.start() - reach, 0), m.end() + reach) for m in _letter_clusters(self.plain_letters, reach).finditer(text)]

    def _hints_plain_term(self, text: str) -> bool:
        """``vietnamese_hint.search(text)`` for text without a Vietnamese-only letter: only its plain
        terms can match, each within a ``_plain_term_windows`` stretch (the hint has no lookaround)."""
        assert self.vietnamese_hint is not None
        return any(self.vietnamese_hint.search(text, a, b) for a, b in self._plain_term_windows(text))

    # -- analysis --------------------------------------------------------------------------------
    def _weighted_main(self, counts: dict[str, int], default: str = "none") -> str:
        """The script group with most letters (CJK characters weighted, being denser)."""
        weighted = {g: n * (self.config.cjk_weight if g == "cjk" else 1) for g, n in counts.items() if n > 0}
        return max(sorted(weighted), key=weighted.__getitem__) if weighted else default

    def _candidate_groups(self, counts: dict[str, int]) -> set[str]:
        """Groups whose runs on this line need judging. Runs of the line's main group only matter if
        leaving out lexicon and quoted runs could make another group main, i.e. other letters weigh
        at least a quarter as much (a short line full of injections), not a stray "KBS" or "ʼ"."""
        weighted = {g: n * (self.config.cjk_weight if g == "cjk" else 1) for g, n in counts.items() if n > 0}
        if len(weighted) < 2:
            return set()
        main = max(sorted(weighted), key=weighted.__getitem__)
        others = max(n for g, n in weighted.items() if g != main)
        return {g for g in RUN_GROUPS if g in weighted and (g != main or others * 4 >= weighted[g])}

    def _is_vietnamese(self, text: str, vi_spans: list[tuple[int, int]]) -> bool:
        """Vietnamese text, judged outside the betting terms found in it: letters only Vietnamese
        uses (ă đ ơ ư ạ ...) or accented Vietnamese function words (tôi, của, không, ...)."""
        rest = "".join(text[s:e] for s, e in _gaps(vi_spans, len(text)))
        latin = sum(1 for _ in regex.finditer(r"\p{Latin}", rest))
        marked = len(_VIETNAMESE_LETTER.findall(rest))
        if marked >= 2 and marked >= self.config.vietnamese_share * latin:
            return True
        words = [w.casefold() for w in regex.findall(r"\p{Latin}+", rest)]
        function_words = sum(1 for w in words if w in _vietnamese_function_words())
        return function_words >= 1 and function_words >= 0.2 * len(words)

    def _lexicon_rule(self, group: str, run: str) -> str | None:
        """``lexicon`` when the run is nothing but spam terms and modifiers; ``lexicon_partial`` when
        it has a term and lexicon parts leave at most two letters ("해외배팅사이트"), or one term of
        three or more letters is half the run ("더킹카지노")."""
        lexicon = self.lexicons.get(group)
        if lexicon is None or len(run) > self.config.max_lexicon_run_chars:
            return None
        if lexicon.whole.fullmatch(run):
            return "lexicon"
        if " " in run:
            return None  # several words: judged word by word (``_split_run``)
        terms = [m.end() - m.start() for m in lexicon.term.finditer(run)]
        if not terms:
            return None
        letters = _letters(run)
        parts = list(lexicon.part.finditer(run))
        if len(parts) >= 2 and letters - sum(m.end() - m.start() for m in parts) <= 2:
            return "lexicon_partial"
        if max(terms) >= 3 and max(terms) >= 0.5 * letters:  # "더킹카지노", "六合彩开奖"
            return "lexicon_partial"
        return None

    def _split_run(self, group: str, start: int, text: str) -> list[_Run]:
        """Words of a run judged apart ("淘宝 スロットアプリ", "博彩網站 독재정권은 그를 ...").

        Consecutive Korean words, or Chinese/Japanese ones, form a segment. Within a segment, longest
        lexicon stretches come first; unless they make up more than half its words (or one of two),
        the segment is a phrase and stays whole. Other words of a spam cluster ("казино вулкан") are
        spam too (rule ``campaign``).
        """
        words = [(start + m.start(), start + m.end()) for m in _WORD.finditer(text)]
        if group not in self.lexicons:
            return [_Run(group, start, start + len(text), text, False, None)]
        # Korean words apart from Chinese/Japanese ones (Japanese mixes Han and Kana across words)
        korean = [_HANGUL.search(text, s - start, e - start) is not None for s, e in words]
        segments: list[list[tuple[int, int]]] = []
        for index, word in enumerate(words):
            if index and korean[index] == korean[index - 1]:
                segments[-1].append(word)
            else:
                segments.append([word])
        return [run for segment in segments for run in self._judge_words(group, text, start, segment)]

    def _judge_words(self, group: str, text: str, offset: int, words: list[tuple[int, int]]) -> list[_Run]:
        """Lexicon stretches among consecutive words of one script (see ``_split_run``)."""
        piece_text = lambda i, j: text[words[i][0] - offset : words[j - 1][1] - offset]
        whole = [_Run(group, words[0][0], words[-1][1], piece_text(0, len(words)), False, None)]
        if len(words) > _MAX_SPLIT_WORDS:
            return whole
        part = self.lexicons[group].part
        pieces: list[tuple[int, int, str | None]] = []  # first word, end word, rule
        i = 0
        while i < len(words):
            has_part = part.search(text, words[i][0] - offset, words[i][1] - offset) is not None
            for j in range(len(words), i, -1) if has_part else ():  # no part: no stretch starts here
                rule = self._lexicon_rule(group, piece_text(i, j))
                if rule == "lexicon" or (rule and j == i + 1):
                    break
            else:
                j, rule = i + 1, None
            pieces.append((i, j, rule))
            i = j
        spam_words = sum(j - i for i, j, rule in pieces if rule)
        if spam_words * 2 < len(words) or (spam_words * 2 == len(words) and len(words) > 2):
            return self._phrase_with_edge_spam(group, words, pieces, piece_text) or whole
        runs = [_Run(group, words[i][0], words[j - 1][1], piece_text(i, j), False, rule) for i, j, rule in pieces]
        spam_scripts = {_fine_script(r.text, group) for r in runs if r.rule}
        return [  # a leftover word in another script ("淘宝" beside Kana spam) is kept
            r if r.rule or not self.config.campaign or _fine_script(r.text, group) not in spam_scripts
            else _Run(r.group, r.start, r.end, r.text, False, "campaign")
            for r in runs
        ]

    def _phrase_with_edge_spam(self, group, words, pieces, piece_text) -> list[_Run] | None:
        """A phrase that mentions a spam word stays whole, but a spam *compound* glued to its start
        or end ("카지노쿠폰 품질 면에서": term + modifier) is an injection next to it."""
        part = self.lexicons[group].part
        edges = {k for k in {0, len(pieces) - 1} if pieces[k][2] and len(part.findall(piece_text(*pieces[k][:2]))) >= 2}
        if not edges:
            return None
        runs = [_Run(group, words[i][0], words[j - 1][1], piece_text(i, j), False, rule) for k, (i, j, rule) in enumerate(pieces) if k in edges]
        inner = [p for k, p in enumerate(pieces) if k not in edges]
        if inner:
            i, j = inner[0][0], inner[-1][1]
            runs.append(_Run(group, words[i][0], words[j - 1][1], piece_text(i, j), False, None))
        return sorted(runs, key=lambda r: r.start)

    def find_cuts(self, text: str) -> tuple[str, list[_Cut], int, int]:
        """Main script, spans to remove (with the rule that caught each), spam lines, non-empty lines.

        A run is foreign when its script is not the main script of its line, counting only the
        line's own prose: lexicon runs and quoted/bracketed runs are left out of that count, so a
        short line full of injected keywords is still an English line.
        """
        codes = code_points(text)
        line_starts = [0, *(np.flatnonzero(codes == 10) + 1).tolist()]
        line_of = lambda pos: bisect_right(line_starts, pos) - 1
        looked_up = self.char_table.take(codes)
        per_line = line_group_counts(codes, len(line_starts), looked_up)  # letters per line and group
        bits = int(np.bitwise_or.reduce(looked_up)) if codes.size else 0
        # a few lines of five counts each: plain dicts beat numpy calls on arrays this small
        raw_counts = [{g: n for g, n in zip(COUNT_GROUPS, row) if n} for row in per_line.tolist()]
        main = self._weighted_main(dict(zip(COUNT_GROUPS, per_line.sum(axis=0).tolist())), "other")
        raw_line_mains = [self._weighted_main(c) for c in raw_counts]

        # lines where a group's runs may be foreign: other letters there, and not a token few of them
        # (a line in one script is judged whole below, as a possible keyword line)
        candidates = [self._candidate_groups(c) for c in raw_counts]
        runs: list[_Run] = []
        for group in RUN_GROUPS:
            for match in _run_matches(group, text, line_starts, [i for i, c in enumerate(candidates) if group in c]):
                start, end = match.span()
                enclosed = _enclosed(text, start, end, group)
                rule = None if enclosed else self._lexicon_rule(group, match.group())
                if enclosed or rule or " " not in match.group():
                    runs.append(_Run(group, start, end, match.group(), enclosed, rule))
                else:  # "淘宝 スロットアプリ": a legit word next to an injected one
                    runs += self._split_run(group, start, match.group())
        prose_counts = [dict(c) for c in raw_counts]
        for run in runs:
            if run.enclosed or run.rule:  # not the line's own prose
                line_counts = prose_counts[line_of(run.start)]
                line_counts[run.group] = line_counts.get(run.group, 0) - _letters(run.text)
        line_mains = [self._weighted_main(c, main) for c in prose_counts]

        cuts: list[_Cut] = []
        # the hint has no lookaround: a line can only match it if the whole text does
        # (``_may_hint_vietnamese`` from the table bits; with a Vietnamese-only letter the hint matches)
        may_hint = self.vietnamese_hint is not None and bits & (_VIETNAMESE_BIT | _PLAIN_LETTER_BIT)
        vietnamese_hint = self.vietnamese_hint if may_hint and (bits & _VIETNAMESE_BIT or self._hints_plain_term(text)) else None
        if "latin" in line_mains and vietnamese_hint and not _plainly_vietnamese(text):
            vi_spans = [m.span() for m in self.lexicons["vi"].inline.finditer(text)]
            if vi_spans and not self._is_vietnamese(text, vi_spans):
                cuts += [_Cut(s, e, "lexicon") for s, e in vi_spans if line_mains[line_of(s)] == "latin" and not _enclosed(text, s, e)]
        bare: list[tuple[_Run, str, bool]] = []
        lexicon_scripts: set[str] = set()
        for run in runs:
            line_main = line_mains[line_of(run.start)]
            if run.enclosed or line_main == run.group:
                continue  # a gloss/quotation, or the line's own script
            domain = _GLUED_DOMAIN.match(text, run.end)
            if run.rule:
                tail = domain or _GLUED_TAIL.match(text, run.end)  # "바카라사이트.com", "สล็อตpg"
                cuts.append(_Cut(run.start, tail.end() if tail else run.end, run.rule))
                lexicon_scripts.add(_fine_script(run.text, run.group))
            elif domain:
                cuts.append(_Cut(run.start, domain.end(), "link"))
            elif run.end - run.start <= self.config.max_shape_run_chars and _between_words(text, run.start, run.end, line_main):
                lexicon = self.lexicons.get(run.group)
                hint = lexicon is not None and lexicon.part.search(run.text) is not None
                bare.append((run, _fine_script(run.text, run.group), hint or not _after_name(text, run.start)))
        repeats = Counter(run.text for run, _, _ in bare)
        for run, script, not_a_gloss in bare:
            if not not_a_gloss:
                continue
            if self.config.campaign and script in lexicon_scripts and run.text.count(" ") <= 1:
                cuts.append(_Cut(run.start, run.end, "campaign"))  # keywords, not a phrase of 3+ words
            elif self.config.min_repeats and repeats[run.text] >= self.config.min_repeats:
                cuts.append(_Cut(run.start, run.end, "repeated"))

        spam_lines = lines = 0
        cuts_by_line: dict[int, list[_Cut]] = {}
        for cut in cuts:
            cuts_by_line.setdefault(line_of(cut.start), []).append(cut)
        for i, line_start in enumerate(line_starts):
            line_end = line_starts[i + 1] - 1 if i + 1 < len(line_starts) else len(text)
            line = text[line_start:line_end]
            if not line.strip():
                continue
            lines += 1
            groups = [g for g in RUN_GROUPS if raw_counts[i].get(g)]
            if raw_counts[i].get("latin") and vietnamese_hint and vietnamese_hint.search(line):
                groups.append("vi")
            in_line = cuts_by_line.get(i, [])
            if not groups and not in_line:
                continue  # nothing on this line a lexicon could match
            share = self._spam_share(line, [(c.start - line_start, c.end - line_start) for c in in_line], groups)
            if share < self.config.spam_line_share:
                continue
            spam_lines += 1
            if share >= self.config.spam_line_cut_share and raw_line_mains[i] != main:
                cuts = [c for c in cuts if c not in in_line] + [_Cut(line_start, line_end, "spam_line")]
        return main, sorted(cuts, key=lambda c: c.start), spam_lines, lines

    def _spam_share(self, line: str, cut_spans: list[tuple[int, int]], groups: list[str]) -> float:
        """Share of the line's non-space characters in spam terms, cut runs and links beside them."""
        lexicons = [self.lexicons[g] for g in groups if g in self.lexicons]
        lexicons = [lex for lex in lexicons if lex.term.search(line)]  # cheap pre-check: any term at all
        covered = cut_spans + [m.span() for lex in lexicons for m in lex.inline.finditer(line)]
        if not covered:
            return 0.0
        covered += [m.span() for m in _URL.finditer(line)]
        nonspace = len(line) - sum(1 for c in line if c.isspace())
        return _covered_chars(line, covered) / nonspace

    # -- editing ---------------------------------------------------------------------------------
    def _clean(self, doc: Document) -> None:
        original = doc.text
        main, cuts, spam_lines, lines = self.find_cuts(original)
        if not cuts and not spam_lines:
            return
        text, applied = _apply_cuts(original, cuts)
        for cut in applied:
            doc.remove(self.name, cut.rule, original[cut.start : cut.end], cut.start)
        doc.text = text
        found = {"script": main, "runs_removed": len(applied), "spam_lines": spam_lines, "lines": lines}
        doc.annotations[self.name] = found
        if spam_lines >= self.config.min_spam_lines and spam_lines > self.config.spam_document_share * lines:
            doc.flag(
                self.name,
                "spam_document",
                f"{spam_lines} of {lines} lines are spam keywords or links",
                round(spam_lines / lines, 3),
            )


    def _clean_title(self, doc: Document, title: str) -> None:
        """The headline the boilerplate stage moved to ``metadata.title`` gets injections too."""
        _, cuts, _, _ = self.find_cuts(title)
        cleaned, applied = _apply_cuts(title, cuts)
        for cut in applied:  # position -1: not an offset in the text
            doc.remove(self.name, f"title_{cut.rule}", title[cut.start : cut.end])
        if applied:
            doc.metadata["title"] = cleaned


def _apply_cuts(text: str, cuts: list[_Cut]) -> tuple[str, list[_Cut]]:
    """Text with the (sorted) cuts made, spacing repaired; the cuts applied, overlaps skipped.

    Cuts never cross a line, so each line is edited on its own (linear in the text, however many
    cuts); a line left empty disappears with its line break.
    """
    if not cuts:
        return text, []
    lines: list[str | None] = list(text.split("\n"))
    line_starts = list(accumulate((len(line) + 1 for line in text.split("\n")[:-1]), initial=0))
    by_line: dict[int, list[_Cut]] = {}
    for cut in cuts:
        by_line.setdefault(bisect_right(line_starts, cut.start) - 1, []).append(cut)
    applied: list[_Cut] = []
    for index, line_cuts in by_line.items():
        offset, line, done = line_starts[index], lines[index], []
        for cut in reversed(line_cuts):  # right to left: earlier offsets stay valid
            if done and cut.end > done[-1].start:
                continue  # overlaps a cut already made
            line = _cut_with_clean_spacing(line, cut.start - offset, cut.end - offset)
            done.append(cut)
        lines[index] = line if line.strip() else None
        applied += reversed(done)
    return "\n".join(line for line in lines if line is not None), applied


@lru_cache(maxsize=1)
def _vietnamese_function_words() -> frozenset[str]:
    """Vietnamese stopwords with a non-ASCII letter (ASCII ones overlap English: "a", "to")."""
    return frozenset(w for w in stopwords("vi") if not w.isascii() and " " not in w)


def _plainly_vietnamese(text: str) -> bool:
    """Vietnamese at a glance: Vietnamese-only letters are 8 % of Latin ones (prose has ~15 %; an
    English page with injected Vietnamese spam ~1 %), so no need to look for betting terms."""
    marked = len(_VIETNAMESE_LETTER.findall(text))
    return marked >= 20 and marked >= 0.08 * len(_ASCII_LETTER.findall(text))


def _run_matches(group: str, text: str, line_starts: list[int], lines: list[int]) -> Iterator[regex.Match]:
    """The group's runs on the given (sorted) lines: runs never cross a line, so the rest of the
    text need not be searched."""
    for first, last in _stretches(lines):
        end = line_starts[last + 1] - 1 if last + 1 < len(line_starts) else len(text)
        yield from _RUNS[group].finditer(text, line_starts[first], end)


def _stretches(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted ``numbers`` as (first, last) of each stretch of consecutive ones: [1, 2, 5] -> (1, 2), (5, 5)."""
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def _gaps(spans: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """The stretches of ``range(length)`` outside sorted, non-overlapping ``spans``."""
    out, pos = [], 0
    for s, e in spans:
        out.append((pos, s))
        pos = e
    out.append((pos, length))
    return out


def _letters(run: str) -> int:
    return sum(1 for c in run if c.isalpha())


def _fine_script(run: str, group: str) -> str:
    if group != "cjk":
        return group
    if _KANA.search(run):
        return "kana"
    return "hangul" if _HANGUL.search(run) else "han"


def _neighbours(text: str, start: int, end: int) -> tuple[str, str]:
    """Nearest non-space characters before and after a span, within its line ("\\n" at the edges)."""
    i = start - 1
    while i >= 0 and text[i] in " \t\u00a0":
        i -= 1
    j = end
    while j < len(text) and text[j] in " \t\u00a0":
        j += 1
    return (text[i] if i >= 0 else "\n"), (text[j] if j < len(text) else "\n")


def _enclosed(text: str, start: int, end: int, group: str | None = None) -> bool:
    """A gloss or a quotation, not an injection: tightly in quotes or brackets, after a colon and
    ending its sentence ("Korean: 카지노."), or (given the run's ``group``) inside a bracket or
    double-quote pair that holds no digits nor letters of another script («Мы будем развивать ...»)."""
    before, after = _neighbours(text, start, end)
    if before in OPENERS and after in CLOSERS:
        return True
    if before in ":：" and (after in "\n.!?。！？" or after in CLOSERS):
        return True
    if group is None:
        return False
    opener = _mark_before(text, start)
    closer = _mark_after(text, end)
    if opener < 0 or closer < 0 or text[opener] not in OPENERS or text[closer] not in CLOSERS:
        return False
    other_letter = _OTHER_LETTER[group]
    return not (other_letter.search(text, opener, start) or other_letter.search(text, end, closer))


def _mark_before(text: str, pos: int) -> int:
    """Index of the nearest bracket or double quote before ``pos`` on its line (300 chars); -1 if none."""
    low = max(0, pos - 300, text.rfind("\n", max(0, pos - 300), pos) + 1)
    last = -1
    for last_mark in _PAIR_MARK.finditer(text, low, pos):  # few in 300 characters
        last = last_mark.start()
    return last


def _mark_after(text: str, pos: int) -> int:
    """Index of the nearest bracket or double quote from ``pos`` on its line (300 chars); -1 if none."""
    high = text.find("\n", pos, pos + 300)
    found = _PAIR_MARK.search(text, pos, high if high >= 0 else min(len(text), pos + 300))
    return found.start() if found else -1


_WORD_BEFORE = regex.compile(r"([\w\-’'.]+)[ \t\u00a0]*$")  # "Jong-un", "O’Neill"


def _between_words(text: str, start: int, end: int, main: str) -> bool:
    """A word of its own between two words of the line's main script, no punctuation either side
    (letters glued into a word, "Аdvеrtіѕе" with Cyrillic homoglyphs, are not a run of their own)."""
    if start == 0 or end == len(text) or not text[start - 1].isspace() or not text[end].isspace():
        return False
    before, after = _neighbours(text, start, end)
    main_letter = f"[{GROUP_CLASSES[main]}\\d]" if main in GROUP_CLASSES else r"[\p{L}\d]"
    return bool(regex.match(main_letter, before) and regex.match(main_letter, after))


def _after_name(text: str, start: int) -> bool:
    """Right after a capitalised word: could be a native-script gloss of a name ("Kim Jong-un 김정은")."""
    word = _WORD_BEFORE.search(text, max(0, start - 40), start)
    return bool(word and word.group(1)[:1].isupper())


def _covered_chars(line: str, spans: list[tuple[int, int]]) -> int:
    """Non-space characters of ``line`` inside the union of ``spans``."""
    mask = bytearray(len(line))
    for s, e in spans:
        mask[max(0, s) : min(len(line), e)] = b"\x01" * (min(len(line), e) - max(0, s))
    return sum(1 for i, c in enumerate(line) if mask[i] and not c.isspace())


def _cut_with_clean_spacing(text: str, start: int, end: int) -> str:
    """Remove ``text[start:end]`` and leave one space between words, none before punctuation.

    A line left empty disappears with its line break.
    """
    left = start
    while left > 0 and text[left - 1] in " \t\u00a0":
        left -= 1
    right = end
    while right < len(text) and text[right] in " \t\u00a0":
        right += 1
    before = text[left - 1] if left > 0 else "\n"
    after = text[right] if right < len(text) else "\n"
    if before == "\n" and after == "\n":
        return text[:left] + text[right + 1 :] if right < len(text) else text[: max(0, left - 1)]
    next_char = text[right + 1] if right + 1 < len(text) else "\n"
    closing = after in _ATTACHING and not (after in OPENERS and next_char.isalnum())  # '"' opens "word"
    opening = before in OPENERS and not (before in CLOSERS and left < start)  # '" ' closed a quote
    if before == "\n" or after == "\n" or opening:
        joint = ""
    elif closing:  # "visit 카지노, North" -> "visit, North"; "(20,4 룰렛게임 %)" keeps its space
        joint = " " if left < start and right > end else ""
    elif left < start or right > end or (before.isalnum() and after.isalnum()):
        joint = " "
    else:
        joint = ""
    return text[:left] + joint + text[right:]
