"""First-party executors."""

from harness.hookspecs import hookimpl
from plugins.executors.local import LocalExecutor


@hookimpl
def register_executors(register) -> None:
    register("local", LocalExecutor)
