"""boilerplate: strip lines that are not the article (comment forms, share buttons, ...).

First rule set: full-line phrase patterns plus title detection. Each removed line is logged with
the rule that matched, so ``winnow explain`` can show it.
"""

from __future__ import annotations

import regex

from ..document import Document
from .base import Stage, StageConfig

# rule name -> full-line pattern (case-insensitive). Lines are matched after trimming.
LINE_RULES: dict[str, str] = {
    "comment_form": r"leave a (?:reply|comment)|your email address will not be published\.?(?: required fields are marked \*)?|required fields are marked \*",
    "share": r"[•·|>\-]*\s*(?:share|tweet|pin it|email)(?: (?:this|on \w+))?",
}
_COMPILED = {rule: regex.compile(rf"(?:{pattern})", regex.IGNORECASE) for rule, pattern in LINE_RULES.items()}
_TERMINAL = regex.compile(r"[.!?:;…。！？]\W*$")


class BoilerplateConfig(StageConfig):
    extract_title: bool = True
    """Move a leading headline (short line without final punctuation) to ``metadata.title``."""
    max_title_chars: int = 200


class Boilerplate(Stage):
    name = "boilerplate"
    Config = BoilerplateConfig
    config: BoilerplateConfig

    def process(self, batch: list[Document]) -> None:
        for doc in batch:
            self._clean(doc)

    def _clean(self, doc: Document) -> None:
        lines = doc.text.split("\n")
        keep: list[str] = []
        offset = 0
        found: dict[str, object] = {}
        title_taken = not self.config.extract_title
        for line in lines:
            stripped = line.strip()
            position, offset = offset, offset + len(line) + 1
            if not stripped:
                keep.append(line)
                continue
            if not title_taken:
                title_taken = True
                if len(stripped) <= self.config.max_title_chars and not _TERMINAL.search(stripped):
                    found["title"] = stripped
                    doc.remove(self.name, "title", stripped, position)
                    continue
            rule = next((r for r, rx in _COMPILED.items() if rx.fullmatch(stripped)), None)
            if rule is not None:
                doc.remove(self.name, rule, stripped, position)
                continue
            keep.append(line)
        text = regex.sub(r"\n{3,}", "\n\n", "\n".join(keep)).strip()
        doc.text = text
        if found:
            doc.annotations[self.name] = found
            if "title" in found:
                doc.metadata.setdefault("title", found["title"])
