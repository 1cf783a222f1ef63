"""Plugin discovery through entry points (group ``taxobench``) and lookup by name.

First-party plugins are found exactly like third-party ones.  ``TAXOBENCH_PLUGINS`` (comma list of
entry-point names) restricts which *external* plugins load; taxobench's own always load.  A plugin that
fails to import or to register is reported by name with a warning and the others still load.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from harness import hookspecs
from harness.errors import UnknownPluginError

GROUP = hookspecs.PROJECT
SELF_DIST = "taxobench"


@dataclass(frozen=True)
class Registration:
    """One thing a plugin registered."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    package: str
    version: str


@dataclass
class Registry:
    """Everything the installed plugins registered, by kind and name."""

    entries: dict[str, dict[str, Registration]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries.get(kind, {}))

    def get(self, kind: str, name: str) -> Registration:
        try:
            return self.entries[kind][name]
        except KeyError:
            available = ", ".join(self.names(kind)) or "none"
            raise UnknownPluginError(f"unknown {kind[:-1]} {name!r}; available {kind}: {available}") from None

    def create(self, kind: str, ref: str, **options: Any) -> Any:
        """Build the object a reference ``name[:arg]`` names, passing ``options`` to its factory."""
        name, _, arg = ref.partition(":")
        return self.get(kind, name).factory(arg or None, **options)

    def accepts(self, kind: str, ref: str, option: str) -> bool:
        """Whether the factory behind ``ref`` declares the keyword ``option`` (e.g. ``profile``)."""
        factory = self.get(kind, ref.partition(":")[0]).factory
        try:
            return option in inspect.signature(factory).parameters
        except (TypeError, ValueError):  # builtins without a signature
            return False

    def rows(self) -> list[dict[str, str]]:
        return [
            {"kind": r.kind, "name": r.name, "plugin": r.plugin, "package": r.package, "version": r.version}
            for kind in hookspecs.KINDS
            for r in sorted(self.entries.get(kind, {}).values(), key=lambda r: r.name)
        ]


def _allowed(ep: EntryPoint, allow: set[str] | None) -> bool:
    own = ep.dist is not None and ep.dist.name == SELF_DIST
    return own or allow is None or ep.name in allow


def _allowlist() -> set[str] | None:
    raw = os.environ.get("TAXOBENCH_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def discover(eps: list[EntryPoint] | None = None) -> Registry:
    """Load every allowed entry point of group ``taxobench`` and collect its registrations."""
    allow = _allowlist()
    registry = Registry()
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    for ep in sorted(eps if eps is not None else entry_points(group=GROUP), key=lambda e: e.name):
        if not _allowed(ep, allow):
            continue
        package = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken third-party plugin must not take down the others
            _fail(registry, ep.name, f"failed to load: {type(exc).__name__}: {exc}")
            continue
        for kind in hookspecs.KINDS:
            hook = getattr(pm.hook, f"register_{kind}")
            for impl in hook.get_hookimpls():
                if impl.plugin_name != ep.name:
                    continue
                try:
                    impl.function(register=_recorder(registry, kind, ep.name, package, version))
                except Exception as exc:
                    _fail(registry, ep.name, f"failed in register_{kind}: {type(exc).__name__}: {exc}")
    return registry


def _recorder(registry: Registry, kind: str, plugin: str, package: str, version: str):
    def register(name: str, factory: Callable[..., Any]) -> None:
        registry.entries.setdefault(kind, {})[name] = Registration(
            kind, name, factory, plugin, package, version
        )

    return register


def _fail(registry: Registry, plugin: str, message: str) -> None:
    registry.failures[plugin] = message
    warnings.warn(f"taxobench plugin {plugin!r} {message}", RuntimeWarning, stacklevel=3)


@cache
def default_registry() -> Registry:
    """The registry of the installed plugins, discovered once per process."""
    return discover()
