"""The identity shuffle: every leaf keeps its own images."""

from __future__ import annotations

import random
from typing import Any

from harness.contracts import TaskData
from plugins.shuffles._args import reject_extra


class Original:
    name = "original"

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        reject_extra(self.name, arg, options)
        self.last_info: dict[str, Any] = {}

    def apply(self, data: TaskData, rng: random.Random) -> dict[str, str]:
        return {leaf: leaf for leaf in data.leaves}
