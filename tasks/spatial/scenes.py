"""Two-object scenes: which object goes where, drawn deterministically from a seed.

A scene of relation ``below`` puts its *first* object under its *second* one (a column, small horizontal
jitter); ``left_of`` puts the first object left of the second (a row, small vertical jitter).  Sizes vary,
each object's artwork is drawn from any artist set that has it, and both orders of every object pair occur.
The gap between the two objects always exceeds the jitter across the axis, so the other axis' relations
are false for the scene.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from harness.plugin.api import derive_rng

CANVAS = 224
SIZES = (56, 84)  # object side in pixels, inclusive range
JITTER = 10  # pixels either way across the axis
MARGIN = 6
GAP = 8  # pixels between the two objects along the axis, at least
AXIS = {"below": "vertical", "left_of": "horizontal"}


@dataclass(frozen=True)
class Placed:
    """One object of a scene: its label, artwork file, side length and top-left corner."""

    obj: str
    artwork: str
    size: int
    x: int
    y: int


@dataclass(frozen=True)
class Scene:
    """``first`` stands in ``relation`` to ``second`` (below: first is lower; left_of: first is left)."""

    relation: str
    first: Placed
    second: Placed


def make_scenes(relation: str, artwork: dict[str, list[str]], count: int, seed: int) -> dict[str, Scene]:
    """``count`` scenes of ``relation`` (``below`` or ``left_of``) keyed ``<relation>-<index>``.

    ``artwork``: object -> its artwork files (sorted); every random choice comes from
    ``derive_rng(seed, "spatial-scene", relation, index)``.
    """
    objects = sorted(artwork)
    out = {}
    for i in range(count):
        rng = derive_rng(seed, "spatial-scene", relation, i)
        objs = rng.sample(objects, 2)
        sizes = [rng.randint(*SIZES) for _ in objs]
        first_far = relation == "below"  # below: the first object is lower; left_of: it is left
        ends = (first_far, not first_far)
        along = [_far(rng, s) if far else _near(rng, s) for s, far in zip(sizes, ends, strict=True)]
        centre = rng.randint(CANVAS * 3 // 10, CANVAS * 7 // 10)
        across = [centre - s // 2 + rng.randint(-JITTER, JITTER) for s in sizes]
        placed = []
        for obj, size, a, b in zip(objs, sizes, along, across, strict=True):
            x, y = (a, b) if AXIS[relation] == "horizontal" else (b, a)
            placed.append(Placed(obj, rng.choice(artwork[obj]), size, x, y))
        out[f"{relation}-{i:04d}"] = Scene(relation, placed[0], placed[1])
    return out


def _near(rng, size: int) -> int:
    """Offset along the axis in the top/left half."""
    return rng.randint(MARGIN, CANVAS // 2 - GAP // 2 - size)


def _far(rng, size: int) -> int:
    """Offset along the axis in the bottom/right half."""
    return rng.randint(CANVAS // 2 + GAP // 2, CANVAS - MARGIN - size)


def draw(scene: Scene, open_rgba) -> Image.Image:
    """The scene on a white ``CANVAS`` x ``CANVAS`` RGB canvas; ``open_rgba(path)`` loads artwork."""
    canvas = Image.new("RGB", (CANVAS, CANVAS), (255, 255, 255))
    for placed in (scene.first, scene.second):
        art = open_rgba(placed.artwork).resize((placed.size, placed.size), Image.Resampling.LANCZOS)
        canvas.paste(art, (placed.x, placed.y), art)
    return canvas
