"""Named hypernym lists for systematic ablation (``[ablation] kind = "systematic", preset = "..."``).

The paper's Table 4 lists of 10/20/30/40 removed hypernyms are not available to us and are not shipped;
``level = 10 | 20 | 30 | 40`` without a preset removes a seeded sample of that many hypernyms instead.
"""

from __future__ import annotations

ALL = "all"  # every hypernym of the task

SYSTEMATIC_PRESETS: dict[str, tuple[str, ...] | str] = {
    # The ten hypernyms of the paper's hypernym-swap experiment, as listed in the header of its published
    # cat_unseen_f1_scores.csv (github.com/sally-xu-42/cross-modal-taxonomic-gen results/, MIT).
    "paper-swap-10": (
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
    ),
    "all": ALL,
}
