"""The run store: one directory per cell, named by the cell's config hash; finished only with DONE.

``DONE`` is written last and lists every output file of the cell with its size and sha256, so a finished
cell proves it is whole: :meth:`RunDir.damage` re-checks them (``taxobench run`` redoes a damaged cell,
``taxobench report`` skips it).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from harness.common.files import sha256_file, write_text
from harness.config import ExperimentConfig

DONE = "DONE"
FAILED = "FAILED"
DONE_FORMAT = 1


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
            p.name: {"size": p.stat().st_size, "sha256": sha256_file(p, remember=False)} for p in output_files(self.path)
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
