"""quality defaults on real text vs junk: hard-wrapped news and articles with leftover menus pass,
each kind of junk page is rejected by the rule that fits, and batching changes nothing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import regex

from pipeline.config import load_config
from pipeline.document import Document
from pipeline.quality_tokens import _NO_SPACE_SCRIPT, tokenize_batch
from pipeline.stages.quality import Quality

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
JUNK = FIXTURES / "quality"


def is_char_mode(text: str) -> bool:
    """The definition: most visible characters of the first 5,000 are in a script written without spaces."""
    sample = text[:5000]
    no_space = len(regex.findall(rf"[{_NO_SPACE_SCRIPT}]", sample))
    visible = len("".join(sample.split()))
    return bool(no_space) and no_space / visible > 0.5


def default_quality(*overrides: str) -> Quality:
    spec = load_config(ROOT / "configs" / "default.yaml", list(overrides)).stage("quality")
    assert spec is not None
    return Quality(spec.config)


def text_of(name: str) -> str:
    return (JUNK / f"{name}.txt").read_text(encoding="utf-8")


def seeds() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "seeds").glob("*.txt"))]


def test_hard_wrapped_news_passes_and_its_wraps_are_joined():
    text = text_of("news_hard_wrapped")
    flags, stats = default_quality("quality.record_stats=true").assess(text, "en")
    assert flags == []
    assert stats["wrapped_lines"] == 26 and stats["repetition_scope"] == "article"  # 28 lines, 2 paragraphs
    # read line by line, FineWeb's rule would see 28 lines of which 2 end in punctuation: 0.07 < 0.12
    raw_lines = [line for line in text.splitlines() if line.strip()]
    assert sum(line.rstrip()[-1] in ".!?'\"" for line in raw_lines) / len(raw_lines) < 0.12


def test_the_seeds_pass_also_when_hard_wrapped_like_an_odt_or_pdf_copy():
    quality = default_quality()
    for text in seeds():
        wrapped = "\n\n".join("\n".join(textwrap.wrap(p, 62)) for p in text.split("\n") if p.strip())
        assert quality.assess(text, "en")[0] == []
        assert quality.assess(wrapped, "en")[0] == []


def test_a_list_of_similar_short_lines_is_not_taken_for_wrapped_prose():
    menu = text_of("link_menu")
    flags, stats = default_quality("quality.record_stats=true").assess(menu, "en")
    assert stats["wrapped_lines"] == 0
    assert flags[0][0] == "min_line_punct_ratio"


@pytest.mark.parametrize(
    "name,rule,value",
    [
        ("seo_stuffing", "max_top_ngram_char_ratio", 0.2462),  # "cheap dentist" covers a quarter of the text
        ("link_menu", "min_line_punct_ratio", 0.0),
        ("lorem_template", "max_lorem_ipsum", 4),
        ("templated_repetition", "max_dup_ngram_char_ratio", 0.6415),  # one paragraph, five cities
        ("table_dump", "min_alpha_word_ratio", 0.0516),
        ("cookie_wall", "max_policy_word_ratio", 0.9636),
        ("word_salad", "min_stopwords", 0),
        ("very_short", "min_words", 8),
        ("article_shield", "max_dup_line_ratio", 0.9383),  # 58 words of prose do not shield 600 of spam lines
    ],
)
def test_each_kind_of_junk_is_rejected_with_its_rule_and_value(name, rule, value):
    doc = Document(name, text_of(name))
    doc.annotations["language"] = {"lang": "en", "score": 0.99}
    default_quality().process([doc])
    assert doc.flags, f"{name} passed"
    first = doc.flags[0]
    assert (first.stage, first.rule) == ("quality", rule)
    assert first.value == pytest.approx(value, abs=1e-3)
    assert str(round(value, 2))[:3] in first.reason


def test_leftover_menu_lines_do_not_reject_the_article_they_surround():
    article = text_of("news_hard_wrapped").replace("\n", " ")
    leftovers = "\n".join(["Share on Facebook", "Share on X", "Email this article", "Most read", "Sign in"] * 8)
    page = f"{leftovers}\n{article}\n{leftovers}"
    quality = default_quality("quality.record_stats=true")
    flags, stats = quality.assess(page, "en")
    assert flags == [] and stats["repetition_scope"] == "article"
    # without an article the same leftovers are junk, on the rule that fits
    assert quality.assess(leftovers, "en")[0][0][0] == "max_dup_line_ratio"


def test_an_article_that_repeats_a_third_of_itself_passes_one_said_twice_does_not():
    article = text_of("news_hard_wrapped").replace("\n", " ").split(". ")
    quality = default_quality()
    third = ". ".join(article + article[: len(article) // 3])
    assert quality.assess(third, "en")[0] == []
    twice = ". ".join(article + article)
    assert "max_dup_ngram_char_ratio" in [f[0] for f in quality.assess(twice, "en")[0]]


def test_an_article_about_cookie_law_is_not_a_consent_wall():
    article = (
        "European regulators fined the publisher 2 million euros on Monday for setting tracking cookies before readers gave consent.\n"
        "The authority said the cookie banner made it harder to reject all cookies than to accept them.\n"
        "The publisher said it would appeal the decision and that it had changed its consent form in March.\n"
        "Consumer groups welcomed the ruling, which follows a series of complaints about the way news sites ask for permission. "
        "They said readers should not have to click through several pages to say no, and that the same rules should apply to "
        "every site that sells advertising in the country, large or small.\n"
    )
    assert default_quality().assess(article, "en")[0] == []


def test_batched_assessment_equals_one_document_at_a_time():
    texts = [text_of(p.stem) for p in sorted(JUNK.glob("*.txt"))] + seeds()
    texts += [(FIXTURES / "langqual" / f"{n}.txt").read_text(encoding="utf-8") for n in ("zh_news", "ja_news", "th_news", "de_news")]
    langs = ["en"] * (len(texts) - 4) + ["zh", "ja", "th", "de"]
    quality = default_quality("quality.record_stats=true")
    assert quality.assess_batch(texts, langs) == [quality.assess(t, lang) for t, lang in zip(texts, langs)]


def test_batch_tokens_equal_the_per_text_definitions():
    names = ["zh_news", "ja_news", "th_news", "ko_news", "de_news", "hashtags", "seo_keywords"]
    texts = [(FIXTURES / "langqual" / f"{n}.txt").read_text(encoding="utf-8") for n in names] + ["", " \n ", "a\x1cb c\u00a0d"]
    batch = tokenize_batch(texts)
    for d, text in enumerate(texts):
        tokens = text.split()
        keys = batch.keys[batch.offsets[d] : batch.offsets[d + 1]]
        assert len(keys) == len(tokens)
        assert batch.lengths[batch.offsets[d] : batch.offsets[d + 1]].tolist() == [len(t) for t in tokens]
        # equal tokens <-> equal keys
        assert len(set(zip(tokens, keys.tolist()))) == len(set(tokens)) == len(set(keys.tolist()))
        words = regex.sub(r"[\p{P}\p{S}]+", "", text).split()
        without_letter = len(regex.findall(r"(?<!\S)[^\s\p{L}]+(?!\S)", text))
        assert (batch.words[d], batch.word_chars[d], batch.without_letter[d]) == (len(words), sum(map(len, words)), without_letter)
        assert bool(batch.char_mode[d]) == is_char_mode(text)
        assert batch.line_words(d).tolist() == [len(line.split()) for line in text.split("\n")]


def test_stopwords_far_into_the_text_still_count():
    # the rule probes the first characters first; stopwords only after them must still be found
    head = " ".join(f"Item{i} SKU-{i:05d} Widget" for i in range(120))  # ~2,500 characters without one
    text = head + " The parts ship with the manual and a spare set of screws."
    quality = default_quality()
    assert "min_stopwords" not in [f[0] for f in quality.assess(text, "en")[0]]
    assert [f[2] for f in quality.assess(head, "en")[0] if f[0] == "min_stopwords"] == [0]


def test_consent_wall_verdict_does_not_depend_on_which_line_is_longest():
    """The policy rule stops once article_min_words words lie outside policy lines; a long banner line
    first (the check looks at the longest line alone) must not change what the other lines decide."""
    banner = ("We and our partners store and access information on your device, such as cookies, and process personal data "
              "for personalised advertising, content measurement and audience research; you may click to consent or manage "
              "your preferences at any time. Some partners process data on the basis of legitimate interest, which you can "
              "object to in the settings.")
    note = "Read the full story about the new library opening on the high street next week."
    quality = default_quality("quality.record_stats=true")
    short_rest = "\n".join([banner, note, "Accept all", "Reject all"])
    flags, stats = quality.assess(short_rest, "en")
    policy_words = len(banner.split()) + 4
    assert policy_words - 4 >= 50  # the longest line alone reaches article_min_words
    assert stats["policy_word_ratio"] == round(policy_words / (policy_words + len(note.split())), 4)
    assert [f[0] for f in flags][:1] == ["max_policy_word_ratio"]
    # enough other text (here split over many short lines, none as long as the banner): no verdict
    long_rest = "\n".join([banner] + [note] * 5 + ["Accept all"])
    flags, stats = quality.assess(long_rest, "en")
    assert "policy_word_ratio" not in stats and "max_policy_word_ratio" not in [f[0] for f in flags]


def test_batch_tokens_know_their_document_and_line():
    texts = ["One two\n\nthree  four five\n", "", "  \u00a0\nsix\tseven\neight", (FIXTURES / "langqual" / "th_news.txt").read_text(encoding="utf-8")]
    batch = tokenize_batch(texts)
    for d, text in enumerate(texts):
        span = slice(batch.offsets[d], batch.offsets[d + 1])
        assert batch.doc[span].tolist() == [d] * len(text.split())
        lines = [batch.line_base[d] + i for i, line in enumerate(text.split("\n")) for _ in line.split()]
        assert batch.line[span].tolist() == lines
