"""Buttons that stand anywhere on a page - a product box's "Add to cart", a teaser's "Learn more", a
consent banner's "Alle akzeptieren" - go as ``button``, a rule that is no tail marker: a product box in
the middle of a review does not end the review."""

from __future__ import annotations

import pytest

from pipeline.boilerplate_rules import line_key, load_rules
from pipeline.stages.boilerplate import BoilerplateConfig
from test_boilerplate_zones import clean, page  # tests/ is on sys.path under pytest


def test_product_box_buttons_go_and_the_review_goes_on_after_them():
    doc = clean(page("en_blog_product_box"))
    rule_of = {r.text: r.rule for r in doc.removals}
    assert rule_of["Add to cart"] == "button" and rule_of["Learn more"] == "button"
    assert "If you only hike on marked trails" in doc.text  # the review's last paragraph, after the box
    assert "button" not in BoilerplateConfig().tail_markers  # a button ends nothing


@pytest.mark.parametrize("line", ["In den Warenkorb", "Jetzt kaufen", "inkl. MwSt., zzgl. Versandkosten", "Hier klicken",
                                  "Alle akzeptieren", "Add to cart", "Click here", "Link copied"])
def test_button_labels_are_named(line):
    assert _whole_line_rule(line) == "button"


@pytest.mark.parametrize("line", ["Symbolbild", "Mit Material von dpa", "Mit Material der dpa, AFP"])
def test_stock_picture_labels_and_agency_notes_are_credits(line):
    assert _whole_line_rule(line) == "credit"


def _whole_line_rule(line: str) -> str | None:
    rules = load_rules(None)
    return rules.line_phrases.get(line_key(line)) or rules.line_patterns.match(line, True)
