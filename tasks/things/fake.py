"""A fake THINGS image tree for tests: tiny images in ``<root>/<concept>/`` for a subset of the leaves."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from harness.plugin.api import derive_rng
from tasks.taxonomy import read_pairs
from tasks.things.task import TAXONOMY


def make_fake_things_tree(
    root: Path, leaves: Iterable[str] | None = None, per_leaf: int = 4, size: int = 16, seed: int = 0
) -> list[str]:
    """Write ``per_leaf`` small images per leaf (alternating JPEG and PNG) and return the leaves written.

    ``leaves`` defaults to 24 leaves spread over the taxonomy (including nested hypernyms).  Each leaf gets a
    distinct base colour with per-image noise, so images differ in content.
    """
    taxonomy = read_pairs(TAXONOMY)
    chosen = sorted(leaves) if leaves is not None else default_leaves(taxonomy)
    unknown = [leaf for leaf in chosen if leaf not in taxonomy]
    if unknown:
        raise ValueError(f"not THINGS leaves: {unknown}")
    root = Path(root)
    for leaf in chosen:
        rng = derive_rng(seed, "fake-things", leaf)
        base = tuple(rng.randrange(256) for _ in range(3))
        folder = root / leaf
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_leaf):
            pixels = bytes(
                max(0, min(255, c + rng.randrange(-20, 21))) for _ in range(size * size) for c in base
            )
            image = Image.frombytes("RGB", (size, size), pixels)
            suffix = ".jpg" if i % 2 == 0 else ".png"
            image.save(folder / f"{leaf}_{i:02d}{suffix}")
    return chosen


def default_leaves(taxonomy: dict[str, tuple[str, ...]]) -> list[str]:
    """A fixed, varied subset: leaves under nested hypernyms first, then spread over the rest."""
    nested = ["mammal", "bird", "fruit", "outerwear", "candy", "insect"]
    picked: list[str] = []
    for h in nested:
        picked += [leaf for leaf, hs in taxonomy.items() if h in hs][:2]
    rest = [leaf for leaf in taxonomy if leaf not in picked]
    picked += rest[:: max(1, len(rest) // 12)][:12]
    return sorted(set(picked))
