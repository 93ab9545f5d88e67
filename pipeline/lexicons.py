"""Word lists shared by stages (stopwords), loaded once per process.

Stopwords come from ``stopwordsiso`` (ISO 639-1 codes, 57 languages, shipped inside the wheel).
Its lists are broad (English has ~1300 entries); stages that need a tight list (Gopher's "the, be,
to, of, and, that, have, with") keep their own. Adding a language is a data change upstream.
"""

from __future__ import annotations

from functools import lru_cache

import stopwordsiso


@lru_cache(maxsize=None)
def stopwords(lang: str) -> frozenset[str]:
    """Lower-cased stopwords for an ISO 639-1 code (``de-CH`` is read as ``de``); empty if unknown."""
    code = (lang or "").lower().replace("_", "-").split("-")[0]
    if not code or not stopwordsiso.has_lang(code):
        return frozenset()
    return frozenset(w.casefold() for w in stopwordsiso.stopwords(code))


def known_languages() -> list[str]:
    return sorted(stopwordsiso.langs())
