"""The tail pass of the boilerplate stage (``pipeline.boilerplate_zones``): after the article's main
prose run, the first marker line ends the article unless the prose evidently resumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import boilerplate_rules
from pipeline.document import Document
from pipeline.stages.boilerplate import Boilerplate, BoilerplateConfig
from pipeline.stages.normalize import Normalize

FIXTURES = Path(__file__).parent / "fixtures" / "boilerplate"


def clean(text: str, **options) -> Document:
    doc = Document("page", text)
    Normalize().process([doc])
    Boilerplate(BoilerplateConfig(**options)).process([doc])
    return doc


def page(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text(encoding="utf-8")


TEASERS = [
    "The county fair returns with a rodeo and a record number of entries after two quiet years.",
    "Local bakery celebrates fifty years with free cake for everyone who stops by on Saturday.",
]


def test_teaser_prose_after_the_article_goes_as_tail_zone_and_only_because_of_it():
    doc = clean(page("en_news_tail"))
    rule_of = {r.text: r.rule for r in doc.removals}
    for teaser in TEASERS:
        assert teaser not in doc.text
        assert rule_of[teaser] == "tail_zone"
    assert "The board will review the order every two weeks" in doc.text  # the article's last line
    without = clean(page("en_news_tail"), tail_zone=False)
    assert all(teaser in without.text for teaser in TEASERS)
    assert not any(r.rule == "tail_zone" for r in without.removals)


def test_author_bio_after_the_article_is_named():
    doc = clean(page("en_news_tail"))
    bio = next(r for r in doc.removals if r.text.startswith("Daniel Ortiz is a staff reporter"))
    assert bio.rule == "author_bio"


ARTICLE = [
    "The museum reopened its east wing on Friday after a renovation that took nearly three years and cost the city about twelve million euros.",
    "Visitors can now see the medieval collection in rooms with new lighting, and for the first time the textiles are shown behind glass that filters daylight.",
    "The director said the museum had counted more than four thousand visitors on the first weekend alone, twice as many as it had expected.",
    "School classes will be admitted free of charge on weekday mornings, and guided tours in English start next month for visitors from abroad.",
]
INLINE = ["Read more: City budget leaves little room for culture", "Museum night draws record crowds", "Share"]
SECOND_HALF = [
    "The renovation also added a lift, so that every room of the building can now be reached without stairs for the first time since it opened.",
    "Critics had long complained that the old wing was dark and cramped, and that the most valuable pieces were stored in the basement for decades.",
    "The city council has promised to keep the entrance fee unchanged until the end of next year, whatever the final cost of the work turns out to be.",
]


def test_article_that_resumes_after_an_inline_read_more_is_kept_whole():
    text = "\n".join(["Museum reopens east wing", "", *ARTICLE, "", *INLINE[:2], "", *SECOND_HALF, "", "Share", "Facebook"])
    doc = clean(text, max_gap_lines=1)  # the two halves are separate prose clusters
    for line in ARTICLE + SECOND_HALF:
        assert line in doc.text
    assert not any(r.rule == "tail_zone" for r in doc.removals)


def test_short_last_paragraph_after_a_photo_credit_is_kept():
    last = "Guided tours in English start next month, and the museum hopes that many visitors from abroad will come back."
    text = "\n".join(["Museum reopens east wing", "", *ARTICLE, "Photo: City of Riverside", "", "What comes next", last, "", "Share this article", "Museum night draws record crowds"])
    doc = clean(text, max_gap_lines=1)
    assert "What comes next" in doc.text and last in doc.text
    assert "Museum night draws record crowds" not in doc.text


def test_a_teaser_after_the_same_photo_credit_is_cut_when_the_credit_is_no_weak_marker():
    last = "Guided tours in English start next month, and the museum hopes that many visitors from abroad will come back."
    text = "\n".join(["Museum reopens east wing", "", *ARTICLE, "Photo: City of Riverside", "", last])
    kept = clean(text, max_gap_lines=0)
    cut = clean(text, max_gap_lines=0, tail_weak_markers=[])
    assert last in kept.text
    assert last not in cut.text and any(r.rule == "tail_zone" for r in cut.removals)


def test_a_list_of_teasers_with_headlines_and_dates_does_not_resume_the_article():
    teasers = []
    for headline, date, teaser in [
        ("Library extends opening hours", "May 2, 2023", "The city library will stay open until nine in the evening on weekdays from next month on."),
        ("New playground opens in the park", "May 1, 2023", "Children can now use climbing frames and a water play area that were paid for by local donors."),
        ("Bridge repairs to start in June", "April 28, 2023", "Drivers should expect delays on the river bridge for about six weeks while the road surface is renewed."),
    ]:
        teasers += [headline, date, teaser, ""]
    text = "\n".join(["Museum reopens east wing", "", *ARTICLE, "", "Share", "Facebook", "X", "", "Latest news", "", *teasers])
    doc = clean(text)
    for line in ARTICLE:
        assert line in doc.text
    rule_of = {r.text: r.rule for r in doc.removals}
    assert rule_of["Children can now use climbing frames and a water play area that were paid for by local donors."] == "tail_zone"
    assert "Library extends opening hours" not in doc.text
    kept = clean(text, tail_resume_density=0.0)  # without the density test, three prose lines resume it
    assert "Children can now use climbing frames and a water play area that were paid for by local donors." in kept.text


SITE_FURNITURE = [  # (line, rule): one page-tail category per line, in several shipped languages
    ("Perry Bacon Jr. is a senior writer for FiveThirtyEight.", "author_bio"),
    ("Anna Berger ist freie Redakteurin im Ressort Wirtschaft.", "author_bio"),
    ("Marie Dupont est journaliste au service politique.", "author_bio"),
    ("About the author", "author_bio"),
    ("O autorze", "author_bio"),
    ("Das könnte dich auch interessieren …", "related"),
    ("Mehr Kolumnen auf MeinMMO:", "related"),
    ("Notas relacionadas", "related"),
    ("Dans la même rubrique", "related"),
    ("Czytaj także", "related"),
    ("Tagged:", "tags"),
    ("Veröffentlicht in: Originalbeitrag", "tags"),
    ("Den SPIEGEL lesen oder verschenken und Vorteile sichern!", "support"),
    ("Subscribe now to our eNATION edition for the full story.", "support"),
    ("Abbildung 4: Entwicklung der Strompreise seit 2010", "caption"),
    ("Quelle: Statistisches Bundesamt", "credit"),
    ("Asked 8 years ago", "date"),
    ("3:59 PM", "date"),
    ("Schreibe einen Kommentar", "comment_form"),
    ("Aucun commentaire pour le moment", "comment_form"),
    ("Los comentarios no reflejan necesariamente la opinión del medio.", "disclaimer"),
    ("El informe no refleja la opinión de los sindicatos.", None),  # article sentences: no rule
    ("The report does not reflect the views of the unions.", None),
    ("The author says the board is not responsible for the delay.", None),
]


@pytest.mark.parametrize("line,rule", SITE_FURNITURE)
def test_site_furniture_phrases_are_named(line, rule):
    rules = boilerplate_rules.load_rules()
    found = (
        rules.line_phrases.get(boilerplate_rules.line_key(line))
        or rules.line_patterns.match(line, True)
        or rules.contains.match(line, False)
    )
    assert found == rule
