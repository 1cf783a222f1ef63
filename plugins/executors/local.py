"""The default executor: runs cells one after another in this process, continuing past failures."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.contracts import CellOutcome


class LocalExecutor:
    """Sequential, in-process.  A failing cell is recorded and the grid goes on."""

    name = "local"

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        if arg or options:
            raise TypeError(f"the local executor takes no options, got {arg or options!r}")

    def run(
        self,
        cells: Sequence[Any],
        run_cell: Callable[[Any], Path],
        on_outcome: Callable[[CellOutcome], None] | None = None,
    ) -> list[CellOutcome]:
        outcomes = []
        for cell in cells:
            try:
                outcome = CellOutcome(cell.cell_id(), run_cell(cell), ok=True)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                error = "".join(traceback.format_exception(exc))
                outcome = CellOutcome(cell.cell_id(), Path(cell.output_dir) / cell.cell_id(), False, error)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return outcomes
