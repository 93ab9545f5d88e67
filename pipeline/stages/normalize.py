"""normalize: repair mojibake and Unicode (ftfy), drop control characters, tidy whitespace.

ftfy is thorough but slow (~1.3 M chars/s here), and almost all text needs none of it. One numpy
table lookup per character (``_char_flags``, done for a whole batch at once; uint16 flags) tells
which steps a document needs at all: control characters, odd spaces or line breaks, code points
that may keep it from being NFC, and where the fingerprints of what ftfy fixes could be (UTF-8 read
as cp1252/Latin-1, C1 controls, "&" before a letter or "#", terminal escapes, surrogates,
ligatures). Only the lines there are checked with the exact pattern, and only those that show
damage go through ``ftfy.fix_text`` (cached: scraped pages repeat their damaged lines). NFC, too,
looks only at the lines holding a code point that may change; control characters go by
``str.replace`` of those the flags find; whitespace tidying is skipped where the flags say it is a
no-op. A document none of whose bits is set is only stripped.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, NamedTuple, TypeVar

import numpy as np

from ..arrays import code_points, joined_code_points, segment_or
from ..disk_cache import remembered_table
from ..document import Document
from .base import Stage, StageConfig

T = TypeVar("T", str, np.ndarray)

# Lead byte of a multi-byte UTF-8 sequence decoded as cp1252/Latin-1, followed by a continuation
# byte decoded the same way (0x80-0xBF, including cp1252's printable mappings of 0x80-0x9F).
_CP1252_CONT = "\x80-\xbf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
_UTF8_LEAD = "\xc2-\xf4"
_DAMAGE_MARKS = r"\x80-\x9f\ud800-\udfff\ufb00-\ufb06\ufffd"  # C1 controls, surrogates, ligatures, U+FFFD
# One leading character class (which ``re`` scans for in C), then lookbehinds that say which
# kind of damage it is: a lead byte before a continuation byte (mojibake), C1 controls,
# surrogates, ligatures, U+FFFD, terminal escapes (ESC [) and HTML entities (&amp;).
# A match never reaches past its line (none of these classes holds "\n").
_NEEDS_FTFY = re.compile(
    rf"[{_CP1252_CONT}\x1b&\ud800-\udfff\ufb00-\ufb06\ufffd]"
    # a UTF-8 lead byte needs as many continuation bytes as it announces: 2-, 3- or 4-byte sequences
    # (so Czech "áš" or Slovak "ôž", a letter before one cp1252-mapped letter, is not mojibake)
    rf"(?:(?<=[\xc2-\xdf][{_CP1252_CONT}])"
    rf"|(?<=[\xe0-\xef][{_CP1252_CONT}])[{_CP1252_CONT}]"
    rf"|(?<=[\xf0-\xf4][{_CP1252_CONT}])[{_CP1252_CONT}]{{2}}"
    rf"|(?<=[{_DAMAGE_MARKS}])"
    r"|(?<=\x1b)\["
    r"|(?<=&)(?:[a-zA-Z]{2,8}|#[0-9]{2,6}|#x[0-9a-fA-F]{2,5});)"
)
# stdlib ``re`` here: on these simple classes it is several times faster than ``regex``.
_CONTROL_CHARS = "".join(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])) + "\u200b\u200e\u200f\ufeff\u00ad"
_CONTROL = re.compile(f"[{re.escape(_CONTROL_CHARS)}]")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_ODD_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACE_RUNS = re.compile(r"  +")
_LINE_EDGE_SPACES = re.compile(r" +\n *|\n +")
_BLANK_RUNS = re.compile(r"\n{3,}")

# Per code point, which of the steps above it concerns: a bit per character class, derived from the
# same patterns (so table and regexes cannot disagree; every class lies in the BMP). A second table
# says the same of each pair of neighbouring characters: where whitespace needs tidying and where a
# fingerprint of damage could start. The per-character flags are uint16: the low byte holds the bits
# a pair reads from its second character, the high byte those it reads from its first (and bits
# only tested for being present anywhere), so one lookup serves every question and the pair index
# of characters i, i + 1 (high byte of i, low byte of i + 1) is a uint16 view of the flags, shifted
# by one byte.
_WHITE, _NEWLINE, _ENTITY_NEXT, _CONTROL_CHAR, _LINE_BREAK, _CONT, _ODD_SPACE, _MARK = (1 << i for i in range(8))
_LEAD, _AMPERSAND = 1 << 10, 1 << 11  # high byte (bits 8 and 9 repeat _WHITE and _NEWLINE there)
_NFC_MAYBE = 1 << 15  # the code point is in _nfc_maybe_table (a pair ignores this bit)
_CLASS_BITS = {
    _ODD_SPACES.pattern[:-1] + " ]": _WHITE,  # what tidying turns into " "
    "\n": _NEWLINE,
    _ODD_SPACES.pattern: _ODD_SPACE,
    _CONTROL.pattern: _CONTROL_CHAR,
    r"[\r\u2028\u2029\x85]": _LINE_BREAK,
    f"[{_CP1252_CONT}]": _CONT,
    f"[{_UTF8_LEAD}]": _LEAD,
    rf"[{_DAMAGE_MARKS}\x1b]": _MARK,  # damage on its own, or the start of an escape
    "&": _AMPERSAND,  # an HTML entity starts with "&", then a letter or "#"
    "[a-zA-Z#]": _ENTITY_NEXT,
}
# pair bits: two spaces, or a space beside a line break; a damage candidate at the second character;
# one at the first ("&" before what can follow it in an entity)
_TIDY, _DAMAGE, _ENTITY = 1, 2, 4
_ACTION_NEEDED = _MARK | _LINE_BREAK | _CONTROL_CHAR | _ODD_SPACE  # class bits a text is not left alone with


def _pair_table() -> np.ndarray:
    a, b = np.meshgrid(np.arange(256), np.arange(256))  # pair index: first's high byte | second's low byte << 8
    spacing = (a & (_WHITE | _NEWLINE)) * (b & (_WHITE | _NEWLINE))  # 1: "  ", 2: " \n" or "\n ", 4: "\n\n"
    pairs = np.where((spacing == 1) | (spacing == 2), _TIDY, 0)
    pairs |= np.where(((a & _LEAD >> 8) != 0) & ((b & _CONT) != 0) | ((b & _MARK) != 0), _DAMAGE, 0)
    pairs |= np.where(((a & _AMPERSAND >> 8) != 0) & ((b & _ENTITY_NEXT) != 0), _ENTITY, 0)
    return pairs.astype(np.uint8).ravel()


_PAIR_FLAGS = _pair_table()


@lru_cache(maxsize=1)
def _char_flag_table() -> np.ndarray:
    """Per code point, its uint16 flags: class bits, _WHITE and _NEWLINE again as a pair's first,
    _NFC_MAYBE. Remembered on disk (``disk_cache.remembered_table``; scanning every code point took
    ~0.05 s of every start-up), keyed by this module's source and the Unicode database."""
    source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return remembered_table("normalize-char-flags", source, _compute_char_flags, np.dtype("<u2"))


def _compute_char_flags() -> np.ndarray:
    bmp = "".join(map(chr, range(0x10000)))
    chars = np.zeros(0x110000, dtype="<u2")
    for pattern, bit in _CLASS_BITS.items():
        chars[[m.start() for m in re.finditer(pattern, bmp)]] |= bit
    chars |= (chars & (_WHITE | _NEWLINE)) << 8
    chars[_nfc_maybe_table() != 0] |= _NFC_MAYBE
    return chars


def _nfc_maybe_table() -> np.ndarray:
    """1 at each code point that can keep a text from being NFC: combining marks, characters NFC
    replaces, and those that can compose with the one before (second parts of canonical
    decompositions, Hangul jamo). A text with none passes Unicode's NFC quick check, so it is NFC
    without ``unicodedata.is_normalized`` reading it (no code point from U+30000 up decomposes)."""
    table = np.zeros(0x110000, dtype=np.uint8)
    table[0x1100:0x1200] = 1
    for code in range(0x30000):
        char = chr(code)
        if unicodedata.combining(char):
            table[code] = 1
            continue
        decomposition = unicodedata.decomposition(char)
        if decomposition and decomposition[0] != "<":  # canonical, not compatibility
            table[[int(part, 16) for part in decomposition.split()[1:]]] = 1
            if unicodedata.normalize("NFC", char) != char:
                table[code] = 1
    return table



class _Ftfy(NamedTuple):
    fix_text: Callable[..., str]
    config: Any  # ftfy.TextFixerConfig
    touches: re.Pattern
    """What a step of ``fix_text`` other than the encoding fix reacts to (``_ftfy_keeps``)."""
    is_bad: Callable[[str], bool]


@lru_cache(maxsize=1)
def _ftfy() -> _Ftfy:
    """ftfy, imported when a text first shows damage: most text has none, and importing ftfy (its
    tables and regexes) took ~0.04 s of every start-up."""
    import ftfy
    from ftfy import TextFixerConfig, chardata
    from ftfy.badness import is_bad

    config = TextFixerConfig(
        uncurl_quotes=False,  # curly quotes are correct text, not damage
        fix_character_width=False,  # full-width CJK punctuation is correct text too
        normalization="NFC",
        explain=False,
    )
    # With ``config``: HTML entities ("&"), terminal escapes (ESC), C1 controls, Latin ligatures,
    # line breaks, surrogates and the control characters it removes (width and quotes are off;
    # read from ftfy's own tables, so they follow its version).
    touches = re.compile(
        "[%s]" % "".join(re.escape(chr(code)) for code in sorted(
            {*chardata.CONTROL_CHARS, *chardata.LIGATURES, *range(0x80, 0xA0), *range(0xD800, 0xE000), *map(ord, "&\x1b\r\u2028\u2029")}
        ))
    )
    return _Ftfy(ftfy.fix_text, config, touches, is_bad)


class NormalizeConfig(StageConfig):
    ftfy: bool = True
    """Repair mojibake and other encoding damage with ftfy (only where the fast check finds any)."""
    always_ftfy: bool = False
    """Skip the fast check and run ftfy on every document (slow; for auditing the fast path)."""
    unicode_form: str = "NFC"
    collapse_whitespace: bool = True
    """Collapse runs of spaces/tabs, trim line ends, and keep at most one blank line in a row."""


class Normalize(Stage):
    name = "normalize"
    Config = NormalizeConfig
    config: NormalizeConfig

    def __init__(self, config: NormalizeConfig | None = None, context=None):
        super().__init__(config, context)
        _char_flag_table()  # built here, so forked workers inherit it

    def process(self, batch: list[Document]) -> None:
        cfg = self.config
        codes, starts = joined_code_points([doc.text for doc in batch])
        batch_flags = _char_flag_table().take(codes)  # one lookup for the batch, then a view per document
        present_bits = segment_or(batch_flags, starts).tolist()
        # pair bits of each document's pairs, plus the one into the next document: a superset, so a
        # document without _DAMAGE or _TIDY there surely has none
        batch_pairs = _pair_flags(batch_flags)
        pair_bits = segment_or(batch_pairs, np.minimum(starts, batch_pairs.size)).tolist()
        nfc = cfg.unicode_form == "NFC"
        bounds = starts.tolist()
        for i, doc in enumerate(batch):
            present, pair_present = present_bits[i], pair_bits[i]
            if not (cfg.always_ftfy or present & (_ACTION_NEEDED | _NFC_MAYBE) or pair_present & (_DAMAGE | _ENTITY | _TIDY)) and (
                nfc or unicodedata.is_normalized(cfg.unicode_form, doc.text)  # type: ignore[arg-type]
            ):  # nothing to repair: what the steps below would do, without looking at the text again
                doc.text = _tidy(doc.text, False, False) if cfg.collapse_whitespace else doc.text
                continue
            flags = batch_flags[bounds[i] : bounds[i + 1]]
            pairs = batch_pairs[bounds[i] : max(bounds[i], bounds[i + 1] - 1)]  # this text's own
            doc.text, found = self._repair(doc.text, flags, pairs, present, pair_present)
            if found:
                doc.annotations[self.name] = found

    def _repair(self, text: str, flags: np.ndarray | None, pairs: np.ndarray | None, present: int, pair_present: int
                ) -> tuple[str, dict[str, int | bool]]:
        """Every step, each skipped where the batch's bits (``present``, ``pair_present``: supersets
        of those of ``flags`` and ``pairs``) say it changes nothing; what was done, for the annotation."""
        cfg = self.config
        # the lines the Unicode form changes, while the text is still the batch's (NFC: only those
        # holding a code point the quick-check table marks; other forms: the whole text)
        if cfg.unicode_form == "NFC":
            form_changes = _changed_lines(text, np.flatnonzero(flags & _NFC_MAYBE).tolist(), _nfc_line) if present & _NFC_MAYBE else []  # type: ignore[operator]
        else:
            form_changes = _in_form(text, cfg.unicode_form)
        found: dict[str, int | bool] = {}
        if cfg.ftfy and (cfg.always_ftfy or pair_present & (_DAMAGE | _ENTITY) or present & _MARK):  # else no damage to see
            fixed = _ftfy().fix_text(text, _ftfy().config) if cfg.always_ftfy else fix_damaged_lines(text, flags, pairs)
            if fixed != text:
                found["ftfy_fixed"] = True
                text, flags, pairs = fixed, None, None
                form_changes = _in_form(text, cfg.unicode_form)
        if form_changes:
            text = _spliced(text, form_changes, "".join, str)
            flags = None if flags is None else _spliced(flags, form_changes, np.concatenate, _char_flags)
            found["unicode_normalized"] = True
            pairs = None
        if flags is None:  # the text changed: look again
            flags = _char_flags(text)
        present = _present(flags) if pairs is None else present
        if present & _LINE_BREAK:
            text = _LINE_BREAKS.sub("\n", text)
            flags, pairs = _char_flags(text), None
        if present & _CONTROL_CHAR:  # the flags say where: each control character found there goes
            before, keep = len(text), (flags & _CONTROL_CHAR) == 0
            for char in {text[at] for at in np.flatnonzero(~keep).tolist()}:
                text = text.replace(char, "")  # (str.replace: several times faster than _CONTROL.sub)
            found["control_chars_removed"] = before - len(text)
            flags, pairs = flags[keep], None
        if cfg.collapse_whitespace and pairs is not None:  # text and flags as in the batch: bits known
            text = _tidy(text, bool(present & _ODD_SPACE), bool(pair_present & _TIDY))
        elif cfg.collapse_whitespace:  # (nothing above makes odd spaces)
            text = _tidy(text, bool(present & _ODD_SPACE), bool(_present(_pair_flags(flags)) & _TIDY))
        return text, found


def _char_flags(text: str) -> np.ndarray:
    """The class bits of each character of ``text``: one table lookup per character, in numpy."""
    return _char_flag_table().take(code_points(text))


def _pair_flags(flags: np.ndarray) -> np.ndarray:
    """The pair bits of each two neighbouring characters (i, i + 1), from their class bits."""
    if flags.size < 2:
        return flags[:0]
    # high byte of i, low byte of i + 1: a view, no copy
    as_pairs = np.ndarray(shape=(flags.size - 1,), dtype="<u2", buffer=flags, offset=1, strides=(2,))
    return _PAIR_FLAGS.take(as_pairs)


def _present(flags: np.ndarray) -> int:
    return int(np.bitwise_or.reduce(flags)) if flags.size else 0


def fix_damaged_lines(text: str, flags: np.ndarray | None = None, pairs: np.ndarray | None = None) -> str:
    """ftfy on just the lines that show damage.

    ``ftfy.fix_text`` works line by line anyway, so fixing only the lines the fast check flags gives
    the same result while a 50 KB page with one stray ``&amp;`` costs one short line, not the page.
    The flags (``_char_flags(text)``, if the caller has them) give every position where the exact
    pattern could match (a superset); it is tried at those positions only. ``pairs`` are
    ``_pair_flags(flags)``, if the caller has them too.
    """
    flags = _char_flags(text) if flags is None else flags
    pairs = _pair_flags(flags) if pairs is None else pairs
    pair_present = _present(pairs)
    if not (pair_present & (_DAMAGE | _ENTITY) or (flags.size and flags[0] & _MARK)):
        return text
    candidates = np.flatnonzero(pairs & _DAMAGE) + 1
    if flags[0] & _MARK:
        candidates = np.concatenate(([0], candidates))
    if pair_present & _ENTITY:
        candidates = np.sort(np.concatenate((candidates, np.flatnonzero(pairs & _ENTITY))))
    damaged = [pos for pos in candidates.tolist() if _NEEDS_FTFY.match(text, pos)]
    return _spliced(text, _changed_lines(text, damaged, _fix_line), "".join, str)


def _changed_lines(text: str, positions: list[int], fix: Callable[[str], str]) -> list[tuple[int, int, str]]:
    """(start, end, fixed line) of each line (split at "\\n") holding one of the sorted
    ``positions`` that ``fix`` changes, in order: only those lines are looked at."""
    changes = []
    at = 0
    while at < len(positions):
        start = text.rfind("\n", 0, positions[at]) + 1
        end = text.find("\n", positions[at])
        end = len(text) if end < 0 else end
        line = text[start:end]
        fixed = fix(line)
        if fixed != line:
            changes.append((start, end, fixed))
        at = bisect_left(positions, end, at + 1)
    return changes


def _spliced(whole: T, changes: list[tuple[int, int, str]], join: Callable[[list[T]], T], piece: Callable[[str], T]) -> T:
    """``whole`` (a text, or its flags) with each changed span replaced by ``piece(fixed line)``."""
    if not changes:
        return whole
    parts, done = [], 0
    for start, end, line in changes:
        parts += (whole[done:start], piece(line))  # type: ignore[index]
        done = end
    parts.append(whole[done:])  # type: ignore[index]
    return join(parts)


def _nfc_line(line: str) -> str:
    """The line in NFC. "\\n" is a starter that composes with nothing on either side, so NFC never
    looks across it: each line is normalized on its own, and one with no code point of
    ``_nfc_maybe_table`` passes the quick check (is NFC) without being looked at."""
    return line if unicodedata.is_normalized("NFC", line) else unicodedata.normalize("NFC", line)


def _in_form(text: str, form: str) -> list[tuple[int, int, str]]:
    """The whole text as one change, if the Unicode ``form`` changes it."""
    return [] if unicodedata.is_normalized(form, text) else [(0, len(text), unicodedata.normalize(form, text))]  # type: ignore[arg-type]


@lru_cache(maxsize=4096)
def _fix_line(line: str) -> str:
    """ftfy on one damaged line; cached, as the same damaged line (a footer, a template) recurs."""
    return line if _ftfy_keeps(line) else _ftfy().fix_text(line, _ftfy().config)


def _ftfy_keeps(line: str) -> bool:
    """Would ``ftfy.fix_text(line, _ftfy().config)`` provably return the line as it is? Most lines the
    damage check sends (~3 in 4 in the bench corpora) only hold a U+FFFD, which ftfy cannot undo.

    ftfy (6.x) fixes a line without "\\n" of at most ``max_decode_length`` characters as one segment,
    step by step, until a pass changes nothing: unescaping entities needs "&"; the encoding fix
    returns text that ``is_bad`` does not flag as it is (its first test); each later step needs one
    of ``_ftfy().touches``; the last one is NFC. So a line with none of these and in NFC is returned
    unchanged, for the cost of the tests ftfy would run first (the regex of ``is_bad`` last: the
    dear one). ``tests/test_normalize.py`` checks this against ftfy itself."""
    fixer = _ftfy()
    config = fixer.config
    return (
        not (config.fix_character_width or config.uncurl_quotes)
        and config.normalization == "NFC"
        and len(line) <= config.max_decode_length
        and not fixer.touches.search(line)
        and unicodedata.is_normalized("NFC", line)
        and not fixer.is_bad(line)
    )


def _tidy(text: str, odd_spaces: bool, space_runs: bool) -> str:
    """One space between words, no spaces at line ends, at most one blank line in a row; told
    whether odd spaces, and runs of spaces or spaces beside line breaks, may occur (from the
    flags: each rewrite is a no-op where it finds nothing)."""
    if odd_spaces:
        text = _ODD_SPACES.sub(" ", text)
    if space_runs:
        text = _SPACE_RUNS.sub(" ", text)
        text = _LINE_EDGE_SPACES.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip()
