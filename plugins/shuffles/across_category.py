"""Across-category shuffle: a uniformly random permutation of all leaf labels over the image sets.

Fixed points are allowed (a leaf may keep its images, as in any random permutation, as in the released code);
``apply`` returns their number as its information (``{"fixed_points": n}``, stored in the QuestionSet meta).
"""

from __future__ import annotations

import random
from typing import Any

from harness.plugin.api import PluginOptions, TaskData, UserError


class AcrossCategoryOptions(PluginOptions):
    """Shuffle ``across_category`` takes no options."""


class AcrossCategory:
    name = "across_category"
    options = AcrossCategoryOptions

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        if arg is not None:
            raise UserError(f"shuffle {self.name!r} takes no argument (got {self.name}:{arg})")
        AcrossCategoryOptions.parse(f"shuffle {self.name!r}", options)

    def apply(self, data: TaskData, rng: random.Random) -> tuple[dict[str, str], dict[str, Any]]:
        leaves = data.leaves
        labels = list(leaves)
        rng.shuffle(labels)
        mapping = dict(zip(leaves, labels, strict=True))
        return mapping, {"fixed_points": sum(1 for k, v in mapping.items() if k == v)}
