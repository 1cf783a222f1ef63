"""The run store: one directory per cell, named by the cell's config hash; finished only with DONE.

It owns the run record (:class:`RunRecord`, the ``summary.json`` every run has, taxobench's or a published
one) and the run-directory layout (the file names below): the cell runner, the published import, report
loading, checkpoints and the leaderboard all go through it.  ``DONE`` is written last and lists every output
file of the cell with its size and sha256, so a finished cell proves it is whole: :meth:`RunDir.damage`
re-checks them (``taxobench run`` redoes a damaged cell, ``taxobench report`` skips it).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from harness.common.files import sha256_file, write_atomic, write_json, write_text
from harness.config import ExperimentConfig

# The run-directory layout.
CONFIG = "config.toml"  # the resolved config, a file ``taxobench run`` accepts
SUMMARY = "summary.json"  # the RunRecord
MANIFEST = "manifest.json"  # what produced the run
# questions.parquet, questionset.json: the QuestionSet's own files (harness.protocol.questions)
TRAIN_LOG = "train_log.jsonl"
PREDICTIONS = "predictions.parquet"
METRICS = "metrics.parquet"  # per (subset, category): f1, majority_f1, ...
COHERENCE = "coherence.parquet"
PROBE = "probe.parquet"  # probe directories: per (variant, category) F1
PROBE_DIR_PREFIX = "probe-"  # a probe directory is probe-<digest>, beside the cells
CHECKPOINT = "checkpoint"  # a folder: the training state after each epoch, removed once DONE
DONE = "DONE"
FAILED = "FAILED"
DONE_FORMAT = 1


class RunRecord(BaseModel):
    """The summary of one run: the model and condition it measured (``summary.json``)."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    task: str = "unknown"
    encoder: str
    backbone: str
    init: Literal["pretrained", "random"] = "pretrained"
    ablation_kind: Literal["random", "systematic"]
    ablation_level: float = Field(ge=0, allow_inf_nan=False)
    shuffle: str
    seed: StrictInt
    source: str = "taxobench"
    reference: str | None = None
    published_name: str | None = None

    @classmethod
    def from_config(cls, cfg: ExperimentConfig) -> RunRecord:
        return cls(
            run_id=cfg.cell_id(),
            task=cfg.task,
            encoder=cfg.encoder,
            backbone=cfg.backbone,
            init=cfg.init,
            ablation_kind=cfg.ablation.kind,
            ablation_level=cfg.ablation.level,
            shuffle=cfg.shuffle,
            seed=cfg.seed,
        )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ProbeRecord(BaseModel):
    """The summary of a text-only probe directory (``summary.json`` with ``kind = "probe"``): whose LM it
    probed; each variant adds its own details (extra fields, kept)."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["probe"] = "probe"
    backbone: str
    init: Literal["pretrained", "random"] = "pretrained"
    task: str | None = None
    seed: StrictInt | None = None
    fingerprint: str | None = None
    source: str = "taxobench"
    reference: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


MODEL_KEYS = ["source", "task", "encoder", "backbone", "init"]  # what identifies a model on the board
CONDITION_KEYS = ["ablation_kind", "ablation_level", "shuffle"]  # ... and a condition


def probe_dir_name(digest: str) -> str:
    """The directory name of a text-only probe result."""
    return PROBE_DIR_PREFIX + digest


def probe_questions_file(variant: str) -> str:
    """A probe directory's per-question file of one variant."""
    return f"probe_{variant}.parquet"


def output_files(path: Path) -> list[Path]:
    """The cell's output files: the regular files directly in its directory, but DONE and FAILED."""
    return sorted(p for p in Path(path).iterdir() if p.is_file() and p.name not in (DONE, FAILED))


@dataclass(frozen=True)
class RunDir:
    """A cell's directory under the output root."""

    path: Path

    @classmethod
    def for_config(cls, cfg: ExperimentConfig, root: Path | None = None) -> RunDir:
        return cls(Path(root or cfg.output_dir) / cfg.cell_id())

    @property
    def lock_path(self) -> Path:
        """The lock a process holds while it runs the cell (a sibling file)."""
        return Path(str(self.path) + ".lock")

    @property
    def done(self) -> bool:
        return (self.path / DONE).is_file()

    @property
    def state(self) -> str:
        if self.done:
            return "done"
        if (self.path / FAILED).is_file():
            return "failed"
        return "partial" if self.path.exists() else "pending"

    def reset(self) -> None:
        """Remove a half-written directory so the cell is redone from scratch."""
        if self.path.exists() and not self.done:
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)

    def mark_done(self) -> None:
        """Write DONE with the size and sha256 of every output file (written last)."""
        files = {
            p.name: {"size": p.stat().st_size, "sha256": sha256_file(p, remember=False)}
            for p in output_files(self.path)
        }
        write_text(self.path / DONE, json.dumps({"format": DONE_FORMAT, "files": files}, indent=1) + "\n")

    def damage(self) -> list[str]:
        """What is wrong with a finished cell's outputs (empty: whole): unreadable DONE, missing files, or
        files whose size or sha256 differ from those DONE recorded."""
        try:
            record = json.loads((self.path / DONE).read_text())
            files = record["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return ["DONE is not a taxobench record (no file checksums)"]
        problems = []
        for name, want in sorted(files.items()):
            path = self.path / name
            if not path.is_file():
                problems.append(f"{name} is missing")
            elif path.stat().st_size != want["size"]:
                problems.append(f"{name} has {path.stat().st_size} bytes, {want['size']} when finished")
            elif sha256_file(path, remember=False) != want["sha256"]:
                problems.append(f"{name} changed since the cell finished (sha256)")
        return problems

    def mark_failed(self, traceback_text: str) -> None:
        write_text(self.path / FAILED, traceback_text)

    def undo(self) -> None:
        """Withdraw DONE from a damaged cell, so it is redone (its files are replaced then)."""
        (self.path / DONE).unlink(missing_ok=True)

    def reset_keeping_checkpoint(self) -> None:
        """:meth:`reset` (an unfinished cell is redone from scratch) that keeps its training checkpoint.

        The folder is moved to a hidden sibling meanwhile; if the process dies in between, the next call
        finds it there and puts it back.
        """
        inside = self.path / CHECKPOINT
        aside = self.path.parent / f".{self.path.name}.{CHECKPOINT}"
        if inside.is_dir() and not self.done:
            shutil.rmtree(aside, ignore_errors=True)
            os.replace(inside, aside)
        self.reset()
        if aside.is_dir():
            if self.done:
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.replace(aside, inside)

    def discard_checkpoint(self) -> None:
        """Remove a finished cell's checkpoint (its results are final)."""
        shutil.rmtree(self.path / CHECKPOINT, ignore_errors=True)

    def write_record(self, record: RunRecord | ProbeRecord) -> None:
        write_json(self.path / SUMMARY, record.to_json())

    def write_config(self, cfg: ExperimentConfig) -> None:
        """The resolved config as TOML (a file ``taxobench run`` accepts)."""
        write_text(self.path / CONFIG, tomli_w.dumps(cfg.model_dump(mode="json", exclude_none=True)))

    def write_parquet(self, name: str, frame: Any) -> None:
        write_atomic(self.path / name, lambda tmp: frame.to_parquet(tmp, index=False))
