"""normalize: repair mojibake and Unicode (ftfy), drop control characters, tidy whitespace.

ftfy is thorough but slow (~1.3 M chars/s here), and almost all text needs none of it. A cheap
regex looks for the fingerprints of what ftfy fixes (UTF-8 read as cp1252/Latin-1, C1 controls,
HTML entities, terminal escapes, surrogates, ligatures); only documents that show one go through
``ftfy.fix_text``. Everything else gets just NFC (skipped when already NFC) and whitespace tidying.
"""

from __future__ import annotations

import unicodedata

import ftfy
import regex
from ftfy import TextFixerConfig

from ..document import Document
from .base import Stage, StageConfig

# Lead byte of a multi-byte UTF-8 sequence decoded as cp1252/Latin-1, followed by a continuation
# byte decoded the same way (0x80-0xBF, including cp1252's printable mappings of 0x80-0x9F).
_CP1252_CONT = "\x80-\xbf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
_NEEDS_FTFY = regex.compile(
    rf"[\xc2-\xf4][{_CP1252_CONT}]"  # mojibake
    r"|[\x80-\x9f]"  # C1 control characters
    r"|\x1b\["  # terminal escapes
    r"|&(?:[a-zA-Z]{2,8}|#[0-9]{2,6}|#x[0-9a-fA-F]{2,5});"  # HTML entities
    r"|[\ud800-\udfff]"  # surrogates
    r"|[\ufb00-\ufb06]"  # latin ligatures
    r"|\ufffd"  # replacement characters (lossy sequences)
)
_CONTROL = regex.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200e\u200f\ufeff\u00ad]")
_LINE_BREAKS = regex.compile(r"\r\n?|[\u2028\u2029\x85]")
_SPACES = regex.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_TRAILING = regex.compile(r" *\n *")
_BLANK_RUNS = regex.compile(r"\n{3,}")

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
            if cfg.ftfy and (cfg.always_ftfy or _NEEDS_FTFY.search(text)):
                fixed = ftfy.fix_text(text, _FTFY_CONFIG)
                if fixed != text:
                    found["ftfy_fixed"] = True
                    text = fixed
            if not unicodedata.is_normalized(cfg.unicode_form, text):  # type: ignore[arg-type]
                text = unicodedata.normalize(cfg.unicode_form, text)  # type: ignore[arg-type]
                found["unicode_normalized"] = True
            text = _LINE_BREAKS.sub("\n", text)
            text, n_control = _CONTROL.subn("", text)
            if n_control:
                found["control_chars_removed"] = n_control
            if cfg.collapse_whitespace:
                text = _SPACES.sub(" ", text)
                text = _TRAILING.sub("\n", text)
                text = _BLANK_RUNS.sub("\n\n", text).strip()
            if found:
                doc.annotations[self.name] = found
            doc.text = text
