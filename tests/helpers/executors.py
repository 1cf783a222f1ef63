"""Module-level cell runners for executor tests; worker processes import them by name.

``stub_run_cell`` is the real ``harness.runs.cell.run_cell`` (run directory, lock, FAILED, DONE) with the
training pipeline replaced by a stub, so executors are tested end to end without models.
A cell named ``boom`` raises; one named ``die`` kills its worker process; ``task_options.sleep`` delays;
each cell marks its start with a file ``started-<pid>`` in its output folder.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console

import harness.runs.cell as runner
from harness.config import ExperimentConfig
from harness.runs.store import RunRecord

LOG = "executions.jsonl"


def make_cell(root: Path, seed: int, name: str = "experiment", sleep: float = 0.0) -> ExperimentConfig:
    return ExperimentConfig(name=name, seed=seed, output_dir=root, task_options={"sleep": sleep})


def _stub_pipeline(cfg: ExperimentConfig, run: Any, console: Console) -> None:
    start = time.time()
    (Path(cfg.output_dir) / f"started-{os.getpid()}").touch()
    if cfg.name == "boom":
        raise RuntimeError(f"designated failure in cell {cfg.cell_id()}")
    if cfg.name == "die":
        os._exit(3)
    time.sleep(float(cfg.task_options.get("sleep", 0)))
    run.write_record(RunRecord.from_config(cfg))
    record = {"cell": cfg.cell_id(), "pid": os.getpid(), "start": start, "end": time.time()}
    with open(Path(cfg.output_dir) / LOG, "a") as log:  # O_APPEND: one line per write, across processes
        log.write(json.dumps(record) + "\n")


def stub_run_cell(cfg: ExperimentConfig) -> Path:
    real, runner._run_cell = runner._run_cell, _stub_pipeline
    try:  # restored afterwards: in-process executors (slurm:debug) run this in the test process
        return runner.run_cell(cfg, console=Console(quiet=True))
    finally:
        runner._run_cell = real


def executions(root: Path) -> list[dict[str, Any]]:
    path = Path(root) / LOG
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def race(cfg: ExperimentConfig, barrier: Any, results: Any) -> None:
    """Wait for the other racer, then try the cell; report what happened."""
    barrier.wait()
    try:
        path = stub_run_cell(cfg)
        results.put("finished" if (path / "DONE").is_file() else "left to the other process")
    except Exception as exc:
        results.put(f"{type(exc).__name__}: {exc}")
