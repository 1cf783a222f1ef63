"""The emoji hypernymy task: curated concrete-object emoji, one image per artist set, fetched once."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

from PIL import Image
from pydantic import AfterValidator, BeforeValidator, Field

from harness.plugin.api import PluginOptions, TaskData, UserError, declare, sha256_file
from tasks.emoji import assets, taxonomy
from tasks.emoji import augment as aug
from tasks.emoji.sources import SOURCES
from tasks.taxonomy import check_no_hash, derive_depths, digest, open_rgb


class EmojiTask:
    """Emoji leaves (``data/taxonomy.tsv``) with hypernyms (``data/hypernyms.tsv``); see ``docs/tasks.md``."""

    name = "emoji"
    question_template = "Is there {article} {category} in this image?"
    probe_template = "Is it true that {leaf_article} {leaf} is a type of {category}?"

    def __init__(
        self, root: Path | None = None, sets: tuple[str, ...] | None = None, augment: int = 0
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else assets.default_root()
        self.sets = sets  # None: every set the manifest holds
        self.augment = augment
        self._data: TaskData | None = None
        self._used: dict[str, dict[str, str]] = {}

    def fetch_assets(self, dest: Path | None = None) -> Path:
        """Download the artwork once (npm registry) into ``dest`` or this task's root; returns the folder."""
        root = Path(dest).expanduser() if dest is not None else self.root
        return assets.fetch(root, taxonomy.leaves(), sets=self.sets or tuple(SOURCES))

    def load(self) -> TaskData:
        if self._data is None:
            self._data = self._load()
        return self._data

    def _load(self) -> TaskData:
        manifest = assets.read_manifest(self.root)
        if manifest is None or not manifest.get("sets"):
            raise UserError(
                f"emoji artwork not found under {self.root}. Run `taxobench assets fetch emoji` once "
                "(downloads about 160 MB from the npm registry), or set task_options.root to a fetched copy."
            )
        check_no_hash(self.root, "emoji asset folder")
        present = sorted(manifest["sets"])
        chosen = list(self.sets) if self.sets else present
        absent = [s for s in chosen if s not in present]
        if absent:
            raise UserError(
                f"emoji sets {absent} are not under {self.root} (present: {present}); "
                "run `taxobench assets fetch emoji` to fetch them"
            )
        relations = taxonomy.relations()
        images: dict[str, list[str]] = {}
        self._used = {s: {} for s in chosen}
        for leaf in relations:
            refs = []
            for s in chosen:
                sha = manifest["sets"][s]["files"].get(leaf)
                path = self.root / s / f"{leaf}.png"
                if sha and path.is_file():
                    self._used[s][leaf] = sha
                    ref = f"{s}/{leaf}.png"  # relative to the asset root: results do not depend on it
                    refs.append(ref)
                    refs += [f"{ref}#{k}" for k in range(1, self.augment + 1)]
            if refs:
                images[leaf] = refs
        known = {leaf for s in chosen for leaf in manifest["sets"][s].get("missing", [])}
        stale = sorted(set(relations) - set(images) - known)
        if stale:  # leaves the fetch has never seen: the taxonomy is newer than the assets
            shown = ", ".join(stale[:5])
            warnings.warn(
                f"emoji task: {len(stale)} leaves have no artwork under {self.root} ({shown}); "
                "run `taxobench assets fetch emoji` to complete the assets",
                UserWarning,
                stacklevel=3,
            )
        if not images:
            raise UserError(
                f"emoji artwork under {self.root} is incomplete; run `taxobench assets fetch emoji`"
            )
        kept = {leaf: relations[leaf] for leaf in images}
        depths = derive_depths(relations)
        used = {h for hs in kept.values() for h in hs}
        depths = {h: d for h, d in depths.items() if h in used}
        names = {leaf.leaf: leaf.name for leaf in taxonomy.leaves() if leaf.leaf in kept}
        names.update({h: h for h in depths})
        return TaskData(images=images, relations=kept, depths=depths, names=names)

    def locate(self, ref: str) -> Path:
        return self.root / ref

    def open_image(self, ref: str) -> Image.Image:
        source, k = aug.split_ref(ref)
        path = self.locate(source)
        if k == 0:
            return open_rgb(path)
        with Image.open(path) as im:
            im.load()
            return aug.augment(im, sha256_file(path), k)

    def fingerprint(self) -> str:
        self.load()
        files = sorted((s, leaf, sha) for s, entries in self._used.items() for leaf, sha in entries.items())
        relations = taxonomy.relations()
        tax = [(leaf.leaf, leaf.name, relations[leaf.leaf]) for leaf in taxonomy.leaves()]
        return digest("emoji", tax, files, self.augment, aug.VERSION)[:32]


def _split_sets(value: Any) -> Any:
    """A comma string of artist sets as a list (``"google, twitter"``); anything else unchanged."""
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    return value


def _known_sets(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [s for s in value if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown artist set(s) {unknown}; must be one of {list(SOURCES)}")
    return tuple(dict.fromkeys(value))


# The ``sets`` option (emoji and spatial): a non-empty list or comma string of artist sets, deduplicated.
ArtistSets = Annotated[
    tuple[str, ...], BeforeValidator(_split_sets), Field(min_length=1), AfterValidator(_known_sets)
]


class EmojiOptions(PluginOptions):
    """Options of task ``emoji``."""

    root: str | Path | None = None  # or the reference's argument, emoji:/asset/dir
    sets: ArtistSets | None = None  # None: every fetched set
    augment: Annotated[int, Field(strict=True, ge=0)] = 0


@declare(EmojiOptions)
def factory(arg: str | None = None, **options: Any) -> EmojiTask:
    """``emoji`` or ``emoji:/asset/dir``; options ``root``, ``sets``, ``augment``."""
    opts = EmojiOptions.parse("task 'emoji'", options)
    root = opts.root or arg
    return EmojiTask(Path(str(root)) if root else None, sets=opts.sets, augment=opts.augment)
