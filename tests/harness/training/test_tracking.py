"""Experiment trackers (harness.training.tracking): TensorBoard, an MLflow file store, an offline W&B run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.runs import ENV, only_cell, tiny_grid

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")
pytest.importorskip("wandb")


def test_a_cell_feeds_tensorboard_mlflow_and_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grid = tiny_grid(tmp_path, tmp_path / "images")
    out = tmp_path / "runs"
    env = {**ENV, "WANDB_SILENT": "true", "WANDB_MODE": "offline", "MLFLOW_TRACKING_URI": ""}
    result = run_cli(
        "run", str(grid), "--out", str(out), "--set", 'tracking=["tensorboard", "mlflow", "wandb"]', env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    cell = only_cell(out)

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(cell / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "test/macro_f1_leaf"} <= tags
    assert len(events.Scalars("train/loss")) >= 1

    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps file stores behind an opt-in
    client = mlflow.MlflowClient(tracking_uri=(out / "mlruns").resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("experiment").experiment_id])
    assert run.info.run_name == cell.name and run.info.status == "FINISHED"
    assert 0 <= run.data.metrics["test.macro_f1_leaf"] <= 100
    assert run.data.params["training.epochs"] == "1.0" and run.data.params["task"] == "synthetic"

    offline = list((cell / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and any(offline[0].rglob("*.wandb"))
    assert (cell / "DONE").is_file()  # trackers write beside the record, which stays whole


def test_a_missing_tracker_is_a_user_error_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from harness.config import load_grid
    from harness.errors import UserError
    from harness.runs.validate import validate_cells

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    cells = load_grid(tiny_grid(tmp_path, tmp_path / "images"), ['tracking=["tensorboard", "wandb"]']).cells()
    with pytest.raises(UserError, match=r"tracking = 'wandb' needs: pip install 'taxobench\[wandb\]'"):
        validate_cells(cells, load_data=False)
    assert not (tmp_path / "images").exists() and not any(tmp_path.glob("runs*"))
