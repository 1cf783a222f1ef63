"""Synthetic coloured-shapes task plugin (entry point ``synthetic = "tasks.synthetic"``)."""

from harness.plugin.api import hookimpl
from tasks.synthetic.task import SyntheticTask, factory

__all__ = ["SyntheticTask", "factory", "register_tasks"]


@hookimpl
def register_tasks(register):
    register("synthetic", factory)
