"""The article's last paragraph when it is not the article's: an author card or a site blurb.

Pages end their article with prose that the classifier keeps, because it is prose and sits within a
few lines of the story: an author card ("Markus Reuter" / "Markus Reuter beschäftigt sich mit ..."),
a site's self-description under its name ("Presse Augsburg" / "Nachrichten für Augsburg und ..."),
one teaser under "Weitere Artikel". They share a shape that needs no phrase list: after the
article's prose comes a break of two or more non-prose lines ending in a title-case label (a name,
a heading of 2-4 capitalised words, no digit, no sentence end), then one to three prose lines that
end the article and weigh little next to its heaviest prose run. The label and those lines go (rule
``end_island``); a last section of the article itself ("Fazit" / two paragraphs) is heavier, or its
heading is not title case (on dev, a label anywhere in the break instead of right above the island
took 7 more drop snippets for 3 keep snippets: list items under their heading). Used by
``pipeline.boilerplate_lines`` on pages that have an article; options in ``LineParams``
(``end_island_*``).
"""

from __future__ import annotations

import numpy as np

END_ISLAND_RULE = "end_island"
_TERMINAL = frozenset(".!?…;:")
_LOWER_JOINERS = frozenset({"von", "van", "de", "der", "da", "di", "del", "du", "la", "le", "&", "und", "and", "y", "e"})


def is_title_case_label(line: str, max_words: int = 4) -> bool:
    """A name or a short heading: 2 to ``max_words`` words, each capitalised (particles such as
    "von", "de" aside), no digit, no sentence end ("Markus Reuter", "Über uns" is not: "uns")."""
    words = line.split()
    if not 2 <= len(words) <= max_words or line[-1] in _TERMINAL:
        return False
    capitalised = 0
    for word in words:
        if word in _LOWER_JOINERS:
            continue
        if not word[0].isupper() or any(c.isdigit() for c in word):
            return False
        capitalised += 1
    return capitalised >= 2


def mark_end_islands(stripped: list[str], lengths: np.ndarray, prose: np.ndarray, codes: np.ndarray, line_doc: np.ndarray,
                     spans: tuple[np.ndarray, np.ndarray, np.ndarray], rule_code: int,
                     min_gap: int, max_lines: int, max_share: float) -> None:
    """``spans``: per page with an article, (first line of its heaviest prose run, last line of its
    last kept run, the heaviest run's prose chars); ``prose``: prose lines still kept; ``line_doc``:
    each line's page; ``lengths``: of the stripped lines (0: blank). Sets ``codes`` of the islands'
    lines. The islands of all pages are found with array operations over the batch; only the few
    candidates' labels are read as strings (a Python loop per page cost ~4% of the stage)."""
    first, last, heaviest = spans
    n_docs = len(line_doc) and int(line_doc[-1]) + 1
    lo = np.full(n_docs, len(line_doc), dtype=np.int64)
    hi = np.full(n_docs, -1, dtype=np.int64)
    weight = np.zeros(n_docs, dtype=np.float64)
    docs = line_doc[first]
    lo[docs], hi[docs], weight[docs] = first, last, heaviest
    index = np.arange(len(line_doc))
    lines = np.flatnonzero(prose & (index >= lo[line_doc]) & (index <= hi[line_doc]))
    if len(lines) < 2:
        return
    nonblank = lengths > 0
    seen = np.cumsum(nonblank)  # non-blank lines up to and including each line
    page = line_doc[lines]
    same = page[1:] == page[:-1]
    breaks = np.flatnonzero(same & (seen[lines[1:] - 1] - seen[lines[:-1]] >= min_gap)) + 1  # island starts
    if not len(breaks):
        return
    page_end = np.searchsorted(page, page[breaks], side="right")  # one past each page's last prose line
    last_break = np.r_[page[breaks][1:] != page[breaks][:-1], True]  # the last break of its page
    start, stop = breaks[last_break], page_end[last_break]
    page_start = np.searchsorted(page, page[start])
    cum = np.r_[0, np.cumsum(lengths[lines])]
    ok = (stop - start <= max_lines) & (stop - page_start > max_lines) & (cum[stop] - cum[start] <= max_share * weight[page[start]])
    nb = np.flatnonzero(nonblank)
    for k in np.flatnonzero(ok).tolist():
        top, end = int(lines[start[k]]), int(lines[stop[k] - 1]) + 1
        label = int(nb[np.searchsorted(nb, top) - 1])  # the line right above the island (a break lies between)
        if not is_title_case_label(stripped[label]):
            continue
        span = codes[label:end]  # the card: its label and its prose
        span[(span == 0) & nonblank[label:end]] = rule_code
