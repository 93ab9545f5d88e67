"""normalize: encoding damage is repaired, clean text passes through unchanged, whitespace tidied."""

from __future__ import annotations

import ftfy
import pytest

from pipeline.document import Document
from pipeline.stages.normalize import _FTFY_CONFIG, Normalize, NormalizeConfig, fix_damaged_lines

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
