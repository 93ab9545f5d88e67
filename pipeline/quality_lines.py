"""Logical lines of a batch of texts as array rows, and what the quality rules count on them."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from .arrays import ascii_lowered_utf8
from .quality_tokens import _DOT, _ELLIPSIS_CHAR, BatchTokens

# Line rules, tested on the stripped non-empty lines with str methods (no regex per line)
_BULLET_CHARS = frozenset("•●○◦▪▫■□►▶▸‣⁃∙·-*–—✓✔➢➤→")
_ELLIPSES = ("...", "…")
_TERMINAL_PUNCT_CHARS = frozenset(".!?。！？…\"'”’»)]:;")


_ANCHOR_MIN = 6  # characters


@lru_cache(maxsize=None)
def anchored_phrases(phrases: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The phrases grouped under anchors: a substring of ``_ANCHOR_MIN`` or more characters that
    several of them hold ("manage " in "manage settings", "manage your preferences"), else each phrase
    alone. A text without an anchor holds none of its phrases, so one search rules them all out."""
    left = list(dict.fromkeys(phrases))
    out = []
    while left:
        first = left[0]
        best = (1, len(first)), first, [first]
        for i in range(len(first)):
            for j in range(i + _ANCHOR_MIN, len(first) + 1):
                members = [phrase for phrase in left if first[i:j] in phrase]
                if (len(members), j - i) > best[0]:
                    best = (len(members), j - i), first[i:j], members
        _, anchor, members = best
        out.append((anchor, tuple(members)))
        left = [phrase for phrase in left if phrase not in members]
    return tuple(out)


_ASCII_RUN = re.compile(r"[\x00-\x7f]+")


@lru_cache(maxsize=None)
def _phrase_searches(phrases: tuple[str, ...]) -> tuple[tuple[bytes, tuple[tuple[bytes, tuple[str, ...], bool], ...]], ...]:
    """The searches for ``names_a_phrase`` in UTF-8 bytes: per anchor (see ``anchored_phrases``),
    its probes, the phrases each stands for and whether a hit is a match. A probe is the phrase
    itself when it is ASCII (a hit is a match), else its longest ASCII run (a hit's line is then
    checked with str.lower); a phrase without ASCII has the empty probe (every line is checked)."""
    probes: dict[str, list[str]] = {}
    for phrase in dict.fromkeys(phrases):
        probe = phrase if phrase.isascii() else max(_ASCII_RUN.findall(phrase), key=len, default="")
        probes.setdefault(probe, []).append(phrase)
    return tuple(
        (anchor.encode(), tuple((probe.encode(), tuple(probes[probe]), probe in probes[probe]) for probe in shared))
        for anchor, shared in anchored_phrases(tuple(probes))
    )


def names_a_phrase(lines: list[str], phrases: list[tuple[str, ...]]) -> list[bool]:
    """Per line: does it, lower-cased, contain one of its ``phrases`` (lower-case)? The lines with the
    same phrases are searched together: joined by newlines (which neither holds) and lower-cased at
    once as UTF-8 bytes (``arrays.ascii_lowered_utf8``: several times faster than str.lower), each phrase's
    probe found with ``bytes.find`` (probes that share an anchor only where it is); a hit's line is
    the number of newlines before it."""
    out = [False] * len(lines)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, wanted in enumerate(phrases):
        groups.setdefault(wanted, []).append(i)
    for wanted, members in groups.items():
        chosen = [lines[i] for i in members]
        data = ascii_lowered_utf8("\n".join(chosen))
        newlines: list[int] | None = None  # where each line of ``data`` ends
        for anchor, shared in _phrase_searches(wanted):
            if len(shared) > 1 and anchor not in data:
                continue
            for probe, named, exact in shared:
                if not probe:
                    for row, line in enumerate(chosen):
                        out[members[row]] = out[members[row]] or any(phrase in line.lower() for phrase in named)
                    continue
                at = data.find(probe)
                while at >= 0:
                    if newlines is None:
                        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10).tolist()
                    row = bisect.bisect_left(newlines, at)
                    if not out[members[row]]:
                        out[members[row]] = exact or any(phrase in chosen[row].lower() for phrase in named)
                    at = data.find(b"\n", at)  # the rest of this line is settled
                    if at < 0:
                        break
                    at = data.find(probe, at)
    return out


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
    repetition: list[list[float]]  # Gopher's shares: dup line, dup line chars, dup paragraph, dup paragraph chars, on the scope lines (the
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

    def texts(self, rows: list[int]) -> list[str]:
        python_text, joined = self.python_text, self.joined
        starts, ends = self.start[rows].tolist(), self.end[rows].tolist()
        if not python_text:
            return [joined[start:end] for start, end in zip(starts, ends)]
        return [python_text[row] if row in python_text else joined[start:end] for row, start, end in zip(rows, starts, ends)]

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
                line_words = tokens.line_words(d).tolist()
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


