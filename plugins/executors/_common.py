"""Helpers shared by the out-of-process executors (pool, ray, slurm)."""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.plugin.api import CellOutcome

OnOutcome = Callable[[CellOutcome], None] | None


def run_dir(cell: Any) -> Path:
    return Path(cell.output_dir) / cell.cell_id()


def success(cell: Any, path: Any) -> CellOutcome:
    return CellOutcome(cell.cell_id(), Path(path) if path else run_dir(cell), ok=True)


def failure(cell: Any, error: BaseException | str) -> CellOutcome:
    text = error if isinstance(error, str) else "".join(traceback.format_exception(error))
    return CellOutcome(cell.cell_id(), run_dir(cell), ok=False, error=text)


def require_picklable(run_cell: Callable[[Any], Path], executor: str) -> None:
    """Other processes import ``run_cell`` by name, so it must be a module-level function (no closure)."""
    try:
        pickle.dumps(run_cell)
    except Exception as exc:
        raise TypeError(
            f"the {executor} executor runs cells in other processes, so run_cell must be picklable "
            f"(a module-level function such as harness.runs.cell.run_cell), got {run_cell!r}: {exc}"
        ) from None


def absolute(cell: Any) -> Any:
    """The cell with ``output_dir``/``cache_dir`` made absolute (workers may run in another directory).

    Neither field enters ``cell_id()``, so the cell stays the same cell.
    """
    update = {"output_dir": Path(cell.output_dir).resolve()}
    if getattr(cell, "cache_dir", None):
        update["cache_dir"] = Path(cell.cache_dir).resolve()
    return cell.model_copy(update=update)


def call_cell(run_cell: Callable[[Any], Path], cell: Any) -> tuple[str | None, str | None]:
    """Run one cell in a worker: ``(run_dir, None)`` on success, ``(None, traceback)`` on failure.

    Returning the traceback as text keeps worker-side exception types off the wire (they may not
    unpickle in the driver).
    """
    try:
        return str(run_cell(cell)), None
    except Exception:
        return None, traceback.format_exc()


def settle(cell: Any, result: tuple[str | None, str | None]) -> CellOutcome:
    path, error = result
    return failure(cell, error) if error is not None else success(cell, path)
