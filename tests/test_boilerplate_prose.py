"""Prose lines named by how they start or end (``pipeline.boilerplate_prose``): a caption ending in its
photo credit, an author's bio, a blogger's self-introduction, a pitch to the reader, a teaser ending in its
link - whatever their length and neighbours."""

from __future__ import annotations

import pytest

from pipeline.boilerplate_prose import load_prose_rules
from test_boilerplate_zones import clean, page  # tests/ is on sys.path under pytest

CAPTION = ("Commuters wait for the early ferry at the north pier, where the board plans to add a second covered waiting "
           "area next year. Photograph: Tom Ellery/Getty Images")
BIO = "Maya Lindqvist is a senior reporter for The Harbour Gazette, covering transport, housing and the regional council."
DE_CAPTION = "Der neue Weg am Zurlaubener Ufer wird vier Meter breit"
DE_INTRO = "Hallo, ich bin Lena, Radfahrerin aus Leidenschaft"
DE_PITCH = "Wenn Ihnen dieser Artikel gefallen hat: Unterstützen Sie unabhängigen Lokaljournalismus"
DE_TEASER = "Neue Parkplätze am Hallenbad: Die Stadt lässt ab nächster Woche"


def _rule(doc, start: str) -> str | None:
    return next((r.rule for r in doc.removals if r.text.startswith(start)), None)


@pytest.mark.parametrize("name, lines", [("en_news_caption_bio", {CAPTION: "caption_credit", BIO: "author_bio"}),
                                         ("de_blog_intro", {DE_CAPTION: "caption_credit", DE_INTRO: "author_bio"}),
                                         ("de_news_pitch_teaser", {DE_PITCH: "support", DE_TEASER: "read_more"}),
                                         ("de_blog_consent_affiliate", {"Dieser Artikel enthält Affiliate-Links.": "ads",
                                                                        "Klicken Sie auf den unteren Button": "consent",
                                                                        "Mit der Nutzung dieses Formulars": "comment_form"})])
def test_captions_bios_pitches_and_teasers_inside_the_article_go_and_only_because_of_the_prose_rules(name, lines):
    doc = clean(page(name))
    for start, rule in lines.items():
        assert start not in doc.text and _rule(doc, start) == rule
    without = clean(page(name), prose_rules=False)
    for start in lines:
        assert start in without.text  # between two paragraphs: the line rules spare it


def test_source_notes_and_sentences_with_the_same_verbs_stay():
    doc = clean(page("de_blog_intro"))
    assert "den Rest tragen die Stadtwerke und der Kreis. (Quelle: SWR)" in doc.text  # a source, not a photo credit
    assert "Die Stadt ist mit dem Bau nicht allein" in doc.text  # "ist" after a capitalised pair, but no trade follows


@pytest.mark.parametrize("line, rule", [
    ("Will Knight is a senior writer for WIRED, covering artificial intelligence.", "author_bio"),
    ("Moritz Gathmann leitet das Ressort Berliner Republik bei Cicero. Er studierte Russistik.", "author_bio"),
    ("Sara Zinnecker ist Redakteurin im Team Bank & Geldanlage.", "author_bio"),
    ("I'm Amy and I'm so glad you've stopped by!", "author_bio"),
    ("Das Hermelin ist im Winter mit seinem weißen Fell gut getarnt. (mlharing / iStock.com)", "caption_credit"),
    ("Vertreter der Jugendverbände sprachen mit der Ministerin. (Bildquelle: Ring der Landjugend / dpa)", "caption_credit"),
    ("IV Pleno del Comité Central del Partido. Foto: Estudios Revolución.", "caption_credit"),
    ("The minister is a former editor of the paper and said so on Tuesday.", None),  # no name before the verb
    ("Ich bin Schweizerin und habe eine Einzelfirma in Deutschland.", None),  # "ich bin" + a noun, no name and comma
    ("The fund was managed by two advisers, according to the report. (Source: Reuters)", None),
    ("Er sagte: Wir bauen bis 2025 neue Wohnungen für Familien in der Stadt.", None),
    ("If you enjoyed this article, please consider supporting our newsroom with a donation.", "support"),
    ("Wesprzyj nas darowizną lub przekaż nam 1% podatku.", "support"),
    ("If you ask the residents, the new bridge came twenty years too late.", None),
    ("Die Stadt lässt 40 Stellplätze an der Bahnhofstraße markieren … Weiterlesen »", "read_more"),
    ("The council will read more than two hundred letters before it decides", None),
    ("Click the button below to load the content from YouTube.", "consent"),
    ("This article is for informational purposes only and does not replace a visit to your doctor.", "disclaimer"),
    ("This article looks at how the county spends its road budget.", None),
    ("Mit der Nutzung dieses Formulars erklärst du dich mit der Speicherung deiner Daten einverstanden.", "comment_form"),
    ("Mit der Nutzung der neuen Brücke sparen Pendler täglich zwanzig Minuten.", None),
    ("Liam Dillon covers housing affordability for the Los Angeles Times. He previously reported for CalMatters.",
     "author_bio"),
    ("Blue Cross covers dental visits for Medicaid patients in the county.", None),  # no news outlet after "for"
    ("Get the free Morning Headlines email for news from our reporters across the world", "support"),
    ("This material may not be published, broadcast, rewritten, or redistributed. ©2023 FOX News Network, LLC.",
     "copyright"),
    ("The material may not be published without approval from the court, the judge ruled.", None),
    ("By signing up, you acknowledge and agree to our Privacy Policy and Terms of Service.", "copyright"),
    ("By signing up for the program, farmers agree to plant cover crops for five years.", None),
])
def test_rule_of_a_line(line, rule):
    assert load_prose_rules().match(line) == rule


def test_a_caption_rule_is_tried_on_prose_lines_only():
    """caption_credit is ``prose_only``: a shorter line without a sentence end that ends in a credit stays
    (line rules take the short captions; on dev such lines were article text too), the long caption goes."""
    short = "Commuters wait for the early ferry at the north pier. Photograph: Tom Ellery/Getty Images"
    assert load_prose_rules().match(short) == "caption_credit"  # the pattern would name it ...
    doc = clean(page("en_news_caption_bio").replace(CAPTION, short))
    assert short in doc.text  # ... but it is not prose (no sentence end, 14 words)
    assert _rule(clean(page("en_news_caption_bio")), "Commuters wait") == "caption_credit"
