"""quality stage: real news passes (also in Chinese/Japanese), junk pages fail the rule that fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.document import Document
from pipeline.runner import run
from pipeline.quality_ngrams import ngram_ratios
from pipeline.quality_tokens import _CHAR_UNIT, tokenize_batch
from pipeline.stages.quality import Quality, QualityConfig

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "langqual"
DEFAULT = ROOT / "configs" / "default.yaml"


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text(encoding="utf-8")


def default_quality() -> Quality:
    spec = load_config(DEFAULT).stage("quality")
    assert spec is not None
    return Quality(spec.config)


def flags_of(text: str, lang: str | None = None, stage: Quality | None = None) -> list[dict]:
    doc = Document("x", text)
    if lang:
        doc.annotations["language"] = {"lang": lang, "score": 0.99}
    (stage or default_quality()).process([doc])
    return [f.to_dict() for f in doc.flags]


@pytest.mark.parametrize(
    "name,lang", [("de_news", "de"), ("zh_news", "zh"), ("ja_news", "ja"), ("ko_news", "ko"), ("th_news", "th")]
)
def test_news_articles_pass_the_defaults(name, lang):
    assert flags_of(fixture(name), lang) == []
    assert flags_of(fixture(name)) == []  # without a language annotation too


def test_seed_articles_pass_even_before_boilerplate_removal(seeds_dir):
    for path in seeds_dir.glob("*.txt"):
        assert flags_of(path.read_text(encoding="utf-8"), "en") == [], path.name


@pytest.mark.parametrize(
    "name,rule,value",
    [
        ("seo_keywords", "max_top_ngram_char_ratio", 0.474),  # "cheap flights" covers ~47% of the text
        ("bullets", "max_bullet_line_ratio", 1.0),
        ("repeated_lines", "max_dup_line_ratio", 0.6667),  # 8 of 12 lines repeat an earlier one
        ("lorem", "max_lorem_ipsum", 2),
        ("hashtags", "max_symbol_word_ratio", 0.7966),  # 47 '#' + 3 ellipses over 59 words
    ],
)
def test_junk_pages_are_flagged_first_by_the_rule_that_fits(name, rule, value):
    flags = flags_of(fixture(name), "en")
    assert flags, f"{name} passed"
    first = flags[0]
    assert (first["stage"], first["rule"]) == ("quality", rule)
    assert first["value"] == pytest.approx(value, abs=1e-3)
    assert str(value)[:4] in first["reason"]  # the reason shows the measured value ...
    threshold = getattr(default_quality().config, rule)
    if not isinstance(threshold, dict):
        assert str(threshold) in first["reason"]  # ... and the threshold


def test_cjk_is_measured_in_characters_not_whitespace_words():
    zh, th, de = fixture("zh_news"), fixture("th_news"), fixture("de_news")
    assert tokenize_batch([zh, th, de]).char_mode.tolist() == [True, True, False]
    units = _CHAR_UNIT.findall(zh)
    assert "普" in units and "24" in units and "，" not in units
    stats = default_quality().assess(zh, "zh")[1]
    assert stats["unit"] == "char" and stats["words"] == pytest.approx(len(units) / 2)
    assert "ปู" in _CHAR_UNIT.findall(th)  # vowel marks stay with their consonant
    # read as whitespace words, the same paragraph would be a handful of 100-character "words"
    assert default_quality().assess(de, "de")[1]["unit"] == "word"


def test_keyword_stuffing_in_chinese_is_still_caught():
    stuffed = "，".join(["北京便宜机票", "上海便宜机票", "便宜机票预订", "特价便宜机票", "便宜机票查询"] * 6)
    rules = [f["rule"] for f in flags_of(stuffed, "zh")]
    assert "max_top_ngram_char_ratio" in rules


def test_stopword_rule_uses_the_documents_language():
    german = fixture("de_news")
    assert flags_of(german, "de") == []
    flags = flags_of(german, "en")  # the English list finds no German function words
    assert [f["rule"] for f in flags] == ["min_stopwords"]
    assert flags[0]["value"] == 0 and "en stopwords" in flags[0]["reason"]


def test_per_language_override_and_null_disables_a_rule():
    compounds = (
        "Bundesverfassungsgericht Verwaltungsgerichtsverfahren Donaudampfschifffahrtsgesellschaft "
        "Rechtsschutzversicherungsgesellschaften Arbeitsunfähigkeitsbescheinigung und die Grundstücksverkehrsgenehmigung "
        "Kraftfahrzeughaftpflichtversicherung der Straßenverkehrszulassungsordnung"
    )
    assert [f["rule"] for f in flags_of(compounds, "de")] == ["max_mean_word_length"]
    relaxed = Quality(QualityConfig(by_language={"de": {"max_mean_word_length": 30}}))
    assert flags_of(compounds, "de", relaxed) == []
    assert "max_mean_word_length" in [f["rule"] for f in flags_of(compounds, "nl", relaxed)]
    off = Quality(QualityConfig(max_mean_word_length=None))
    assert flags_of(compounds, "de", off) == []


def test_too_short_and_empty():
    (flag,) = flags_of("Click here.", "en")[:1]
    assert (flag["rule"], flag["value"]) == ("min_words", 2)
    assert [f["rule"] for f in flags_of("", "en")] == ["min_words"]


def test_ngram_ratios_match_a_hand_count():
    tokens = "a b a b a b c".split()
    top, dup = ngram_ratios(tokens, [2], [3])
    assert top[2] == pytest.approx(6 / 7)  # "a b" three times: 6 of 7 characters
    assert dup[3] == pytest.approx(4 / 7)  # "a b a" again at 2, "b a b" again at 3: tokens 2-5
    assert ngram_ratios(["x"], [2], [5]) == ({2: 0.0}, {5: 0.0})


def test_bad_override_is_refused_with_the_key_named():
    with pytest.raises(ConfigError, match="quality.by_language: .*de: unknown threshold 'min_wrods'"):
        load_config(DEFAULT, ["quality.by_language={de: {min_wrods: 5}}"])
    with pytest.raises(ConfigError, match="quality.by_language: .*ja: min_words: Input should be a valid integer"):
        load_config(DEFAULT, ["quality.by_language={ja: {min_words: many}}"])
    with pytest.raises(ConfigError, match="quality.max_top_ngram_char_ratio"):
        load_config(DEFAULT, ["quality.max_top_ngram_char_ratio={0: 0.2}"])


def test_pipeline_writes_rule_and_value_to_rejected(tmp_path, read_output, seeds_dir):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("seo_keywords", "bullets", "zh_news", "ja_news"):
        (src / f"{name}.txt").write_text(fixture(name), encoding="utf-8")
    for path in seeds_dir.glob("*.txt"):
        (src / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    report = run([src], load_config(DEFAULT, ["quality.record_stats=true"]), out, workers=1)
    records = read_output(out)
    assert sorted(r["id"] for r in records["clean"]) == sorted(["ja_news", "zh_news"] + [p.stem for p in seeds_dir.glob("*.txt")])
    rejected = {r["id"]: (r["stage"], r["rule"]) for r in records["rejected"]}
    assert rejected == {"seo_keywords": ("quality", "max_top_ngram_char_ratio"), "bullets": ("quality", "max_bullet_line_ratio")}
    zh = next(r for r in records["clean"] if r["id"] == "zh_news")
    assert zh["metadata"]["quality"]["unit"] == "char" and zh["metadata"]["language"]["lang"] == "zh"
    assert report["accounted"]
