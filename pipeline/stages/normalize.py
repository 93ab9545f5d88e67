"""normalize: repair mojibake and Unicode (ftfy), drop control characters, tidy whitespace.

ftfy is thorough but slow (~1.3 M chars/s here), and almost all text needs none of it. A cheap
regex looks for the fingerprints of what ftfy fixes (UTF-8 read as cp1252/Latin-1, C1 controls,
HTML entities, terminal escapes, surrogates, ligatures); only the lines that show one go through
``ftfy.fix_text``. Everything else gets just NFC (skipped when already NFC) and whitespace tidying.
"""

from __future__ import annotations

import re
import unicodedata

import ftfy
from ftfy import TextFixerConfig

from ..document import Document
from .base import Stage, StageConfig

# Lead byte of a multi-byte UTF-8 sequence decoded as cp1252/Latin-1, followed by a continuation
# byte decoded the same way (0x80-0xBF, including cp1252's printable mappings of 0x80-0x9F).
_CP1252_CONT = "\x80-\xbf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
# One leading character class (which ``re`` scans for in C), then lookbehinds that say which
# kind of damage it is: a lead byte before a continuation byte (mojibake), C1 controls,
# surrogates, ligatures, U+FFFD, terminal escapes (ESC [) and HTML entities (&amp;).
_NEEDS_FTFY = re.compile(
    rf"[{_CP1252_CONT}\x1b&\ud800-\udfff\ufb00-\ufb06\ufffd]"
    # a UTF-8 lead byte needs as many continuation bytes as it announces: 2-, 3- or 4-byte sequences
    # (so Czech "áš" or Slovak "ôž", a letter before one cp1252-mapped letter, is not mojibake)
    rf"(?:(?<=[\xc2-\xdf][{_CP1252_CONT}])"
    rf"|(?<=[\xe0-\xef][{_CP1252_CONT}])[{_CP1252_CONT}]"
    rf"|(?<=[\xf0-\xf4][{_CP1252_CONT}])[{_CP1252_CONT}]{{2}}"
    r"|(?<=[\x80-\x9f\ud800-\udfff\ufb00-\ufb06\ufffd])"
    r"|(?<=\x1b)\["
    r"|(?<=&)(?:[a-zA-Z]{2,8}|#[0-9]{2,6}|#x[0-9a-fA-F]{2,5});)"
)
# stdlib ``re`` here: on these simple classes it is several times faster than ``regex``.
# Patterns match only what must change, so clean text costs one scan and no copy.
_CONTROL_CHARS = "".join(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])) + "\u200b\u200e\u200f\ufeff\u00ad"
_DROP_CONTROL = str.maketrans("", "", _CONTROL_CHARS)
_HAS_CONTROL = re.compile(f"[{re.escape(_CONTROL_CHARS)}]")
_OTHER_LINE_BREAKS = ("\r", "\u2028", "\u2029", "\x85")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_ODD_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACE_RUNS = re.compile(r"  +")
_LINE_EDGE_SPACES = re.compile(r" +\n *|\n +")
_BLANK_RUNS = re.compile(r"\n{3,}")

_FTFY_CONFIG = TextFixerConfig(
    uncurl_quotes=False,  # curly quotes are correct text, not damage
    fix_character_width=False,  # full-width CJK punctuation is correct text too
    normalization="NFC",
    explain=False,
)


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

    def process(self, batch: list[Document]) -> None:
        cfg = self.config
        for doc in batch:
            text = doc.text
            found: dict[str, int | bool] = {}
            if cfg.ftfy:
                fixed = ftfy.fix_text(text, _FTFY_CONFIG) if cfg.always_ftfy else fix_damaged_lines(text)
                if fixed != text:
                    found["ftfy_fixed"] = True
                    text = fixed
            if not unicodedata.is_normalized(cfg.unicode_form, text):  # type: ignore[arg-type]
                text = unicodedata.normalize(cfg.unicode_form, text)  # type: ignore[arg-type]
                found["unicode_normalized"] = True
            if any(brk in text for brk in _OTHER_LINE_BREAKS):
                text = _LINE_BREAKS.sub("\n", text)
            if _HAS_CONTROL.search(text):
                before = len(text)
                text = text.translate(_DROP_CONTROL)
                found["control_chars_removed"] = before - len(text)
            if cfg.collapse_whitespace:
                text = tidy_whitespace(text)
            if found:
                doc.annotations[self.name] = found
            doc.text = text


def fix_damaged_lines(text: str) -> str:
    """ftfy on just the lines that show damage.

    ``ftfy.fix_text`` works line by line anyway, so fixing only the lines the fast check flags gives
    the same result while a 50 KB page with one stray ``&amp;`` costs one short line, not the page.
    """
    hits = [m.start() for m in _NEEDS_FTFY.finditer(text)]
    if not hits:
        return text
    parts: list[str] = []
    done = 0
    for pos in hits:
        if pos < done:
            continue  # already inside a fixed line
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        parts.append(text[done:start])
        parts.append(ftfy.fix_text(text[start:end], _FTFY_CONFIG))
        done = end
    parts.append(text[done:])
    return "".join(parts)


def tidy_whitespace(text: str) -> str:
    """One space between words, no spaces at line ends, at most one blank line in a row."""
    if _ODD_SPACES.search(text):
        text = _ODD_SPACES.sub(" ", text)
    if "  " in text:
        text = _SPACE_RUNS.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _LINE_EDGE_SPACES.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip()
