"""A whole grid checked before any work (``taxobench run``, its ``--dry-run``, ``protocol build``, ``probe``).

For every cell: each plugin name (task, encoder, backbone, shuffle) is registered, a plugin class defines
the methods of its contract (:mod:`harness.plugin.contracts`), its options pass the model the plugin
declares (:mod:`harness.plugin.options`, with the keywords the harness adds itself), a local model path
exists, and, once per distinct task configuration, the task's data loads.  The first problem is one
UserError naming the cell, the field and what is accepted (exit 2), so a mistake on a Slurm or Ray grid
costs no queue slot.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.errors import UserError
from harness.plugin import contracts
from harness.plugin.options import declared
from harness.plugin.registry import Registry, default_registry

KIND_FIELD = {"tasks": "task", "encoders": "encoder", "backbones": "backbone", "shuffles": "shuffle"}


def describe(cfg: ExperimentConfig) -> str:
    abl = f"{cfg.ablation.kind} {cfg.ablation.level:g}"
    return f"{cfg.task} {cfg.encoder} {cfg.backbone}/{cfg.init} {abl} {cfg.shuffle} seed {cfg.seed}"


def plugin_options(cfg: ExperimentConfig, kind: str) -> dict[str, Any]:
    """The options the harness passes the plugin of ``kind``: the config's, plus its own keywords."""
    options = dict(getattr(cfg, f"{KIND_FIELD[kind]}_options"))
    if kind == "backbones":
        options |= {"init": cfg.init, "seed": cfg.seed}
    return options


def check_plugin(registry: Registry, cfg: ExperimentConfig, kind: str) -> None:
    """One plugin of one cell: registered, its options valid, a local path present (UserError otherwise)."""
    ref = getattr(cfg, KIND_FIELD[kind])
    name, _, arg = ref.partition(":")
    factory = registry.get(kind, name).factory
    options = plugin_options(cfg, kind)
    if registry.accepts(kind, ref, "profile"):
        options.setdefault("profile", cfg.preset)
    model = declared(factory)
    if model is not None:
        model.parse(f"{kind[:-1]} {name!r}", options)
    if inspect.isclass(factory) and (missing := contracts.missing_methods(kind, factory)):
        package = registry.get(kind, name).package
        raise UserError(
            f"{kind[:-1]} {name!r} of {package} does not meet the {kind[:-1]} contract: it lacks "
            f"{', '.join(missing)} (harness/plugin/contracts.py)"
        )
    if kind in ("encoders", "backbones") and arg.startswith(("/", "./", "../", "~")):
        if not Path(arg).expanduser().exists():
            raise UserError(f"{kind[:-1]} path not found: {arg}")


def validate_cells(cells: Sequence[ExperimentConfig], load_data: bool = True) -> None:
    """Check every cell (see the module docstring); the first problem is a UserError naming the cell."""
    registry = default_registry()
    seen: set[object] = set()
    for cfg in cells:
        for kind, field in KIND_FIELD.items():
            key = json.dumps([kind, getattr(cfg, field), plugin_options(cfg, kind), cfg.preset], default=str)
            if key in seen:
                continue
            seen.add(key)
            try:
                check_plugin(registry, cfg, kind)
            except UserError as exc:
                raise UserError(f"cell {cfg.cell_id()} ({describe(cfg)}): {field}: {exc}") from None
        if cfg.tracking and ("tracking", cfg.tracking) not in seen:
            seen.add(("tracking", cfg.tracking))
            from harness.training.tracking import check_installed

            try:
                check_installed(cfg.tracking)
            except UserError as exc:
                raise UserError(f"cell {cfg.cell_id()} ({describe(cfg)}): {exc}") from None
        if load_data:
            key = json.dumps(["data", cfg.task, cfg.task_options, cfg.preset], default=str)
            if key not in seen:
                seen.add(key)
                _check_data(cfg)


def _check_data(cfg: ExperimentConfig) -> None:
    from harness.runs.cell import create_plugin

    try:
        create_plugin(cfg, "tasks").load()
    except UserError as exc:
        raise UserError(f"cell {cfg.cell_id()} ({describe(cfg)}): task data: {exc}") from None
