"""First-party executors."""

from harness.hookspecs import hookimpl
from plugins.executors.local import LocalExecutor
from plugins.executors.pool import PoolExecutor
from plugins.executors.ray_executor import RayExecutor
from plugins.executors.slurm import SlurmExecutor


@hookimpl
def register_executors(register) -> None:
    register("local", LocalExecutor)
    register("pool", PoolExecutor)
    register("ray", RayExecutor)
    register("slurm", SlurmExecutor)
