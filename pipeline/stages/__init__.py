"""Stage registry: the names a config file may list, mapped to their classes.

Adding a stage = one module here + one line below. The runner never imports a stage directly.
"""

from __future__ import annotations

from importlib import import_module

from .base import GlobalStage, RunContext, Stage, StageConfig

_REGISTRY: dict[str, str] = {
    "normalize": "pipeline.stages.normalize:Normalize",
    "boilerplate": "pipeline.stages.boilerplate:Boilerplate",
    "spam": "pipeline.stages.spam:Spam",
    "language": "pipeline.stages.language:Language",
    "quality": "pipeline.stages.quality:Quality",
    "dedup": "pipeline.stages.dedup:Dedup",
}


def stage_names() -> list[str]:
    return list(_REGISTRY)


def stage_class(name: str) -> type[Stage]:
    """The class registered under ``name``; ``KeyError`` naming the known stages otherwise."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r} (known: {', '.join(_REGISTRY)})") from None
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


__all__ = ["GlobalStage", "RunContext", "Stage", "StageConfig", "stage_class", "stage_names"]
