"""THINGS hypernymy task plugin (entry point ``things = "tasks.things"``)."""

from harness.plugin.api import hookimpl
from tasks.things.task import ThingsTask, factory

__all__ = ["ThingsTask", "factory", "register_tasks"]


@hookimpl
def register_tasks(register):
    register("things", factory)
