"""Training checkpoints at epoch boundaries, so a long cell resumes mid-training after a crash or a kill.

One file, ``<run_dir>/checkpoint/state.pt``, replaced atomically after every epoch: the projector, AdamW,
learning-rate schedule and grad-scaler states, the torch RNG states, the epochs and optimiser steps done,
and the training log so far.  It carries a key naming what was being trained (config, seed, backbone,
data); a checkpoint with another key, or an unreadable one, is ignored with a warning and training starts
afresh.  Resumed training on CPU gives a bit-identical projector
(tests/harness/training/test_checkpoint.py).  The run store keeps the folder when it redoes an unfinished
cell (``RunDir.reset_keeping_checkpoint``) and removes it once the cell is DONE
(``RunDir.discard_checkpoint``).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.common.files import write_atomic

FORMAT = 1
STATE = "state.pt"


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Resumed:
    """Where a loaded checkpoint left off: ``epoch`` epochs (``step`` optimiser steps) done, and the log."""

    epoch: int
    step: int
    log: list[dict[str, Any]]


def training_key(**parts: Any) -> str:
    """A short stable hash of what determines a training run (JSON-able parts; others via ``str``)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _rng_state() -> dict[str, Any]:
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(
    directory: Path,
    key: str,
    epoch: int,
    step: int,
    parts: Mapping[str, Stateful],
    log: Sequence[dict[str, Any]] = (),
) -> Path:
    """Write the checkpoint after ``epoch`` epochs (``step`` steps) atomically; returns its path."""
    import torch

    state = {
        "format": FORMAT,
        "key": key,
        "epoch": int(epoch),
        "step": int(step),
        "states": {name: obj.state_dict() for name, obj in parts.items()},
        "rng": _rng_state(),
        "log": list(log),
    }
    path = Path(directory) / STATE
    write_atomic(path, lambda tmp: torch.save(state, tmp))
    return path


def load(directory: Path, key: str, parts: Mapping[str, Stateful]) -> Resumed | None:
    """Restore ``parts`` (and the RNG) from the checkpoint in ``directory`` if there is one for ``key``."""
    import torch

    path = Path(directory) / STATE
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged file: train from the start rather than fail the cell
        warnings.warn(f"ignoring unreadable training checkpoint {path}: {exc}", stacklevel=2)
        return None
    if state.get("format") != FORMAT or state.get("key") != key or set(state["states"]) != set(parts):
        warnings.warn(f"ignoring training checkpoint {path}: it is for another training run", stacklevel=2)
        return None
    for name, obj in parts.items():
        obj.load_state_dict(state["states"][name])
    _set_rng_state(state["rng"])
    return Resumed(epoch=state["epoch"], step=state["step"], log=list(state["log"]))
