"""normalize: encoding damage is repaired, clean text passes through unchanged, whitespace tidied."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import ftfy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.document import Document
from pipeline.stages.normalize import (
    _CONTROL_CHARS,
    _ftfy,
    _NEEDS_FTFY,
    Normalize,
    _char_flag_table,
    _compute_char_flags,
    _ftfy_keeps,
    _nfc_maybe_table,
    NormalizeConfig,
    fix_damaged_lines,
)

_FTFY_CONFIG = _ftfy().config

CLEAN = (
    "Die Stadtwerke München erhöhen zum 1. Januar die Preise für Fernwärme um 4,5 Prozent.\n\n"
    "„Wir geben nur die gestiegenen Kosten weiter“, sagte ein Sprecher – die Grundgebühr bleibt gleich.\n\n"
    "Le maire a déclaré : « Nous n’avons pas le choix. »"
)


def normalized(text: str, **options) -> Document:
    doc = Document(id="d", text=text)
    Normalize(NormalizeConfig(**options)).process([doc])
    return doc


def test_clean_multilingual_text_is_untouched():
    doc = normalized(CLEAN)
    assert doc.text == CLEAN
    assert "normalize" not in doc.annotations


@pytest.mark.parametrize(
    "damaged, repaired",
    [
        ("The Mona Lisa doesnâ€™t have eyebrows.", "The Mona Lisa doesn’t have eyebrows."),
        ("Die Stadtwerke MÃ¼nchen erhÃ¶hen die Preise.", "Die Stadtwerke München erhöhen die Preise."),
        ("Fish &amp; chips cost &pound;8.", "Fish & chips cost £8."),
        ("\x1b[31mBreaking:\x1b[0m council approves budget", "Breaking: council approves budget"),
    ],
)
def test_mojibake_entities_and_escapes_are_repaired(damaged, repaired):
    doc = normalized(f"Headline\n\n{damaged}\n\nA clean closing line.")
    assert doc.text == f"Headline\n\n{repaired}\n\nA clean closing line."
    assert doc.annotations["normalize"]["ftfy_fixed"] is True


def test_line_wise_fix_equals_whole_text_ftfy():
    text = "\n".join([CLEAN, "It wasnâ€™t clear.", "Ã©tÃ© &eacute;t&eacute;", "Plain closing sentence."])
    assert fix_damaged_lines(text) == ftfy.fix_text(text, _FTFY_CONFIG)


def test_control_characters_removed_and_counted():
    doc = normalized("Zero\u200bwidth and soft\u00adhyphen and a bell\x07 here.")
    assert doc.text == "Zerowidth and softhyphen and a bell here."
    assert doc.annotations["normalize"]["control_chars_removed"] == 3


def test_whitespace_tidied_but_paragraphs_kept():
    doc = normalized("  First\tline  with   gaps \r\nsecond\u00a0line\u2028third\n\n\n\n\nNew paragraph.  ")
    assert doc.text == "First line with gaps\nsecond line\nthird\n\nNew paragraph."


def test_nfc_applied_to_decomposed_accents():
    doc = normalized("Cafe\u0301 in Zu\u0308rich")
    assert doc.text == "Café in Zürich"
    assert doc.annotations["normalize"]["unicode_normalized"] is True


def test_ftfy_can_be_switched_off():
    assert normalized("doesnâ€™t", ftfy=False).text == "doesnâ€™t"


# -- the fast path (class-bit tables, candidate positions, cached ftfy) against the plain steps ---

FIXTURES = Path(__file__).parent / "fixtures" / "normalize" / "tricky.jsonl"
_REFERENCE_CONTROL = str.maketrans("", "", _CONTROL_CHARS)


def _reference_fix(text: str) -> str:
    """ftfy on each line where the exact pattern matches anywhere (no tables, no cache)."""
    damaged = {text.rfind("\n", 0, m.start()) + 1 for m in _NEEDS_FTFY.finditer(text)}
    lines, offset = [], 0
    for line in text.split("\n"):
        lines.append(ftfy.fix_text(line, _FTFY_CONFIG) if offset in damaged else line)
        offset += len(line) + 1
    return "\n".join(lines)


def _reference_normalize(text: str) -> tuple[str, dict]:
    """Every step unconditionally, in order: what the stage must produce."""
    found: dict = {}
    fixed = _reference_fix(text)
    if fixed != text:
        found["ftfy_fixed"], text = True, fixed
    if unicodedata.normalize("NFC", text) != text:
        found["unicode_normalized"], text = True, unicodedata.normalize("NFC", text)
    text = re.sub(r"\r\n?|[\u2028\u2029\x85]", "\n", text)
    if text.translate(_REFERENCE_CONTROL) != text:
        found["control_chars_removed"] = len(text) - len(text.translate(_REFERENCE_CONTROL))
        text = text.translate(_REFERENCE_CONTROL)
    text = re.sub(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]", " ", text)
    text = re.sub(r"  +", " ", text)
    text = re.sub(r" +\n *|\n +", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip(), found


def _fixture_texts() -> list[str]:
    return [json.loads(line)["text"] for line in FIXTURES.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("text", _fixture_texts())
def test_fast_path_equals_plain_steps_on_tricky_text(text):
    doc = normalized(text)
    expected_text, expected_found = _reference_normalize(text)
    assert doc.text == expected_text
    assert doc.annotations.get("normalize", {}) == expected_found


def test_fixtures_exercise_every_step():
    """The fixtures above must really contain damage, controls, odd spaces and line breaks."""
    found = [_reference_normalize(t)[1] for t in _fixture_texts()]
    assert {key for f in found for key in f} == {"ftfy_fixed", "unicode_normalized", "control_chars_removed"}
    assert any("\r\n" in t for t in _fixture_texts()) and any("\u00a0" in t for t in _fixture_texts())


_PIECES = [
    "a", "Word", " ", "  ", "\n", "\n\n\n", "\t", "\r\n", "\r", "\u2028", "\x85", "\u00a0", "\u3000", "\u2009",
    "\u00ad", "\u200b", "\x07", "\ufeff", "\x1b[", "\x1b", "&amp;", "& ", "&#8211;", "&x", "\u00c3", "\u00a9",
    "\u00e2\u20ac\u2122", "\u00e2", "\u20ac", "\u2122", "\u00c2\u00ab", "\u00f0\u0178\u02dc\u20ac", "\u0161",
    "\u00f4\u017e", "\u0080", "\u009d", "\ufb01", "\ufffd", "\ud800", "e\u0301", "\u0301", "\u1100\u1161",
    "\u6771\u4eac", "\U0001F600", "\U0002F800", "\u2019", "\u201c",
]


# Lines the damage check flags for a U+FFFD alone (ftfy cannot undo a replacement character), and
# lines where a U+FFFD sits beside damage that ftfy does repair.
_REPLACEMENT_ONLY = [
    "Der Bürgermeister sagte, die Stra\ufffde werde im Frühjahr saniert.",
    "Le conseil municipal a vot\ufffd le budget 2025 à l\u2019unanimité.",
    "東京都は\ufffd日、新しい条例を発表した。",
    "Price: 5\ufffd per kilo, says the \u201cmarket\u201d report.",
]
_REPLACEMENT_AND_DAMAGE = [
    "It wasn\u00e2\u20ac\ufffdt clear.",  # lossy UTF-8 mojibake
    "Fish &amp; chips \ufffd cheap",
    "Caf\u00c3\u00a9 \ufffd",
    "Zero\u200bwidth \ufffd and a ligature \ufb01ne",
    "Cafe\u0301 \ufffd",
]


def test_ftfy_is_skipped_only_where_it_returns_the_line_as_it_is():
    for line in _REPLACEMENT_ONLY:
        assert _ftfy_keeps(line) and ftfy.fix_text(line, _FTFY_CONFIG) == line, line
    for line in _REPLACEMENT_AND_DAMAGE:
        assert not _ftfy_keeps(line) and ftfy.fix_text(line, _FTFY_CONFIG) != line, line


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([p for p in _PIECES if "\n" not in p] + ["\ufffd", "Stra\ufffde", "\u00e9"]), max_size=30).map("".join))
def test_ftfy_keeps_a_generated_line_only_if_ftfy_does(line):
    if _ftfy_keeps(line):
        assert ftfy.fix_text(line, _FTFY_CONFIG) == line


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_fast_path_equals_plain_steps_on_generated_text(text):
    doc = normalized(text)
    assert (doc.text, doc.annotations.get("normalize", {})) == _reference_normalize(text)


# -- whole batches: one table lookup for all documents, then each document on its own -------------


def test_batch_gives_each_document_what_it_gets_alone():
    """Clean, damaged, empty and whitespace-only documents side by side: the batch-level bits
    (and the pair that joins one document to the next) must not leak between documents."""
    texts = [CLEAN, "", *_fixture_texts(), "   ", "It wasnâ€™t clear.", "x", "Cafe\u0301  ", CLEAN + " "]
    docs = [Document(id=str(i), text=t) for i, t in enumerate(texts)]
    Normalize().process(docs)
    for doc, text in zip(docs, texts):
        assert (doc.text, doc.annotations.get("normalize", {})) == _reference_normalize(text), doc.id


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=12).map("".join), min_size=1, max_size=6))
def test_batch_equals_plain_steps_on_generated_text(texts):
    docs = [Document(id=str(i), text=t) for i, t in enumerate(texts)]
    Normalize().process(docs)
    assert [(d.text, d.annotations.get("normalize", {})) for d in docs] == [_reference_normalize(t) for t in texts]


def test_nfc_quick_check_table_marks_every_character_that_can_change():
    """A character outside the table is NFC on its own and never reorders nor composes."""
    table = _nfc_maybe_table()
    assert table[0x0301] and table[0x1161] and table[0x0B3E]  # combining acute, Hangul vowel, Oriya AA
    assert not table[ord("é")] and not table[ord("a")] and not table[ord("카")] and not table[ord("漢")]
    unmarked = (chr(c) for c in np.flatnonzero(table == 0).tolist())
    assert all(unicodedata.normalize("NFC", c) == c and not unicodedata.combining(c) for c in unmarked)
    # the second part of each canonical pair ("e" + U+0301) is marked, so "Cafe\u0301" is looked at
    assert normalized("Cafe\u0301").text == "Café"


def test_character_flags_read_back_from_the_disk_cache_are_the_computed_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("WINNOW_CACHE_DIR", str(tmp_path))
    _char_flag_table.cache_clear()
    try:
        computed = _char_flag_table()  # computed and stored
        _char_flag_table.cache_clear()
        again = _char_flag_table()  # read back
        assert len(list(tmp_path.glob("normalize-char-flags-*.npy"))) == 1
        assert again.dtype == np.dtype("<u2") and np.array_equal(again, computed)
        assert np.array_equal(again, _compute_char_flags())
    finally:
        _char_flag_table.cache_clear()
