"""Experiment trackers fed from a cell's training log (``tracking = ["tensorboard", "mlflow", "wandb"]``).

Each training-log record (``harness.training.loop``: "train" records every few steps, "val" records, then the
cell's final macro F1 per subset) becomes scalars at its optimiser step: ``train/loss``, ``val/val_f1_leaf``,
``test/macro_f1_unseen`` ...; the cell's config goes in as parameters.  All three write locally:

- ``tensorboard``: event files in ``<run dir>/tensorboard`` (``pip install 'taxobench[tensorboard]'``);
- ``mlflow``: a run in the file store ``<output_dir>/mlruns`` (experiment = the config's ``name``), or in
  ``MLFLOW_TRACKING_URI`` when set (``taxobench[mlflow]``);
- ``wandb``: an offline run in ``<run dir>/wandb`` (``wandb sync`` uploads it later; ``taxobench[wandb]``).

A tracker that fails is reported once and dropped; the cell's own files (train_log.jsonl, metrics.parquet)
stay the record of truth.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from harness.errors import UserError

EXTRAS = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb"}


def check_installed(names: tuple[str, ...] | list[str]) -> None:
    """A UserError naming the extra to install for the first tracker whose package is missing."""
    import importlib.util

    for name in names:
        if importlib.util.find_spec(EXTRAS[name]) is None:
            raise UserError(f"tracking = {name!r} needs: pip install 'taxobench[{EXTRAS[name]}]'")


class Tracker(Protocol):
    def scalars(self, values: dict[str, float], step: int) -> None: ...

    def close(self) -> None: ...


def flat(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested config as ``a.b = value`` strings (tracker parameters)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = json.dumps(value) if not isinstance(value, str) else value
    return out


class TensorBoard:
    def __init__(self, run_dir: Path, params: dict[str, str]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        self.writer.add_text("config", "\n".join(f"    {k} = {v}" for k, v in sorted(params.items())))

    def scalars(self, values: dict[str, float], step: int) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, step)

    def close(self) -> None:
        self.writer.close()


class MLflow:
    def __init__(self, run_dir: Path, params: dict[str, str], output_dir: Path, name: str) -> None:
        import mlflow

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:  # a local file store (MLflow 3 asks for this opt-in)
            uri = (Path(output_dir).resolve() / "mlruns").as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = mlflow.MlflowClient(tracking_uri=uri)
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        self.run_id = self.client.create_run(experiment_id, run_name=run_dir.name).info.run_id
        for key, value in params.items():
            self.client.log_param(self.run_id, key, value[:500])

    def scalars(self, values: dict[str, float], step: int) -> None:
        for name, value in values.items():
            self.client.log_metric(self.run_id, name.replace("/", "."), value, step=step)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


class WandB:
    def __init__(self, run_dir: Path, params: dict[str, str], name: str) -> None:
        import wandb

        self.run = wandb.init(
            mode="offline", dir=str(run_dir), project=name, name=run_dir.name, config=params, reinit=True
        )

    def scalars(self, values: dict[str, float], step: int) -> None:
        self.run.log(values, step=step)

    def close(self) -> None:
        self.run.finish()


class Trackers:
    """The cell's trackers, fed with training-log records."""

    def __init__(self, names: tuple[str, ...], run_dir: Path, config: dict[str, Any]) -> None:
        params = flat(config)
        makers: dict[str, Callable[[], Tracker]] = {
            "tensorboard": lambda: TensorBoard(run_dir, params),
            "mlflow": lambda: MLflow(run_dir, params, Path(config["output_dir"]), config["name"]),
            "wandb": lambda: WandB(run_dir, params, config["name"]),
        }
        self.active: dict[str, Tracker] = {}
        for name in names:
            try:
                self.active[name] = makers[name]()
            except ImportError:
                raise UserError(
                    f"tracking = {name!r} needs: pip install 'taxobench[{EXTRAS[name]}]'"
                ) from None
        self.last_step = 0

    def record(self, record: dict[str, Any]) -> None:
        """Scalars of one training-log record ("train" and "val") at its step."""
        kind = record.get("kind")
        if kind not in ("train", "val") or not self.active:
            return
        self.last_step = int(record.get("step", self.last_step))
        skip = {"kind", "step"}
        values = {f"{kind}/{k}": float(v) for k, v in record.items() if k not in skip and _number(v)}
        self._send(values, self.last_step)

    def final(self, per_subset: Any) -> None:
        """The cell's test macro F1 (percent) per subset, at the last step."""
        values = {f"test/macro_f1_{r.subset}": 100 * float(r.macro_f1) for r in per_subset.itertuples()}
        self._send(values, self.last_step)

    def _send(self, values: dict[str, float], step: int) -> None:
        for name, tracker in list(self.active.items()):
            try:
                tracker.scalars(values, step)
            except Exception as exc:  # noqa: BLE001 - a tracker never takes a cell down
                warnings.warn(f"tracker {name} failed and is dropped: {exc}", RuntimeWarning, stacklevel=2)
                del self.active[name]

    def close(self) -> None:
        for tracker in self.active.values():
            tracker.close()


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
