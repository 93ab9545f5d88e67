"""Boilerplate that reads like prose, named by how a prose line starts or ends.

The line classifier (``pipeline.boilerplate_lines``) keeps prose it is unsure of: its phrase rules stop
at short lines, and a prose line between two prose lines is spared whatever phrase it holds. Some site
furniture is long prose inside or right after the article that says what it is at one end:

* a photo caption ends in its credit ("... last year. Photograph: Guy Smallman/Getty Images",
  "... getarnt. (mlharing / iStock.com)": rule ``caption_credit``);
* an author's bio or a blogger's self-introduction starts with the name and the trade ("Will Knight is
  a senior writer for WIRED, ...", "Moritz Gathmann leitet das Ressort ...", "Hallo, ich bin ...":
  ``author_bio``);
* a pitch to the reader starts by asking ("Wenn Ihnen unser Artikel gefallen hat: ...", "To view the
  full story, please subscribe ...", "Wesprzyj nas ...": ``support``);
* a teaser of another article ends in its link ("... Weiterlesen →": ``read_more``).

The patterns (``pipeline/data/boilerplate/prose/<lang>.yaml``, all languages merged per rule) look only
at a line's first ``HEAD_CHARS`` or last ``tail_chars`` characters (110, or the rule's own), so the pattern alone must make the
line boilerplate. Speed: a rule's regex runs only on the prose lines that hold one of its gate words
where it looks - ``first_words`` as the first token, ``start_words`` among the first ``EDGE_TOKENS``,
``end_words`` among the last ``EDGE_TOKENS``, ``last_words`` as the last token (each with punctuation
attached: "Hallo,", "(Foto:", "dpa)") - found with numpy from the classifier's token hashes, one table probe per token: about one
prose line in fifty is tried.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from typing import Callable, Iterable

import numpy as np
import regex

from . import disk_cache
from .arrays import HashedBits
from .boilerplate_rules import AFFIXES, PREFIXED_AFFIXES, parse_data_file

HEAD_CHARS = 200
EDGE_TOKENS = 6
PATTERN_KEYS = ("starts", "ends")
TAIL_KEY = "tail_chars"
PROSE_KEY = "prose_only"
WORD_KEYS = ("first_words", "start_words", "end_words", "last_words")

Pattern = re.Pattern | regex.Pattern


@dataclass(frozen=True)
class ProseRule:
    """One rule: patterns for the line's start and end (none: None) and the gate words of each.
    The patterns are compiled when a line first passes a gate (most runs of a few pages, or of one
    language, need few of them; ``load_prose_rules`` has checked that they compile)."""

    name: str
    start_patterns: tuple[str, ...]
    end_patterns: tuple[str, ...]
    first_words: frozenset[str]
    start_words: frozenset[str]
    end_words: frozenset[str]
    last_words: frozenset[str]
    tail_chars: int = 110
    """How much of the line's end its ``ends`` patterns see (a link text at the end needs less)."""
    prose_only: bool = False
    """Tried on prose lines only (a sentence end, or a long line), not on every long line."""

    @cached_property
    def starts(self) -> Pattern | None:
        return _compile(self.start_patterns)

    @cached_property
    def ends(self) -> Pattern | None:
        return _compile(self.end_patterns)


@dataclass(frozen=True)
class ProseRules:
    rules: tuple[ProseRule, ...]

    def match(self, line: str) -> str | None:
        """The first rule naming ``line`` (a stripped line) by its start or end, or None (no gate:
        for tests and one-off checks; ``mark_prose_rules`` gates a batch)."""
        for rule in self.rules:
            if _matches(rule, line, True, True):
                return rule.name
        return None


def _matches(rule: ProseRule, line: str, start: bool, end: bool) -> bool:
    if start and rule.starts is not None and rule.starts.match(line[:HEAD_CHARS]) is not None:
        return True
    return end and rule.ends is not None and rule.ends.search(line[-rule.tail_chars :]) is not None


def _compile(patterns: Iterable[str]) -> Pattern | None:
    """One alternation, compiled by the stdlib ``re`` when it can (several times faster on these),
    else by ``regex`` (``\\p{Lu}``)."""
    if not patterns:
        return None
    body = "|".join(f"(?:{p})" for p in patterns)
    try:
        return re.compile(body, re.IGNORECASE)
    except re.error:
        return regex.compile(body, regex.IGNORECASE | regex.V0)


@lru_cache(maxsize=None)
def load_prose_rules(languages: tuple[str, ...] | None = None) -> ProseRules:
    """The rules of every file in ``pipeline/data/boilerplate/prose`` (or of ``languages`` plus
    ``common``), merged per rule name (rules in the order of their names)."""
    merged: dict[str, dict[str, list[str]]] = {}
    folder = resources.files("pipeline") / "data" / "boilerplate" / "prose"
    for entry in sorted(folder.iterdir(), key=lambda f: f.name):
        if not entry.name.endswith(".yaml"):
            continue
        lang = entry.name.removesuffix(".yaml")
        if languages is not None and lang != "common" and lang not in languages:
            continue
        for name, spec in parse_data_file(entry.read_text(encoding="utf-8")).items():
            unknown = set(spec) - set(PATTERN_KEYS) - set(WORD_KEYS) - {TAIL_KEY, PROSE_KEY}
            if unknown:
                raise ValueError(f"boilerplate prose data {entry.name}, rule {name}: unknown key(s) {sorted(unknown)}")
            for key, values in spec.items():
                values = [values] if key in (TAIL_KEY, PROSE_KEY) else values or ()
                merged.setdefault(name, {}).setdefault(key, []).extend(str(v) for v in values)
    rules = []
    for name, spec in sorted(merged.items()):
        words = {key: frozenset(w.lower() for w in spec.get(key, ())) for key in WORD_KEYS}
        if spec.get("starts") and not (words["first_words"] or words["start_words"]) or spec.get("ends") and not (words["end_words"] or words["last_words"]):
            raise ValueError(f"boilerplate prose rule {name}: patterns without gate words")
        tail = max(map(int, spec.get(TAIL_KEY, ["110"])))
        prose_only = any(v == "True" for v in spec.get(PROSE_KEY, []))
        rules.append(ProseRule(name, tuple(spec.get("starts", ())), tuple(spec.get("ends", ())), **words, tail_chars=tail, prose_only=prose_only))
    _check_compiles(rules)
    return ProseRules(tuple(rules))


def _check_compiles(rules: list[ProseRule]) -> None:
    """Compile every rule's patterns once (a bad one stops start-up, not a run halfway), remembered
    on disk per pattern set and ``re``/``regex`` version: later processes compile a rule's
    patterns only when a line needs them (compiling all took ~0.02 s of every start-up)."""
    patterns = [(rule.start_patterns, rule.end_patterns) for rule in rules]
    key = hashlib.sha256(repr((patterns, sys.version, regex.__version__)).encode("utf-8", "surrogatepass")).hexdigest()
    disk_cache.remembered("boilerplate-prose-compiles", key, lambda: [_compile(p) is not None for pair in patterns for p in pair])


def _forms(words: Iterable[str]) -> list[str]:
    """Words as whitespace tokens may hold them, punctuation attached ("Hallo,", "(Foto:", "dpa)")."""
    out = {word + affix for word in words for affix in AFFIXES}
    out |= {"(" + word + affix for word in words for affix in PREFIXED_AFFIXES}
    return sorted(out)


_SLOT_BITS = 15  # gate table: 2**15 slots (arrays.HashedBits)
_KINDS = 4  # per rule: first, start, end and last words, one bit each


def _gate_bits(table: HashedBits, token_hashes: np.ndarray, first: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per line (its first token and token count): the gate bits of its first token and first
    ``EDGE_TOKENS`` (kinds first, start) and of its last tokens and last one (end, last), each a
    rule's kind only where it looks. One gather and one table probe for both windows of every line
    (a short line's windows repeat its last token: or-ing twice changes nothing)."""
    n = np.minimum(count, EDGE_TOKENS)
    offsets = np.minimum(np.arange(EDGE_TOKENS), (n - 1)[:, None])  # (lines, EDGE_TOKENS)
    windows = np.concatenate((first[:, None] + offsets, (first + count - n)[:, None] + offsets))
    bits = table.lookup(token_hashes.take(windows.ravel())).view(np.uint64).reshape(windows.shape)
    head, tail = bits[: len(first)], bits[len(first) :]
    kind = np.uint64(sum(1 << k for k in range(0, 63, _KINDS)))  # bit 0 of every rule's group
    head_any, tail_any = head[:, 0].copy(), tail[:, 0].copy()
    for k in range(1, EDGE_TOKENS):  # column by column: a reduce along a short axis is ~10x slower
        head_any |= head[:, k]
        tail_any |= tail[:, k]
    at_start = (head[:, 0] & kind) | (head_any & (kind << np.uint64(1)))
    at_end = (tail_any & (kind << np.uint64(2))) | (tail[:, -1] & (kind << np.uint64(3)))
    return at_start, at_end


def mark_prose_rules(rules: ProseRules, hash_words: Callable[[list[str]], np.ndarray], stripped: list[str], candidates: np.ndarray,
                     prose: np.ndarray, tokens: tuple[np.ndarray, np.ndarray, np.ndarray], codes: np.ndarray, code: Callable[[str], int]) -> None:
    """Set ``codes`` of the ``candidates`` (line indices: long lines still kept; ``prose``: which of
    them are prose) that a prose rule names. ``tokens``: the classifier's token hashes, each line's
    first token and its token count; ``hash_words``: the classifier's token hash of words."""
    if not len(candidates) or not rules.rules:
        return
    token_hashes, first_token, n_words = tokens
    at_start, at_end = _gate_bits(_gates(rules, hash_words), token_hashes, first_token[candidates], np.maximum(n_words[candidates], 1))
    named = np.zeros(len(candidates), dtype=bool)
    for k, rule in enumerate(rules.rules):
        group = np.uint64(((1 << _KINDS) - 1) << (_KINDS * k))
        may_start, may_end = (at_start & group) != 0, (at_end & group) != 0
        tried = (may_start | may_end) & ~named
        if rule.prose_only:
            tried &= prose
        for j in np.flatnonzero(tried).tolist():
            if _matches(rule, stripped[candidates[j]], bool(may_start[j]), bool(may_end[j])):
                named[j] = True
                codes[candidates[j]] = code(rule.name)


def _gates(rules: ProseRules, hash_words: Callable[[list[str]], np.ndarray]) -> HashedBits:
    """Every rule's gate words in one table: token hash -> bits (bit ``_KINDS * rule + kind``), one
    probe per token for all rules (made once per rule set)."""
    cached = rules.__dict__.get("_gates")
    if cached is None:
        if len(rules.rules) * _KINDS > 63:
            raise ValueError(f"boilerplate prose rules: at most {63 // _KINDS} rules")
        hashes, bits = [], []
        for k, rule in enumerate(rules.rules):
            for kind, words in enumerate((rule.first_words, rule.start_words, rule.end_words, rule.last_words)):
                if words:
                    found = hash_words(_forms(words))
                    hashes.append(found)
                    bits.append(np.full(len(found), 1 << (_KINDS * k + kind), dtype=np.int64))
        cached = HashedBits(np.concatenate(hashes) if hashes else np.zeros(0, np.uint64),
                            np.concatenate(bits) if bits else np.zeros(0, np.int64), _SLOT_BITS)
        object.__setattr__(rules, "_gates", cached)
    return cached
