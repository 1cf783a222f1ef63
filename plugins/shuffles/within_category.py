"""Within-category shuffle: permute leaf labels inside groups of leaves with the same hypernym set.

Leaves are grouped by the exact (frozen) set of their hypernyms; each group of two or more leaves gets a
uniformly random derangement (no leaf keeps its own images), drawn by rejection sampling.  A leaf alone in
its group (a singleton) is handled by the option ``singletons``:

- ``merge`` (the released code, ``src/shuffle/mislabel.py``; default under the ``paper-code`` profile):
  a singleton joins the most specific group of two or more leaves whose hypernym set is a subset of its
  own (ties: the smaller group, then the sorted key); singletons with no such group are orphans: one
  orphan joins a 3-cycle with the first mapping of the first group, two or more are deranged among
  themselves.  No leaf keeps its own images.
- ``keep`` (default under ``paper-text``): a singleton maps to itself (PROTOCOL.md §4: "where the group
  allows it").

``apply`` returns the mapping and its information: groups, singletons, the rule, merged singletons, orphans.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from harness.plugin.api import PluginOptions, Profile, TaskData, UserError

Key = tuple[str, ...]


def derangement(items: list[str], rng: random.Random) -> list[str]:
    """A uniformly random permutation of ``items`` (len >= 2) without fixed points."""
    while True:
        perm = list(items)
        rng.shuffle(perm)
        if all(a != b for a, b in zip(items, perm, strict=True)):
            return perm


def hypernym_groups(data: TaskData) -> dict[Key, list[str]]:
    """Sorted hypernym set -> its leaves (sorted)."""
    groups: dict[Key, list[str]] = {}
    for leaf in data.leaves:
        groups.setdefault(tuple(sorted(set(data.relations.get(leaf, ())))), []).append(leaf)
    return groups


def merge_singletons(groups: dict[Key, list[str]]) -> tuple[dict[Key, list[str]], list[str], int]:
    """The released code's rule: (groups with singletons merged, orphans, number merged)."""
    merged = {k: list(v) for k, v in groups.items() if len(v) >= 2}
    targets = sorted(merged)
    orphans, moved = [], 0
    for key in sorted(k for k, v in groups.items() if len(v) == 1):
        candidates = [k for k in targets if set(k) <= set(key)]
        if not candidates:
            orphans.append(groups[key][0])
            continue
        best = min(candidates, key=lambda k: (-len(k), len(merged[k]), k))
        merged[best].append(groups[key][0])
        moved += 1
    return merged, orphans, moved


class WithinCategoryOptions(PluginOptions):
    """Options of shuffle ``within_category`` (``profile`` is passed by the harness)."""

    singletons: Literal["merge", "keep"] | None = None  # None: merge under paper-code, else keep
    profile: Profile = "paper-code"

    @property
    def singleton_rule(self) -> str:
        return self.singletons or ("merge" if self.profile == "paper-code" else "keep")


class WithinCategory:
    name = "within_category"
    options = WithinCategoryOptions

    def __init__(self, arg: str | None = None, profile: str = "paper-code", **options: Any) -> None:
        if arg is not None:
            raise UserError(f"shuffle {self.name!r} takes no argument (got {self.name}:{arg})")
        opts = WithinCategoryOptions.parse(f"shuffle {self.name!r}", {**options, "profile": profile})
        self.singletons = opts.singleton_rule

    def apply(self, data: TaskData, rng: random.Random) -> tuple[dict[str, str], dict[str, Any]]:
        groups = hypernym_groups(data)
        n_single = sum(1 for v in groups.values() if len(v) == 1)
        mapping: dict[str, str] = {}
        orphans: list[str] = []
        moved = 0
        if self.singletons == "merge":
            groups, orphans, moved = merge_singletons(groups)
        for key in sorted(groups):
            members = groups[key]
            if len(members) == 1:
                mapping[members[0]] = members[0]
            else:
                mapping.update(zip(members, derangement(members, rng), strict=True))
        if len(orphans) == 1 and mapping:
            first = groups[sorted(groups)[0]][0]  # a 3-cycle through an existing mapping
            mapping[first], mapping[orphans[0]] = orphans[0], mapping[first]
        elif len(orphans) == 1:
            mapping[orphans[0]] = orphans[0]
        elif orphans:
            mapping.update(zip(orphans, derangement(orphans, rng), strict=True))
        info = {
            "groups": len(groups),
            "singletons": n_single,
            "rule": self.singletons,
            "merged": moved,
            "orphans": len(orphans),
        }
        return mapping, info
