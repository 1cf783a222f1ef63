"""Plugin discovery through entry points (group ``taxobench``) and lookup by name.

First-party plugins are found exactly like third-party ones.  ``TAXOBENCH_PLUGINS`` (comma list of
entry-point names) restricts which *external* plugins load; taxobench's own always load.  A plugin that
fails to import or to register is reported by name with a warning and the others still load.

Two packages registering the same name of one kind is a conflict: using that name is an error naming both
packages, unless ``TAXOBENCH_OVERRIDES`` (comma list of ``kind:name=package``, e.g.
``encoders:efficientnet-lite0=my-encoders``) says which one to use.  ``taxobench plugins`` lists conflicts.
"""

from __future__ import annotations

import importlib
import inspect
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from harness.errors import UnknownPluginError, UserError
from harness.plugin import contracts, hookspecs

GROUP = hookspecs.PROJECT
SELF_DIST = "taxobench"


@dataclass(frozen=True)
class Registration:
    """One thing a plugin registered: a factory, or a lazy ``"module:attribute"`` target that is imported
    only when the name is used (so listing plugins imports no model library)."""

    kind: str
    name: str
    target: Callable[..., Any] | str
    plugin: str
    package: str
    version: str

    @property
    def factory(self) -> Callable[..., Any]:
        if not isinstance(self.target, str):
            return self.target
        return _import_target(self.target, f"{self.kind[:-1]} {self.name!r} of {self.package}")


@dataclass(frozen=True)
class Alias:
    """A registration that is another plugin of the same kind with its argument fixed (:func:`alias`)."""

    ref: str


class _Bound:
    """An aliased factory: the target's factory with the alias's argument, the target's options model and
    signature (so option checks and the ``profile`` keyword work as for the target)."""

    def __init__(self, base: Callable[..., Any], arg: str | None) -> None:
        self.base, self.arg = base, arg
        self.options = getattr(base, "options", None)
        try:
            self.__signature__ = inspect.signature(base)
        except (TypeError, ValueError):
            pass

    def __call__(self, _arg: str | None = None, **options: Any) -> Any:
        return self.base(self.arg, **options)


def alias(ref: str) -> Alias:
    """Register a name for another plugin with a fixed argument, e.g. ``register("my-lm",
    alias("hf-causal:my-org/my-lm"))``: a config's ``backbone = "my-lm"`` then builds that model."""
    return Alias(ref)


@cache
def _import_target(target: str, what: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"{what} cannot be loaded from {target!r}: {type(exc).__name__}: {exc}") from None


@dataclass
class Registry:
    """Everything the installed plugins registered, by kind and name."""

    entries: dict[str, dict[str, Registration]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    conflicts: dict[tuple[str, str], list[Registration]] = field(default_factory=dict)

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries.get(kind, {}))

    def get(self, kind: str, name: str) -> Registration:
        if (kind, name) in self.conflicts:
            reg = self._resolve(kind, name)
        else:
            try:
                reg = self.entries[kind][name]
            except KeyError:
                available = ", ".join(self.names(kind)) or "none"
                message = f"unknown {kind[:-1]} {name!r}; available {kind}: {available}"
                raise UnknownPluginError(message) from None
        if isinstance(reg.target, Alias):
            target_name, _, arg = reg.target.ref.partition(":")
            bound = _Bound(self.get(kind, target_name).factory, arg or None)
            return Registration(kind, name, bound, reg.plugin, reg.package, reg.version)
        return reg

    def _resolve(self, kind: str, name: str) -> Registration:
        """The registration ``TAXOBENCH_OVERRIDES`` picks for a name two packages register."""
        rivals = self.conflicts[(kind, name)]
        chosen = _overrides().get((kind, name))
        for reg in rivals:
            if reg.package == chosen:
                return reg
        packages = ", ".join(f"{r.package} ({r.plugin})" for r in rivals[:-1]) + f" and {rivals[-1].package} "
        packages += f"({rivals[-1].plugin})"
        raise UserError(
            f"{kind[:-1]} {name!r} is registered by {len(rivals)} packages: {packages}; choose one with "
            f"TAXOBENCH_OVERRIDES={kind}:{name}=<package> or uninstall the other"
        )

    def create(self, kind: str, ref: str, **options: Any) -> Any:
        """Build the object a reference ``name[:arg]`` names, passing ``options`` to its factory, and check
        it against its kind's contract (:mod:`harness.plugin.contracts`): a UserError names the plugin and
        the members it lacks."""
        name, _, arg = ref.partition(":")
        reg = self.get(kind, name)
        made = reg.factory(arg or None, **options)
        missing = contracts.missing_members(kind, made)
        if missing:
            raise UserError(
                f"{kind[:-1]} {name!r} of {reg.package} does not meet the {kind[:-1]} contract: "
                f"it lacks {', '.join(missing)} (harness/plugin/contracts.py)"
            )
        return made

    def accepts(self, kind: str, ref: str, option: str) -> bool:
        """Whether the factory behind ``ref`` declares the keyword ``option`` (e.g. ``profile``)."""
        factory = self.get(kind, ref.partition(":")[0]).factory
        try:
            return option in inspect.signature(factory).parameters
        except (TypeError, ValueError):  # builtins without a signature
            return False

    def rows(self) -> list[dict[str, str]]:
        """One row per registration; a conflicting name has a row per package, ``conflict`` set."""
        out = []
        for kind in hookspecs.KINDS:
            for r in sorted(self.entries.get(kind, {}).values(), key=lambda r: r.name):
                rivals = self.conflicts.get((kind, r.name), [r])
                for reg in rivals:
                    row = {k: getattr(reg, k) for k in ("kind", "name", "plugin", "package", "version")}
                    out.append({**row, "conflict": "yes" if len(rivals) > 1 else ""})
        return out


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
    def register(name: str, factory: Callable[..., Any] | str) -> None:
        reg = Registration(kind, name, factory, plugin, package, version)
        entries = registry.entries.setdefault(kind, {})
        if name in entries and entries[name].package != package:
            registry.conflicts.setdefault((kind, name), [entries[name]]).append(reg)
            return
        if name in entries:  # the same package twice: a bug in that package, reported by discover()
            raise ValueError(f"{kind[:-1]} {name!r} is registered twice")
        entries[name] = reg

    return register


def _overrides() -> dict[tuple[str, str], str]:
    """``TAXOBENCH_OVERRIDES``: (kind, name) -> the package chosen for a conflicting name."""
    out = {}
    for part in os.environ.get("TAXOBENCH_OVERRIDES", "").split(","):
        key, sep, package = part.strip().partition("=")
        kind, colon, name = key.partition(":")
        if sep and colon:
            out[(kind.strip(), name.strip())] = package.strip()
    return out


def _fail(registry: Registry, plugin: str, message: str) -> None:
    registry.failures[plugin] = message
    warnings.warn(f"taxobench plugin {plugin!r} {message}", RuntimeWarning, stacklevel=3)


@cache
def default_registry() -> Registry:
    """The registry of the installed plugins, discovered once per process."""
    return discover()
