"""Named hypernym lists for systematic ablation (``[ablation] kind = "systematic", preset = "..."``).

``paper-table4``: the paper's Table 4 list of ``level`` (10, 20, 30 or 40) removed hypernyms, shipped in
``paper_table4.tsv`` (provenance in NOTICE.md beside it).  ``paper-swap-10``: the ten hypernyms of the
paper's hypernym-swap experiment.  ``all``: every hypernym of the task.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from harness.errors import UserError

TABLE4 = Path(__file__).parent / "data" / "paper_table4.tsv"

SWAP_10 = (
    # The ten hypernyms of the paper's hypernym-swap experiment, as listed in the header of its published
    # cat_unseen_f1_scores.csv (github.com/sally-xu-42/cross-modal-taxonomic-gen results/, MIT).
    "bird",
    "clothing accessory",
    "container",
    "dessert",
    "furniture",
    "medical equipment",
    "school supply",
    "vegetable",
    "vehicle",
    "weapon",
)
NAMES = ("paper-table4", "paper-swap-10", "all")


@cache
def table4() -> dict[int, tuple[str, ...]]:
    """level -> the hypernyms the paper's Table 4 removes at that level."""
    out: dict[int, list[str]] = {}
    with TABLE4.open(newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out.setdefault(int(row["level"]), []).append(row["hypernym"])
    return {level: tuple(names) for level, names in sorted(out.items())}


def preset_hypernyms(preset: str, level: float) -> tuple[str, ...] | None:
    """The hypernym names a preset lists at ``level``; None for ``all`` (every hypernym)."""
    if preset == "all":
        return None
    if preset == "paper-swap-10":
        return SWAP_10
    if preset == "paper-table4":
        lists = table4()
        if level not in lists:
            raise UserError(
                f"ablation.preset 'paper-table4' lists levels {', '.join(map(str, lists))}, not {level:g}"
            )
        return lists[int(level)]
    raise UserError(f"ablation.preset: unknown preset {preset!r}; available: {', '.join(NAMES)}")
