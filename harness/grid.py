"""Run a list of cells through an executor: skip finished ones, show progress, count failures."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.config import ExperimentConfig
from harness.contracts import CellOutcome
from harness.runs import RunDir


def describe(cfg: ExperimentConfig) -> str:
    abl = f"{cfg.ablation.kind} {cfg.ablation.level:g}"
    return f"{cfg.task} {cfg.encoder} {cfg.backbone}/{cfg.init} {abl} {cfg.shuffle} seed {cfg.seed}"


def cell_table(cells: Sequence[ExperimentConfig]) -> Table:
    table = Table(title=f"{len(cells)} cells")
    for col in ("cell", "state", "condition"):
        table.add_column(col)
    for cfg in cells:
        table.add_row(cfg.cell_id(), RunDir.for_config(cfg).state, describe(cfg))
    return table


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def run_grid(
    cells: Sequence[ExperimentConfig],
    executor: str,
    dry_run: bool,
    console: Console,
    executor_options: dict[str, Any] | None = None,
) -> int:
    """Run the unfinished cells; the return value is the number of failed cells (0 = all finished)."""
    from harness.registry import default_registry
    from harness.runner import run_cell

    unique = list({cfg.cell_id(): cfg for cfg in cells}.values())
    if dry_run:
        console.print(cell_table(unique))
        return 0
    runner = default_registry().create("executors", executor, **(executor_options or {}))  # checks options
    todo = [cfg for cfg in unique if not RunDir.for_config(cfg).done]
    console.print(f"{len(unique)} cells: {len(unique) - len(todo)} finished, {len(todo)} to run")
    if not todo:
        return 0
    by_id = {cfg.cell_id(): cfg for cfg in todo}
    counts = {"done": 0, "failed": 0}
    started = time.monotonic()

    def progress(outcome: CellOutcome) -> None:
        counts["done" if outcome.ok else "failed"] += 1
        settled = counts["done"] + counts["failed"]
        state = "[green]done[/green]" if outcome.ok else "[red]failed[/red]"
        elapsed = time.monotonic() - started
        eta = elapsed / settled * (len(todo) - settled)
        console.print(
            f"cell {settled}/{len(todo)} {state}: {describe(by_id[outcome.cell_id])}  "
            f"[dim](done {counts['done']}, failed {counts['failed']}, left {len(todo) - settled}; "
            f"elapsed {_clock(elapsed)}, ETA {_clock(eta)})[/dim]"
        )

    # run_cell is module-level, so executors can ship it to other processes (pool, ray, slurm).
    outcomes = runner.run(todo, run_cell, on_outcome=progress)
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        console.print(f"[red]cell {outcome.cell_id} failed[/red] (traceback in {outcome.run_dir}/FAILED)")
        console.print((outcome.error or "").strip().splitlines()[-1:])
    console.print(f"{len(outcomes) - len(failed)} cells finished, {len(failed)} failed")
    return min(len(failed), 125)
