"""Frozen records describing registered parts and loaded plugins."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["PartRecord", "PluginRecord"]


@attrs.frozen(kw_only=True)
class PartRecord:
    """One registered part: what it is, where it came from, what it takes."""

    kind: str
    name: str
    plugin: str
    distribution: str | None
    version: str | None
    summary: str
    params: dict[str, Any] = attrs.field(factory=dict)
    meta: dict[str, Any] = attrs.field(factory=dict)
    obj: Any = attrs.field(default=None, repr=False, eq=False)

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
            "summary": self.summary,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "meta": {k: _jsonable(v) for k, v in self.meta.items()},
        }


@attrs.frozen(kw_only=True)
class PluginRecord:
    """One plugin (entry point or programmatic registration) and what became of it."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    status: str  # "loaded" | "failed" | "disabled"
    error: str | None = None
    parts: tuple[str, ...] = ()  # "kind:name" of each registered part
    load_seconds: float | None = None  # time to import the entry point (None: not imported, or programmatic)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=False) | {"parts": list(self.parts)}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)
