"""Hypernym ablations (PROTOCOL.md §3): which (leaf, hypernym) mappings training loses.

random: for each hypernym h with n_h leaves, its sorted leaves are shuffled by
``derive_rng(seed, "ablation", "random", h)`` and the first round_half_up(p * n_h) lose their mapping to h
(p = level / 100; 100 removes all).  Levels are nested: what 30 % removes, 50 % removes too.
systematic: every mapping of whole hypernyms goes: ``ablation.hypernyms`` if given, else the named preset,
else the first int(level) of the sorted hypernyms shuffled by ``derive_rng(seed, "ablation",
"systematic")`` (level >= the number of hypernyms removes all; also nested across levels).
Hypernyms may be named by id or by surface text.  Nothing here depends on the shuffle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.config import Ablation
from harness.contracts import TaskData
from harness.errors import UserError
from harness.presets.ablation import ALL, SYSTEMATIC_PRESETS
from harness.seeding import derive_rng
from harness.splits import round_half_up

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
    """The whole hypernyms a systematic ablation removes."""
    if ablation.hypernyms is not None:
        return resolve_hypernyms(data, ablation.hypernyms, "ablation.hypernyms")
    if ablation.preset is not None:
        if ablation.preset not in SYSTEMATIC_PRESETS:
            raise UserError(
                f"ablation.preset: unknown preset {ablation.preset!r}; "
                f"available: {', '.join(sorted(SYSTEMATIC_PRESETS))}"
            )
        names = SYSTEMATIC_PRESETS[ablation.preset]
        if names == ALL:
            return list(data.derived)
        return resolve_hypernyms(data, names, f"ablation.preset {ablation.preset!r}")
    order = list(data.derived)
    derive_rng(seed, "ablation", "systematic").shuffle(order)
    return sorted(order[: int(ablation.level)])


def random_removed(data: TaskData, level: float, seed: int) -> list[Mapping]:
    """Per hypernym, round_half_up(level/100 * n_h) of its (leaf, h) mappings."""
    removed: list[Mapping] = []
    for h, leaves in leaves_of(data).items():
        order = list(leaves)
        derive_rng(seed, "ablation", "random", h).shuffle(order)
        n = len(order) if level >= 100 else round_half_up(level / 100 * len(order))
        removed.extend((leaf, h) for leaf in order[:n])
    return sorted(removed)


def removed_mappings(data: TaskData, ablation: Ablation, seed: int) -> tuple[list[Mapping], dict[str, Any]]:
    """The removed (leaf, hypernym) mappings, sorted, and a JSON-ready description for the meta."""
    info: dict[str, Any] = {"kind": ablation.kind, "level": ablation.level}
    if ablation.kind == "random":
        removed = random_removed(data, ablation.level, seed)
    else:
        hypernyms = systematic_hypernyms(data, ablation, seed)
        chosen = set(hypernyms)
        removed = sorted((leaf, h) for h, leaves in leaves_of(data).items() if h in chosen for leaf in leaves)
        info.update(preset=ablation.preset, hypernyms=hypernyms)
    info["n_removed"] = len(removed)
    return removed, info
