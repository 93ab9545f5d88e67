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


def mark_end_islands(stripped: list[str], nonblank: np.ndarray, prose: np.ndarray, codes: np.ndarray,
                     spans: list[tuple[int, int]], heaviest: list[int], rule_code: int,
                     min_gap: int, max_lines: int, max_share: float) -> None:
    """``spans``: per page with an article, (first line of its heaviest prose run, last line of its
    last kept run); ``prose``: prose lines still kept. Sets ``codes`` of the island's lines."""
    seen = np.cumsum(nonblank)  # non-blank lines up to and including each line
    for (first, last), weight in zip(spans, heaviest):
        lines = first + np.flatnonzero(prose[first : last + 1])
        if len(lines) <= max_lines:
            continue
        gaps = seen[lines[1:] - 1] - seen[lines[:-1]]  # non-blank lines strictly between two prose lines
        breaks = np.flatnonzero(gaps >= min_gap)
        if not len(breaks):
            continue
        start = int(breaks[-1]) + 1  # the island: prose lines after the last break
        island = lines[start:]
        if len(island) > max_lines or start < 1:
            continue
        if sum(len(stripped[i]) for i in island.tolist()) > max_share * weight:
            continue
        before, top = int(lines[start - 1]), int(island[0])
        label = max((j for j in range(before + 1, top) if nonblank[j]), default=-1)  # the line right above
        if label < 0 or not is_title_case_label(stripped[label]):
            continue
        stop = int(island[-1]) + 1  # the card: its label and its prose
        span = codes[label:stop]
        span[(span == 0) & nonblank[label:stop]] = rule_code
