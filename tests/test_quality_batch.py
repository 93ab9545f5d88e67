"""The quality stage's whole-batch helpers measure what the per-document definitions say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.arrays import LOWERS_TO_ASCII
from pipeline.quality_lines import _exact_keys, anchored_phrases, batch_lines, logical_lines, names_a_phrase
from pipeline.quality_tokens import (
    _PUNCT_OR_SYMBOL,
    count_stopwords_batch,
    lorem_counts,
    plain_stopword_hits,
    stopword_list,
    symbol_counts,
    tokenize_batch,
)
from pipeline.stages.quality import Quality, policy_phrases

FIXTURES = Path(__file__).parent / "fixtures"
TEXTS = sorted((FIXTURES / "langqual").glob("*.txt")) + sorted((FIXTURES / "quality").glob("*.txt"))

PAGE = """City council approves the new bridge over the river after a long debate.
Share this
Share this

• Read more
The vote passed with nine members in favour and two against the plan...
Share this"""


def fixture_texts() -> list[str]:
    return [path.read_text(encoding="utf-8") for path in TEXTS]


def test_page_lines_hand_count():
    stats = Quality().assess(PAGE, "en")[1]
    # 6 logical lines; "Share this" (10 characters) twice repeats the first; paragraphs: the first
    # three lines, then the last three
    assert stats["bullet_line_ratio"] == pytest.approx(1 / 6)
    assert stats["ellipsis_line_ratio"] == pytest.approx(1 / 6)
    assert stats["dup_line_ratio"] == pytest.approx(2 / 6)
    assert stats["dup_line_char_ratio"] == pytest.approx(20 / len(PAGE))
    assert stats["dup_paragraph_ratio"] == 0.0
    assert stats["line_punct_ratio"] == pytest.approx(2 / 6)


def test_batch_lines_equal_the_python_cut_of_each_text():
    texts = fixture_texts() + [PAGE, "", "   \n\n  one line  "]
    tokens = tokenize_batch(texts)
    lines = batch_lines(texts, tokens, chars_per_word=2.0)
    assert any(lines.wrapped)  # the hard-wrapped fixture took the Python way, the rest numpy's
    for d, text in enumerate(texts):
        rows = list(range(lines.offsets[d], lines.offsets[d + 1]))
        if tokens.char_mode[d]:
            line_words = [round(len(line) / 2.0) for line in text.split("\n")]
        else:
            line_words = tokens.line_words(d).tolist()
        expected = logical_lines(text, line_words)
        got = lines.texts(rows)
        assert got == expected.lines
        assert lines.words[rows].tolist() == expected.words
        assert lines.length[rows].tolist() == list(map(len, got))
        assert [chr(c) for c in lines.first[rows]] == [line[0] for line in got]
        assert [chr(c) for c in lines.last[rows]] == [line[-1] for line in got]
        assert lines.ellipsis[rows].tolist() == [line.endswith(("...", "…")) for line in got]
        same_block = np.diff(lines.block[rows]) == 0
        assert same_block.tolist() == [a == b for a, b in zip(expected.block, expected.block[1:])]
        keys = lines.key[rows].tolist()
        assert [keys.index(k) for k in keys] == [got.index(line) for line in got]  # equal keys = equal lines


def test_exact_keys_tell_apart_texts_whose_hashes_collide():
    texts = ["Share this", "Follow us", "Share this", "Follow us", "Menu"]
    hashes = np.array([7, 7, 7, 7, 3], dtype=np.uint64)  # every line but the last on one hash
    keys = _exact_keys(hashes, lambda rows: [texts[row] for row in rows]).tolist()
    assert keys[0] == keys[2] != keys[1] == keys[3] != keys[4]


def test_symbol_and_lorem_counts_equal_str_count():
    texts = ["#news Prices rose... again.... and then… nothing.......", "Lorem ipsum dolor sit amet. LOREM IPSUM", "", "#a #b"]
    tokens = tokenize_batch(texts)
    assert symbol_counts(tokens) == [t.count("#") + t.count("...") + t.count("…") for t in texts] == [1 + 4 + 1, 0, 0, 2]
    assert lorem_counts(tokens) == [0, 2, 0, 0]


def test_stopword_counts_equal_the_regex_definition():
    texts = fixture_texts() + ["Der Rat hat, nach langer Debatte, die Brücke beschlossen: und das ist gut!"]
    langs = ["de" if "de_" in str(p) or "Brücke" in t else "en" for p, t in zip(TEXTS + [Path("x")], texts)]
    docs = [d for d, text in enumerate(texts) if text.split()]
    known = [stopword_list(langs[d]) for d in docs]
    tokens = tokenize_batch(texts)
    full = count_stopwords_batch(tokens, docs, known, [None] * len(docs))
    expected = [sum(map(k.__contains__, _PUNCT_OR_SYMBOL.sub("", texts[d]).casefold().split())) for d, k in zip(docs, known)]
    assert full == expected
    assert expected[-1] >= 3  # der, hat, nach, die, und, das, ist
    # with enough = 2 the count may stop early, but only once it has reached 2
    probed = count_stopwords_batch(tokens, docs, known, [2] * len(docs))
    assert all(p == e if e < 2 else 2 <= p <= e for p, e in zip(probed, expected))


def test_names_a_phrase_per_language():
    lines = [
        "We use Cookies to improve your experience and to show you personalised adverts on this site.",
        "Mit dem Klick stimmen Sie der DATENSCHUTZERKLÄRUNG zu.",
        "The council voted to build a new bridge over the river.",
        "Datenschutzerklärung",
    ]
    phrases = [policy_phrases("en"), policy_phrases("de"), policy_phrases("de"), policy_phrases("en")]
    assert names_a_phrase(lines, phrases) == [True, True, False, False]  # the last: not an English phrase
    assert names_a_phrase([], []) == []
    # a phrase at the very start of a line, after a line that lower-casing lengthens (İ -> i + dot)
    lines = ["İSTANBUL'DA HABER", "Cookie settings", "Weather", "Manage Settings"]
    assert names_a_phrase(lines, [policy_phrases("en")] * 4) == [False, True, False, True]


def test_names_a_phrase_matches_str_lower_on_tricky_text():
    # the byte search must agree with "phrase in line.lower()": capitals, accents, İ and the Kelvin
    # sign (which lower to ASCII), final sigma, phrases without ASCII probes of their own, emoji
    pieces = ["COOKIE", "Cookies", "COO\u212aIE", "COOKİE", "DONNÉES PERSONNELLES", "données", "Personnelles",
              "ZGODĘ", "zgodę", "ODRZUĆ WSZYSTKIE", "Politique de CONFIDENTIALITÉ", "ΣΟΦΟΣ", "İ", "\u0307",
              "terms of use", "TERMS  OF USE", "Einwilligung", "DATENSCHUTZERKLÄRUNG", "😀", "river", "-"]
    langs = ["en", "de", "fr", "pl"]
    rng = np.random.default_rng(5)
    for _ in range(200):
        lines = [" ".join(rng.choice(pieces, size=rng.integers(1, 5))) for _ in range(rng.integers(1, 6))]
        phrases = [policy_phrases(str(rng.choice(langs))) for _ in lines]
        expected = [any(phrase in line.lower() for phrase in wanted) for line, wanted in zip(lines, phrases)]
        assert names_a_phrase(lines, phrases) == expected


def test_only_listed_code_points_lower_to_ascii():
    # names_a_phrase lower-cases UTF-8 bytes (ASCII only) after replacing these: sound only if no
    # other code point's str.lower() holds an ASCII character
    lowering = [c for c in map(chr, range(128, 0x110000)) if c.lower() != c]
    found = sorted(c for c in lowering if any(ch.isascii() for ch in c.lower()))
    assert found == sorted(char for char, _ in LOWERS_TO_ASCII)


def test_documents_skipped_without_stats_have_no_flag():
    texts = fixture_texts() + [PAGE]
    langs = ["de" if "de_" in p.name else "ja" if "ja_" in p.name else "ko" if "ko_" in p.name else "en" for p in TEXTS] + ["en"]
    stage = Quality()
    full = stage.assess_batch(texts, langs)
    quick = stage.assess_batch(texts, langs, stats=False)
    assert [flags for flags, _ in quick] == [flags for flags, _ in full]
    skipped = [d for d, (_, stats) in enumerate(quick) if not stats]
    assert skipped and all(not full[d][0] for d in skipped)
    assert any(flags for flags, _ in full)


def test_plain_stopword_hits_count_bare_tokens_only():
    texts = ["The report of the council, and THE vote: to build with care.", "Der Rat hat die Brücke und das Ufer geplant."]
    tokens = tokenize_batch(texts)
    hits = plain_stopword_hits(tokens, [0, 1], ["en", "de"])
    english = stopword_list("en")  # Gopher's: the, be, to, of, and, that, have, with
    # bare "of", "the", "and", "to", "with"; "The" and "THE" only count once case-folded
    assert hits[0] == sum(token in english for token in texts[0].split()) == 5
    full = [sum(map(stopword_list(lang).__contains__, _PUNCT_OR_SYMBOL.sub("", text).casefold().split()))
            for text, lang in zip(texts, ["en", "de"])]
    assert hits[0] < full[0] and 0 < hits[1] <= full[1]


@pytest.mark.parametrize("lang", ["en", "de", "fr", "pl"])
def test_phrase_anchors_cover_every_phrase_once(lang):
    phrases = policy_phrases(lang)
    groups = anchored_phrases(phrases)
    assert sorted(p for _, members in groups for p in members) == sorted(set(phrases))
    assert all(anchor in p for anchor, members in groups for p in members)
    assert len(groups) < len(set(phrases))  # some searches are saved
