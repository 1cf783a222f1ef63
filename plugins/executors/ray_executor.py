"""Ray executor: one Ray task per cell, on a local Ray instance or a cluster.

``--executor ray`` starts a local instance (or uses the one this process already initialised);
``ray:auto`` joins the cluster this machine belongs to; ``ray:ray://head:10001`` connects a Ray client.
Options: ``num_cpus`` / ``num_gpus`` / ``memory_gb`` per task (``num_gpus`` defaults to 1 when the
cluster has GPUs, else 0; fractions share a GPU), ``max_retries`` (re-runs after a worker or node
died), ``runtime_env`` (passed to ``ray.init``) and ``init_options`` (other ``ray.init`` keywords).  Needs
``pip install 'taxobench[ray]'``; every node needs taxobench and the plugins the cells use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


class RayOptions(PluginOptions):
    address: str | None = None
    num_cpus: float = Field(default=1, ge=0)
    num_gpus: float | None = Field(default=None, ge=0)
    memory_gb: float | None = Field(default=None, gt=0)  # host memory Ray reserves per task (scheduling only)
    max_retries: int = Field(default=1, ge=0)
    runtime_env: dict[str, Any] | None = None
    init_options: dict[str, Any] = Field(default_factory=dict)


class RayExecutor:
    """One Ray task per cell; outcomes are collected as tasks finish."""

    name = "ray"
    options = RayOptions

    def __init__(self, arg: str | None = None, **options: Any) -> None:
        if arg is not None:
            options.setdefault("address", arg)
        self.opts = RayOptions.parse(f"executor {self.name!r}", options)
        try:
            import ray
        except ImportError:
            raise UserError("the ray executor needs Ray: pip install 'taxobench[ray]'") from None
        self._ray = ray

    def _init(self) -> bool:
        """Connect to (or start) Ray unless this process already did; True when we must shut it down."""
        if self._ray.is_initialized():
            return False
        opts = self.opts
        kwargs = dict(opts.init_options)
        if opts.runtime_env is not None:
            kwargs["runtime_env"] = opts.runtime_env
        self._ray.init(address=opts.address, **kwargs)
        return True

    def run(
        self, cells: Sequence[Any], run_cell: Callable[[Any], Path], on_outcome: OnOutcome = None
    ) -> list[CellOutcome]:
        require_picklable(run_cell, self.name)
        ray = self._ray
        cells = list(cells)
        started = self._init()
        refs: dict[Any, int] = {}
        try:
            gpus = self.opts.num_gpus
            if gpus is None:
                gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
            task = ray.remote(call_cell)
            resources = {"num_cpus": self.opts.num_cpus, "num_gpus": gpus}
            for i, cell in enumerate(cells):
                options = {
                    **resources,
                    "max_retries": self.opts.max_retries,
                    "name": f"cell-{cell.cell_id()}",
                }
                ref = task.options(**options).remote(run_cell, absolute(cell))
                refs[ref] = i
            outcomes: dict[int, CellOutcome] = {}
            remaining = list(refs)
            while remaining:
                ready, remaining = ray.wait(remaining, num_returns=1)
                for ref in ready:
                    i = refs[ref]
                    try:
                        outcome = settle(cells[i], ray.get(ref))
                    except Exception as exc:  # the worker or its node died, or the task was cancelled
                        outcome = failure(cells[i], exc)
                    outcomes[i] = outcome
                    if on_outcome is not None:
                        on_outcome(outcome)
            return [outcomes[i] for i in range(len(cells))]
        except BaseException:
            for ref in refs:
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass
            raise
        finally:
            if started:
                ray.shutdown()
