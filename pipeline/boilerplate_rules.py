"""Phrase rules for the boilerplate stage, loaded from ``pipeline/data/boilerplate/*.yaml``.

The data are regular expressions, but matching hundreds of alternations line by line is slow
(~25 us a line with the ``regex`` module). So each pattern whose language is finite and small
("(?:artikel )?teilen", "read more") is expanded once into its strings, and whole-line rules become
one dict lookup per line; ``contains`` phrases become a set of anchor words that a line must hold
before its rule's regex is tried. Only the open-ended patterns (dates, bylines, credits) run as
regexes, and only on short lines. All languages are merged - a German page with English share
buttons needs no language guess - and adding a language is adding a YAML file.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Callable

import regex
import yaml

from . import disk_cache
from .lexicons import stopwords

try:  # the stdlib regex parser: used only to enumerate small finite patterns
    import re._parser as sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse  # type: ignore[no-redef]

SECTIONS = ("line", "contains", "section")
SITE_WORDS = "site_words"  # a plain word list beside the sections (PhraseRules.site_words)
# Bullets, arrows and trailing colons around a menu entry ("• Share", "Weiterlesen »") do not
# change what it is; they are stripped before a whole-line lookup.
EDGE_CHARS = " \t•·|>»›‹«<\\-–—*+#▸►▶→←↑↓:.!…/"
_MAX_EXPANSION = 4000
# punctuation that stays attached to a word when a line is split on whitespace
AFFIXES = ("", ",", ".", ":", ";", "!", "?", ")", '"', "”", "»", "'")
PREFIXES = ("(", '"', "„", "“", "«", "»", "'")
# what may follow a word that has a prefix: "(dpa)", "(Foto: N. N.)"
PREFIXED_AFFIXES = ("", ")", ":")
_PUNCT = re.compile(r"[^\w\s@©]+")


def line_key(line: str) -> str:
    """A trimmed line as whole-line rules see it: lower case, without bullets or final colons."""
    return line.lower().strip(EDGE_CHARS)


def words_of(line_lower: str) -> list[str]:
    """Words of a lower-cased line without punctuation (stopword and anchor lookups)."""
    return _PUNCT.sub(" ", line_lower.replace("©", " © ")).split()


@dataclass(frozen=True)
class AnchoredPatterns:
    """Open-ended patterns, each tried only on lines holding one of its anchor words. Compiled at
    load time (~0.2 s), like the stage's other tables: a large multilingual run meets most of them
    (258 of 314 at 10k bench documents), forked workers inherit them compiled, and the stage's timed
    throughput carries no compiling."""

    patterns: tuple[tuple[str, regex.Pattern], ...]
    """(rule, compiled pattern) pairs."""
    by_anchor: dict[str, tuple[int, ...]]
    """anchor word -> indices into ``patterns``."""

    def match(self, line: str, whole_line: bool, lowered: str | None = None, anchor: str | None = None) -> str | None:
        """The rule of the first pattern (whose anchor the line holds) that matches, or None.
        ``lowered``: ``line.lower()`` (perhaps unstripped), when the caller has it already;
        ``anchor``: the line's only anchor token (a ``by_token`` key), when the caller knows it."""
        by_token = self.by_token
        if anchor is not None:  # the usual case, found by the caller for a whole batch at once
            order = by_token[anchor]
        else:
            tokens = (line.lower() if lowered is None else lowered).replace("©", " © ").split()
            held = by_token.keys() & tokens  # anchors in the line (one set operation, in C)
            if not held:
                return None
            if len(held) == 1:  # one anchor, its patterns in order
                order = by_token[next(iter(held))]
            else:  # patterns of the anchors in the order the line holds them, each tried once
                order = tuple(dict.fromkeys(k for token in tokens if token in held for k in by_token[token]))
        core = line.strip(EDGE_CHARS) if whole_line else line
        for k in order:
            rule, pattern = self.patterns[k]
            if (pattern.fullmatch(core) if whole_line else pattern.search(core)) is not None:
                return rule
        return None

    @property
    def by_token(self) -> dict[str, tuple[int, ...]]:
        """``by_anchor`` keyed by whitespace tokens too ("foto:", "(dpa)"), built once."""
        cached = self.__dict__.get("_by_token")
        if cached is None:
            cached = {}
            for word, ks in self.by_anchor.items():
                for affix in AFFIXES:
                    cached.setdefault(word + affix, ks)
                for prefix in PREFIXES:
                    for affix in PREFIXED_AFFIXES:
                        cached.setdefault(prefix + word + affix, ks)
            object.__setattr__(self, "_by_token", cached)
        return cached


@dataclass(frozen=True)
class PhraseRules:
    """Compiled multilingual rules plus the stopword lists of the languages that have a file."""

    line_phrases: dict[str, str]
    """line key -> rule, for whole-line rules with a finite set of strings (incl. section headings)."""
    line_patterns: AnchoredPatterns
    """Open-ended whole-line rules with a literal word (bylines, dates, credits)."""
    bare_regex: regex.Pattern | None
    """Open-ended whole-line rules without any literal word (numbers, e-mail, phone): short lines only."""
    contains: AnchoredPatterns
    """Phrases that mark a short line wherever they occur in it (cookie notices, copyright)."""
    section_rules: frozenset[str]
    languages: tuple[str, ...]
    stopwords: dict[str, frozenset[str]]
    site_words: frozenset[str] = frozenset()
    """Words a site uses about itself and its readers (newsletter, subscribe, comments, donate, ...),
    all languages merged: prose dense with them at the article's edge is a pitch, not the article."""


def _data_files() -> list[tuple[str, str]]:
    folder = resources.files("pipeline") / "data" / "boilerplate"
    return sorted((f.name.removesuffix(".yaml"), f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".yaml"))


_OPEN = "\x00"
_LOOSE_BREAK = re.compile(r"[^\w©]+")  # stands for an open-ended part (\\w+, .{0,40}) when only literal words matter


def _expand_items(items: list, limit: int, loose: bool = False) -> set[str] | None:
    """All strings a parsed (stdlib) pattern matches, or None if open-ended or too many.

    ``loose``: open-ended parts become ``_OPEN`` instead of failing (to find the literal words).
    """
    out = {""}
    for op, arg in items:
        options = _expand_op(op, arg, limit, loose)
        if options is None:
            if not loose:
                return None
            options = {_OPEN}
        out = {a + b for a in out for b in options}
        if loose:  # only the literal words matter: everything else is a word break
            out = {_LOOSE_BREAK.sub(" ", x) for x in out}
        if len(out) > limit:
            return None
    return out


def _expand_op(op, arg, limit: int, loose: bool) -> set[str] | None:
    """The strings one parsed element matches (None: open-ended, or too many)."""
    name = str(op)
    if name == "LITERAL":
        return {chr(arg)}
    if name == "IN":
        options = set()
        for iop, iarg in arg:
            if str(iop) == "LITERAL":
                options.add(chr(iarg))
            elif str(iop) == "CATEGORY" and str(iarg) == "CATEGORY_SPACE":
                options.add(" ")
            else:
                return None
        return options
    if name == "CATEGORY" and str(arg) == "CATEGORY_SPACE":
        return {" "}
    if name == "BRANCH":
        options = set()
        for branch in arg[1]:
            sub = _expand_items(list(branch), limit, loose)
            if sub is None:
                return None
            options |= sub
        return options
    if name == "SUBPATTERN":
        return _expand_items(list(arg[-1]), limit, loose)
    if name in ("MAX_REPEAT", "MIN_REPEAT"):
        low, high, sub_items = arg
        sub = _expand_items(list(sub_items), limit, loose)
        optional = {""} if low == 0 else set()
        if sub is None:
            return optional | {_OPEN} if loose else None
        if sub <= {" ", ""}:  # \s* and \s+ are one space after whitespace collapsing
            return optional | {" "}
        if high > 3:
            return optional | {_OPEN} if loose else None
        return {"".join(p) for n in range(low, high + 1) for p in product(sorted(sub), repeat=n)}
    return None


def expand(pattern: str, limit: int = _MAX_EXPANSION, loose: bool = False) -> set[str] | None:
    """The finite set of strings ``pattern`` matches (case-folded, whitespace collapsed), or None."""
    if loose:  # regex-module classes the stdlib parser lacks: only their being open-ended matters
        pattern = re.sub(r"\\p\{\w+\}", r"\\w", pattern).replace("(?-i:", "(?:")
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
    except Exception:  # regex-module syntax (\p{Lu}, (?-i:...)): treat as open-ended
        return None
    found = _expand_items(list(parsed), limit, loose)
    if found is None:
        return None
    return {" ".join(s.lower().split()) for s in found}


def _alternation(rules: dict[str, list[str]]) -> str:
    return "|".join(f"(?P<{name}>{'|'.join(f'(?:{p})' for p in patterns)})" for name, patterns in sorted(rules.items()))


def _longest_word(phrase: str) -> str | None:
    """The longest literal word of an expansion (``_OPEN`` parts split words: a prefilter may miss
    a glued match such as "Foto:dpa", which only costs recall of the rule, never precision)."""
    words = words_of(phrase.replace(_OPEN, " "))
    return max(words, key=len) if words else None


class _DerivedCache:
    """What start-up derives from each pattern string - its expansion, its anchor words - kept on
    disk between processes: deriving them was most of the stage's start-up (~0.7 CPU s a process).
    Both are functions of the pattern and of this module's code alone, so entries are keyed by the
    pattern, in a file named by a hash of this module's source and the Python version (a code change
    starts afresh).
    Stored in ``pipeline.disk_cache.cache_dir()``; best effort: a missing, unreadable or
    unwritable cache only costs time."""

    def __init__(self) -> None:
        # expansions come from the stdlib regex parser: the Python version is part of the key
        digest = hashlib.sha256(Path(__file__).read_bytes() + sys.version.encode()).hexdigest()[:16]
        self.path = disk_cache.cache_dir() / f"boilerplate-patterns-{digest}.json"
        self.entries: dict[str, dict[str, list[str] | None]] = {"expand": {}, "anchors": {}}
        loaded = disk_cache.load(self.path)
        if isinstance(loaded, dict) and set(loaded) == set(self.entries):
            self.entries = loaded
        self.dirty = False

    def get(self, kind: str, pattern: str, derive: Callable[[str], set[str] | frozenset[str] | None]) -> list[str] | None:
        table = self.entries[kind]
        if pattern not in table:
            found = derive(pattern)
            table[pattern] = None if found is None else sorted(found)
            self.dirty = True
        return table[pattern]

    def save(self) -> None:
        if self.dirty and disk_cache.store(self.path, self.entries):
            self.dirty = False


@lru_cache(maxsize=None)
def _derived() -> _DerivedCache:
    return _DerivedCache()


def _expand_cached(pattern: str) -> set[str] | None:
    """``expand(pattern)``, remembered across processes."""
    found = _derived().get("expand", pattern, expand)
    return None if found is None else set(found)


def _derive_anchor_words(pattern: str) -> frozenset[str] | None:
    strings = expand(pattern.replace(r"\b", ""), limit=100_000, loose=True)
    words = {_longest_word(s) for s in strings} if strings else {None}
    return None if None in words else frozenset(words)  # type: ignore[arg-type]


@lru_cache(maxsize=None)
def _anchor_words(pattern: str) -> frozenset[str] | None:
    """One literal word per alternative of ``pattern`` (a match holds one of them), or None."""
    found = _derived().get("anchors", pattern, _derive_anchor_words)
    return None if found is None else frozenset(found)


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML keeps only the last of two equal keys; a rule listed twice in a phrase file would
    silently lose its first patterns, so a repeated key is an error instead. Parsed by libyaml
    where PyYAML has it (the phrase files took ~0.07 s to parse in Python at every start-up)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"boilerplate data: key(s) {repeated} appear twice in one mapping (line {node.start_mark.line + 1})")
        return super().construct_mapping(node, deep=deep)


def parse_data_file(text: str) -> dict:
    """One phrase file's YAML (a repeated rule name is an error, not a silent loss)."""
    return yaml.load(text, Loader=_UniqueKeyLoader) or {}


@lru_cache(maxsize=None)
def load_rules(languages: tuple[str, ...] | None = None) -> PhraseRules:
    """Rules from every data file (or only ``languages`` plus ``common``), compiled once per process."""
    merged: dict[str, dict[str, list[str]]] = {s: {} for s in SECTIONS}
    site_words: set[str] = set()
    langs: list[str] = []
    for lang, text in _data_files():
        if languages is not None and lang != "common" and lang not in languages:
            continue
        data = parse_data_file(text)
        site_words.update(word.lower() for word in data.pop(SITE_WORDS, None) or ())
        unknown = set(data) - set(SECTIONS)
        if unknown:
            raise ValueError(f"boilerplate data {lang}.yaml: unknown section(s) {sorted(unknown)}")
        for section in SECTIONS:
            for rule, patterns in (data.get(section) or {}).items():
                merged[section].setdefault(rule, []).extend(patterns)
        if lang != "common":
            langs.append(lang)

    phrases: dict[str, str] = {}
    open_ended: dict[str, list[str]] = {}
    for section in ("line", "section"):  # section headings win over plain line rules
        for rule, patterns in sorted(merged[section].items()):
            for pattern in patterns:
                strings = _expand_cached(pattern)
                if strings is None:
                    open_ended.setdefault(rule, []).append(pattern)
                    continue
                for s in strings:
                    key = line_key(s)
                    if key and (section == "section" or key not in phrases):
                        phrases[key] = rule
    gated: list[tuple[str, str]] = []
    bare: dict[str, list[str]] = {}
    for rule, patterns in open_ended.items():
        for pattern in patterns:
            if _anchor_words(pattern) is None:
                bare.setdefault(rule, []).append(pattern)
            else:
                gated.append((rule, pattern))
    contains = [(rule, pattern) for rule, patterns in sorted(merged["contains"].items()) for pattern in patterns]
    for rule, pattern in contains:
        if _anchor_words(pattern) is None:
            raise ValueError(f"boilerplate contains-rule {rule!r}: every alternative needs a literal word: {pattern}")
    _derived().save()
    return PhraseRules(
        line_phrases=phrases,
        line_patterns=_anchored(gated),
        bare_regex=regex.compile(_alternation(bare), _FLAGS) if bare else None,
        contains=_anchored(contains),
        section_rules=frozenset(merged["section"]),
        languages=tuple(langs),
        stopwords={lang: stopwords(lang) for lang in langs},
        site_words=frozenset(site_words),
    )


_FLAGS = regex.IGNORECASE | regex.V0


def _anchored(pairs: list[tuple[str, str]]) -> AnchoredPatterns:
    by_anchor: dict[str, list[int]] = {}
    for k, (_, pattern) in enumerate(pairs):
        for word in sorted(_anchor_words(pattern) or ()):
            by_anchor.setdefault(word, []).append(k)
    compiled = tuple((rule, regex.compile(pattern, _FLAGS)) for rule, pattern in pairs)
    return AnchoredPatterns(compiled, {w: tuple(ks) for w, ks in by_anchor.items()})
