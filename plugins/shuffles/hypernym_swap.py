"""Hypernym-level swap (PROTOCOL.md §4): exchange leaf labels between the leaves of two hypernyms.

For each pair (A, B), in the given order, ``n_leaves`` leaves are sampled among those under A but not B,
and as many among those under B but not A (leaves of both cannot be swapped meaningfully; leaves already
swapped for an earlier pair are skipped); the i-th sampled A leaf and the i-th sampled B leaf exchange
labels.  All other leaves keep their images.  Hypernyms are named by id or surface text.

Options: ``pairs`` (list of [A, B]; default the paper's five pairs, which only the THINGS taxonomy has:
other tasks must pass their own) and ``n_leaves`` (default 20).  Too few eligible leaves is a UserError.
"""

from __future__ import annotations

import random
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from harness.plugin.api import PluginOptions, TaskData, UserError, leaves_of, resolve_hypernyms

PAPER_PAIRS: tuple[tuple[str, str], ...] = (
    ("dessert", "furniture"),
    ("vehicle", "vegetable"),
    ("bird", "school supply"),
    ("clothing accessory", "medical equipment"),
    ("weapon", "container"),
)


def _check_pairs(pairs: Any) -> tuple[tuple[str, str], ...]:
    if pairs is None:  # the paper's pairs
        return PAPER_PAIRS
    ok = isinstance(pairs, list | tuple) and all(
        isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
    )
    if not ok or not pairs:
        raise ValueError("pairs must be a list of [A, B] hypernym names")
    out = tuple((a, b) for a, b in pairs)
    if any(a == b for a, b in out):
        raise ValueError("a pair in pairs must name two different hypernyms")
    return out


class HypernymSwapOptions(PluginOptions):
    """Options of shuffle ``hypernym_swap``."""

    # default (or None): the paper's five pairs, which only the THINGS taxonomy has
    pairs: Annotated[tuple[tuple[str, str], ...], BeforeValidator(_check_pairs)] = PAPER_PAIRS
    n_leaves: Annotated[int, Field(strict=True, ge=1)] = 20


class HypernymSwap:
    name = "hypernym_swap"
    options = HypernymSwapOptions

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        if arg is not None:
            raise UserError(f"shuffle {self.name!r} takes no argument; use the options pairs and n_leaves")
        opts = HypernymSwapOptions.parse(f"shuffle {self.name!r}", options)
        self.pairs = list(opts.pairs)
        self.n_leaves = opts.n_leaves

    def apply(self, data: TaskData, rng: random.Random) -> tuple[dict[str, str], dict[str, Any]]:
        under = leaves_of(data)
        mapping = {leaf: leaf for leaf in data.leaves}
        used: set[str] = set()
        resolved, swapped = [], []
        for a_name, b_name in self.pairs:
            a, b = (resolve_hypernyms(data, [x], "shuffle hypernym_swap pairs")[0] for x in (a_name, b_name))
            skip_a, skip_b = set(under[b]) | used, set(under[a]) | used
            only_a = [x for x in under[a] if x not in skip_a]
            only_b = [x for x in under[b] if x not in skip_b]
            for h, pool in ((a, only_a), (b, only_b)):
                if len(pool) < self.n_leaves:
                    raise UserError(
                        f"shuffle hypernym_swap: {h!r} has {len(pool)} swappable leaves in pair "
                        f"({a!r}, {b!r}), fewer than n_leaves = {self.n_leaves}"
                    )
            picked_a, picked_b = rng.sample(only_a, self.n_leaves), rng.sample(only_b, self.n_leaves)
            for x, y in zip(picked_a, picked_b, strict=True):
                mapping[x], mapping[y] = y, x
                swapped.append([x, y])
            used.update(picked_a, picked_b)
            resolved.append([a, b])
        return mapping, {"pairs": resolved, "n_leaves": self.n_leaves, "swapped": swapped}
