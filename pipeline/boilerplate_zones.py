"""The article's edges: where the main prose run ends, the page's tail begins.

The line classifier (``pipeline.boilerplate_lines``) judges lines by their own features and by the
prose clusters around them, and keeps, on purpose, any prose it is unsure of. On news pages that
keeps the tail: teaser paragraphs of related articles, author bios, subscription pitches, which
look like prose. But a page's tail is announced: after the article's last paragraph comes a marker
line that the phrase rules already name ("Share", "Related articles", "Tags:", "Mehr zum Thema")
and from there on the page is site furniture. This pass cuts at the first such marker after the
heaviest prose cluster, unless the article evidently resumes after it (a later cluster as heavy as
``tail_resume_ratio`` of the heaviest, or with ``tail_resume_lines`` prose lines): then the marker
was an inline "Read also: ..." and the search goes on after that cluster. Markers that also stand
inside articles (photo credits, bylines, ad slots: ``tail_weak_markers``) give way to any prose
after them, so a short last paragraph under a picture stays. It works on the
classifier's decisions (``LineView``), touches only lines still kept, and names every cut
``tail_zone`` so that ``winnow explain`` shows why.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .boilerplate_lines import KEEP, Clusters, LineView

TAIL_RULE = "tail_zone"


class ZoneParams(BaseModel):
    """Options of the zone pass; the boilerplate stage's config extends this (documented in
    ``configs/default.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tail_zone: bool = True
    tail_markers: list[str] = Field(
        default_factory=lambda: [
            "share", "related", "read_more", "tags", "follow", "newsletter", "comments", "comment_form", "support",
            "navigation", "byline", "credit", "copyright", "cookie", "ads", "meta", "author_bio", "disclaimer",
        ]
    )
    """Phrase rules whose lines announce the page's tail when they follow the article."""
    tail_resume_ratio: float = Field(0.5, ge=0.0, le=1.0)
    tail_resume_lines: int = Field(3, ge=1)
    tail_resume_chars: int = Field(10**9, ge=1)
    tail_resume_words: int = Field(120, ge=1)
    tail_resume_density: float = Field(0.7, ge=0.0, le=1.0)
    """...and only where prose is at least this share of the lines (a list of teasers, each under
    its headline and date, is not the article resuming)."""
    tail_inside_main: bool = True
    """Also take ``tail_inside_markers`` inside the heaviest cluster (the rest of it must then resume
    the article): a site pitch, an "About us" blurb or teasers that the prose clusters had joined to
    the article go too."""
    tail_weak_markers: list[str] = Field(default_factory=lambda: ["byline", "credit", "meta", "ads"])
    """Markers that also stand inside articles (a photo credit, an ad slot): after them, any prose of
    ``tail_weak_resume_chars`` (default 100: a sentence, not a caption fragment) resumes the article (a short last paragraph under a picture)."""
    tail_weak_resume_chars: int = Field(100, ge=1)
    tail_inside_markers: list[str] = Field(
        default_factory=lambda: ["tags", "follow", "newsletter", "comments", "comment_form", "support", "navigation", "copyright", "author_bio", "disclaimer"]
    )
    """With ``tail_inside_main``: the markers that end the article inside its main run too. The others
    stand between an article's paragraphs: a "Related" box, "Lesen Sie auch: ...", share buttons, a
    photo credit, a byline, an ad slot, a consent placeholder for an embedded post."""


class ZoneMarker:
    """Called once per page with the classifier's ``LineView``; sets ``codes`` of tail lines."""

    def __init__(self, params: ZoneParams):
        self.params = params
        self._marker_codes: np.ndarray | None = None  # rule code -> is a marker
        self._weak_codes: frozenset[int] = frozenset()
        self._inside_codes: frozenset[int] = frozenset()

    def __call__(self, view: LineView) -> None:
        if self.params.tail_zone and view.clusters:
            self._mark_tail(view)

    def pages(self, codes: np.ndarray, line_doc: np.ndarray, n_docs: int, clusters: Clusters, code: Callable[[str], int]) -> np.ndarray:
        """The pages of a batch this pass may change, found with array operations over all its
        lines (``line_doc``: each line's page; ``clusters`` in line order): those with a marker
        line after their heaviest cluster (after its first line with ``tail_inside_main``). Most
        pages have none, and need no per-page call."""
        if not self.params.tail_zone or not len(clusters.doc):
            return np.zeros(0, dtype=np.int64)
        heaviest = np.zeros(n_docs, dtype=clusters.weight.dtype)
        np.maximum.at(heaviest, clusters.doc, clusters.weight)
        tops = np.flatnonzero(clusters.weight == heaviest[clusters.doc])
        first_top = np.ones(len(tops), dtype=bool)  # the first heaviest cluster of a page, as max() picks
        first_top[1:] = clusters.doc[tops[1:]] != clusters.doc[tops[:-1]]
        main = tops[first_top]
        after = np.full(n_docs, len(codes), dtype=np.int64)  # pages without clusters: nothing after
        after[clusters.doc[main]] = (clusters.first if self.params.tail_inside_main else clusters.last)[main]
        markers = np.flatnonzero(self._markers(code)[codes])
        return np.unique(line_doc[markers[markers > after[line_doc[markers]]]])

    def _markers(self, code: Callable[[str], int]) -> np.ndarray:
        """A table: rule code -> is a tail marker (codes are stable for a classifier: built once)."""
        if self._marker_codes is None:
            self._marker_codes = np.zeros(256, dtype=bool)  # rule codes index 256-entry tables
            self._marker_codes[[code(name) for name in self.params.tail_markers]] = True
            self._weak_codes = frozenset(code(name) for name in self.params.tail_weak_markers)
            self._inside_codes = frozenset(code(name) for name in self.params.tail_inside_markers)
        return self._marker_codes

    def _mark_tail(self, view: LineView) -> None:
        p = self.params
        codes, clusters = view.codes, view.clusters
        weights = [w for _, _, w in clusters]
        main = max(range(len(clusters)), key=weights.__getitem__)
        main_end = clusters[main][1]
        after = clusters[main][0] if self.params.tail_inside_main else main_end
        markers = self._markers(view.code)[codes[after + 1 :]].nonzero()[0] + (after + 1)
        if not len(markers):  # most pages: no marker after the article, nothing to compute
            return
        prose = view.good & (codes == KEEP)
        prose_chars = np.cumsum(np.where(prose, view.lengths, 0))
        prose_lines = np.cumsum(prose)
        all_lines = np.cumsum(view.nonblank)
        long_prose = prose & (view.n_words >= p.tail_resume_words)
        starts = np.array([a for a, _, _ in clusters])
        ends = np.array([b for _, b, _ in clusters])
        strong_chars = min(p.tail_resume_ratio * weights[main], p.tail_resume_chars)
        inside = self._inside_codes
        for m in markers.tolist():
            if m <= after:
                continue  # inside the prose the article resumed with
            if m < main_end and int(codes[m]) not in inside:
                continue  # e.g. a "Related" box inside the article's main run: the article goes on after it
            # the prose after the marker, cluster by cluster (a cluster may straddle the marker)
            later = ends > m
            last = ends[later]
            first = np.maximum(starts[later], m + 1) - 1  # the line before each piece
            chars = prose_chars[last] - prose_chars[first]
            lines = prose_lines[last] - prose_lines[first]
            dense = lines >= p.tail_resume_density * (all_lines[last] - all_lines[first])
            dense |= last == main_end  # the rest of the main cluster: no density test
            longest = np.maximum.reduceat(long_prose, first + 1) if len(first) else lines > 0
            if int(codes[m]) in self._weak_codes:  # a credit or byline inside the article: any prose resumes it
                resumed = np.flatnonzero(chars >= min(strong_chars, p.tail_weak_resume_chars))
            else:
                resumed = np.flatnonzero(((chars >= strong_chars) | (lines >= p.tail_resume_lines) | longest) & dense)
            if len(resumed):
                after = int(last[resumed[0]])
                continue
            tail = codes[m + 1 :]
            tail[(tail == KEEP) & view.nonblank[m + 1 :]] = view.code(TAIL_RULE)
            return

