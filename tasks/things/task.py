"""The THINGS hypernymy task: the paper's taxonomy over the user's copy of the THINGS images.

Images are read from ``<root>/<concept>/*.{jpg,jpeg,png}``; the taxonomy ships in ``data/leaf_hypernyms.tsv``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from harness.contracts import TaskData
from harness.errors import UserError
from tasks import options as opt
from tasks.taxonomy import check_no_hash, derive_depths, digest, list_images, open_rgb, read_pairs, surface

DATA = Path(__file__).parent / "data"
TAXONOMY = DATA / "leaf_hypernyms.tsv"
NAME_OVERRIDES = {"flip_flop": "flip-flop"}  # the THINGS word where it is not the uniqueID's plain form
SHOW = 5  # how many missing items an error message names


class ThingsTask:
    """THINGS leaves (1,222) with their 53 hypernyms; see ``docs/tasks.md``."""

    name = "things"
    question_template = "Is there {article} {category} in this image?"
    probe_template = "Is it true that {leaf_article} {leaf} is a type of {category}?"

    def __init__(
        self,
        root: Path,
        on_missing: str = "error",
        depth_containment: float = 1.0,
        check_images: bool = True,
        taxonomy: Path = TAXONOMY,
    ) -> None:
        self.root = Path(root).expanduser()
        self.on_missing = on_missing
        self.depth_containment = depth_containment
        self.check_images = check_images
        self.taxonomy_path = Path(taxonomy)
        self._data: TaskData | None = None
        self._listing: str | None = None

    def taxonomy(self) -> dict[str, tuple[str, ...]]:
        """The full shipped taxonomy, ``leaf -> hypernyms``, whatever images exist."""
        return read_pairs(self.taxonomy_path)

    def load(self) -> TaskData:
        if self._data is None:
            self._data = self._load()
        return self._data

    def _load(self) -> TaskData:
        if not self.root.is_dir():
            raise UserError(
                f"THINGS image folder not found: {self.root} (expected <root>/<concept>/<image>.jpg; "
                "set the task as 'things:/path/to/images' or task_options.root)"
            )
        check_no_hash(self.root, "THINGS image folder")
        relations = self.taxonomy()
        images: dict[str, list[str]] = {}
        no_folder: list[str] = []
        unreadable: list[Path] = []
        for leaf in relations:
            files = list_images(self.root / leaf)
            bad = {p for p in files if not _readable(p)} if self.check_images else set()
            unreadable += sorted(bad)
            good = [str(p) for p in files if p not in bad]
            if good:
                images[leaf] = good
            else:
                no_folder.append(leaf)
        self._report(no_folder, unreadable, len(relations))
        if not images:
            raise UserError(f"no THINGS images of any taxonomy leaf under {self.root}")
        depths_all = derive_depths(relations, self.depth_containment)
        kept = {leaf: relations[leaf] for leaf in images}
        used = {h for hs in kept.values() for h in hs}
        depths = {h: d for h, d in depths_all.items() if h in used}
        names = {leaf: surface(leaf, NAME_OVERRIDES) for leaf in kept}
        names.update({h: h for h in depths})
        self._listing = digest(*(f"{leaf}/{_stat(p)}" for leaf in sorted(images) for p in images[leaf]))
        return TaskData(images=images, relations=kept, depths=depths, names=names)

    def _report(self, no_images: list[str], unreadable: list[Path], total: int) -> None:
        if not no_images and not unreadable:
            return
        parts = []
        if no_images:
            parts.append(
                f"{len(no_images)} of {total} leaves have no image folder or no readable image "
                f"(e.g. {', '.join(no_images[:SHOW])})"
            )
        if unreadable:
            shown = ", ".join(str(p.relative_to(self.root)) for p in unreadable[:SHOW])
            parts.append(f"{len(unreadable)} image files are unreadable (e.g. {shown})")
        message = f"THINGS images under {self.root}: " + "; ".join(parts)
        if self.on_missing == "error":
            raise UserError(message + '. Set task_options.on_missing = "skip" to leave them out.')
        warnings.warn(message + "; skipped.", UserWarning, stacklevel=3)

    def open_image(self, ref: str) -> Image.Image:
        return open_rgb(ref)

    def fingerprint(self) -> str:
        self.load()
        taxonomy = digest(self.taxonomy_path.read_bytes())
        return digest("things", taxonomy, self.depth_containment, self._listing)[:32]


def _stat(path: str) -> str:
    p = Path(path)
    return f"{p.name}:{p.stat().st_size}"


def _readable(path: Path) -> bool:
    """The file opens as an image (header check, fast)."""
    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 - touching size parses the header
        return True
    except (OSError, UnidentifiedImageError, ValueError):
        return False


def factory(arg: str | None = None, **options: Any) -> ThingsTask:
    """``things:/path/to/images`` or option ``root``; options ``on_missing``, ``depth_containment``,
    ``check_images``."""
    opt.check_known("things", options, ("root", "on_missing", "depth_containment", "check_images"))
    root = options.get("root") or arg
    if not root:
        raise UserError(
            "task 'things' needs your copy of the THINGS images: use 'things:/path/to/object_images' "
            "or task_options.root (layout <root>/<concept>/<image>.jpg)"
        )
    return ThingsTask(
        Path(str(root)),
        on_missing=opt.choice("things", "on_missing", options.get("on_missing", "error"), ("error", "skip")),
        depth_containment=opt.number(
            "things", "depth_containment", options.get("depth_containment", 1.0), 0, 1
        ),
        check_images=bool(options.get("check_images", True)),
    )
