"""Per-leaf train/val/test splits of image references (PROTOCOL.md §2, §9; rules in docs/protocol.md).

Two rules (``rules.split``): ``floor``, the released code's (the first ``int(f_train * n)`` sorted sources
train, up to ``int((f_train + f_val) * n)`` val, the rest test), and ``round`` (a seeded shuffle per leaf,
sizes from :func:`split_sizes`).

A reference ``"<source>#<variant>"`` is an augmented variant of ``<source>`` (the source is the text before
the first ``#``).  Splits are made over sources only; a variant goes to its source's split and is kept only
in train.  Val and test use sources only (a source group present only through variants is represented
there by its first variant in sorted order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from harness.common.seeding import derive_rng
from harness.errors import UserError

SPLITS = ("train", "val", "test")


def source_of(ref: str) -> str:
    """The source image of a reference: the text before the first ``#`` (the reference itself if none)."""
    return ref.split("#", 1)[0]


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves up (``round`` would round halves to even)."""
    return math.floor(x + 0.5 + 1e-9)


def split_sizes(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """Numbers of (train, val, test) sources of a leaf with ``n`` sources.

    test = round_half_up(f_test * n), at least 1 when n >= 2 and f_test > 0, and at most n - 1 when
    f_train > 0; val = round_half_up(f_val * n), capped so train keeps at least one source when f_train > 0;
    train = the rest.  A leaf with one source puts it in train (when f_train > 0).
    """
    f_train, f_val, f_test = fractions
    keep = 1 if f_train > 0 and n > 0 else 0
    n_test = round_half_up(f_test * n)
    if f_test > 0 and n >= 2:
        n_test = max(1, n_test)
    n_test = max(0, min(n_test, n - keep))
    n_val = max(0, min(round_half_up(f_val * n), n - keep - n_test))
    return n - n_val - n_test, n_val, n_test


def floor_sizes(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """The released code's (train, val, test) sizes: ``int(n * f_train)``, ``int(n * (f_train + f_val))
    - train`` and the rest (so a leaf of 13 images gets no validation image)."""
    f_train, f_val, _ = fractions
    n_train = int(n * f_train)
    n_val = int(n * (f_train + f_val)) - n_train
    return n_train, n_val, n - n_train - n_val


def cap_sources(sources: list[str], cap: int | None, seed: int, leaf: str) -> list[str]:
    """At most ``cap`` of a leaf's sorted sources, a seeded sample (sorted again)."""
    if cap is None or len(sources) <= cap:
        return sources
    return sorted(derive_rng(seed, "cap", leaf).sample(sources, cap))


def split_labels(n: int, fractions: Sequence[float], rule: str) -> list[str]:
    """The split of each of a leaf's ``n`` sources, in the order :func:`split_leaf` lays them out."""
    if rule == "floor":
        n_train, n_val, n_test = floor_sizes(n, fractions)
        return ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    _, n_val, n_test = split_sizes(n, fractions)
    return ["test"] * n_test + ["val"] * n_val + ["train"] * (n - n_test - n_val)


def split_leaf(
    refs: Iterable[str],
    fractions: Sequence[float],
    seed: int,
    leaf: str,
    cap: int | None = None,
    rule: str = "round",
) -> dict[str, str]:
    """Split one leaf's references: ref -> "train" | "val" | "test"; references left out are absent.

    ``floor``: the sorted sources in order, sizes from :func:`floor_sizes`.  ``round``: the sorted sources
    shuffled by ``derive_rng(seed, "split", leaf)``; the first ``n_test`` go to test, the next ``n_val``
    to val, the rest to train.  Only the seed, the leaf and its references enter, so the split is the same
    for every ablation and shuffle.
    """
    groups: dict[str, list[str]] = {}
    for ref in sorted(set(refs)):
        groups.setdefault(source_of(ref), []).append(ref)
    order = cap_sources(sorted(groups), cap, seed, leaf)
    if rule != "floor":
        order = list(order)
        derive_rng(seed, "split", leaf).shuffle(order)
    out: dict[str, str] = {}
    for source, split in zip(order, split_labels(len(order), fractions, rule), strict=True):
        members = groups[source]
        if split == "train":
            out.update(dict.fromkeys(members, "train"))
        else:
            out[source if source in members else members[0]] = split
    return out


def split_images(
    images: dict[str, list[str]],
    fractions: Sequence[float],
    seed: int,
    cap: int | None = None,
    rule: str = "round",
) -> dict[str, tuple[str, str]]:
    """Split every leaf: ref -> (split, leaf).  A reference listed under two leaves is an error."""
    out: dict[str, tuple[str, str]] = {}
    for leaf in sorted(images):
        for ref, split in split_leaf(images[leaf], fractions, seed, leaf, cap, rule).items():
            if ref in out:
                raise UserError(f"image {ref!r} is listed under two leaves: {out[ref][1]!r} and {leaf!r}")
            out[ref] = (split, leaf)
    return out
