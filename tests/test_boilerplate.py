"""The boilerplate stage on small realistic pages (en, de, fr, es, pl) and its corpus statistics.

Each ``tests/fixtures/boilerplate/<page>.txt`` has a ``.json`` beside it: the title, lines of the
article that must survive verbatim, and boilerplate lines that must go (with the rule expected to
name them, where one rule clearly should).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import orjson
import pytest
import regex

from pipeline import boilerplate_rules
from pipeline.arrays import code_points
from pipeline.boilerplate_lines import _LINE_KEY_BIT, LineClassifier, LineParams, _token_lines
from pipeline.config import load_config
from pipeline.document import Document
from pipeline.runner import run
from pipeline.stages.boilerplate import Boilerplate, BoilerplateConfig, domain_of
from pipeline.stages.normalize import Normalize

FIXTURES = Path(__file__).parent / "fixtures" / "boilerplate"
PAGES = sorted(p.stem for p in FIXTURES.glob("*.txt"))
ROOT = Path(__file__).resolve().parents[1]


def clean(text: str, **options) -> Document:
    doc = Document("page", text)
    Normalize().process([doc])
    Boilerplate(BoilerplateConfig(**options)).process([doc])
    return doc


@pytest.mark.parametrize("page", PAGES)
def test_page_keeps_every_article_line_and_drops_boilerplate(page):
    expected = json.loads((FIXTURES / f"{page}.json").read_text(encoding="utf-8"))
    doc = clean((FIXTURES / f"{page}.txt").read_text(encoding="utf-8"))
    lines = set(doc.text.split("\n"))
    for line in expected["keep"]:
        assert line in lines, f"lost article line: {line[:60]}"
    rule_of = {r.text: r.rule for r in doc.removals}
    for line, rule in expected["drop"].items():
        assert line not in lines, f"kept boilerplate: {line}"
        assert line in rule_of, f"removed without an audit entry: {line}"
        if rule is not None:
            assert rule_of[line] == rule, line
    assert doc.metadata["title"] == expected["title"]


@pytest.mark.parametrize("page", PAGES)
def test_every_removed_line_is_logged_where_it_was(page):
    text = (FIXTURES / f"{page}.txt").read_text(encoding="utf-8")
    doc = Document("page", text)
    Normalize().process([doc])
    seen = doc.text
    Boilerplate().process([doc])
    assert doc.removals
    for removal in doc.removals:
        assert removal.stage == "boilerplate" and removal.rule
        # the position is where the (whole) line starts in the text the stage was given
        assert seen[removal.position : removal.position + len(removal.text)] == removal.text
        assert removal.position == 0 or seen[removal.position - 1] == "\n"
    removed = sum(len(r.text) for r in doc.removals)
    assert len(doc.text) + removed <= len(seen)
    assert doc.annotations["boilerplate"]["lines_removed"] == len(doc.removals)


def test_language_is_guessed_from_stopwords():
    langs = {page[:2]: clean((FIXTURES / f"{page}.txt").read_text(encoding="utf-8")).annotations["boilerplate"]["language"] for page in PAGES}
    assert langs == {"de": "de", "en": "en", "es": "es", "fr": "fr", "it": "it", "pl": "pl", "pt": "pt"}


def test_article_sentences_with_boilerplate_words_stay():
    text = "\n\n".join(
        [
            "Local bakery wins award",
            "The bakery sold more than 500 cookies on Saturday, and the owner says the secret is cold butter.",
            "Customers who follow us on the long walk from the station often ask where to share a table.",
            "All rights reserved is what the old sign above the door says, and nobody knows why it hangs there.",
            "Read more about the competition in the city guide, which lists every winner since 1998 by category.",
            "Share",
        ]
    )
    doc = clean(text)
    assert "Share" not in doc.text.split("\n")
    for sentence in text.split("\n\n")[1:-1]:
        assert sentence in doc.text


def test_short_pages_without_prose_lose_only_rule_lines():
    text = "Song of the Sea\nVerse one\nThe tide comes in\nThe tide goes out\nRepeat chorus\nShare\nTweet"
    doc = clean(text)
    assert doc.text.split("\n") == ["Verse one", "The tide comes in", "The tide goes out", "Repeat chorus"]
    assert {r.rule for r in doc.removals} == {"title", "share"}


def test_comments_after_the_article_are_cut_but_a_counter_above_it_is_not():
    article = "\n\n".join(f"Paragraph {i} of the story explains what the council decided and why it matters to the town." for i in range(6))
    comments = "\n\n".join(["2 Comments", "Anna", "I was at the meeting and I think the vote was the right call for us all."])
    doc = clean("Headline of the story\n\n2 Comments\n\n" + article + "\n\n" + comments)
    assert "Paragraph 5 of the story" in doc.text
    assert "I was at the meeting" not in doc.text
    assert [r.rule for r in doc.removals if r.text.startswith("I was")] == ["comments"]


def test_adding_a_language_is_a_data_change(monkeypatch):
    line = "Teilà sta storia"  # an invented language: nothing in the shipped data knows it
    assert "share" not in {r.rule for r in clean(f"Title\n{line}\n").removals}
    extra = ("xx", "line:\n  share:\n    - 'teilà sta storia'\nsection:\n  related:\n    - 'anche da leggere'\n")
    original = boilerplate_rules._data_files
    monkeypatch.setattr(boilerplate_rules, "_data_files", lambda: [*original(), extra])
    boilerplate_rules.load_rules.cache_clear()
    try:
        rules = boilerplate_rules.load_rules()
        assert "xx" in rules.languages
        result = LineClassifier(rules, LineParams()).clean(f"Title\n{line}\nAnche da leggere:\nAltro titolo\n")
        assert [(rule, text) for rule, text, _ in result.removed] == [
            ("title", "Title"),
            ("share", line),
            ("related", "Anche da leggere:"),
            ("related", "Altro titolo"),
        ]
    finally:
        boilerplate_rules.load_rules.cache_clear()


@pytest.mark.parametrize(
    "pattern, strings",
    [
        ("(?:artikel )?teilen(?:\\s*[:|])?", {"teilen", "artikel teilen", "teilen:", "teilen |", "artikel teilen:", "teilen|", "teilen :", "artikel teilen |", "artikel teilen|", "artikel teilen :"}),
        ("read (?:more|on)", {"read more", "read on"}),
        ("by\\s+\\S.{0,60}", None),
        ("\\d+ comments", None),
    ],
)
def test_finite_patterns_become_dictionary_phrases(pattern, strings):
    assert boilerplate_rules.expand(pattern) == strings


def test_contains_rule_without_a_literal_word_is_refused(monkeypatch):
    bad = ("zz", "contains:\n  cookie:\n    - '\\d+ \\w+'\n")
    original = boilerplate_rules._data_files
    monkeypatch.setattr(boilerplate_rules, "_data_files", lambda: [*original(), bad])
    boilerplate_rules.load_rules.cache_clear()
    try:
        with pytest.raises(ValueError, match="literal word"):
            boilerplate_rules.load_rules()
    finally:
        boilerplate_rules.load_rules.cache_clear()


@pytest.mark.parametrize(
    "metadata, domain",
    [
        ({"url": "https://www.Example.org/a/b?c=1"}, "example.org"),
        ({"domain": "news.example.com", "url": "https://other.org/"}, "news.example.com"),
        ({"url": "not a url"}, None),
        ({}, None),
    ],
)
def test_domain_of(metadata, domain):
    assert domain_of(metadata) == domain


# -- cross-document repetition ------------------------------------------------------------------

STORY = (
    "Story {i}: the committee met on day {i} and agreed that the harbour wall needs repair before winter storms arrive.",
    "Residents of district {i} said the noise from the works would be a small price for a safer waterfront.",
)
SYNDICATED = "The regional agency said the repair programme would be paid for from the national flood fund this year."


def _page(i: int) -> str:
    return "\n\n".join(
        [f"Harbour news {i}", "Powered by SiteBuilder Pro", "Background", STORY[0].format(i=i), SYNDICATED, STORY[1].format(i=i)]
    )


def _write(path: Path, start: int, count: int, domain: str | None = None) -> Path:
    rows = []
    for i in range(start, start + count):
        row = {"id": f"doc-{i}", "text": _page(i)}
        if domain:
            row["url"] = f"https://www.{domain}/news/{i}"
        rows.append(orjson.dumps(row).decode())
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _config(tmp_path: Path):
    """normalize + boilerplate only: the pages are near-duplicates on purpose (dedup would merge them)."""
    path = tmp_path / "pipeline.yaml"
    path.write_text("stages:\n  - normalize: {}\n  - boilerplate: {}\n", encoding="utf-8")
    return load_config(path)


def _clean_texts(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(orjson.loads, (out / "clean.jsonl").read_bytes().splitlines())}


def test_line_repeated_across_documents_is_removed_but_article_text_is_not(tmp_path):
    config = _config(tmp_path)
    inputs = _write(tmp_path / "in.jsonl", 0, 25)
    run([inputs], config, tmp_path / "out", workers=1)
    records = _clean_texts(tmp_path / "out")
    assert len(records) == 25
    for i, record in enumerate(records.values()):
        text = record["text"]
        assert "Powered by SiteBuilder Pro" not in text
        assert "Background" in text.split("\n")  # a common subheading right above prose stays
        assert SYNDICATED in text  # prose shared by every document is still article text
        rules = {r["text"]: r["rule"] for r in record["metadata"]["removed"]}
        assert rules["Powered by SiteBuilder Pro"] == "repeated"


def test_too_few_documents_for_repetition_changes_nothing(tmp_path):
    config = _config(tmp_path)
    inputs = _write(tmp_path / "in.jsonl", 0, 10)
    run([inputs], config, tmp_path / "out", workers=1)
    for record in _clean_texts(tmp_path / "out").values():
        assert "Powered by SiteBuilder Pro" in record["text"]


def _saved_counts(state: Path) -> Path:
    """The newest saved line-count file (one per run when the state keeps a manifest)."""
    files = sorted((state / "boilerplate").glob("*.npz"))
    assert files, "no saved line counts"
    return files[-1]


def test_site_template_lines_are_learned_across_runs(tmp_path):
    config = _config(tmp_path)
    state = tmp_path / "state"
    first = _write(tmp_path / "first.jsonl", 0, 12, domain="harbour.example")
    run([first], config, tmp_path / "out1", workers=1, state_dir=state)
    assert _saved_counts(state).exists()
    for record in _clean_texts(tmp_path / "out1").values():
        assert "Powered by SiteBuilder Pro" in record["text"]  # 12 documents: not enough yet

    # rerunning the same documents must not count them twice
    run([first], config, tmp_path / "out1b", workers=1, state_dir=state)
    for record in _clean_texts(tmp_path / "out1b").values():
        assert "Powered by SiteBuilder Pro" in record["text"]

    second = _write(tmp_path / "second.jsonl", 100, 10, domain="harbour.example")
    other = _write(tmp_path / "other.jsonl", 200, 3, domain="elsewhere.example")
    report = run([second, other], config, tmp_path / "out2", workers=1, state_dir=state)
    records = _clean_texts(tmp_path / "out2")
    for doc_id, record in records.items():
        if int(doc_id.split("-")[1]) < 200:  # the site now has 22 documents of history
            assert "Powered by SiteBuilder Pro" not in record["text"]
            assert SYNDICATED in record["text"]
        else:  # another site's history is its own
            assert "Powered by SiteBuilder Pro" in record["text"]
    details = next(s for s in report["stages"] if s["stage"] == "boilerplate")["details"]
    assert details["state_domains"] == 2
    with np.load(_saved_counts(state)) as saved:
        assert len(saved["doc_ids"]) == 25


def test_output_does_not_depend_on_workers(tmp_path):
    config = _config(tmp_path)
    inputs = _write(tmp_path / "in.jsonl", 0, 30, domain="harbour.example")
    run([inputs], config, tmp_path / "w1", workers=1)
    run([inputs], config, tmp_path / "w2", workers=2)
    assert (tmp_path / "w1" / "clean.jsonl").read_bytes() == (tmp_path / "w2" / "clean.jsonl").read_bytes()


def test_one_line_document_is_not_taken_for_a_title():
    doc = clean("Great game tonight")
    assert doc.text == "Great game tonight"
    assert "title" not in doc.metadata


def test_page_without_any_prose_keeps_its_lines_for_later_stages():
    page = "Casino site list\n\nslot site baccarat site\ntoto site verified\npowerball site\nbest odds today"
    doc = clean(page)
    assert doc.text.split("\n") == ["slot site baccarat site", "toto site verified", "powerball site", "best odds today"]


def test_long_first_line_in_a_script_without_spaces_is_not_a_title():
    thai = "กรุงเทพมหานครประกาศแผนพัฒนาระบบขนส่งสาธารณะฉบับใหม่เพื่อลดปัญหาการจราจรติดขัดในเขตเมืองชั้นในและเพิ่มทางเลือกการเดินทางให้ประชาชน"
    doc = clean(thai + "\n\nโครงการนี้จะเริ่มในปีหน้า")
    assert doc.text.startswith(thai)
    assert "title" not in doc.metadata


def _fixture_texts() -> list[str]:
    docs = [Document(page, (FIXTURES / f"{page}.txt").read_text(encoding="utf-8")) for page in PAGES]
    Normalize().process(docs)
    return [d.text for d in docs]


def test_a_batch_of_pages_is_judged_as_each_page_alone():
    """clean_batch classifies all lines of many pages as one set of arrays: no decision may leak
    across page boundaries (clusters, menu runs, titles, neighbours of a line)."""
    texts = _fixture_texts()
    texts += ["", "Nur eine Zeile", "\n\nSport\nPolitik\nKultur\n", texts[0].upper()]  # empty, one line, a bare menu
    classifier = LineClassifier(boilerplate_rules.load_rules(), LineParams())
    batch = classifier.clean_batch(texts)
    assert [classifier.clean(t) for t in texts] == batch
    assert [classifier.clean_batch([t, t])[1] for t in texts] == batch
    assert sum(r.lines_removed for r in batch) > 20 and all(r.title for r in batch[: len(PAGES)])


def test_line_keys_ignore_case_and_spacing_but_not_digits():
    classifier = Boilerplate()._classifier
    lines = ["Mehr zum Thema", "  mehr   ZUM\tthema ", "August 2009 (2)", "August 2019 (1)", "", "x" * 301, ("y " * 150).strip()]
    keys = classifier.line_keys("\n".join(lines), max_chars=300)
    assert keys[0] == keys[1] != 0
    assert len(set(keys[:4].tolist())) == 3
    assert keys[4] == 0 and keys[5] == 0  # blank, too long: never counted
    assert keys[6] != 0  # 299 characters once spaces are collapsed
    _, chars = classifier._line_hashes(*classifier._split("\n".join(lines))[:3], len(lines))
    assert chars.tolist() == [len(" ".join(line.split())) for line in lines]
    # a line's key is its own: the same alone as among other lines (the stage asks about cut-out lines)
    assert classifier.line_keys(lines[2], max_chars=300).tolist() == [keys[2]]
    assert classifier.line_keys("\n".join(reversed(lines)), max_chars=300).tolist() == keys[::-1].tolist()


def test_sentence_ends_are_read_off_each_line_s_last_token():
    """A line ends a sentence when its last visible character is a terminal, or a quote or bracket
    right after one (the per-line rule, read off the last token of the lower-cased text)."""
    lines = ["Die Stadt plant einen Park.", "Er sagte: «Ja.»  ", "Sport", "Wie geht es?)", "Preis: 5 € »", "", "ÇA VA ?", "終わり。", "Ende .”"]
    classifier = Boilerplate()._classifier
    tokens = classifier._split("\n".join(lines))
    last = np.searchsorted(tokens.line, np.arange(len(lines)), side="right") - 1  # each line's last token
    found = [bool(tokens.ends_sentence[last[k]]) if line.strip() else False for k, line in enumerate(lines)]
    assert found == [True, True, False, True, False, False, True, True, True]


def test_pre_pass_counts_each_line_once_per_document():
    texts = _fixture_texts()
    docs = [Document(f"d{i}", text + "\nShare\n  share  \nShare") for i, text in enumerate(texts)]
    stage = Boilerplate()
    partial = stage.collect(docs)
    per_doc = [{" ".join(line.lower().split()) for line in d.text.split("\n")} - {""} for d in docs]
    expected: dict[str, int] = {}
    for keys in per_doc:
        for key in keys:
            if len(key) <= stage.config.repeat_max_chars:
                expected[key] = expected.get(key, 0) + 1
    assert sorted(partial["run"][1].tolist()) == sorted(expected.values())
    assert expected["share"] == len(docs)


def test_blog_forms_and_teaser_links_of_any_length_go():
    paragraph = "The committee met on Tuesday and agreed that the new bridge would open in spring, after the final safety checks."
    page = "\n\n".join([
        "Bridge to open in spring",
        paragraph,
        "Read more: Looted colonial art: Germany to set up new contact office for returns",
        paragraph.replace("Tuesday", "Wednesday"),
        paragraph.replace("Tuesday", "Friday"),
        "Schreibe einen Kommentar Antworten abbrechen",
        "Diese Website verwendet Akismet, um Spam zu reduzieren. Erfahre mehr darüber, wie deine Kommentardaten verarbeitet werden.",
        "Dieser Eintrag wurde veröffentlicht in Politik und verschlagwortet mit Brücke von Anna. Permanentlink.",
    ])
    doc = clean(page)
    rules = {r.text[:20]: r.rule for r in doc.removals}
    assert rules["Read more: Looted co"] == "read_more"
    assert rules["Diese Website verwen"] == "comment_form"
    assert rules["Dieser Eintrag wurde"] == "tags"
    assert doc.text.count("The committee met on") == 3  # the article stays whole


DECISIONS = Path(__file__).parent / "fixtures" / "boilerplate_decisions.json"


def _decisions() -> dict[str, dict]:
    """What the stage makes of each fixture page: text, title, annotations, every removal."""
    out = {}
    for page in PAGES:
        doc = Document(page, (FIXTURES / f"{page}.txt").read_text(encoding="utf-8"))
        Normalize().process([doc])
        Boilerplate().process([doc])
        out[page] = {"text": doc.text, "title": doc.metadata.get("title"), "annotations": doc.annotations["boilerplate"],
                     "removed": [[r.rule, r.text, r.position] for r in doc.removals if r.stage == "boilerplate"]}
    return out


def test_decisions_on_the_fixture_pages_are_unchanged():
    """The expected file was written by the per-page classifier before the batch rewrite (commit
    f051343); speed work must not change a single decision. A deliberate rule change rewrites it:
    ``python -c "import json, tests.test_boilerplate as t; json.dump(t._decisions(), open(t.DECISIONS, 'w'),
    ensure_ascii=False, sort_keys=True, indent=1)"``."""
    expected = json.loads(DECISIONS.read_text(encoding="utf-8"))
    assert _decisions() == expected
    assert sum(len(page["removed"]) for page in expected.values()) > 20


def test_a_large_batch_is_cut_into_groups_without_changing_a_decision(monkeypatch):
    from pipeline import boilerplate_lines

    footer = "Powered by SiteBuilder Pro"

    def with_footer(text: str) -> str:  # inside the article, above a line that is not prose
        parts = text.split("\n\n")
        middle = len(parts) // 2
        return "\n\n".join([*parts[:middle], f"{footer}\nSieben Fragen an die Redaktion heute", *parts[middle:]])

    texts = [with_footer(text) for text in _fixture_texts() * 2]

    n = len(texts) // 2  # pages k and k + n are the same text; only the second copy's footer is common

    def second_copies_repeat_the_footer(docs, lines):
        return (docs >= n) & np.array([line == footer for line in lines], dtype=bool)

    classifier = LineClassifier(boilerplate_rules.load_rules(), LineParams())
    whole = classifier.clean_batch(texts, second_copies_repeat_the_footer)
    monkeypatch.setattr(boilerplate_lines, "_GROUP_CHARS", 3000)  # a page or two per group
    assert classifier.clean_batch(texts, second_copies_repeat_the_footer) == whole
    rules = [[rule for rule, text, _ in result.removed if text == footer] for result in whole]
    pairs = [(rules[k], rules[k + n]) for k in range(n)]
    assert all("repeated" not in even for even, _ in pairs)
    assert all(odd == (even or ["repeated"]) for even, odd in pairs)  # unless another rule took it first
    assert sum(odd == ["repeated"] for _, odd in pairs) >= 3


def test_pattern_cache_round_trips_and_survives_a_corrupt_file(tmp_path, monkeypatch):
    """Start-up keeps pattern expansions on disk; a cached answer is the computed one, and a damaged
    cache file is ignored (recomputed), never an error."""
    monkeypatch.setenv("WINNOW_CACHE_DIR", str(tmp_path))
    pattern = r"(?:artikel )?teilen|share (?:this|on facebook)"
    first = boilerplate_rules._DerivedCache()
    computed = first.get("expand", pattern, boilerplate_rules.expand)
    assert set(computed) == {"artikel teilen", "teilen", "share this", "share on facebook"}
    first.save()
    again = boilerplate_rules._DerivedCache()
    assert again.entries["expand"][pattern] == computed
    assert again.get("expand", pattern, lambda _: {"never called"}) == computed
    again.path.write_bytes(b"{not json")
    damaged = boilerplate_rules._DerivedCache()
    assert damaged.entries == {"expand": {}, "anchors": {}}
    assert damaged.get("anchors", r"foto: \w+", boilerplate_rules._derive_anchor_words) == ["foto"]


def test_boilerplate_paragraphs_at_the_article_edge_do_not_vouch_for_each_other():
    article = [
        "The council approved the new bridge on Tuesday after a debate that lasted well into the night.",
        "Construction starts in spring, and the city expects the first cars to cross it two years later.",
    ]
    pitch = [
        "Get our free morning briefing delivered straight to your inbox, with the stories you need to know.",
        "We use cookies to give you the best experience on our website and to show you relevant offers.",
    ]
    doc = clean("\n\n".join(["Council approves bridge", *article, "\n".join(pitch), "Contact"]))
    for line in article:
        assert line in doc.text
    assert {r.text: r.rule for r in doc.removals if r.text in pitch} == {pitch[0]: "newsletter", pitch[1]: "cookie"}


def test_a_button_with_a_counter_is_named_by_its_label():
    text = "\n\n".join([
        "Nowy most w Krakowie",
        "W czwartek rano kierowcy po raz pierwszy przejechali nowym mostem na Wiśle, który połączył dwie dzielnice.",
        "Według urzędników most ma odciążyć ruch w centrum miasta, zwłaszcza w godzinach szczytu.",
        "Udostępnij na FB (12)",
    ])
    doc = clean(text)
    assert [(r.rule, r.text) for r in doc.removals] == [("title", "Nowy most w Krakowie"), ("share", "Udostępnij na FB (12)")]
    assert doc.text.split("\n\n") == text.split("\n\n")[1:3]


@pytest.mark.parametrize(
    "heading, teaser, rule",
    [
        ("Die Redaktion empfiehlt", "Neue Radwege für die Innenstadt", "related"),
        ("Related links", "City council budget explained", "related"),
        ("Vos réactions (4)", "Un lecteur de Lyon", "comments"),
        ("Noticias relacionadas", "El alcalde presenta el presupuesto", "related"),
        ("Najnowsze wiadomości", "Nowy rozkład jazdy tramwajów", "related"),
    ],
)
def test_related_headings_in_every_language_take_their_list(heading, teaser, rule):
    article = [
        "The council approved the new bridge on Tuesday after a debate that lasted well into the night.",
        "Construction starts in spring, and the city expects the first cars to cross it two years later.",
    ]
    doc = clean("\n\n".join(["Council approves bridge", *article, f"{heading}\n{teaser}"]))
    rules = {r.text: r.rule for r in doc.removals}
    assert rules[heading] == rule and teaser in rules
    assert all(line in doc.text for line in article)


@pytest.mark.parametrize(
    "line, rule",
    [
        ("Veröffentlichung: 2. Februar 2022", "byline"),
        ("17 April 2012 • 2:54pm", "date"),
        ("asked Feb 6, 2014 at 20:37", "date"),
        ("Asked 8 years, 2 months ago", "date"),
        ("Datum der Wahl ist der 3. Mai", None),  # a heading that names a date stays
    ],
)
def test_date_and_byline_lines_between_paragraphs(line, rule):
    paragraph = "Der Stadtrat hat am Montag beschlossen, dass die neue Brücke über den Fluss im nächsten Jahr gebaut wird."
    doc = clean("\n\n".join(["Neue Brücke", paragraph, line, paragraph, paragraph]))
    assert {r.text: r.rule for r in doc.removals}.get(line) == rule
    assert doc.text.count(paragraph) == 3


def test_token_lines_count_the_newlines_before_each_token():
    text = "Teilen auf Facebook\n\n  Mehr zum Thema \nDatenschutz\n"
    codes = code_points(text)
    starts = np.array([m.start() for m in re.finditer(r"\S+", text)])
    assert _token_lines(np.flatnonzero(codes == 10), starts).tolist() == [0, 0, 0, 2, 2, 2, 3]
    assert _token_lines(np.array([0, 1]), np.zeros(0, dtype=np.int64)).tolist() == []


def test_batch_tokens_are_those_of_str_split_of_the_lower_cased_lines():
    """The numpy tokenizer (lower-cased by table, split at the whitespace str.split() knows) gives
    the tokens and lines of ``line.lower().split()``, also around İ and final Σ."""
    lines = ["Über UNS\u00a0·  Kontakt", "", "İSTANBUL HABERLERİ", "ΟΔΥΣΣΕΑΣ ΚΑΙ ΣΕΙΡΗΝΕΣ", "\u3000日本語 ニュース"]
    classifier = Boilerplate()._classifier
    hashes, token_line, lengths, _ = classifier._split("\n".join(lines))
    words = [(k, w) for k, line in enumerate(lines) for w in line.lower().split()]
    assert token_line.tolist() == [k for k, _ in words]
    assert lengths.tolist() == [len(w) for _, w in words]
    assert hashes.tolist() == classifier._tokenizer.hash_words([w for _, w in words]).tolist()


def test_sole_anchor_of_a_line_is_found_for_the_batch_and_matches_as_the_per_line_search():
    """The classifier finds, per line, its one anchor token for the whole-line patterns (or -1 for
    none or several); matching with that anchor gives the rule the per-line token search gives."""
    lines = ["Von Anna Schmidt", "Foto: dpa", "Published by John Smith", "Die Stadt plant einen neuen Park.", "By John Smith, by Jane Doe"]
    classifier = Boilerplate()._classifier
    hashes, token_line, _, _ = classifier._split("\n".join(lines))
    bits = classifier._lookup(hashes)
    sole = classifier._sole_anchors(bits, token_line, hashes, _LINE_KEY_BIT, len(lines))
    anchors = [classifier._vocab_words[k] if k >= 0 else None for k in sole.tolist()]
    assert anchors == ["von", None, None, None, None]  # "foto:" + "dpa", "published" + "by", none, "by" twice
    patterns = classifier.rules.line_patterns
    assert patterns.match(lines[0], True, anchor="von") == patterns.match(lines[0], True) == "byline"
    assert patterns.match(lines[1], True) == "credit" and patterns.match(lines[2], True) == "byline"


def test_a_rule_listed_twice_in_a_phrase_file_is_an_error_not_a_silent_loss():
    """en.yaml once had two ``comment_form`` keys under ``contains``: YAML kept the second, so the
    Disqus/Akismet lines of the first never applied."""
    text = "contains:\n  comment_form:\n    - '\\bview the discussion thread\\b'\n  comment_form:\n    - '\\brequired fields are marked\\b'\n"
    with pytest.raises(ValueError, match="comment_form"):
        boilerplate_rules.parse_data_file(text)
    assert boilerplate_rules.parse_data_file("contains:\n  comment_form:\n    - 'x'\n  cookie:\n    - 'y'\n")["contains"]["comment_form"] == ["x"]


def test_a_pattern_that_does_not_compile_stops_loading_the_rules(monkeypatch, tmp_path):
    """A bad data file fails at start-up, not halfway through a run: an anchored pattern (its
    anchor "foto") with a script name the ``regex`` module does not know."""
    monkeypatch.setenv("WINNOW_CACHE_DIR", str(tmp_path))
    bad = "line:\n  credit:\n    - 'Foto: \\p{Klingon}+'\n"
    monkeypatch.setattr(boilerplate_rules, "_data_files", lambda: [("xx", bad)])
    boilerplate_rules.load_rules.cache_clear()
    try:
        assert boilerplate_rules._anchor_words("Foto: \\p{Klingon}+") == {"foto"}
        with pytest.raises(regex.error, match="unknown property"):
            boilerplate_rules.load_rules()
    finally:
        boilerplate_rules.load_rules.cache_clear()
