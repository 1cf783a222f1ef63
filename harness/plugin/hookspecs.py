"""The plugin contract: one pluggy hook per plugin kind.

A plugin module implements any of these hooks and calls ``register(name, factory)`` once per thing it
provides.  ``factory`` is a callable or, better, a ``"module:attribute"`` string naming it: the module is
imported only when a config uses the name, so discovery stays fast.  ``factory(arg, **options)`` builds
the object; ``arg`` is the part after the colon in a
reference such as ``hf-causal:Qwen/Qwen3-0.6B`` (``None`` when absent) and ``options`` come from the
config's ``*_options`` table.  What each built object must offer is stated in :mod:`harness.plugin.contracts`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "taxobench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[str, "Callable[..., Any] | str"], None]

KINDS = ("encoders", "backbones", "tasks", "shuffles", "executors")


@hookspec
def register_encoders(register: Register) -> None:
    """Register image encoders (see ``harness.plugin.contracts.Encoder``)."""


@hookspec
def register_backbones(register: Register) -> None:
    """Register language-model backbones (see ``harness.plugin.contracts.Backbone``)."""


@hookspec
def register_tasks(register: Register) -> None:
    """Register tasks (see ``harness.plugin.contracts.Task``)."""


@hookspec
def register_shuffles(register: Register) -> None:
    """Register label shuffles (see ``harness.plugin.contracts.Shuffle``)."""


@hookspec
def register_executors(register: Register) -> None:
    """Register grid executors (see ``harness.plugin.contracts.Executor``)."""
