"""Slurm executor through submitit: the cells go out as job arrays, one array task per cell.

``--executor slurm`` submits to Slurm (``sbatch`` must be on PATH); ``slurm:local`` runs the same jobs
as local subprocesses and ``slurm:debug`` in this process (laptops, tests, pdb).  Options: ``folder``
(submitit logs and pickles; default ``<output_dir>/.submitit``), ``partition``, ``gpus_per_node``,
``cpus_per_task``, ``mem_gb``, ``timeout_min``, ``array_parallelism`` (array tasks running at once; also
the number of concurrent local jobs), ``max_array_size`` (larger grids go out as several arrays),
``setup`` (shell lines run before each job, e.g. activating the venv), ``slurm_additional_parameters``
(any other sbatch option, e.g. ``{account = "proj", qos = "normal"}``), ``poll_s`` and ``job_name``.
The driver waits for the jobs; killing it leaves them running, and rerunning the grid later reads
whatever they finished.  Needs ``pip install 'taxobench[slurm]'``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from harness.plugin.api import CellOutcome, PluginOptions, UserError
from plugins.executors._common import (
    OnOutcome,
    absolute,
    call_cell,
    failure,
    require_picklable,
    settle,
)


class SlurmOptions(PluginOptions):
    cluster: Literal["slurm", "local", "debug"] = "slurm"
    folder: Path | None = None
    partition: str | None = None
    gpus_per_node: int | None = Field(default=None, ge=0)
    cpus_per_task: int | None = Field(default=None, ge=1)
    mem_gb: float | None = Field(default=None, gt=0)
    timeout_min: int = Field(default=240, ge=1)
    array_parallelism: int = Field(default=64, ge=1)
    max_array_size: int = Field(default=1000, ge=1)
    setup: list[str] | None = None
    slurm_additional_parameters: dict[str, Any] | None = None
    poll_s: float | None = Field(default=None, gt=0)  # default 30 s on Slurm, 0.5 s locally
    job_name: str = "taxobench"

    def parameters(self) -> dict[str, Any]:
        """submitit ``update_parameters`` keywords (``slurm_*`` ones are ignored off Slurm)."""
        out: dict[str, Any] = {
            "name": self.job_name,
            "timeout_min": self.timeout_min,
            "gpus_per_node": self.gpus_per_node,
            "cpus_per_task": self.cpus_per_task,
            "mem_gb": self.mem_gb,
            "slurm_partition": self.partition,
            "slurm_array_parallelism": self.array_parallelism,
            "slurm_setup": self.setup,
            "slurm_additional_parameters": self.slurm_additional_parameters,
        }
        return {k: v for k, v in out.items() if v is not None}


def _chunks(n: int, size: int) -> Iterator[list[int]]:
    for start in range(0, n, size):
        yield list(range(start, min(n, start + size)))


class SlurmExecutor:
    """Cells as Slurm job arrays (or submitit's local/debug stand-ins); outcomes as jobs finish."""

    name = "slurm"
    options = SlurmOptions

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        if arg is not None:
            options.setdefault("cluster", arg)
        self.opts = SlurmOptions.parse(f"executor {self.name!r}", options)
        try:
            import submitit
        except ImportError:
            raise UserError("the slurm executor needs submitit: pip install 'taxobench[slurm]'") from None
        self._submitit = submitit
        if self.opts.cluster == "slurm" and shutil.which("sbatch") is None:
            raise UserError(
                "no Slurm here (sbatch is not on PATH); use --executor slurm:local to run the jobs locally"
            )

    def _executor(self, cells: list[Any]) -> Any:
        folder = self.opts.folder or Path(cells[0].output_dir) / ".submitit"
        executor = self._submitit.AutoExecutor(
            folder=Path(folder).resolve() / "%j", cluster=self.opts.cluster
        )
        executor.update_parameters(**self.opts.parameters())
        return executor

    def run(
        self, cells: Sequence[Any], run_cell: Callable[[Any], Path], on_outcome: OnOutcome = None
    ) -> list[CellOutcome]:
        cells = list(cells)
        if not cells:
            return []
        require_picklable(run_cell, self.name)
        executor = self._executor(cells)
        on_slurm = self.opts.cluster == "slurm"
        poll = self.opts.poll_s or (30.0 if on_slurm else 0.5)
        # On Slurm the scheduler throttles (array_parallelism), so everything is submitted up front;
        # locally every submitted job starts at once, so cells go out array_parallelism at a time.
        size = self.opts.max_array_size if on_slurm else self.opts.array_parallelism
        outcomes: dict[int, CellOutcome] = {}
        jobs: dict[Any, int] = {}

        def submit(indices: list[int]) -> list[Any]:
            batch = executor.map_array(
                call_cell, [run_cell] * len(indices), [absolute(cells[i]) for i in indices]
            )
            jobs.update(zip(batch, indices, strict=True))
            return batch

        def collect(batch: list[Any]) -> None:
            for job in self._submitit.helpers.as_completed(batch, poll_frequency=poll):
                i = jobs[job]
                try:
                    outcome = settle(cells[i], job.result())
                except Exception as exc:  # the job failed outside the cell: timeout, preemption, node
                    outcome = failure(cells[i], exc)
                outcomes[i] = outcome
                if on_outcome is not None:
                    on_outcome(outcome)

        try:
            if on_slurm:
                collect([job for chunk in _chunks(len(cells), size) for job in submit(chunk)])
            else:
                for chunk in _chunks(len(cells), size):
                    collect(submit(chunk))
        except BaseException:
            if not on_slurm:  # local jobs die with us; Slurm jobs keep running and are resumable
                for job in jobs:
                    job.cancel(check=False)
            raise
        return [outcomes[i] for i in range(len(cells))]
