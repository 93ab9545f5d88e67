"""The runner's shortcuts give the same bytes as the plain way (issue #5: runner overhead)."""

from __future__ import annotations

import pytest

from pipeline.document import Document, Duplicate
from pipeline.writers import clean_record, dumps_line, duplicate_line, duplicate_record


@pytest.mark.parametrize(
    "doc_id",
    ['news-17', 'quote ,"text": in an id', 'back\\slash "quoted"', "Grüße, ünïcödé", "line\u2028sep", ""],
)
def test_duplicate_line_spliced_from_clean_line_equals_encoding_the_record(doc_id: str) -> None:
    doc = Document(
        id=doc_id,
        text='He said ,"text": twice.\nSecond paragraph of the article.',
        metadata={"url": "https://example.org/a?b=1", "text": "an input field named text"},
    )
    doc.remove("boilerplate", "share_buttons", "Share on Facebook", 40)
    doc.annotations["language"] = {"lang": "en", "confidence": 0.98}
    doc.duplicate = Duplicate(duplicate_of='news-3 ,"text":', cluster='c"7', similarity=0.912345678, rule="near")
    assert duplicate_line(dumps_line(clean_record(doc)), doc.duplicate) == dumps_line(duplicate_record(doc))
