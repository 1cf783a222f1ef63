"""The THINGS hypernymy task: the paper's taxonomy over the user's copy of the THINGS images.

Images are read from ``<root>/<concept>/*.{jpg,jpeg,png}`` and referred to relative to ``root``
(``"aardvark/aardvark_01b.jpg"``), so a moved copy gives the same questions; the taxonomy ships in
``data/leaf_hypernyms.tsv``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

from PIL import Image, UnidentifiedImageError
from pydantic import Field

from harness.plugin.api import PluginOptions, Profile, TaskData, UserError, declare
from tasks.taxonomy import check_no_hash, derive_depths, digest, list_images, open_rgb, read_pairs, surface

DATA = Path(__file__).parent / "data"
TAXONOMY = DATA / "leaf_hypernyms.tsv"
PAPER_DEPTHS = DATA / "paper_depths.tsv"  # the paper's bottom-up count, 41 / 9 / 3 (see NOTICE.md)
PROBE_FORMS = DATA / "probe_forms.tsv"  # the paper's probe: surface forms of its 4 phrasings
PROBE_NEGATIVES = DATA / "probe_negatives.tsv"  # the paper's probe: "No" questions per leaf
NAME_OVERRIDES = {"flip_flop": "flip-flop"}  # the THINGS word where it is not the uniqueID's plain form
SHOW = 5  # how many missing items an error message names
NEEDS_ROOT = (
    "task 'things' needs your copy of the THINGS images: use 'things:/path/to/object_images' "
    "or task_options.root (layout <root>/<concept>/<image>.jpg)"
)


class ThingsTask:
    """THINGS leaves (1,222) with their 53 hypernyms; see ``docs/tasks.md``."""

    name = "things"
    question_template = "Is there {article} {category} in this image?"
    probe_template = "Is it true that {leaf_article} {leaf} is a type of {category}?"

    def __init__(
        self,
        root: Path | None,
        on_missing: str = "error",
        depth_containment: float = 1.0,
        check_images: bool = True,
        taxonomy: Path = TAXONOMY,
        depths: str = "paper",
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else None
        self.on_missing = on_missing
        self.depth_containment = depth_containment
        self.depth_rule = depths
        self.check_images = check_images
        self.taxonomy_path = Path(taxonomy)
        self._data: TaskData | None = None
        self._listing: str | None = None

    def taxonomy(self) -> dict[str, tuple[str, ...]]:
        """The full shipped taxonomy, ``leaf -> hypernyms``, whatever images exist."""
        return read_pairs(self.taxonomy_path)

    def depths(self) -> dict[str, int]:
        """``hypernym -> depth`` of the full taxonomy: the paper's bottom-up count (option ``depths =
        "paper"``, 3 = most general) or derived from the leaf sets (``"derived"``, 1 = top level)."""
        relations = self.taxonomy()
        if self.depth_rule == "derived":
            return derive_depths(relations, self.depth_containment)
        with PAPER_DEPTHS.open() as fh:
            shipped = dict(line.rstrip("\n").split("\t") for line in list(fh)[1:])
        used = {h for hs in relations.values() for h in hs}
        missing = sorted(used - set(shipped))
        if missing:
            raise UserError(
                f"task 'things': no paper depth for hypernym(s) {missing}; use depths = 'derived'"
            )
        return {h: int(shipped[h]) for h in sorted(used)}

    def load(self) -> TaskData:
        if self._data is None:
            self._data = self._load()
        return self._data

    def probe_forms(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """``{"leaf" | "hypernym": {label: forms}}``: the surface forms of the paper probe's 4 phrasings
        (shipped, quirks included)."""
        out: dict[str, dict[str, tuple[str, ...]]] = {"leaf": {}, "hypernym": {}}
        for r in _read_tsv(PROBE_FORMS):
            out[r["kind"]][r["label"]] = (r["p1"], r["p2"], r["p3"], r["p4"])
        return out

    def probe_negatives(self) -> dict[str, tuple[int, dict[int, str]]]:
        """Leaf -> (number of "No" questions of each of its probe items, {position: known hypernym})."""
        out = {}
        for r in _read_tsv(PROBE_NEGATIVES):
            known = dict(part.split(":", 1) for part in r["known"].split("|") if part)
            out[r["leaf"]] = (int(r["negatives"]), {int(k): v for k, v in known.items()})
        return out

    def taxonomy_data(self) -> TaskData:
        """The shipped taxonomy as task data without images (``taxobench task show``; needs no images)."""
        relations = self.taxonomy()
        depths = self.depths()
        names = {leaf: surface(leaf, NAME_OVERRIDES) for leaf in relations} | {h: h for h in depths}
        return TaskData(
            images={leaf: [] for leaf in relations}, relations=relations, depths=depths, names=names
        )

    def _load(self) -> TaskData:
        if self.root is None:
            raise UserError(NEEDS_ROOT)
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
            good = [p.relative_to(self.root).as_posix() for p in files if p not in bad]
            if good:
                images[leaf] = good
            else:
                no_folder.append(leaf)
        self._report(no_folder, unreadable, len(relations))
        if not images:
            raise UserError(f"no THINGS images of any taxonomy leaf under {self.root}")
        depths_all = self.depths()
        kept = {leaf: relations[leaf] for leaf in images}
        used = {h for hs in kept.values() for h in hs}
        depths = {h: d for h, d in depths_all.items() if h in used}
        names = {leaf: surface(leaf, NAME_OVERRIDES) for leaf in kept}
        names.update({h: h for h in depths})
        self._listing = digest(*(_stat(self.root / ref) for leaf in sorted(images) for ref in images[leaf]))
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
            root = self.root
            assert root is not None  # checked by _load
            shown = ", ".join(str(p.relative_to(root)) for p in unreadable[:SHOW])
            parts.append(f"{len(unreadable)} image files are unreadable (e.g. {shown})")
        message = f"THINGS images under {self.root}: " + "; ".join(parts)
        if self.on_missing == "error":
            raise UserError(message + '. Set task_options.on_missing = "skip" to leave them out.')
        warnings.warn(message + "; skipped.", UserWarning, stacklevel=3)

    def locate(self, ref: str) -> Path:
        if self.root is None:
            raise UserError(NEEDS_ROOT)
        return self.root / ref

    def open_image(self, ref: str) -> Image.Image:
        return open_rgb(self.locate(ref))

    def fingerprint(self) -> str:
        self.load()
        taxonomy = digest(self.taxonomy_path.read_bytes())
        depth = (self.depth_rule, self.depth_containment if self.depth_rule == "derived" else None)
        return digest("things", taxonomy, *depth, self._listing)[:32]


def _read_tsv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="") as fh:
        return [{k: v or "" for k, v in row.items()} for row in csv.DictReader(fh, delimiter="\t")]


def _stat(path: Path) -> str:
    return f"{path.parent.name}/{path.name}:{path.stat().st_size}"


def _readable(path: Path) -> bool:
    """The file opens as an image (header check, fast)."""
    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 - touching size parses the header
        return True
    except (OSError, UnidentifiedImageError, ValueError):
        return False


class ThingsOptions(PluginOptions):
    """Options of task ``things`` (``profile`` is passed by the harness)."""

    root: str | Path | None = None  # or the reference's argument, things:/path/to/images
    on_missing: Literal["error", "skip"] = "error"
    depths: Literal["paper", "derived"] | None = None  # None: paper under profile paper-code, else derived
    depth_containment: Annotated[float, Field(strict=True, gt=0, le=1)] = 1.0
    check_images: bool = True
    profile: Profile = "paper-code"

    @property
    def depth_rule(self) -> str:
        return self.depths or ("paper" if self.profile == "paper-code" else "derived")


@declare(ThingsOptions)
def factory(arg: str | None = None, profile: str = "paper-code", **options: Any) -> ThingsTask:
    """``things:/path/to/images`` or option ``root``; options ``on_missing``, ``depths`` (default
    ``paper`` under the paper-code profile, else ``derived``), ``depth_containment``, ``check_images``."""
    opts = ThingsOptions.parse("task 'things'", {**options, "profile": profile})
    root = opts.root or arg
    return ThingsTask(
        Path(str(root)) if root else None,
        on_missing=opts.on_missing,
        depth_containment=opts.depth_containment,
        check_images=opts.check_images,
        depths=opts.depth_rule,
    )
