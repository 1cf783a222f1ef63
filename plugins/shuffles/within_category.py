"""Within-category shuffle: permute leaf labels inside groups of leaves with the same hypernym set.

Leaves are grouped by the exact (frozen) set of their hypernyms.  Each group of two or more leaves gets a
uniformly random derangement (no leaf keeps its own images), drawn by rejection sampling; a group of
one leaf cannot be deranged and maps to itself (PROTOCOL.md §4: "where the group allows it").  The number
of such singletons is in ``last_info["singletons"]``.
"""

from __future__ import annotations

import random
from typing import Any

from harness.contracts import TaskData
from plugins.shuffles._args import reject_extra


def derangement(items: list[str], rng: random.Random) -> list[str]:
    """A uniformly random permutation of ``items`` (len >= 2) without fixed points."""
    while True:
        perm = list(items)
        rng.shuffle(perm)
        if all(a != b for a, b in zip(items, perm, strict=True)):
            return perm


class WithinCategory:
    name = "within_category"

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        reject_extra(self.name, arg, options)
        self.last_info: dict[str, Any] = {}

    def apply(self, data: TaskData, rng: random.Random) -> dict[str, str]:
        groups: dict[tuple[str, ...], list[str]] = {}
        for leaf in data.leaves:
            groups.setdefault(tuple(sorted(set(data.relations.get(leaf, ())))), []).append(leaf)
        mapping: dict[str, str] = {}
        singletons = 0
        for key in sorted(groups):
            members = groups[key]
            if len(members) == 1:
                singletons += 1
                mapping[members[0]] = members[0]
            else:
                mapping.update(zip(members, derangement(members, rng), strict=True))
        self.last_info = {"groups": len(groups), "singletons": singletons}
        return mapping
