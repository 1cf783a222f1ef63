"""The spatial-relations task: two emoji objects per scene; train on one relation, ask its converse.

Observed labels (leaves) are the relations a scene is stated with, ``below`` and ``left of`` ("Is the cat
below the dog?"); each one's derived label is its converse, ``above`` and ``right of`` ("Is the dog above
the cat?"), so the protocol's hypernym ablation holds converses out of training exactly as it holds out
hypernyms.  Negatives: the other axis' relation and the contrast question (the same relation with the
objects swapped, "Is the dog below the cat?").  See ``docs/tasks.md``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any

from PIL import Image
from pydantic import AfterValidator, Field

from harness.plugin.api import PluginOptions, TaskData, UserError, declare
from tasks.emoji.task import ArtistSets, EmojiTask
from tasks.taxonomy import digest

from .scenes import Scene, draw, make_scenes

VERSION = 1  # bump when scene layout or drawing changes (the fingerprint changes with it)
# Well-known, visually distinct emoji objects (ids of the emoji task's taxonomy).
DEFAULT_OBJECTS = ("ant", "apple", "carrot", "cat", "chair", "crab", "dog", "eagle", "guitar", "lemon")
OBSERVED = {"below": "above", "left_of": "right_of"}  # leaf -> its converse (derived label)
NAMES = {"below": "below", "left_of": "left of", "above": "above", "right_of": "right of"}
# The observed relation names the first object first; the converse names the second first.
FORWARD = "Is the {first} {category} the {second}?"
BACKWARD = "Is the {second} {category} the {first}?"


class SpatialTask:
    """Scenes of two emoji objects (``tasks/spatial/scenes.py``) labelled with ``below`` / ``left of``."""

    name = "spatial"
    question_template = FORWARD
    probe_template = "If one thing is {leaf} another thing, is the other thing {category} the first one?"
    cloze_template = "If one thing is {leaf} another thing, the other thing is"
    probe_variants = ("yes_no", "cloze")  # the paper's probe asks about kinds of things, not relations

    def __init__(
        self,
        root: Path | None = None,
        sets: tuple[str, ...] | None = None,
        objects: tuple[str, ...] = DEFAULT_OBJECTS,
        scenes: int = 120,
        seed: int = 0,
    ) -> None:
        self.emoji = EmojiTask(root, sets=sets)
        self.objects, self.count, self.seed = objects, scenes, seed
        self._scenes: dict[str, Scene] | None = None
        self._data: TaskData | None = None

    def fetch_assets(self, dest: Path | None = None) -> Path:
        """The emoji artwork the scenes are made of (``taxobench assets fetch spatial``)."""
        return self.emoji.fetch_assets(dest)

    def load(self) -> TaskData:
        if self._data is None:
            self._data = self._load()
        return self._data

    def _load(self) -> TaskData:
        emoji = self.emoji.load()
        missing = [o for o in self.objects if o not in emoji.images]
        if missing:
            raise UserError(
                f"task 'spatial': no artwork for object(s) {missing} under {self.emoji.root}; "
                f"choose objects among the emoji leaves or run `taxobench assets fetch spatial`"
            )
        artwork = {o: sorted(emoji.images[o]) for o in self.objects}
        self._scenes = {}
        for relation in OBSERVED:
            self._scenes.update(make_scenes(relation, artwork, self.count, self.seed))
        slots = {
            ref: {"first": emoji.surface(s.first.obj), "second": emoji.surface(s.second.obj)}
            for ref, s in self._scenes.items()
        }
        images = {leaf: [r for r, s in self._scenes.items() if s.relation == leaf] for leaf in OBSERVED}
        return TaskData(
            images=images,
            relations={leaf: (converse,) for leaf, converse in OBSERVED.items()},
            depths={converse: 1 for converse in OBSERVED.values()},
            names=NAMES,
            slots=slots,
            templates={converse: BACKWARD for converse in OBSERVED.values()},
            contrasts={
                **{leaf: (BACKWARD,) for leaf in OBSERVED},
                **{converse: (FORWARD,) for converse in OBSERVED.values()},
            },
        )

    def open_image(self, ref: str) -> Image.Image:
        self.load()
        scene = self._scenes.get(ref) if self._scenes else None
        if scene is None:
            raise UserError(f"task 'spatial': unknown scene {ref!r}")
        return draw(scene, lambda ref: _open_rgba(str(self.emoji.locate(ref))))

    def fingerprint(self) -> str:
        self.load()
        files = sorted({p.artwork for s in (self._scenes or {}).values() for p in (s.first, s.second)})
        return digest(
            "spatial", VERSION, self.objects, self.count, self.seed, self.emoji.fingerprint(), files
        )[:32]


@cache
def _open_rgba(path: str) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGBA")


def _distinct_objects(value: tuple[str, ...]) -> tuple[str, ...]:
    objects = tuple(sorted(set(value)))
    if len(objects) < 2:
        raise ValueError("objects must list at least two distinct emoji leaves")
    return objects


class SpatialOptions(PluginOptions):
    """Options of task ``spatial``."""

    root: str | Path | None = None  # or the reference's argument, spatial:/emoji/asset/dir
    sets: ArtistSets | None = None  # None: every fetched set
    objects: Annotated[tuple[str, ...], AfterValidator(_distinct_objects)] = tuple(sorted(DEFAULT_OBJECTS))
    scenes: Annotated[int, Field(strict=True, ge=4)] = 120
    seed: Annotated[int, Field(strict=True, ge=0)] = 0


@declare(SpatialOptions)
def factory(arg: str | None = None, **options: Any) -> SpatialTask:
    """``spatial`` or ``spatial:/emoji/asset/dir``; options ``root``, ``sets``, ``objects``, ``scenes``,
    ``seed``."""
    opts = SpatialOptions.parse("task 'spatial'", options)
    root = opts.root or arg
    return SpatialTask(
        Path(str(root)) if root else None,
        sets=opts.sets,
        objects=opts.objects,
        scenes=opts.scenes,
        seed=opts.seed,
    )
