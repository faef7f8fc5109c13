"""The plugin registry: loads entry points one at a time, validates and records each part."""

from __future__ import annotations

import contextlib
import contextvars
import importlib.metadata as md
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

import attrs
import pluggy

from . import hookspecs
from ._errors import AmbiguousNameError, InvalidPartError, PluginLoadError, UnknownNameError
from ._parts import KINDS, check_part, part_params
from ._records import PartRecord, PluginRecord

__all__ = ["PluginWarning", "Registry", "get_registry", "using_registry", "reset_registry", "list_methods",
           "list_plugins", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "interpreto"


class PluginWarning(UserWarning):
    """A plugin failed to load; the others still loaded."""


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    return {item.strip() for item in raw.split(",") if item.strip()}


BUILTIN_DISTRIBUTION = "interpreto-core"
SLOW_PLUGIN_SECONDS = 2.0


def _slow_threshold() -> float:
    """Seconds an entry point may take to import before it is reported (``INTERPRETO_SLOW_PLUGIN_SECONDS``)."""
    raw = os.environ.get("INTERPRETO_SLOW_PLUGIN_SECONDS", "").strip()
    if not raw:
        return SLOW_PLUGIN_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        warnings.warn(f"INTERPRETO_SLOW_PLUGIN_SECONDS must be a number of seconds >= 0, got {raw!r}; "
                      f"using {SLOW_PLUGIN_SECONDS}", PluginWarning, stacklevel=3)
        return SLOW_PLUGIN_SECONDS
    return value


@contextlib.contextmanager
def _still_importing(identity: str, module: str, dist: str | None, threshold: float) -> Iterator[None]:
    """While an import runs longer than ``threshold``, say on stderr which plugin it is (a plugin
    that hangs at import then hangs with a name, not silently)."""
    def report() -> None:
        from ._safe_text import terminal

        sys.stderr.write(terminal(f"interpreto: still importing plugin {identity!r} ({module}, from "
                                  f"{dist or 'no distribution'}) after {threshold:g} s ...") + "\n")
        sys.stderr.flush()

    timer = threading.Timer(threshold, report) if threshold > 0 else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def _warn_if_slow(identity: str, module: str, dist: str | None, seconds: float, threshold: float) -> None:
    if seconds > threshold:
        warnings.warn(
            f"interpreto plugin {identity!r} ({module}, from {dist or 'no distribution'}) took {seconds:.1f} s "
            f"to import (more than {threshold:g} s; INTERPRETO_SLOW_PLUGIN_SECONDS sets the limit)",
            PluginWarning,
            stacklevel=3,
        )


def _dist_name(ep: md.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def _identities(eps: Iterable[md.EntryPoint]) -> list[tuple[md.EntryPoint, str]]:
    """Each entry point with the plugin name it is loaded under.

    Entry-point names are not unique across distributions. The built-in distribution keeps the
    plain name (then the first distribution by name); every other entry point with that name is
    loaded as ``name@distribution``, and a warning names both distributions. No plugin replaces
    or blocks another by choosing its name.
    """
    by_name: dict[str, list[md.EntryPoint]] = {}
    for ep in eps:
        group = by_name.setdefault(ep.name, [])
        # the same distribution seen twice on sys.path is one plugin, not a collision
        if not any(_dist_name(o) == _dist_name(ep) and o.value == ep.value for o in group):
            group.append(ep)
    out: list[tuple[md.EntryPoint, str]] = []
    for name in sorted(by_name):
        group = sorted(by_name[name], key=lambda e: (_dist_name(e) != BUILTIN_DISTRIBUTION, _dist_name(e) or "",
                                                     e.value))
        taken: set[str] = {name}
        out.append((group[0], name))
        for ep in group[1:]:
            identity = base = f"{name}@{_dist_name(ep) or ep.value}"
            n = 2
            while identity in taken:
                identity, n = f"{base}#{n}", n + 1
            taken.add(identity)
            out.append((ep, identity))
            warnings.warn(
                f"interpreto plugin name {name!r} is used by both {_dist_name(group[0]) or group[0].value} and "
                f"{_dist_name(ep) or ep.value}: the first is loaded as {name!r}, the second as {identity!r} "
                f"(its parts are named '{identity}:PART')",
                PluginWarning,
                stacklevel=3,
            )
    return out


def _strict_default() -> bool:
    return os.environ.get("INTERPRETO_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes", "on")


class Registry:
    """Parts registered by plugins, by kind and name.

    Parameters
    ----------
    autoload:
        Load the ``interpreto`` entry points now (honouring ``INTERPRETO_PLUGINS``,
        ``INTERPRETO_DISABLE_PLUGINS`` and ``INTERPRETO_STRICT_PLUGINS``).
    """

    def __init__(self, *, autoload: bool = True) -> None:
        self._parts: dict[str, dict[str, list[PartRecord]]] = {kind: {} for kind in KINDS}
        self._plugins: dict[str, PluginRecord] = {}
        if autoload:
            self.load_entry_points()

    # -- loading ---------------------------------------------------------------------------------
    def load_entry_points(
        self,
        *,
        group: str = ENTRY_POINT_GROUP,
        only: Iterable[str] | None = None,
        disable: Iterable[str] | None = None,
        strict: bool | None = None,
    ) -> None:
        """Load each entry point of ``group`` on its own; a broken one warns and is skipped."""
        only_set = set(only) if only is not None else _env_list("INTERPRETO_PLUGINS")
        disable_set = set(disable) if disable is not None else (_env_list("INTERPRETO_DISABLE_PLUGINS") or set())
        strict = _strict_default() if strict is None else strict
        loaded: list[str] = []
        slow = _slow_threshold()
        for ep, identity in _identities(md.entry_points(group=group)):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            version = dist.version if dist is not None else None
            names = {identity} | ({dist_name} if dist_name else set())
            if (only_set is not None and not names & only_set) or names & disable_set:
                self._plugins[identity] = PluginRecord(
                    name=identity, module=ep.value, distribution=dist_name, version=version, status="disabled"
                )
                continue
            start = time.perf_counter()
            try:
                with _still_importing(identity, ep.value, dist_name, slow):
                    module = ep.load()
            except BaseException as exc:  # SystemExit too: a plugin must not end the host
                if isinstance(exc, KeyboardInterrupt):
                    raise
                seconds = time.perf_counter() - start
                _warn_if_slow(identity, ep.value, dist_name, seconds, slow)
                self._fail(identity, ep.value, dist_name, version, exc, strict)
                self._plugins[identity] = attrs.evolve(self._plugins[identity], load_seconds=seconds)
                continue
            seconds = time.perf_counter() - start
            _warn_if_slow(identity, ep.value, dist_name, seconds, slow)
            record = self.add_plugin(module, name=identity, distribution=dist_name, version=version, strict=strict,
                                     check_recipes=False)
            self._plugins[record.name] = record = attrs.evolve(record, load_seconds=seconds)
            if record.status == "loaded":
                loaded.append(record.name)
        # Recipes may name parts of plugins loaded after theirs: check them once all are in.
        for name in loaded:
            self._check_recipes(name, strict=strict)

    def add_plugin(
        self,
        plugin: ModuleType | object,
        *,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
        strict: bool = True,
        check_recipes: bool = True,
    ) -> PluginRecord:
        """Register a plugin object (module or namespace with hook implementations).

        All its parts are validated before any is added: a failing plugin adds nothing. Its
        recipes must name parts that exist (its own, or already registered ones): otherwise the
        plugin fails with the missing name (``check_recipes=False`` defers that check).
        """
        module_name = getattr(plugin, "__name__", type(plugin).__name__)
        if name in self._plugins and self._plugins[name].status == "loaded":
            exc = PluginLoadError(f"a plugin named {name!r} is already loaded")
            return self._fail(name, module_name, distribution, version, exc, strict)
        staged: list[PartRecord] = []
        try:
            pm = pluggy.PluginManager(hookspecs.PROJECT)
            pm.add_hookspecs(hookspecs)
            pm.register(plugin, name=name)
            pm.check_pending()
            for kind in KINDS:
                hook = getattr(pm.hook, f"interpreto_register_{kind}")
                for impl in hook.get_hookimpls():
                    impl.function(self._make_register(kind, name, distribution, version, staged))
        except BaseException as exc:  # report, keep the other plugins
            if isinstance(exc, KeyboardInterrupt):
                raise
            return self._fail(name, module_name, distribution, version, exc, strict)
        for rec in staged:
            existing = self._parts[rec.kind].setdefault(rec.name, [])
            if existing:
                others = ", ".join(f"{r.plugin} ({r.distribution or 'no distribution'})" for r in existing)
                warnings.warn(
                    f"{rec.kind} {rec.name!r} is registered by both {others} and {name} "
                    f"({distribution or 'no distribution'}); ask for it as 'PLUGIN:{rec.name}'",
                    PluginWarning,
                    stacklevel=2,
                )
            existing.append(rec)
        record = PluginRecord(
            name=name,
            module=module_name,
            distribution=distribution,
            version=version,
            status="loaded",
            parts=tuple(f"{r.kind}:{r.name}" for r in staged),
        )
        self._plugins[name] = record
        if check_recipes:
            return self._check_recipes(name, strict=strict)
        return record

    def _check_recipes(self, plugin: str, *, strict: bool) -> PluginRecord:
        """Fail ``plugin`` (removing its parts) if one of its recipes names a part that does not exist."""
        record = self._plugins[plugin]
        for rec in self._parts["attribution"].values():
            for part in rec:
                if part.plugin != plugin:
                    continue
                for kind, part_name in part.obj.part_names():
                    try:
                        self.get(kind, part_name, prefer=plugin)
                    except UnknownNameError as exc:
                        self._remove(plugin)
                        error = InvalidPartError(f"recipe {part.name!r} names a missing {kind}: {exc}")
                        return self._fail(plugin, record.module, record.distribution, record.version, error, strict)
                    except AmbiguousNameError:
                        pass  # resolved at call time with plugin:name
        return record

    def _remove(self, plugin: str) -> None:
        for by_name in self._parts.values():
            for part_name in list(by_name):
                by_name[part_name] = [r for r in by_name[part_name] if r.plugin != plugin]
                if not by_name[part_name]:
                    del by_name[part_name]

    def _make_register(
        self, kind: str, plugin: str, distribution: str | None, version: str | None, staged: list[PartRecord]
    ) -> Callable[..., Any]:
        def register(obj: Any, *, name: str, summary: str, **meta: Any) -> Any:
            part_kind = kind
            if kind == "metric" and meta.get("scope") == "concepts":
                warnings.warn(
                    f"plugin {plugin!r} ({distribution or 'no distribution'}) registers concept metric {name!r} "
                    "as a metric with scope='concepts'; implement interpreto_register_concept_metric instead "
                    "(accepted for now as a concept_metric)",
                    DeprecationWarning,
                    stacklevel=2,
                )
                part_kind = "concept_metric"
            return _register(part_kind, obj, name=name, summary=summary, **meta)

        def _register(kind: str, obj: Any, *, name: str, summary: str, **meta: Any) -> Any:
            if not isinstance(name, str) or not name.isidentifier():
                raise InvalidPartError(f"{kind} name must be an identifier-like string, got {name!r}")
            if not isinstance(summary, str) or not summary.strip():
                raise InvalidPartError(f"{kind} {name!r} needs a non-empty summary")
            check_part(kind, obj)
            if any(r.kind == kind and r.name == name for r in staged):
                raise InvalidPartError(f"{kind} {name!r} registered twice by the same plugin")
            staged.append(
                PartRecord(
                    kind=kind,
                    name=name,
                    plugin=plugin,
                    distribution=distribution,
                    version=version,
                    summary=summary.strip(),
                    params=part_params(obj),
                    meta=meta,
                    obj=obj,
                )
            )
            return obj

        return register

    def _fail(
        self, name: str, module: str, dist: str | None, version: str | None, exc: BaseException, strict: bool
    ) -> PluginRecord:
        where = f"{dist} {version}" if dist else "no distribution"
        error = f"{type(exc).__name__}: {exc}"
        msg = f"failed to load interpreto plugin {name!r} ({module}, from {where}): {error}"
        if strict:
            raise PluginLoadError(msg) from exc
        warnings.warn(msg + " -- the other plugins are loaded; set INTERPRETO_STRICT_PLUGINS=1 to fail here",
                      PluginWarning, stacklevel=3)
        record = PluginRecord(
            name=name, module=module, distribution=dist, version=version, status="failed", error=error
        )
        self._plugins[name] = record
        return record

    # -- lookup ------------------------------------------------------------------------------------
    def get(self, kind: str, name: str, *, prefer: str | None = None) -> PartRecord:
        """The part of ``kind`` called ``name`` (or ``plugin:name``).

        ``prefer``: a plugin whose own part wins when several plugins registered ``name`` (a
        recipe's bare part names resolve to its own plugin first).
        """
        if kind not in KINDS:
            raise UnknownNameError("kind", kind, KINDS)
        if not isinstance(name, str):
            raise UnknownNameError(kind, repr(name), self.names(kind), f"a {kind} is named by a string")
        plugin = None
        if ":" in name:
            plugin, name = name.split(":", 1)
        candidates = self._parts[kind].get(name, [])
        if plugin is not None:
            candidates = [r for r in candidates if r.plugin == plugin]
        elif prefer is not None and len(candidates) > 1:
            candidates = [r for r in candidates if r.plugin == prefer] or candidates
        if not candidates:
            hint = ""
            disabled = [p.name for p in self._plugins.values() if p.status != "loaded"]
            if disabled:
                hint = f"not loaded: {', '.join(sorted(disabled))} (see `interpreto plugins`)"
            raise UnknownNameError(kind, name if plugin is None else f"{plugin}:{name}", self.names(kind), hint)
        if len(candidates) > 1:
            both = " and ".join(f"{r.qualified_name} ({r.distribution or 'no distribution'})" for r in candidates)
            raise AmbiguousNameError(
                f"{kind} {name!r} is registered by {both}; name one as "
                + " or ".join(repr(r.qualified_name) for r in candidates)
            )
        return candidates[0]

    def names(self, kind: str) -> list[str]:
        return sorted(self._parts[kind])

    def list_methods(self, kind: str | None = None) -> list[PartRecord]:
        if kind is not None and kind not in KINDS:
            raise UnknownNameError("kind", kind, KINDS)
        kinds = [kind] if kind else list(KINDS)
        return [rec for k in kinds for name in sorted(self._parts[k]) for rec in self._parts[k][name]]

    def list_plugins(self) -> list[PluginRecord]:
        return [self._plugins[n] for n in sorted(self._plugins)]


_lock = threading.Lock()
_registry: Registry | None = None
_current: contextvars.ContextVar[Registry | None] = contextvars.ContextVar("interpreto_registry", default=None)


@contextlib.contextmanager
def using_registry(registry: Registry | None) -> Iterator[None]:
    """Within the block (this thread / task), :func:`get_registry` returns ``registry`` (None: no change).

    ``evaluate(..., registry=)`` uses it, so that metrics look up tasks and scores there too.
    """
    if registry is None:
        yield
        return
    token = _current.set(registry)
    try:
        yield
    finally:
        _current.reset(token)


def get_registry() -> Registry:
    """The registry in use: the one set by :func:`using_registry`, else the process-wide one,
    loaded from entry points on first use."""
    current = _current.get()
    if current is not None:
        return current
    global _registry
    with _lock:
        if _registry is None:
            _registry = Registry()
        return _registry


def reset_registry(registry: Registry | None = None) -> None:
    """Replace (or forget, so the next use reloads) the process-wide registry."""
    global _registry
    with _lock:
        _registry = registry


def list_methods(kind: str | None = None) -> list[PartRecord]:
    """Registered parts, optionally of one kind (``attribution``, ``metric``, ...)."""
    return get_registry().list_methods(kind)


def list_plugins() -> list[PluginRecord]:
    """Plugins found through entry points, loaded or not, with their error if they failed."""
    return get_registry().list_plugins()
