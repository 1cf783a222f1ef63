"""Shared taxonomy helpers for the task plugins: reading pairs, deriving depths, surface names, images.

Depth rule (the default, ``containment=1.0``): hypernym ``h1`` is below ``h2`` when the leaf set of ``h1``
is a strict subset of the leaf set of ``h2``; depth = 1 + the length of the longest chain above.
A looser rule, ``containment < 1``, puts ``h1`` below a larger ``h2`` when at least that fraction of
``h1``'s leaves are in ``h2`` (for annotations that are not closed under the hierarchy).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from PIL import Image

from harness.plugin.api import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def read_pairs(path: Path) -> dict[str, tuple[str, ...]]:
    """``leaf -> hypernyms`` (sorted, unique) from a TSV with header ``leaf<TAB>hypernym``."""
    out: dict[str, set[str]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out.setdefault(row["leaf"].strip(), set()).add(row["hypernym"].strip())
    return {leaf: tuple(sorted(hs)) for leaf, hs in sorted(out.items())}


def leaf_sets(relations: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """``hypernym -> leaves`` that carry it."""
    out: dict[str, set[str]] = {}
    for leaf, hypernyms in relations.items():
        for h in hypernyms:
            out.setdefault(h, set()).add(leaf)
    return {h: frozenset(v) for h, v in sorted(out.items())}


def parents(relations: Mapping[str, Iterable[str]], containment: float = 1.0) -> dict[str, tuple[str, ...]]:
    """``hypernym -> hypernyms directly or indirectly above it`` under the depth rule (module docstring)."""
    if not 0 < containment <= 1:
        raise UserError(f"depth containment must be in (0, 1], got {containment}")
    sets = leaf_sets(relations)
    above: dict[str, tuple[str, ...]] = {}
    for h, leaves in sets.items():
        ups = []
        for g, other in sets.items():
            if g == h or len(other) <= len(leaves):
                continue
            if containment >= 1:
                below = leaves < other
            else:
                below = len(leaves & other) >= containment * len(leaves)
            if below:
                ups.append(g)
        above[h] = tuple(sorted(ups))
    return above


def derive_depths(relations: Mapping[str, Iterable[str]], containment: float = 1.0) -> dict[str, int]:
    """``hypernym -> depth`` (1 = top level) from the leaf sets (see the module docstring)."""
    above = parents(relations, containment)

    @cache
    def depth(h: str) -> int:
        # "above" only points to strictly larger sets, so the recursion terminates.
        return 1 + max((depth(g) for g in above[h]), default=0)

    return {h: depth(h) for h in sorted(above)}


def surface(label: str, overrides: Mapping[str, str] | None = None) -> str:
    """Question text of a label: ``air_conditioner -> air conditioner``, ``bat1 -> bat`` (no sense digit)."""
    if overrides and label in overrides:
        return overrides[label]
    return re.sub(r"\d+$", "", label).replace("_", " ").strip()


def list_images(folder: Path) -> list[Path]:
    """Image files (jpg/jpeg/png, any case) directly inside ``folder``, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def open_rgb(path: str | Path) -> Image.Image:
    """An image file as RGB; transparency is composited on white."""
    with Image.open(path) as im:
        im.load()
        return to_rgb(im)


def to_rgb(im: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGB copy of ``im`` with any alpha (or palette transparency) composited on ``background``."""
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return im.convert("RGB")


def digest(*parts: object) -> str:
    """sha256 hex of the parts joined by newlines (stable across processes)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode())
        h.update(b"\n")
    return h.hexdigest()


def check_no_hash(path: Path, what: str) -> None:
    """Image references use ``#`` to mark augmented variants, so a path must not contain it."""
    if "#" in str(path):
        raise UserError(f"{what} {path} contains '#', which marks augmented variants in image references")
