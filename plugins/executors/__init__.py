"""First-party executors."""

from harness.plugin.api import hookimpl


@hookimpl
def register_executors(register) -> None:
    register("local", "plugins.executors.local:LocalExecutor")
    register("pool", "plugins.executors.pool:PoolExecutor")
    register("ray", "plugins.executors.ray_executor:RayExecutor")
    register("slurm", "plugins.executors.slurm:SlurmExecutor")
