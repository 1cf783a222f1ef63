"""Across-category shuffle: a uniformly random permutation of all leaf labels over the image sets.

Fixed points are allowed (a leaf may keep its images, as in any random permutation); their number is
recorded in ``last_info["fixed_points"]`` (the protocol also stores it in the QuestionSet meta).
"""

from __future__ import annotations

import random
from typing import Any

from harness.errors import UserError
from harness.plugin.contracts import TaskData
from harness.plugin.options import PluginOptions


class AcrossCategoryOptions(PluginOptions):
    """Shuffle ``across_category`` takes no options."""


class AcrossCategory:
    name = "across_category"
    options = AcrossCategoryOptions

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        if arg is not None:
            raise UserError(f"shuffle {self.name!r} takes no argument (got {self.name}:{arg})")
        AcrossCategoryOptions.parse(f"shuffle {self.name!r}", options)
        self.last_info: dict[str, Any] = {}

    @property
    def last_fixed_points(self) -> int | None:
        return self.last_info.get("fixed_points")

    def apply(self, data: TaskData, rng: random.Random) -> dict[str, str]:
        leaves = data.leaves
        labels = list(leaves)
        rng.shuffle(labels)
        mapping = dict(zip(leaves, labels, strict=True))
        self.last_info = {"fixed_points": sum(1 for k, v in mapping.items() if k == v)}
        return mapping
