"""Run configuration: a YAML file listing stages in order, validated before any work starts.

Every option is typed (pydantic, ``extra="forbid"``), so a typo such as ``dedup.treshold`` is refused
up front with the key named instead of being silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .stages import StageConfig, stage_class, stage_names


class ConfigError(ValueError):
    """A config file or ``--set`` override that cannot be used. The message names the key."""


class InputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text_field: str = "text"
    id_field: str = "id"
    max_chars: int = Field(2_000_000, ge=1)
    """Documents longer than this are rejected by the reader (rule ``too_large``), not truncated."""


class RunnerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(256, ge=1)
    """Documents per batch handed to a worker. Larger batches amortise overhead; smaller bound memory."""


@dataclass
class StageSpec:
    name: str
    config: StageConfig


@dataclass
class PipelineConfig:
    input: InputConfig = field(default_factory=InputConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    stages: list[StageSpec] = field(default_factory=list)
    source: str = "<defaults>"

    def stage(self, name: str) -> StageSpec | None:
        return next((s for s in self.stages if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Fully resolved config (defaults filled in), recorded in the run report."""
        return {
            "input": self.input.model_dump(),
            "runner": self.runner.model_dump(),
            "stages": [{s.name: s.config.model_dump()} for s in self.stages],
        }


def _safe_load(text: str) -> Any:
    """``yaml.safe_load``, parsed by libyaml where PyYAML has it (~15 ms less at every start-up); a
    document libyaml refuses is parsed again in Python, whose error names the line with a caret."""
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return yaml.safe_load(text)


def _parse_scalar(raw: str) -> Any:
    """``--set`` values use YAML scalar syntax: 0.8, true, [en, de], "text"."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _stage_items(raw_stages: Any) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(raw_stages, list):
        raise ConfigError("'stages' must be a list of stage names or {name: {options}} mappings")
    items: list[tuple[str, dict[str, Any]]] = []
    for entry in raw_stages:
        if isinstance(entry, str):
            items.append((entry, {}))
        elif isinstance(entry, dict) and len(entry) == 1:
            (name, options), = entry.items()
            if options is not None and not isinstance(options, dict):
                raise ConfigError(f"stages.{name}: options must be a mapping")
            items.append((str(name), dict(options or {})))
        else:
            raise ConfigError(f"stages: cannot read entry {entry!r}; use `- name:` followed by options")
    return items


def _apply_override(raw: dict[str, Any], stages: list[tuple[str, dict[str, Any]]], item: str) -> None:
    key, sep, value = item.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"--set {item!r}: expected stage.option=value (e.g. dedup.threshold=0.7)")
    section, _, option = key.partition(".")
    parsed = _parse_scalar(value)
    if section in ("input", "runner"):
        raw.setdefault(section, {})[option] = parsed
        return
    for name, options in stages:
        if name == section:
            options[option] = parsed
            return
    raise ConfigError(
        f"--set {key}: no stage {section!r} in this config (stages: {', '.join(n for n, _ in stages)})"
    )


def _format_validation(prefix: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"{prefix}.{loc}: unknown option"
    return f"{prefix}.{loc}: {err['msg']}"


def load_config(path: Path | str | None, overrides: list[str] | None = None) -> PipelineConfig:
    """Read and validate a config file (or the built-in defaults when ``path`` is None)."""
    if path is None:
        raw: dict[str, Any] = {"stages": [{n: {}} for n in stage_names()]}
        source = "<defaults>"
    else:
        p = Path(path)
        try:
            raw = _safe_load(p.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {p}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {p} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {p}: top level must be a mapping")
        source = str(p)
    unknown = set(raw) - {"input", "runner", "stages"}
    if unknown:
        raise ConfigError(f"unknown config section {sorted(unknown)[0]!r} (known: input, runner, stages)")
    stages = _stage_items(raw.get("stages", []))
    for item in overrides or []:
        _apply_override(raw, stages, item)

    try:
        input_cfg = InputConfig(**(raw.get("input") or {}))
    except ValidationError as exc:
        raise ConfigError(_format_validation("input", exc)) from None
    try:
        runner_cfg = RunnerConfig(**(raw.get("runner") or {}))
    except ValidationError as exc:
        raise ConfigError(_format_validation("runner", exc)) from None

    specs: list[StageSpec] = []
    seen: set[str] = set()
    for name, options in stages:
        if name in seen:
            raise ConfigError(f"stages: {name!r} is listed twice")
        seen.add(name)
        try:
            cls = stage_class(name)
        except KeyError as exc:
            raise ConfigError(f"stages: {exc.args[0]}") from None
        try:
            specs.append(StageSpec(name, cls.Config(**options)))
        except ValidationError as exc:
            raise ConfigError(_format_validation(name, exc)) from None
    return PipelineConfig(input=input_cfg, runner=runner_cfg, stages=specs, source=source)
