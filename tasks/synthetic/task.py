"""A tiny offline task of coloured shapes, generated deterministically on first ``load()``.

12 leaves (3 colours x 4 shapes) with hypernyms by shape family (polygon > quadrilateral, round shape) and
colour family (warm-coloured shape > red shape, cool-coloured shape).  Images are PNGs with jittered
position, size, rotation, shade and background, written once into a cache folder keyed by the parameters.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from PIL import Image, ImageDraw
from pydantic import Field

from harness.plugin.api import PluginOptions, TaskData, cache_root, declare, derive_rng, write_dir_atomic
from tasks.taxonomy import check_no_hash, derive_depths, digest, open_rgb, surface

VERSION = 1  # bump when the drawing changes, so cached images are regenerated
COLOURS = {"red": (215, 40, 40), "yellow": (235, 195, 30), "blue": (40, 80, 215)}
SHAPES = ("circle", "square", "diamond", "triangle")
COLOUR_FAMILY = {"red": ("warm-coloured shape", "red shape"), "yellow": ("warm-coloured shape",)}
COLOUR_FAMILY["blue"] = ("cool-coloured shape",)
SHAPE_FAMILY = {
    "circle": ("round shape",),
    "square": ("polygon", "quadrilateral"),
    "diamond": ("polygon", "quadrilateral"),
    "triangle": ("polygon",),
}


def taxonomy() -> dict[str, tuple[str, ...]]:
    """``leaf -> hypernyms``, e.g. ``red_square -> (polygon, quadrilateral, red shape, ...)``."""
    return {
        f"{c}_{s}": tuple(sorted(COLOUR_FAMILY[c] + SHAPE_FAMILY[s]))
        for c in sorted(COLOURS)
        for s in sorted(SHAPES)
    }


class SyntheticTask:
    """Coloured shapes; see the module docstring."""

    name = "synthetic"
    question_template = "Is there {article} {category} in this image?"
    probe_template = "Is it true that {leaf_article} {leaf} is a type of {category}?"

    def __init__(self, root: Path | None = None, per_leaf: int = 8, size: int = 64, seed: int = 0) -> None:
        self.per_leaf, self.size, self.seed = per_leaf, size, seed
        key = digest(VERSION, per_leaf, size, seed)[:12]
        base = Path(root).expanduser() if root is not None else cache_root() / "synthetic"
        check_no_hash(base, "synthetic image folder")
        self.folder = base / key
        self._data: TaskData | None = None

    def load(self) -> TaskData:
        if self._data is None:
            self._generate()
            relations = taxonomy()
            images = {leaf: [f"{leaf}/{i:02d}.png" for i in range(self.per_leaf)] for leaf in relations}
            depths = derive_depths(relations)
            names = {label: surface(label) for label in [*relations, *depths]}
            self._data = TaskData(images=images, relations=relations, depths=depths, names=names)
        return self._data

    def _generate(self) -> None:
        if (self.folder / "complete").is_file():
            return

        def draw_all(tmp: Path) -> None:
            for leaf in taxonomy():
                (tmp / leaf).mkdir()
                for i in range(self.per_leaf):
                    draw_shape(leaf, i, self.size, self.seed).save(tmp / leaf / f"{i:02d}.png")
            (tmp / "complete").write_text("ok\n")

        write_dir_atomic(self.folder, draw_all)  # another process's finished copy is kept

    def locate(self, ref: str) -> Path:
        return self.folder / ref

    def open_image(self, ref: str) -> Image.Image:
        return open_rgb(self.locate(ref))

    def fingerprint(self) -> str:
        return digest("synthetic", VERSION, self.per_leaf, self.size, self.seed, sorted(taxonomy().items()))[
            :32
        ]


def draw_shape(leaf: str, index: int, size: int, seed: int = 0) -> Image.Image:
    """Image ``index`` of ``leaf`` (``<colour>_<shape>``): deterministic in its arguments."""
    colour, shape = leaf.split("_", 1)
    rng = derive_rng(seed, "synthetic", leaf, index)
    bg = tuple(rng.randint(225, 250) for _ in range(3))
    image = Image.new("RGB", (size, size), bg)
    fill = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in COLOURS[colour])
    radius = size * rng.uniform(0.22, 0.34)
    cx = size / 2 + rng.uniform(-0.12, 0.12) * size
    cy = size / 2 + rng.uniform(-0.12, 0.12) * size
    angle = rng.uniform(-15, 15)
    draw = ImageDraw.Draw(image)
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=fill)
    else:
        corners = {"square": (45, 4), "diamond": (0, 4), "triangle": (-90, 3)}[shape]
        start, n = corners
        r = radius * (1.25 if shape == "square" else 1.2)
        points = [
            (
                cx + r * math.cos(math.radians(start + angle + k * 360 / n)),
                cy + r * math.sin(math.radians(start + angle + k * 360 / n)),
            )
            for k in range(n)
        ]
        draw.polygon(points, fill=fill)
    return image


class SyntheticOptions(PluginOptions):
    """Options of task ``synthetic``."""

    root: str | Path | None = None  # or the reference's argument, synthetic:/cache/dir
    per_leaf: Annotated[int, Field(strict=True, ge=1)] = 8
    size: Annotated[int, Field(strict=True, ge=16, le=1024)] = 64
    seed: Annotated[int, Field(strict=True, ge=0)] = 0


@declare(SyntheticOptions)
def factory(arg: str | None = None, **options: Any) -> SyntheticTask:
    """``synthetic`` or ``synthetic:/cache/dir``; options ``root``, ``per_leaf``, ``size``, ``seed``."""
    opts = SyntheticOptions.parse("task 'synthetic'", options)
    root = opts.root or arg
    return SyntheticTask(
        Path(str(root)) if root else None, per_leaf=opts.per_leaf, size=opts.size, seed=opts.seed
    )
