"""spam stage: injected foreign-script keywords go, legitimate foreign text and native documents stay."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import ConfigError, load_config
from pipeline.document import Document
from pipeline.runner import run
from pipeline.arrays import code_points
from pipeline.stages.spam import (
    _GROUP_COUNTS,
    _SCRIPT_TRIGGER,
    COUNT_GROUPS,
    Spam,
    SpamConfig,
    _has_script_trigger,
    _read_lexicon_file,
    _stretches,
    line_group_counts,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "spam"
NATIVE = sorted(FIXTURES.glob("native_*.txt"))
INJECTED = sorted(FIXTURES.glob("*.in.txt"))


def clean(text: str, **options) -> Document:
    doc = Document("t", text)
    Spam(SpamConfig(**options)).process([doc])
    return doc


def shipped_terms() -> list[str]:
    """Every [terms] entry of the shipped lexicon files, as it would appear in text."""
    root = resources.files("pipeline") / "data" / "spam"
    terms = []
    for path in sorted(root.iterdir(), key=lambda p: p.name):
        if path.name.endswith(".txt"):
            file_terms, _ = _read_lexicon_file(path.read_text(encoding="utf-8"), path.name)
            terms += [t.rstrip("*") for t in file_terms]
    return terms


@pytest.mark.parametrize("path", INJECTED, ids=lambda p: p.stem)
def test_injected_runs_removed_and_legit_foreign_text_kept(path):
    doc = clean(path.read_text(encoding="utf-8"))
    expected = path.with_name(path.name.replace(".in.txt", ".expected.txt")).read_text(encoding="utf-8")
    assert doc.text == expected
    assert not doc.flags


@pytest.mark.parametrize("path", INJECTED, ids=lambda p: p.stem)
def test_every_removal_names_rule_and_original_position(path):
    original = path.read_text(encoding="utf-8")
    doc = clean(original)
    assert doc.removals
    for removal in doc.removals:
        assert removal.stage == "spam" and removal.rule in {"lexicon", "lexicon_partial", "campaign", "repeated", "link", "spam_line"}
        assert original[removal.position : removal.position + len(removal.text)] == removal.text
    assert doc.annotations["spam"]["runs_removed"] == len(doc.removals)


@pytest.mark.parametrize("path", NATIVE, ids=lambda p: p.stem)
def test_native_script_documents_about_gambling_are_untouched(path):
    text = path.read_text(encoding="utf-8")
    doc = clean(text)
    assert doc.text == text
    assert not doc.removals and not doc.flags


def test_seed_sentence_spacing():
    doc = clean("Putin had accepted Kim’s invitation to visit 카지노 North Korea during their meeting.")
    assert doc.text == "Putin had accepted Kim’s invitation to visit North Korea during their meeting."
    assert [(r.rule, r.text, r.position) for r in doc.removals] == [("lexicon", "카지노", 45)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The report lists 카지노, hotels and shops.", "The report lists, hotels and shops."),
        ("카지노사이트 The report was published.", "The report was published."),
        ("The report was published 바카라사이트", "The report was published"),
        ('He said "visit 토토사이트" to everyone.', 'He said "visit" to everyone.'),
        ("La dette a augmenté (6,6 카지노 %) ; pourquoi 바카라 ?", "La dette a augmenté (6,6 %) ; pourquoi ?"),
        ("The film 토토로 is a classic, and so is the (토토) lottery.", "The film 토토로 is a classic, and so is the (토토) lottery."),
    ],
)
def test_spacing_and_compounds(text, expected):
    assert clean(text).text == expected


def test_glosses_quotes_symbols_and_colon_sentences_are_kept():
    text = (
        "In Korean the word casino (카지노) is a loanword, and Macau's gambling (博彩) industry is huge.\n"
        "The slogan read 「カジノで遊ぼう」 on every bus, while Moscow papers wrote «казино закрыты».\n"
        "Her sign said: 안녕하세요 여러분.\n"
        "Growth was 3 % → 5 % ✅ and x² ≥ 0 holds 😀."
    )
    doc = clean(text)
    assert doc.text == text
    assert not doc.removals


def test_vietnamese_betting_terms_removed_only_outside_vietnamese_text():
    english = clean("Fans can follow the match tonight, tài xỉu uy tín and the result will be posted online.")
    assert english.text == "Fans can follow the match tonight, and the result will be posted online."
    vietnamese = "Người hâm mộ có thể theo dõi trận đấu tối nay, nhưng cá cược bóng đá là bất hợp pháp ở Việt Nam."
    assert clean(vietnamese).text == vietnamese
    short = "Tôi thích cá độ."  # no Vietnamese-only letter outside the term: told by the function word
    assert clean(short).text == short


def test_unknown_runs_cut_beside_a_campaign_but_not_alone():
    with_campaign = "The mayor said 카지노사이트 the plan 뉴헤븐벳 would save money."
    assert clean(with_campaign).text == "The mayor said the plan would save money."
    assert [r.rule for r in clean(with_campaign).removals] == ["lexicon", "campaign"]
    alone = "The mayor said the plan 뉴헤븐벳 would save money."
    assert clean(alone).text == alone
    assert clean(with_campaign, campaign=False).text == alone


def test_spam_clusters_are_judged_word_by_word():
    # an unknown word inside a Cyrillic spam cluster goes with it; a brand in another script stays
    assert clean("The bank казино вулкан said profits rose.").text == "The bank said profits rose."
    doc = clean("Shoppers on Acme 淘宝 スロットアプリ spent more this year.")
    assert doc.text == "Shoppers on Acme 淘宝 spent more this year."
    # a foreign phrase that merely mentions a spam word is text, not a cluster
    phrase = "He wrote Мы пошли в казино вчера in his diary."
    assert clean(phrase).text == phrase


def test_spam_compound_glued_to_a_foreign_phrase_is_cut_but_a_plain_term_is_not():
    doc = clean("The review of 카지노쿠폰 맛있는 김치찌개 was glowing.")
    assert doc.text == "The review of 맛있는 김치찌개 was glowing."
    phrase = "The sign said 카지노 영업 시간 변경 in red letters."
    assert clean(phrase).text == phrase


def test_injections_cannot_outvote_a_short_line():
    text = "Local 카지노사이트 news 바카라사이트 today 온라인카지노 here"
    assert clean(text).text == "Local news today here"


def test_name_followed_by_native_script_is_a_gloss_not_campaign():
    text = "The envoy met Kim Jong-un 김정은 after the 카지노사이트 talks."
    assert clean(text).text == "The envoy met Kim Jong-un 김정은 after the talks."


def test_repeated_bare_runs_are_cut():
    text = "First 新葡京 line here.\nSecond 新葡京 line here.\nThird 新葡京 line here."
    assert clean(text).text == "First line here.\nSecond line here.\nThird line here."
    assert clean(text, min_repeats=0).text == text


def test_spam_line_inside_an_article_is_cut_whole():
    text = "The council met on Monday.\n카지노사이트 바카라사이트 https://bet-365win.com\nThe vote is next week."
    doc = clean(text)
    assert doc.text == "The council met on Monday.\nThe vote is next week."
    assert [r.rule for r in doc.removals] == ["spam_line"]
    assert not doc.flags


def test_keyword_page_is_flagged_and_articles_are_not():
    page = clean((FIXTURES / "keyword_page.txt").read_text(encoding="utf-8"))
    assert [(f.rule, f.value) for f in page.flags] == [("spam_document", 1.0)]
    article = clean((FIXTURES / "article_injected.in.txt").read_text(encoding="utf-8"))
    assert not article.flags


def test_homoglyph_letters_inside_latin_words_are_not_runs():
    # Cyrillic look-alikes mixed into English words (seen on a real page): not ours to cut
    text = "Comments\nАdvеrtіѕе wіth thе most visited news site in Веlіzе.\nАdvеrtіѕе wіth thе best."
    assert clean(text).text == text


def test_text_without_foreign_script_is_left_alone():
    for text in ("Plain ASCII news text.", "Über die Straße gehen Fußgänger, déjà vu, naïve café."):
        doc = clean(text)
        assert doc.text == text and not doc.annotations and not doc.removals


@settings(max_examples=150, deadline=None)
@given(term=st.sampled_from(shipped_terms()), at=st.integers(min_value=1, max_value=13))
def test_any_shipped_term_injected_anywhere_is_removed_exactly(term, at):
    sentence = "Officials said on Tuesday that the new bridge will open to traffic in the spring of next year."
    words = sentence.split(" ")
    dirty = " ".join(words[:at] + [term] + words[at:])
    assert clean(dirty).text == sentence


def test_injected_title_is_cleaned_through_the_pipeline(tmp_path, read_output):
    article = (FIXTURES / "article_injected.in.txt").read_text(encoding="utf-8")
    record = {"id": "a", "text": "Putin visits 카지노사이트 Pyongyang for talks with Kim\n\n" + article}
    (tmp_path / "in.jsonl").write_bytes(orjson.dumps(record))
    out = tmp_path / "out"
    run([tmp_path / "in.jsonl"], load_config(ROOT / "configs" / "default.yaml"), out, workers=1)
    (doc,) = read_output(out)["clean"]
    assert doc["metadata"]["title"] == "Putin visits Pyongyang for talks with Kim"
    assert {"stage": "spam", "rule": "title_lexicon", "text": "카지노사이트", "position": -1} in doc["metadata"]["removed"]


MIXED_ALPHABET = "ab Z.,:;()«»\"'“”„\n\t 0123456789카지노사이트김정은百家乐网站カジノサイトคาสิโนออนไลน์казино онлайннhàcáiuytín😀%-"


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=MIXED_ALPHABET, max_size=120))
def test_any_text_is_handled_and_every_cut_is_logged_where_it_was(text):
    doc = clean(text)
    assert len(doc.text) <= len(text)
    for removal in doc.removals:
        if removal.position >= 0:
            assert text[removal.position : removal.position + len(removal.text)] == removal.text
    if not doc.removals:
        assert doc.text == text


def test_filter_mode_rejects_spam_documents_through_the_runner(tmp_path, read_output):
    records = [
        {"id": "page", "text": (FIXTURES / "keyword_page.txt").read_text(encoding="utf-8")},
        {"id": "article", "text": (FIXTURES / "article_injected.in.txt").read_text(encoding="utf-8")},
    ]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in records))
    out = tmp_path / "out"
    run([tmp_path / "in.jsonl"], load_config(ROOT / "configs" / "default.yaml"), out, workers=1)
    result = read_output(out)
    assert [(r["id"], r["rule"]) for r in result["rejected"]] == [("page", "spam_document")]
    assert [r["id"] for r in result["clean"]] == ["article"]
    assert "카지노사이트" not in result["clean"][0]["text"]


def test_unknown_lexicon_language_is_a_clear_error():
    with pytest.raises(ValueError, match="no lexicon for language 'xx'"):
        Spam(SpamConfig(languages=["xx"]))
    with pytest.raises(ConfigError):
        load_config(ROOT / "configs" / "default.yaml", ["spam.min_repeats=-1"])


# -- the fast pre-checks must never miss what the exact patterns find --------------------------


def test_script_table_agrees_with_the_script_class_at_every_block_edge():
    edges = [ord(c) for c in "\u0400\u052f\u0e00\u0e7f\u1100\uac00\ud7af\u3040\u30ff\u4e00\u9fff\uf900\u1ea0\u1ef9ăđơưĂĐƠƯ"]
    edges += [0x20000, 0x2FA1F, 0x2FA20, 0x1F600]
    for code in {e + delta for e in edges for delta in (-1, 0, 1)}:
        text = f"Plain English with one character: {chr(code)}."
        assert _has_script_trigger(text) == bool(_SCRIPT_TRIGGER.search(text)), hex(code)


@pytest.mark.parametrize("path", INJECTED, ids=lambda p: p.name)
def test_vietnamese_precheck_passes_every_line_the_hint_matches(path):
    stage = Spam()
    lines = path.read_text(encoding="utf-8").splitlines() + ["GAME BÀI đổi thưởng", "Soi KÈO hôm nay", "plain text"]
    matched = [line for line in lines if stage.vietnamese_hint.search(line)]
    assert matched  # the fixtures hold Vietnamese terms
    assert all(stage._may_hint_vietnamese(line) for line in matched)


# -- whole batches and the numpy letter counts -------------------------------------------------


def test_batch_cuts_injections_and_keeps_glosses_document_by_document():
    """The fast path is decided for the whole batch at once; each document still gets its own verdict."""
    texts = [
        "Kim Jong-un met Putin in Pyongyang. Visit 카지노 North Korea for the best deals.",
        "",
        "The word for casino in Korean is “카지노” and it is borrowed from English.",
        "Plain English news with no foreign script at all.",
        "Café owners in Zürich raised prices – “again”, they said.",
        "Сегодня в Москве прошёл митинг.",
    ]
    titles = [None, "Seoul news 바카라사이트 today", None, "Weather report", None, None]
    docs = [Document(str(i), t, metadata={"title": h} if h else {}) for i, (t, h) in enumerate(zip(texts, titles))]
    Spam().process(docs)
    alone = [clean(t) for t in texts]
    assert [d.text for d in docs] == [d.text for d in alone]
    assert docs[0].text == "Kim Jong-un met Putin in Pyongyang. Visit North Korea for the best deals."
    assert [(r.rule, r.text) for r in docs[0].removals] == [("lexicon", "카지노")]
    assert docs[2].text == texts[2] and not docs[2].removals  # a quoted gloss stays
    assert docs[1].metadata["title"] == "Seoul news today"
    assert [(r.rule, r.text, r.position) for r in docs[1].removals] == [("title_lexicon", "바카라사이트", -1)]
    assert docs[3].metadata["title"] == "Weather report" and not docs[3].removals
    assert docs[5].text == texts[5] and not docs[5].removals  # a Russian document is not foreign to itself


def _regex_line_counts(text: str) -> list[list[int]]:
    """The definition ``line_group_counts`` follows: letters per line and group, by ``_GROUP_COUNTS``."""
    counts = [[0] * len(COUNT_GROUPS) for _ in range(text.count("\n") + 1)]
    for m in _GROUP_COUNTS.finditer(text):
        counts[text.count("\n", 0, m.start())][COUNT_GROUPS.index(m.lastgroup)] += len(m.group()) - m.group().count(" ")
    return counts


@pytest.mark.parametrize(
    "text",
    [
        "Visit 카지노사이트 North Korea\nΑθήνα: Greek letters glue onto Latin ones in αβγabc and 2024년\n\n",
        "東京都、新型コロナ　感染者 ー々〆 ๑๒ ไทย\nкирилл ё and Ελλάδα-Greece, ʼokina",
        "",
    ],
)
def test_line_group_counts_match_the_regex_count(text):
    assert line_group_counts(code_points(text), text.count("\n") + 1).tolist() == _regex_line_counts(text)


def test_line_group_counts_by_hand():
    counts = line_group_counts(code_points("Visit 카지노 now\nαβγabc"), 2)
    by_name = [dict(zip(COUNT_GROUPS, row)) for row in counts.tolist()]
    assert by_name[0] == {"cjk": 3, "cyrillic": 0, "latin": 8, "other": 0, "thai": 0}
    assert by_name[1] == {"cjk": 0, "cyrillic": 0, "latin": 0, "other": 6, "thai": 0}  # one \p{L}+ match


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=MIXED_ALPHABET + "αβγ\u0301ʼ〇๑", max_size=80))
def test_line_group_counts_match_the_regex_count_on_generated_text(text):
    assert line_group_counts(code_points(text), text.count("\n") + 1).tolist() == _regex_line_counts(text)


def test_stretches_of_consecutive_lines():
    assert _stretches([1, 2, 5, 7, 8, 9]) == [(1, 2), (5, 5), (7, 9)]
    assert _stretches([]) == []


def test_plain_vietnamese_terms_are_looked_for_only_around_their_accented_letters():
    import random

    from pipeline.stages.spam import _PLAIN_LETTER, Spam

    stage = Spam()
    assert stage.vietnamese_hint is not None and stage.plain_terms
    texts = ["Il est allé à Paris, déjà à l'heure où la fête commençait.",
             "Tin mới: NHÀ CÁI uy tín, soi kèo miễn phí", "game bài", "xgame bàiy", "Soi Kèo",
             "kèo nhà cáİ", "nhà\ncái", "nhà  cái", "à" * 40 + " nhà cái"]
    rng = random.Random(3)
    pieces = ["game", " ", "bài", "BÀI", "nhà", "cái", "CÁI", "kèo", "soi", "à", "è", "\n", "x", "İ", "Σ", "game bài", "NHÀ cái", "soi kÈo"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 25))) for _ in range(400)]
    found = 0
    for text in texts:
        whole = any(t in text.lower() for t in stage.plain_terms)
        assert stage._triggered_by(text, _PLAIN_LETTER) == whole, text
        assert stage._hints_plain_term(text) == bool(stage.vietnamese_hint.search(text)), text
        found += whole
    assert 50 < found < len(texts) - 50


def test_only_the_plain_letters_lower_case_or_fold_to_a_plain_terms_accented_letter():
    import re

    from pipeline.arrays import every_code_point
    from pipeline.stages.spam import Spam

    stage = Spam()
    accented = {c for t in stage.plain_terms for c in t if not c.isascii()}
    everything = every_code_point()
    for letter in accented:
        lower_to_it = {x for x in map(chr, range(0x110000)) if letter in x.lower()}
        folds_to_it = {m.group() for m in re.finditer(re.escape(letter), everything, re.IGNORECASE)}
        assert lower_to_it | folds_to_it <= set(stage.plain_letters), letter
