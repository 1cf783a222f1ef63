"""A fake emoji asset folder for tests: the layout and manifest ``fetch`` writes, with generated artwork."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from harness.plugin.api import derive_rng
from tasks.emoji import assets
from tasks.emoji.sources import SOURCES
from tasks.emoji.taxonomy import leaves as taxonomy_leaves

DEFAULT_LEAVES = (
    "eagle",
    "owl",
    "dog",
    "cat",
    "ant",
    "crab",
    "apple",
    "lemon",
    "carrot",
    "taxi",
    "guitar",
    "chair",
)


def make_fake_emoji_assets(
    root: Path,
    leaves: Iterable[str] = DEFAULT_LEAVES,
    sets: Iterable[str] = ("google", "twitter", "fluent"),
    size: int = 32,
) -> list[str]:
    """Write ``<root>/<set>/<leaf>.png`` (RGBA, a coloured blob on transparency), manifest.json and NOTICE.md.

    Taxonomy leaves not in ``leaves`` are recorded as missing from every set (as a package lacking them
    would be), so loading the folder keeps just ``leaves``.
    """
    root = Path(root)
    chosen = sorted(leaves)
    everything = [leaf.leaf for leaf in taxonomy_leaves()]
    unknown = [leaf for leaf in chosen if leaf not in everything]
    if unknown:
        raise ValueError(f"not emoji taxonomy leaves: {unknown}")
    manifest: dict[str, Any] = {"format": assets.FORMAT, "sets": {}, "skipped": {}}
    for name in sets:
        source = SOURCES[name]
        files = {}
        (root / name).mkdir(parents=True, exist_ok=True)
        for leaf in chosen:
            blob = _png(_artwork(leaf, name, size))
            (root / name / f"{leaf}.png").write_bytes(blob)
            files[leaf] = hashlib.sha256(blob).hexdigest()
        missing = [leaf for leaf in everything if leaf not in files]
        manifest["sets"][name] = assets.set_entry(source, files, missing)
    (root / assets.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    (root / "NOTICE.md").write_text(assets.notice(manifest))
    return chosen


def _artwork(leaf: str, set_name: str, size: int) -> Image.Image:
    rng = derive_rng(0, "fake-emoji", leaf, set_name)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    colour = (*(rng.randrange(256) for _ in range(3)), 255)
    m = size // 6
    ImageDraw.Draw(image).ellipse([m, m + rng.randrange(m), size - m, size - m], fill=colour)
    return image


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
