"""Run a list of cells through an executor: skip finished ones, show progress, count failures."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.config import ExperimentConfig
from harness.errors import UserError
from harness.plugin.contracts import CellOutcome
from harness.runs.store import FAILED, RunDir
from harness.runs.validate import describe, validate_cells


def cell_table(cells: Sequence[ExperimentConfig]) -> Table:
    table = Table(title=f"{len(cells)} cells")
    for col in ("cell", "state", "condition"):
        table.add_column(col)
    for cfg in cells:
        table.add_row(cfg.cell_id(), RunDir.for_config(cfg).state, describe(cfg))
    return table


def rules_lines(cells: Sequence[ExperimentConfig]) -> list[str]:
    """The resolved protocol rules of the cells, one line per distinct set (PROTOCOL.md §9 profiles)."""
    seen: dict[str, int] = {}
    for cfg in cells:
        rules = cfg.rules.model_dump(mode="json")
        text = f"rules ({cfg.preset}): " + ", ".join(f"{k}={v!r}" for k, v in rules.items())
        text += f"; training lr={cfg.training.lr:g}, weight_decay={cfg.training.weight_decay:g}"
        seen[text] = seen.get(text, 0) + 1
    return [f"{text}  [{n} cells]" if len(seen) > 1 else text for text, n in seen.items()]


def finished_and_whole(cfg: ExperimentConfig, console: Console) -> bool:
    """Whether a cell is finished with its outputs intact; a damaged one is withdrawn, with a warning."""
    run = RunDir.for_config(cfg)
    if not run.done:
        return False
    problems = run.damage()
    if not problems:
        return True
    console.print(
        f"[yellow]warning: finished cell {cfg.cell_id()} ({run.path}) is damaged and will be redone: "
        f"{'; '.join(problems)}[/yellow]"
    )
    run.undo()
    return False


MIN_FREE_MB = 200  # room for run directories and new feature-cache entries


def check_writable(cells: Sequence[ExperimentConfig]) -> None:
    """Every output (and feature-cache) directory can be created and written and has ``MIN_FREE_MB`` free:
    a UserError naming the path before any work starts."""
    import shutil
    import tempfile

    from harness.training.features import default_cache_dir

    roots = {Path(c.output_dir) for c in cells} | {Path(c.cache_dir or default_cache_dir()) for c in cells}
    for root in sorted(roots):
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=root, prefix=".taxobench-write-check-"):
                pass
        except OSError as exc:
            raise UserError(f"cannot write to {root}: {exc.strerror or exc}") from None
        free_mb = shutil.disk_usage(root).free / 2**20
        if free_mb < MIN_FREE_MB:
            raise UserError(
                f"only {free_mb:.0f} MB free under {root}; a grid needs at least {MIN_FREE_MB} MB"
            )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def run_grid(
    cells: Sequence[ExperimentConfig],
    executor: str,
    dry_run: bool,
    console: Console,
    executor_options: Mapping[str, Any] | None = None,
) -> int:
    """Run the unfinished cells; the return value is the number of failed cells (0 = all finished)."""
    from harness.plugin.registry import default_registry
    from harness.runs.cell import run_cell

    unique = list({cfg.cell_id(): cfg for cfg in cells}.values())
    validate_cells(unique)  # every plugin, option and task's data, before any work
    if dry_run:
        console.print(cell_table(unique))
        for line in rules_lines(unique):
            console.print(line, highlight=False)
        return 0
    runner = default_registry().create("executors", executor, **(executor_options or {}))  # checks options
    check_writable(unique)
    todo = [cfg for cfg in unique if not finished_and_whole(cfg, console)]
    console.print(f"{len(unique)} cells: {len(unique) - len(todo)} finished, {len(todo)} to run")
    if not todo:
        return 0
    # run_cell is module-level, so executors can ship it to other processes (pool, ray, slurm).
    outcomes = runner.run(todo, run_cell, on_outcome=CellProgress(todo, console))
    return _summarize(outcomes, unique, console)


class CellProgress:
    """Prints one line per settled cell: its state, what it was, the counts so far, elapsed time and ETA."""

    def __init__(self, todo: Sequence[ExperimentConfig], console: Console):
        self.by_id = {cfg.cell_id(): cfg for cfg in todo}
        self.console = console
        self.counts = {"done": 0, "failed": 0, "elsewhere": 0}
        self.started = time.monotonic()

    def __call__(self, outcome: CellOutcome) -> None:
        state = settled_state(outcome)
        self.counts[state] += 1
        settled, total = sum(self.counts.values()), len(self.by_id)
        label = {"done": "[green]done[/green]", "failed": "[red]failed[/red]"}.get(
            state, "[yellow]running in another process[/yellow]"
        )
        elapsed = time.monotonic() - self.started
        eta = elapsed / settled * (total - settled)
        self.console.print(
            f"cell {settled}/{total} {label}: {describe(self.by_id[outcome.cell_id])}  "
            f"[dim](done {self.counts['done']}, failed {self.counts['failed']}, left {total - settled}; "
            f"elapsed {_clock(elapsed)}, ETA {_clock(eta)})[/dim]"
        )


def _summarize(outcomes: Sequence[CellOutcome], cells: Sequence[ExperimentConfig], console: Console) -> int:
    """The end message (failures with their traceback file, counts, where the results are, what to run
    next); returns the number of failed cells, capped at 125 for an exit status."""
    states = [settled_state(o) for o in outcomes]
    failed = [o for o, s in zip(outcomes, states, strict=True) if s == "failed"]
    for outcome in failed:
        where = f" (traceback in {outcome.run_dir / FAILED})" if (outcome.run_dir / FAILED).is_file() else ""
        console.print(f"[red]cell {outcome.cell_id} failed[/red]{where}")
        console.print((outcome.error or "").strip().splitlines()[-1:])
    elsewhere = states.count("elsewhere")
    console.print(
        f"{states.count('done')} cells finished, {len(failed)} failed"
        + (f", {elsewhere} running in another process (run again once it is done)" if elsewhere else "")
    )
    roots = sorted({str(cfg.output_dir) for cfg in cells})
    console.print(f"results: {', '.join(roots)}", highlight=False)
    console.print(f"next: taxobench report {' '.join(roots)} --out <dir>", highlight=False)
    return min(len(failed), 125)


def settled_state(outcome: CellOutcome) -> str:
    """done | failed | elsewhere (the cell's lock was held by another process, which is running it)."""
    if not outcome.ok:
        return "failed"
    return "done" if RunDir(outcome.run_dir).done else "elsewhere"
