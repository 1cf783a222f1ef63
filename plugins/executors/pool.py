"""Local parallel executor: N worker processes (spawn), one cell at a time per worker.

``--executor pool:4`` or options ``workers=4``; ``devices=["0", "1"]`` pins worker i to
``CUDA_VISIBLE_DEVICES=devices[i % len(devices)]`` (one GPU per worker on a multi-GPU machine).
A failing cell is recorded with its traceback and the grid goes on; a worker that dies (OOM kill,
segfault) fails only the cells that were running at that moment and the pool is restarted.  Workers end
within about a second when the grid's process is killed, instead of training on for nobody.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from pydantic import Field

from harness.plugin.api import CellOutcome, PluginOptions
from plugins.executors._common import (
    OnOutcome,
    absolute,
    call_cell,
    failure,
    require_picklable,
    settle,
)

PARENT_CHECK_S = 1.0  # how often a worker checks that the grid's process still runs


class PoolOptions(PluginOptions):
    workers: int | None = Field(default=None, ge=1)  # default: len(devices), else the CPU count
    devices: list[str] | None = None  # CUDA_VISIBLE_DEVICES per worker, round robin
    threads_per_worker: int | None = Field(default=None, ge=1)  # default: CPU count // workers


def _exit_with_parent(parent: int) -> None:
    """End this worker once the process that started it is gone (killed, say, by SIGTERM or SIGKILL, which
    skip the pool's shutdown): nobody waits for its cell any more, which a rerun resumes."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def _init_worker(devices: list[str] | None, counter: Any, threads: int) -> None:
    """Runs first in each fresh worker, before torch is imported there."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    if devices:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[index % len(devices)]
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))


class PoolExecutor:
    """Cells in parallel worker processes on this machine."""

    name = "pool"
    options = PoolOptions

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        if arg is not None:
            options.setdefault("workers", arg)
        self.opts = PoolOptions.parse(f"executor {self.name!r}", options)
        devices = self.opts.devices
        self.workers = self.opts.workers or (len(devices) if devices else os.cpu_count() or 1)
        self.threads = self.opts.threads_per_worker or max(1, (os.cpu_count() or 1) // self.workers)

    def _pool(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("spawn")
        counter = ctx.Value("i", 0)
        return ProcessPoolExecutor(
            self.workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(self.opts.devices, counter, self.threads),
        )

    def run(
        self, cells: Sequence[Any], run_cell: Callable[[Any], Path], on_outcome: OnOutcome = None
    ) -> list[CellOutcome]:
        require_picklable(run_cell, self.name)
        cells = list(cells)
        outcomes: dict[int, CellOutcome] = {}

        def record(i: int, outcome: CellOutcome) -> None:
            outcomes[i] = outcome
            if on_outcome is not None:
                on_outcome(outcome)

        pending = deque(range(len(cells)))
        while pending:  # one pass per pool; a new pool only after a worker died
            pool = self._pool()
            in_flight: dict[Future, int] = {}
            try:
                while pending or in_flight:
                    while pending and len(in_flight) < self.workers:  # in flight == running
                        i = pending.popleft()
                        in_flight[pool.submit(call_cell, run_cell, absolute(cells[i]))] = i
                    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    broken = False
                    for future in finished:
                        i = in_flight.pop(future)
                        try:
                            record(i, settle(cells[i], future.result()))
                        except BrokenProcessPool as exc:
                            broken = True
                            record(i, failure(cells[i], f"a worker process died while this cell ran: {exc}"))
                        except Exception as exc:  # e.g. the cell or its result failed to pickle
                            record(i, failure(cells[i], exc))
                    if broken:
                        for i in in_flight.values():
                            record(i, failure(cells[i], "a worker process died while this cell ran"))
                        break
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
        return [outcomes[i] for i in range(len(cells))]
