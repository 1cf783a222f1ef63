"""Executors run cells through the real run_cell (lock, FAILED, DONE) with a stub pipeline."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import UserError
from harness.plugin.registry import default_registry
from harness.runs.store import RunDir
from plugins.executors._common import absolute
from plugins.executors.pool import PoolExecutor
from tests.helpers.cli import dedent
from tests.helpers.executors import executions, make_cell, race, stub_run_cell
from tests.helpers.paths import REPO

HAS_RAY = importlib.util.find_spec("ray") is not None
HAS_SUBMITIT = importlib.util.find_spec("submitit") is not None


def check_outcomes(cells, outcomes, failing: set[str]) -> None:
    """Outcomes come back in cell order; good cells are DONE, failing ones FAILED with the traceback."""
    assert [o.cell_id for o in outcomes] == [c.cell_id() for c in cells]
    for cell, outcome in zip(cells, outcomes, strict=True):
        run = RunDir.for_config(cell)
        assert outcome.run_dir == run.path
        if cell.cell_id() in failing:
            assert not outcome.ok and not run.done
            assert "designated failure" in outcome.error
            assert "designated failure" in (run.path / "FAILED").read_text()
        else:
            assert outcome.ok and outcome.error is None, outcome.error
            assert run.done and (run.path / "summary.json").is_file()


def test_registered() -> None:
    assert {"local", "pool", "ray", "slurm"} <= set(default_registry().names("executors"))
    assert default_registry().create("executors", "pool:3").workers == 3


def test_option_errors_name_the_option() -> None:
    registry = default_registry()
    with pytest.raises(UserError, match=r"executor 'local':\n  workers: Extra inputs are not permitted"):
        registry.create("executors", "local", workers=2)
    with pytest.raises(UserError, match="local executor takes no argument"):
        registry.create("executors", "local:4")
    with pytest.raises(UserError, match=r"executor 'pool':\n  workers: Input should be a valid integer"):
        registry.create("executors", "pool:many")
    with pytest.raises(UserError, match=r"executor 'slurm':\n  cluster: Input should be 'slurm'"):
        registry.create("executors", "slurm:cloud")
    with pytest.raises(UserError, match=r"executor 'ray':\n  num_cpus: Input should be greater"):
        registry.create("executors", "ray", num_cpus=-1)


def test_pool_runs_in_parallel_and_isolates_a_failure(tmp_path: Path) -> None:
    cells = [make_cell(tmp_path, seed, sleep=1.5) for seed in (1, 2, 3)]
    cells.insert(1, make_cell(tmp_path, 4, name="boom"))
    seen = []
    outcomes = PoolExecutor(workers=2).run(cells, stub_run_cell, on_outcome=seen.append)
    check_outcomes(cells, outcomes, failing={cells[1].cell_id()})
    assert sorted(o.cell_id for o in seen) == sorted(c.cell_id() for c in cells)
    runs = executions(tmp_path)
    assert len(runs) == 3 and len({r["pid"] for r in runs}) == 2
    spans = sorted((r["start"], r["end"]) for r in runs)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)), "no two cells overlapped"


def test_pool_survives_a_dying_worker(tmp_path: Path) -> None:
    cells = [make_cell(tmp_path, 1, name="die"), make_cell(tmp_path, 2), make_cell(tmp_path, 3)]
    outcomes = PoolExecutor(workers=1).run(cells, stub_run_cell)
    assert [o.ok for o in outcomes] == [False, True, True]
    assert "worker process died" in outcomes[0].error
    assert not RunDir.for_config(cells[0]).done


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux /proc; elsewhere: exists)."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.joinpath("self").exists():
        return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_pool_workers_end_with_a_killed_grid(tmp_path: Path) -> None:
    """SIGKILL of the grid's process (no shutdown of the pool runs) ends its workers mid-cell within
    seconds, instead of leaving them to train for nobody."""
    script = dedent(
        f"""
        from pathlib import Path
        from plugins.executors.pool import PoolExecutor
        from tests.helpers.executors import make_cell, stub_run_cell
        cells = [make_cell(Path({str(tmp_path)!r}), seed, sleep=120) for seed in (1, 2)]
        PoolExecutor(workers=2).run(cells, stub_run_cell)
        """
    )
    grid = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("started-*")]
        assert len(workers) == 2, "the cells did not start"
        grid.kill()
        grid.wait()
        deadline = time.monotonic() + 15
        while any(map(_running, workers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(map(_running, workers)), "workers outlived the grid's process"
        assert not any(RunDir.for_config(make_cell(tmp_path, s, sleep=120)).done for s in (1, 2))
    finally:
        grid.kill()
        for pid in filter(_running, workers):
            os.kill(pid, signal.SIGKILL)


def test_pool_rejects_a_closure_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="module-level function"):
        PoolExecutor(workers=1).run([make_cell(tmp_path, 1)], lambda cfg: stub_run_cell(cfg))
    with pytest.raises(UserError, match="workers: Input should be greater than or equal to 1"):
        PoolExecutor(workers=0)
    with pytest.raises(UserError, match=r"(?s)executor 'pool'.*worker: Extra.*accepted options: workers"):
        PoolExecutor(worker=2)


def test_cells_ship_with_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cell = make_cell(Path("runs"), 1).model_copy(update={"cache_dir": Path("cache")})
    shipped = absolute(cell)
    assert shipped.output_dir == tmp_path / "runs" and shipped.cache_dir == tmp_path / "cache"
    assert shipped.cell_id() == cell.cell_id()


def test_missing_extras_are_user_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    monkeypatch.setitem(sys.modules, "submitit", None)
    with pytest.raises(UserError, match=r"taxobench\[ray\]"):
        default_registry().create("executors", "ray")
    with pytest.raises(UserError, match=r"taxobench\[slurm\]"):
        default_registry().create("executors", "slurm:local")


def test_lock_lets_only_one_process_run_a_cell(tmp_path: Path) -> None:
    """Two processes start the same cell at once through harness.runs.cell.run_cell: one runs it."""
    cell = make_cell(tmp_path, 1, sleep=3.0)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=race, args=(cell, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    answers = sorted(results.get(timeout=5) for _ in procs)
    assert answers == ["finished", "left to the other process"]  # the loser is not a failure
    assert len(executions(tmp_path)) == 1 and RunDir.for_config(cell).done
    assert not (RunDir.for_config(cell).path / "FAILED").exists()


@pytest.mark.skipif(not HAS_RAY, reason="ray is not installed (pip install 'taxobench[ray]')")
def test_ray_runs_a_grid_on_a_local_instance(tmp_path: Path) -> None:
    import ray

    cells = [make_cell(tmp_path, 1), make_cell(tmp_path, 2), make_cell(tmp_path, 3, name="boom")]
    executor = default_registry().create(
        "executors",
        "ray",
        init_options={"num_cpus": 2, "include_dashboard": False, "object_store_memory": 100 * 2**20},
    )
    seen = []
    outcomes = executor.run(cells, stub_run_cell, on_outcome=seen.append)
    check_outcomes(cells, outcomes, failing={cells[2].cell_id()})
    assert len(seen) == 3 and len(executions(tmp_path)) == 2
    assert not ray.is_initialized(), "the executor shuts down the instance it started"


@pytest.mark.skipif(not HAS_SUBMITIT, reason="submitit is not installed (pip install 'taxobench[slurm]')")
@pytest.mark.parametrize("cluster", ["local", "debug"])
def test_submitit_runs_cells(tmp_path: Path, cluster: str) -> None:
    cells = [make_cell(tmp_path / "runs", 1), make_cell(tmp_path / "runs", 2, name="boom")]
    executor = default_registry().create(
        "executors", f"slurm:{cluster}", folder=tmp_path / "logs", timeout_min=5
    )
    outcomes = executor.run(cells, stub_run_cell)
    check_outcomes(cells, outcomes, failing={cells[1].cell_id()})
    assert any((tmp_path / "logs").iterdir()), "submitit writes its job files under folder"


@pytest.mark.skipif(not HAS_SUBMITIT or shutil.which("sbatch") is not None, reason="needs submitit, no Slurm")
def test_slurm_without_sbatch_says_how_to_run_locally() -> None:
    with pytest.raises(UserError, match="slurm:local"):
        default_registry().create("executors", "slurm", partition="gpu")
