"""The numpy text helpers shared by batch stages (pipeline.arrays)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.arrays import HashedBits, code_points, joined_code_points, lowered_code_points, segment_or


def _text(codes) -> str:
    return "".join(map(chr, codes.tolist()))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Weiterlesen » Über uns | STRASSE", "weiterlesen » über uns | strasse"),
        ("Compartir en Facebook · ÚLTIMAS NOTICIAS", "compartir en facebook · últimas noticias"),
        ("Поделиться ВКонтакте", "поделиться вконтакте"),
        ("Ｆｕｌｌｗｉｄｔｈ ＡＢＣ 𐐀𐐁 Ꭰ", "ｆｕｌｌｗｉｄｔｈ ａｂｃ 𐐨𐐩 ꭰ"),  # wide Latin, Deseret (above the BMP), Cherokee
        ("日本語のニュース 2024", "日本語のニュース 2024"),
    ],
)
def test_lowered_code_points_match_str_lower(text: str, expected: str) -> None:
    assert text.lower() == expected  # the reference itself, checked by hand
    assert _text(lowered_code_points(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "İSTANBUL'DA HAVA DURUMU",  # İ lowers to two code points
        "ΟΔΥΣΣΕΑΣ ΚΑΙ ΣΕΙΡΗΝΕΣ\nΜΕΝΟΣ",  # Σ lowers to σ or ς, by its neighbours
        "Über UNS\nİSTANBUL İÇİN\n\nΣΟΦΙΑ Σ\nENDE Ω\nΣ",
        "ΟΔΟΣ İSTANBUL ΟΔΟΣ\nİİ Σ. İΣ",  # both on one line  # such lines among others (by str.lower, the rest by table)
    ],
)
def test_lowered_code_points_keep_str_lower_rules_a_table_cannot(text: str) -> None:
    lowered = lowered_code_points(text)
    assert _text(lowered) == text.lower()
    assert len(lowered) != len(text) or "ς" in text.lower()


def test_folded_spaces_are_the_whitespace_str_split_knows() -> None:
    """With ``fold_spaces``, code points up to " " are exactly the whitespace of str.split(), "\\n"
    stays itself, and everything else is lower-cased as without it (İ and Σ lines too)."""
    text = "Über\u00a0UNS\u3000·\tKontakt\x1c\r\nİSTANBUL\x01ΣΟΦΙΑΣ\u2009x\x7f\u200b"
    folded = lowered_code_points(text, fold_spaces=True)
    lowered = text.lower()
    assert len(folded) == len(lowered)
    spaces = [c <= 32 for c in folded.tolist()]
    assert spaces == [char.isspace() for char in lowered]
    assert [char for char, c in zip(lowered, folded.tolist()) if c == 10] == ["\n"]
    visible = [(char, c) for char, c in zip(lowered, folded.tolist()) if not char.isspace()]
    assert all(c == ord(char) or (ord(char) < 32 and c > 0x10FFFF) for char, c in visible)  # controls: above Unicode


def test_lowered_code_points_of_empty_text_and_lone_surrogate() -> None:
    assert len(lowered_code_points("")) == 0
    assert lowered_code_points("A\ud800B").tolist() == code_points("a\ud800b").tolist()


def test_joined_code_points_keeps_each_text_findable():
    texts = ["visit 카지노", "", "Zürich", "😀\ud800"]
    codes, starts = joined_code_points(texts)
    assert starts.tolist() == [0, 9, 9, 15, 17]
    for i, text in enumerate(texts):
        assert codes[starts[i] : starts[i + 1]].tolist() == [ord(c) for c in text]
    assert code_points("😀").tolist() == [0x1F600]


def test_segment_or_per_text_with_empty_ones():
    values = np.array([1, 2, 4, 8, 16], dtype=np.uint8)
    starts = np.array([0, 0, 2, 2, 5])  # texts: [], [1, 2], [], [4, 8, 16]
    assert segment_or(values, starts).tolist() == [0, 3, 0, 28]
    assert segment_or(values[:0], np.array([0, 0])).tolist() == [0]


def test_hashed_set_answers_like_isin():
    from pipeline.arrays import HashedSet, mix64

    rng = np.random.default_rng(3)
    for size in (0, 1, 7, 3000):  # none, one, a few and a stopword list's worth of keys
        keys = mix64(rng.integers(0, 10**6, size).astype(np.uint64))
        values = np.concatenate([mix64(rng.integers(0, 10**6, 20000).astype(np.uint64)), keys[:50]])
        found = HashedSet(keys).contains(values)
        assert found.tolist() == np.isin(values, keys).tolist()
        assert found[len(values) - min(size, 50):].all()  # every key is found



@pytest.mark.parametrize("slot_bits", [2, 15])  # 2 bits: most keys share a slot and take the binary search
def test_hashed_bits_answers_like_a_dict_and_ors_a_key_given_twice(slot_bits):
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 2**63, size=40, dtype=np.uint64)
    bits = rng.integers(1, 2**40, size=40, dtype=np.int64)
    hashes, values = np.concatenate((keys, keys[:5])), np.concatenate((bits, np.full(5, 1 << 50, dtype=np.int64)))
    expected = {int(k): int(b) for k, b in zip(keys, bits)}
    for k in keys[:5].tolist():
        expected[k] |= 1 << 50
    probes = np.concatenate((keys, rng.integers(0, 2**63, size=200, dtype=np.uint64)))
    found = HashedBits(hashes, values, slot_bits).lookup(probes)
    assert found.tolist() == [expected.get(int(p), 0) for p in probes]
