"""The record every stage sees: text plus everything learned about it on the way.

Stages *annotate* a document (Dolma's "tag first, decide later"): they edit ``text`` and log each
cut in ``removals``, put findings in ``annotations[stage]``, and may ``flag`` it for rejection.
Whether a flag actually rejects the document is the runner's policy, not the stage's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Removal:
    """One piece of text a stage cut out, and why (shown by ``winnow explain``)."""

    stage: str
    rule: str
    text: str
    position: int = -1  # character offset in the text the stage saw; -1 when not meaningful

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "rule": self.rule, "text": self.text, "position": self.position}


@dataclass(slots=True)
class Flag:
    """A stage's proposal to reject the whole document."""

    stage: str
    rule: str
    reason: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        out = {"stage": self.stage, "rule": self.rule, "reason": self.reason}
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass(slots=True)
class Duplicate:
    """Set by the dedup stage on a document that another one supersedes."""

    duplicate_of: str
    cluster: str
    similarity: float
    rule: str = "near"


@dataclass(slots=True)
class Document:
    """A document in flight. ``source`` says where it came from (path and line) for auditing."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)  # carried-through input fields
    source: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    removals: list[Removal] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    duplicate: Duplicate | None = None
    rejected_by: Flag | None = None  # set by the runner's policy, never by a stage
    input_chars: int = 0

    def __post_init__(self) -> None:
        if not self.input_chars:
            self.input_chars = len(self.text)

    def remove(self, stage: str, rule: str, text: str, position: int = -1) -> None:
        self.removals.append(Removal(stage, rule, text, position))

    def flag(self, stage: str, rule: str, reason: str, value: Any = None) -> None:
        self.flags.append(Flag(stage, rule, reason, value))

    # -- serialisation -------------------------------------------------------------------------
    def output_metadata(self) -> dict[str, Any]:
        """Metadata as written to clean/rejected records: input fields, source, stage findings.

        An input field whose name winnow's own keys take (``source`` is common in scraped data) is
        not lost: it moves to ``metadata.input_fields``. Removals stay ``Removal`` objects: orjson
        encodes a dataclass as its fields in order, the same bytes as ``to_dict`` without a dict each.
        """
        meta: dict[str, Any] = dict(self.metadata)
        ours: dict[str, Any] = {"source": self.source, **self.annotations}
        if self.removals:
            ours["removed"] = list(self.removals)
        if self.flags:
            ours["flags"] = [f.to_dict() for f in self.flags]
        shadowed = {key: meta[key] for key in ours if key in meta}
        meta.update(ours)
        if shadowed:
            meta["input_fields"] = shadowed
        return meta

    def to_state(self) -> dict[str, Any]:
        """Lossless dict for spilling between passes (see runner)."""
        return {
            "id": self.id,
            "text": self.text,
            "metadata": self.metadata,
            "source": self.source,
            "annotations": self.annotations,
            "removals": [r.to_dict() for r in self.removals],
            "flags": [f.to_dict() for f in self.flags],
            "input_chars": self.input_chars,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> "Document":
        return cls(
            id=data["id"],
            text=data["text"],
            metadata=data["metadata"],
            source=data["source"],
            annotations=data["annotations"],
            removals=[Removal(**r) for r in data["removals"]],
            flags=[Flag(**f) for f in data["flags"]],
            input_chars=data["input_chars"],
        )
