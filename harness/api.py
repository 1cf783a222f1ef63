"""The Python API: what the ``taxobench`` command does, for notebooks and scripts.

    from harness import api

    cells = api.load_cells("configs/smoke.toml", set={"training.epochs": 1}, limit=4, out="/tmp/smoke")
    outcomes = api.run(cells)                      # runs the unfinished cells; finished ones are kept
    board = api.report("/tmp/smoke", out="/tmp/smoke-board")
    board["rows"][0]["macro_f1"]                   # the leaderboard rows, in percent

Errors in the user's input raise :class:`harness.errors.UserError` (the command line prints them and
exits 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.config import ExperimentConfig, load_grid
from harness.errors import UserError
from harness.plugin.contracts import CellOutcome


def load_cells(
    config: str | Path,
    set: Mapping[str, Any] | None = None,  # noqa: A002 - the name of the CLI option
    limit: int | None = None,
    out: str | Path | None = None,
) -> list[ExperimentConfig]:
    """The cells of a config or grid file, with ``set`` overrides (dotted keys, as ``--set``), ``limit``
    (at most that many leaves) and ``out`` (the output root) applied."""
    overrides = [f"{key}={_toml(value)}" for key, value in (set or {}).items()]
    if limit is not None:
        overrides.append(f"data.max_leaves={int(limit)}")
    cells = load_grid(Path(config), overrides).cells()
    return [c.model_copy(update={"output_dir": Path(out)}) for c in cells] if out else cells


def run(
    cells: Sequence[ExperimentConfig],
    executor: str = "local",
    executor_options: Mapping[str, Any] | None = None,
    console: Console | None = None,
) -> list[CellOutcome]:
    """Run the unfinished cells with an executor plugin; one outcome per cell (finished ones included).

    Raises UserError if any cell failed (its traceback is in its run directory's FAILED file)."""
    from harness.runs.grid import run_grid
    from harness.runs.store import RunDir

    failed = run_grid(
        list(cells), executor, dry_run=False, console=console or Console(), executor_options=executor_options
    )
    outcomes = [CellOutcome(c.cell_id(), RunDir.for_config(c).path, RunDir.for_config(c).done) for c in cells]
    if failed:
        raise UserError(f"{failed} cell(s) failed; see FAILED in their run directories")
    return outcomes


def report(
    runs: str | Path | Sequence[str | Path], out: str | Path, notes: str | None = None
) -> dict[str, Any]:
    """Write the leaderboard (JSON, Markdown, HTML, plots) of the finished runs under ``runs`` into
    ``out``; returns its content: ``rows`` (percent), ``headline``, ``statistics``, ``plots``."""
    import json

    from harness.report.build import report as write_report

    paths = [Path(runs)] if isinstance(runs, str | Path) else [Path(p) for p in runs]
    target = write_report(paths, Path(out), notes=notes)
    return json.loads((target / "analysis.json").read_text())


def _toml(value: Any) -> str:
    """A Python value as the TOML text ``--set`` reads."""
    import tomli_w

    return tomli_w.dumps({"v": value}).partition("=")[2].strip()
