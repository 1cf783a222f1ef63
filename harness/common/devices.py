"""Device names: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:N``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import UserError

if TYPE_CHECKING:
    import torch


def resolve_device(device: str | None) -> torch.device:
    """The torch device for a name; ``auto`` (or None) picks CUDA when available.  An unknown name, or
    CUDA where there is none, is a UserError."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UserError(f"unknown device {device!r} (use auto, cpu, cuda or cuda:N)") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but CUDA is not available")
    return resolved
