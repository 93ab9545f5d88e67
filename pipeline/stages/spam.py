"""spam: remove foreign-script keywords injected into text (e.g. "visit 카지노 North Korea").

First version: within a document whose main script is Latin, a run of Hangul/Han/Kana/Thai/Cyrillic
characters that is a known spam term (lexicon below) is cut out and the spacing repaired.
"""

from __future__ import annotations

import regex

from ..document import Document
from .base import Stage, StageConfig

SPAM_TERMS = frozenset({"카지노", "바카라", "토토", "먹튀", "슬롯", "博彩", "赌场", "娱乐城", "カジノ", "คาสิโน", "казино"})
_FOREIGN_RUN = regex.compile(r"[\p{Hangul}\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Cyrillic}]+")
_LATIN = regex.compile(r"\p{Latin}")


class SpamConfig(StageConfig):
    pass


class Spam(Stage):
    name = "spam"
    Config = SpamConfig

    def process(self, batch: list[Document]) -> None:
        for doc in batch:
            text = doc.text
            if text.isascii():
                continue
            latin = len(_LATIN.findall(text))
            runs = list(_FOREIGN_RUN.finditer(text))
            foreign = sum(m.end() - m.start() for m in runs)
            if latin <= foreign:
                continue  # main script is not Latin: nothing is foreign here
            for m in reversed(runs):
                if m.group() not in SPAM_TERMS:
                    continue
                start, end = m.start(), m.end()
                while start > 0 and text[start - 1] == " ":
                    start -= 1
                while end < len(text) and text[end] == " ":
                    end += 1
                sep = " " if start > 0 and end < len(text) and text[start - 1] != "\n" and text[end] != "\n" else ""
                doc.remove(self.name, "lexicon", m.group(), m.start())
                text = text[:start] + sep + text[end:]
            doc.text = text
