"""The identity shuffle: every leaf keeps its own images."""

from __future__ import annotations

import random
from typing import Any

from harness.plugin.api import PluginOptions, TaskData, UserError


class OriginalOptions(PluginOptions):
    """Shuffle ``original`` takes no options."""


class Original:
    name = "original"
    options = OriginalOptions

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        if arg is not None:
            raise UserError(f"shuffle {self.name!r} takes no argument (got {self.name}:{arg})")
        OriginalOptions.parse(f"shuffle {self.name!r}", options)

    def apply(self, data: TaskData, rng: random.Random) -> dict[str, str]:
        return {leaf: leaf for leaf in data.leaves}
