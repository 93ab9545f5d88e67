"""The article's edges judged by shape, not phrases: author cards and site blurbs that end the
article (``end_island``), quantity lines that are content (``keep_quantities``), and tail markers
inside the main prose run (``tail_inside_main``)."""

from __future__ import annotations

import pytest

from pipeline.boilerplate_edges import is_title_case_label
from test_boilerplate_zones import clean, page  # tests/ is on sys.path under pytest


@pytest.mark.parametrize("line", ["Sabine Kremer", "Dr. Thomas Schulte", "Ludwig van Beethoven", "Weitere Artikel", "Über Swantje Schemmerling"])
def test_names_and_short_capitalised_headings_are_labels(line):
    assert is_title_case_label(line)


@pytest.mark.parametrize("line", ["Sabine", "Was bleibt", "Das sagen die Leser:", "Top 10 Tipps", "The Garden Of Forking Paths Today", "Gigantyczne koszty potęgi"])
def test_sentences_lowercase_words_digits_and_long_lines_are_not(line):
    assert not is_title_case_label(line)


BIO = "Sabine Kremer ist Biologin und schreibt seit 2015 für den Naturblog über Tiere und Pflanzen in der Eifel."


def test_author_card_after_the_article_goes_with_its_name_and_only_because_of_end_island():
    doc = clean(page("de_blog_author_card"))
    rules = {r.text: r.rule for r in doc.removals}
    assert rules[BIO] == "end_island" and rules["Sabine Kremer"] == "end_island"
    assert "Meldungen nimmt der Verein über sein Telefon am Wochenende entgegen." in doc.text  # the last paragraph
    without = clean(page("de_blog_author_card"), end_island_max_lines=0)
    assert BIO in without.text and not any(r.rule == "end_island" for r in without.removals)


def test_last_section_under_a_plain_heading_or_heavier_than_a_card_stays():
    text = page("de_blog_author_card")
    under_plain_heading = text.replace("Sabine Kremer\nSabine Kremer ist", "Was jetzt zu tun ist\nSabine Kremer ist")
    assert BIO in clean(under_plain_heading).text
    long_section = " ".join([BIO] * 6)  # a real last section weighs more than a fifth of the main prose run
    assert long_section in clean(text.replace(BIO, long_section)).text


def test_ingredient_lists_are_content_not_link_blocks():
    doc = clean(page("de_recipe_quantities"))
    for line in ("3 Eier", "1 Prise Salz", "400 ml Milch", "1 TL Zimt"):
        assert line in doc.text.split("\n")
    assert "Kochschule" not in doc.text  # the menu still goes
    without = clean(page("de_recipe_quantities"), keep_quantities=False)
    assert {r.text for r in without.removals if r.rule == "link_block"} >= {"3 Eier", "1 Prise Salz", "400 ml Milch"}


def test_years_and_dates_are_not_quantities():
    menu = ["Archiv", "2006 - 2012 Küchenzeit", "Impressum", "2020-02-19 20:29 Rezepte"]
    text = page("de_recipe_quantities").replace("Kommentare (4)\nImpressum\nDatenschutz", "\n".join(menu))
    removed = {r.text for r in clean(text).removals}
    assert "2006 - 2012 Küchenzeit" in removed and "2020-02-19 20:29 Rezepte" in removed


PITCH = "The Valley Courier has covered the towns of the valley since 1921 and is owned by a foundation that keeps it independent of any party or company."


def test_site_blurb_inside_the_main_prose_run_goes_after_an_end_marker():
    doc = clean(page("en_news_inside_pitch"))
    assert PITCH not in doc.text and {r.text: r.rule for r in doc.removals}[PITCH] == "tail_zone"
    assert "buses will be diverted through Church Street." in doc.text
    assert PITCH in clean(page("en_news_inside_pitch"), tail_inside_main=False).text


@pytest.mark.parametrize("marker", ["Read more: Mill Road traders fear for their customers", "Photo: Valley Courier", "Share"])
def test_markers_that_stand_between_paragraphs_end_nothing_inside_the_main_run(marker):
    text = page("en_news_inside_pitch").replace("Newsletter\n", f"{marker}\n")
    assert PITCH in clean(text).text
