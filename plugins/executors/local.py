"""The default executor: runs cells one after another in this process, continuing past failures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.plugin.api import CellOutcome, PluginOptions, UserError
from plugins.executors._common import failure, success


class LocalOptions(PluginOptions):
    """The local executor takes no options."""


class LocalExecutor:
    """Sequential, in-process.  A failing cell is recorded and the grid goes on."""

    name = "local"
    options = LocalOptions

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        if arg:
            raise UserError(f"the local executor takes no argument (got local:{arg})")
        LocalOptions.parse(f"executor {self.name!r}", options)

    def run(
        self,
        cells: Sequence[Any],
        run_cell: Callable[[Any], Path],
        on_outcome: Callable[[CellOutcome], None] | None = None,
    ) -> list[CellOutcome]:
        outcomes = []
        for cell in cells:
            try:
                outcome = success(cell, run_cell(cell))
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                outcome = failure(cell, exc)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return outcomes
