"""Spatial-relations task plugin (entry point ``spatial = "tasks.spatial"``).

Written as a third party would write it: it imports only the harness' public modules and the emoji task
(for artwork), and its own modules relatively, so the package works from any location.
"""

from harness.plugin.api import hookimpl

from .task import SpatialTask, factory

__all__ = ["SpatialTask", "factory", "register_tasks"]


@hookimpl
def register_tasks(register):
    register("spatial", factory)
