"""Hypernym ablations (PROTOCOL.md §3, §9): which (leaf, hypernym) mappings training loses.

Two units (``rules.ablation_unit``):

leaves (the released code): an ablation removes leaves, and a removed leaf loses *every* (leaf, hypernym)
mapping.  random: for each hypernym h with n_h leaves, its sorted leaves are shuffled by
``derive_rng(seed, "ablation", "random", h)`` and the first ``max(1, int(p * n_h))`` are removed (p = level /
100 > 0); the union over hypernyms is removed.  systematic: every leaf under a listed hypernym is removed.
mappings: random removes the first round_half_up(p * n_h) (leaf, h) mappings of each hypernym in the same
order (100 removes all); systematic removes every mapping of the listed hypernyms.

The listed hypernyms of a systematic ablation are ``ablation.hypernyms`` if given, else the named preset
(``paper-table4``: the paper's Table 4 list of ``level`` hypernyms), else the first int(level) of the sorted
hypernyms shuffled by ``derive_rng(seed, "ablation", "systematic")`` (level >= the number of hypernyms
removes all).  Levels are nested where the lists are sampled.  Hypernyms may be named by id or by surface
text.  Nothing here depends on the shuffle; ``seed`` is the data seed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.common.seeding import derive_rng
from harness.config import Ablation
from harness.errors import UserError
from harness.plugin.contracts import TaskData
from harness.protocol.presets import preset_hypernyms
from harness.protocol.splits import round_half_up

Mapping = tuple[str, str]


def leaves_of(data: TaskData) -> dict[str, list[str]]:
    """hypernym -> its sorted leaves (only leaves the task has images for)."""
    out: dict[str, list[str]] = {h: [] for h in data.derived}
    for leaf in data.leaves:
        for h in data.relations.get(leaf, ()):
            out.setdefault(h, []).append(leaf)
    return {h: sorted(set(v)) for h, v in sorted(out.items())}


def resolve_hypernyms(data: TaskData, names: Iterable[str], context: str) -> list[str]:
    """Hypernym ids for names given as ids or surface texts; unknown names are a UserError."""
    by_surface = {data.surface(h): h for h in data.derived}
    out, unknown = [], []
    for name in names:
        if name in data.depths:
            out.append(name)
        elif name in by_surface:
            out.append(by_surface[name])
        else:
            unknown.append(name)
    if unknown:
        raise UserError(
            f"{context}: unknown hypernym(s) {', '.join(map(repr, unknown))}; "
            f"valid hypernyms: {', '.join(data.derived)}"
        )
    return sorted(set(out))


def systematic_hypernyms(data: TaskData, ablation: Ablation, seed: int) -> list[str]:
    """The whole hypernyms a systematic ablation lists."""
    if ablation.hypernyms is not None:
        return resolve_hypernyms(data, ablation.hypernyms, "ablation.hypernyms")
    if ablation.preset is not None:
        names = preset_hypernyms(ablation.preset, ablation.level)
        if names is None:
            return list(data.derived)
        return resolve_hypernyms(data, names, f"ablation.preset {ablation.preset!r}")
    order = list(data.derived)
    derive_rng(seed, "ablation", "systematic").shuffle(order)
    return sorted(order[: int(ablation.level)])


def _random_order(leaves: list[str], seed: int, h: str) -> list[str]:
    order = list(leaves)
    derive_rng(seed, "ablation", "random", h).shuffle(order)
    return order


def random_removed(data: TaskData, level: float, seed: int) -> list[Mapping]:
    """Per hypernym, round_half_up(level/100 * n_h) of its (leaf, h) mappings."""
    removed: list[Mapping] = []
    for h, leaves in leaves_of(data).items():
        order = _random_order(leaves, seed, h)
        n = len(order) if level >= 100 else round_half_up(level / 100 * len(order))
        removed.extend((leaf, h) for leaf in order[:n])
    return sorted(removed)


def random_removed_leaves(data: TaskData, level: float, seed: int) -> list[str]:
    """The union over hypernyms of ``max(1, int(level/100 * n_h))`` sampled leaves (none at level 0)."""
    if level <= 0:
        return []
    removed: set[str] = set()
    for h, leaves in leaves_of(data).items():
        n = min(len(leaves), max(1, int(level / 100 * len(leaves))))
        removed.update(_random_order(leaves, seed, h)[:n])
    return sorted(removed)


def mappings_of(data: TaskData, leaves: Iterable[str]) -> list[Mapping]:
    """Every (leaf, hypernym) mapping of ``leaves``."""
    return sorted((leaf, h) for leaf in set(leaves) for h in data.relations.get(leaf, ()))


def removed_mappings(
    data: TaskData, ablation: Ablation, seed: int, unit: str = "mappings"
) -> tuple[list[Mapping], dict[str, Any]]:
    """The removed (leaf, hypernym) mappings, sorted, and a JSON-ready description for the meta."""
    info: dict[str, Any] = {"kind": ablation.kind, "level": ablation.level, "unit": unit}
    if ablation.kind == "random":
        if unit == "leaves":
            leaves = random_removed_leaves(data, ablation.level, seed)
            removed = mappings_of(data, leaves)
            info["n_leaves_removed"] = len(leaves)
        else:
            removed = random_removed(data, ablation.level, seed)
    else:
        hypernyms = systematic_hypernyms(data, ablation, seed)
        chosen = set(hypernyms)
        under = {leaf for h, leaves in leaves_of(data).items() if h in chosen for leaf in leaves}
        if unit == "leaves":
            removed = mappings_of(data, under)
            info["n_leaves_removed"] = len(under)
        else:
            removed = sorted((leaf, h) for h, ls in leaves_of(data).items() if h in chosen for leaf in ls)
        info.update(preset=ablation.preset, hypernyms=hypernyms)
    info["n_removed"] = len(removed)
    return removed, info
