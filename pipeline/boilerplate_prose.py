"""Boilerplate that reads like prose, named by how a prose line starts or ends.

The line classifier (``pipeline.boilerplate_lines``) keeps prose it is unsure of: its phrase rules stop
at short lines, and a prose line between two prose lines is spared whatever phrase it holds. Two kinds
of site furniture are long prose lines inside or right after the article and say what they are at one
end: a photo caption ends in its credit ("... last year. Photograph: Guy Smallman/Getty Images",
"... getarnt. (mlharing / iStock.com)": rule ``caption_credit``), and an author's bio or a blogger's
self-introduction starts with the name and the trade ("Will Knight is a senior writer for WIRED, ...",
"Moritz Gathmann leitet das Ressort ...", "Hallo, ich bin ...": rule ``author_bio``, so the tail pass
in ``pipeline.boilerplate_zones`` ends the article there as it does at "About the author").

The patterns (``pipeline/data/boilerplate/prose/<lang>.yaml``, all languages merged) look only at a
line's first ``HEAD_CHARS`` or last ``TAIL_CHARS`` characters. Speed: a regex runs only on the prose
lines that pass a gate computed with numpy from the classifier's token hashes (one ``searchsorted``
for the batch): a ``start_words`` entry (a trade: "reporter", "Redakteurin") among the first
``START_TOKENS`` tokens or a ``first_words`` entry ("Hallo,", "I'm") first, an ``end_words`` entry with
its colon ("Foto:") or an ``agency_words`` entry with its bracket ("iStock.com)") among the last
``END_TOKENS``: about one prose line in a hundred.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Callable

import numpy as np
import regex

from .arrays import concatenated_ranges
from .boilerplate_rules import AFFIXES, PREFIXES, parse_data_file

HEAD_CHARS = 200
TAIL_CHARS = 160
START_TOKENS = 8
END_TOKENS = 8
SECTIONS = ("starts", "ends")
WORD_LISTS = ("start_words", "first_words", "end_words", "agency_words")


@dataclass(frozen=True)
class ProseRules:
    """One alternation per end of the line, with a named group per rule (None: no pattern), and the
    words that let a line be tried."""

    starts: re.Pattern | regex.Pattern | None
    ends: re.Pattern | regex.Pattern | None
    words: dict[str, frozenset[str]] = field(default_factory=dict)
    """``WORD_LISTS`` name -> words (the gates, see the module docstring)."""
    _hashes: dict = field(default_factory=dict, compare=False, repr=False)

    def match(self, line: str, try_start: bool = True, try_end: bool = True) -> str | None:
        """The rule naming ``line`` (a stripped line) by its start or its end, or None."""
        if try_start and self.starts is not None:
            found = self.starts.match(line[:HEAD_CHARS])
            if found is not None:
                return found.lastgroup
        if try_end and self.ends is not None:
            found = self.ends.search(line[-TAIL_CHARS:])
            if found is not None:
                return found.lastgroup
        return None

    def token_hashes(self, hash_words: Callable[[list[str]], np.ndarray]) -> tuple[_HashSet, _HashSet, _HashSet]:
        """The token hashes (the classifier's ``hash_words``) of the gate words as they stand in
        text: start words ("Redakteurin,"), first words ("Hallo,"), end words ("(Foto:", "iStock.com)").
        Made once."""
        if "sets" not in self._hashes:
            words = self.words
            starts = {w + a for w in words.get("start_words", ()) for a in AFFIXES}
            firsts = {w + a for w in words.get("first_words", ()) for a in AFFIXES}
            ends = {p + w + ":" for w in words.get("end_words", ()) for p in ("", *PREFIXES)}
            ends |= {w + a for w in words.get("agency_words", ()) for a in (")", ").")}
            self._hashes["sets"] = tuple(_HashSet(hash_words(sorted(s)) if s else np.zeros(0, dtype=np.uint64)) for s in (starts, firsts, ends))
        return self._hashes["sets"]


def _alternation(rules: dict[str, list[str]]) -> re.Pattern | regex.Pattern | None:
    """One pattern with a named group per rule; compiled by the stdlib ``re`` when it can (about twice
    as fast on these), else by ``regex`` (``\\p{Lu}``)."""
    if not rules:
        return None
    body = "|".join(f"(?P<{name}>{'|'.join(f'(?:{p})' for p in patterns)})" for name, patterns in sorted(rules.items()))
    try:
        return re.compile(body, re.IGNORECASE)
    except re.error:
        return regex.compile(body, regex.IGNORECASE | regex.V0)


@lru_cache(maxsize=None)
def load_prose_rules(languages: tuple[str, ...] | None = None) -> ProseRules:
    """The rules of every file in ``pipeline/data/boilerplate/prose`` (or of ``languages`` plus
    ``common``), merged per rule name."""
    merged: dict[str, dict[str, list[str]]] = {s: {} for s in SECTIONS}
    words: dict[str, set[str]] = {k: set() for k in WORD_LISTS}
    folder = resources.files("pipeline") / "data" / "boilerplate" / "prose"
    for entry in sorted(folder.iterdir(), key=lambda f: f.name):
        if not entry.name.endswith(".yaml"):
            continue
        lang = entry.name.removesuffix(".yaml")
        if languages is not None and lang != "common" and lang not in languages:
            continue
        data = parse_data_file(entry.read_text(encoding="utf-8"))
        for key in WORD_LISTS:
            words[key].update(str(word).lower() for word in data.pop(key, None) or ())
        unknown = set(data) - set(SECTIONS)
        if unknown:
            raise ValueError(f"boilerplate prose data {entry.name}: unknown section(s) {sorted(unknown)}")
        for section in SECTIONS:
            for rule, patterns in (data.get(section) or {}).items():
                merged[section].setdefault(rule, []).extend(patterns)
    return ProseRules(_alternation(merged["starts"]), _alternation(merged["ends"]), {k: frozenset(v) for k, v in words.items()})


_SLOT_BITS = 16
_SLOT_FACTOR = np.uint64(0xD6E8FEB86659FD93)  # odd: spreads every bit of a hash into the top bits
_SHIFT = np.uint64(64 - _SLOT_BITS)


class _HashSet:
    """Membership of token hashes in a small set by one table probe each (a binary search over the
    set cost ~4x more): a slot holds the one word hash that falls there; a slot two words share
    answers yes (at worst a regex runs for nothing)."""

    def __init__(self, hashes: np.ndarray) -> None:
        slots = (hashes * _SLOT_FACTOR) >> _SHIFT
        self.table = np.zeros(1 << _SLOT_BITS, dtype=np.uint64)
        self.shared = np.zeros(1 << _SLOT_BITS, dtype=bool)
        self.used = np.zeros(1 << _SLOT_BITS, dtype=bool)
        self.shared[slots[np.bincount(slots.astype(np.int64), minlength=1 << _SLOT_BITS)[slots] > 1]] = True
        self.table[slots] = hashes
        self.used[slots] = True

    def __contains__(self, hashes: np.ndarray) -> np.ndarray:  # type: ignore[override]
        slots = (hashes * _SLOT_FACTOR) >> _SHIFT
        return self.used.take(slots) & ((self.table.take(slots) == hashes) | self.shared.take(slots))

    def held(self, token_hashes: np.ndarray, first: np.ndarray, count: np.ndarray) -> np.ndarray:
        """Per line: does one of its tokens ``first`` .. ``first + count - 1`` belong to the set."""
        out = np.zeros(len(first), dtype=bool)
        if not len(first):
            return out
        hit = np.flatnonzero(self.__contains__(token_hashes.take(concatenated_ranges(first, count))))
        out[np.searchsorted(np.cumsum(count), hit, side="right")] = True
        return out


def mark_prose_rules(rules: ProseRules, hash_words: Callable[[list[str]], np.ndarray], stripped: list[str], candidates: np.ndarray,
                     tokens: tuple[np.ndarray, np.ndarray, np.ndarray], codes: np.ndarray, code: Callable[[str], int]) -> None:
    """Set ``codes`` of the ``candidates`` (line indices: prose lines still kept) that a prose rule
    names. ``tokens``: the classifier's token hashes, each line's first token and its token count."""
    if not len(candidates):
        return
    token_hashes, first_token, n_words = tokens
    start_set, first_set, end_set = rules.token_hashes(hash_words)
    first, count = first_token[candidates], n_words[candidates]
    may_start = start_set.held(token_hashes, first, np.minimum(count, START_TOKENS))
    may_start |= first_set.held(token_hashes, first, np.minimum(count, 1))
    tail = np.minimum(count, END_TOKENS)
    may_end = end_set.held(token_hashes, first + count - tail, tail)
    for k in np.flatnonzero(may_start | may_end).tolist():
        i = int(candidates[k])
        name = rules.match(stripped[i], bool(may_start[k]), bool(may_end[k]))
        if name is not None:
            codes[i] = code(name)
