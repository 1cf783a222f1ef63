"""A grid killed with SIGKILL mid-cell resumes: finished cells are kept, the killed cell resumes its training
from the epoch checkpoint, and every result equals that of an uninterrupted run (the smoke preset)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import tomli_w

from harness.errors import UserError
from harness.runs import store
from harness.runs.store import DONE
from harness.training import checkpoint
from tests.helpers.cli import run_cli
from tests.helpers.paths import REPO

SMOKE = REPO / "configs" / "smoke.toml"
RESULTS = ("metrics.parquet", "predictions.parquet", "coherence.parquet")
ENV = {"OMP_NUM_THREADS": "1"}  # tiny cells: one thread each is faster, and robust to a busy machine


def smoke_grid(tmp_path: Path) -> Path:
    """The smoke preset with its images and feature cache in ``tmp_path`` (shared by every run here)."""
    data = tomllib.loads(SMOKE.read_text())
    data["task_options"] = {**data.get("task_options", {}), "root": str(tmp_path / "images")}
    data["cache_dir"] = str(tmp_path / "features")
    path = tmp_path / "smoke.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def cells(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def kill_mid_training(grid: Path, out: Path, timeout: float = 60.0) -> tuple[dict[str, int], list[Path]]:
    """Start the grid; SIGKILL it once a cell is DONE and a later one has an epoch checkpoint but no DONE.

    Returns the mtimes (ns) of the finished cells' DONE and result files at the moment of the kill, and the
    cells killed mid-training.
    """
    env = {**os.environ, "COLUMNS": "200", **ENV}
    cmd = [sys.executable, "-m", "harness.cli", "run", str(grid), "--out", str(out)]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the grid finished before it could be killed mid-cell"
            done = [c for c in cells(out) if (c / DONE).is_file()] if out.exists() else []
            busy = [
                c
                for c in (cells(out) if out.exists() else [])
                if not (c / DONE).is_file() and (c / store.CHECKPOINT / checkpoint.STATE).is_file()
            ]
            if done and busy:
                stamps = {
                    str(c / name): (c / name).stat().st_mtime_ns for c in done for name in (DONE, *RESULTS)
                }
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return stamps, busy
            time.sleep(0.01)
        raise AssertionError("no cell reached its first epoch checkpoint in time")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def test_grid_resumes_after_sigkill(tmp_path: Path):
    grid = smoke_grid(tmp_path)
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    result = run_cli("run", str(grid), "--out", str(reference), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = cells(reference)
    assert len(expected) >= 4 and all((c / DONE).is_file() for c in expected)

    stamps, killed = kill_mid_training(grid, resumed)

    result = run_cli("run", str(grid), "--out", str(resumed), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    n_done = len({Path(p).parent for p in stamps})
    assert f"{len(expected)} cells: {n_done} finished, {len(expected) - n_done} to run" in result.stdout

    assert [c.name for c in cells(resumed)] == [c.name for c in expected]
    for path, mtime in stamps.items():  # finished cells were not run again
        assert Path(path).stat().st_mtime_ns == mtime, path
    for cell in cells(resumed):
        assert (cell / DONE).is_file() and not (cell / "FAILED").exists()
        assert not (cell / store.CHECKPOINT).exists()  # removed once the cell is DONE
        for name in RESULTS:
            pd.testing.assert_frame_equal(
                pd.read_parquet(cell / name), pd.read_parquet(reference / cell.name / name), check_exact=True
            )
    assert not [p for p in resumed.iterdir() if p.name.endswith(f".{store.CHECKPOINT}")]

    # The killed cell's training went on from its checkpoint rather than from scratch.
    for cell in killed:
        log = [json.loads(line) for line in (cell / "train_log.jsonl").read_text().splitlines()]
        resume = [r for r in log if r["kind"] == "resume"]
        assert len(resume) == 1 and resume[0]["epoch"] >= 1
        epochs = [r["epoch"] for r in log if r["kind"] == "checkpoint"]
        assert epochs == sorted(set(epochs))  # each epoch trained once


def test_smoke_backbone_is_a_tiny_random_lm():
    from harness.config import load_grid
    from harness.plugin.registry import default_registry

    cfg = load_grid(SMOKE).cells()[0]
    options = cfg.backbone_options
    backbone = default_registry().create("backbones", cfg.backbone, init=cfg.init, seed=1, **options)
    config = backbone.module.config
    assert (config.num_hidden_layers, config.hidden_size, config.head_dim) == (2, 64, 16)
    assert sum(p.numel() for p in backbone.module.parameters()) < 5_000_000
    assert backbone.tokenize("Is there a red square?")  # the real SmolLM2 tokenizer
    with pytest.raises(UserError, match="init = 'random'"):
        default_registry().create("backbones", cfg.backbone, init="pretrained", **options)
    with pytest.raises(UserError, match="no_such_field"):
        default_registry().create(
            "backbones", cfg.backbone, init="random", config_overrides={"no_such_field": 1}
        )
