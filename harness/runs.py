"""The run store: one directory per cell, named by the cell's config hash; finished only with DONE."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from harness.atomic import write_text
from harness.config import ExperimentConfig

DONE = "DONE"


@dataclass(frozen=True)
class RunDir:
    """A cell's directory under the output root."""

    path: Path

    @classmethod
    def for_config(cls, cfg: ExperimentConfig, root: Path | None = None) -> RunDir:
        return cls(Path(root or cfg.output_dir) / cfg.cell_id())

    @property
    def done(self) -> bool:
        return (self.path / DONE).is_file()

    @property
    def state(self) -> str:
        if self.done:
            return "done"
        if (self.path / "FAILED").is_file():
            return "failed"
        return "partial" if self.path.exists() else "pending"

    def reset(self) -> None:
        """Remove a half-written directory so the cell is redone from scratch."""
        if self.path.exists() and not self.done:
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)

    def mark_done(self) -> None:
        write_text(self.path / DONE, "ok\n")

    def mark_failed(self, traceback_text: str) -> None:
        write_text(self.path / "FAILED", traceback_text)

    def summary(self) -> dict[str, Any]:
        return json.loads((self.path / "summary.json").read_text())


def write_config(path: Path, cfg: ExperimentConfig) -> None:
    """The resolved config as TOML (a file ``taxobench run`` accepts)."""
    write_text(path, tomli_w.dumps(cfg.model_dump(mode="json", exclude_none=True)))


def finished_runs(roots: list[Path]) -> list[Path]:
    """Every finished run directory at or below the given paths."""
    out: set[Path] = set()
    for root in roots:
        root = Path(root)
        if (root / DONE).is_file():
            out.add(root)
        elif root.is_dir():
            out.update(p.parent for p in root.rglob(DONE))
    return sorted(out)
