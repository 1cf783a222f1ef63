"""Training precision (``training.dtype``): the frozen backbone's weights in bfloat16 / float16.

The projector and the loss stay float32; the projected image tokens are cast to the backbone's dtype where
they enter it, and logits are read back as float32.  bfloat16 runs on CUDA and on CPUs with native bf16
support (oneDNN: AVX512-BF16 or AMX); elsewhere it falls back to float32 with a warning.  float16 runs on
CUDA only (with loss scaling), else float32 with a warning.
"""

from __future__ import annotations

import warnings

import torch

from harness.plugin.contracts import Backbone

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def cpu_bf16_supported() -> bool:
    """Whether this CPU has native bfloat16 matrix kernels (oneDNN)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(device: torch.device, name: str) -> torch.dtype:
    """The dtype the backbone runs in for ``training.dtype = name`` on ``device`` (with fallbacks)."""
    if name == "float32" or device.type == "cuda":
        return DTYPES[name]
    if name == "bfloat16" and device.type == "cpu" and cpu_bf16_supported():
        return torch.bfloat16
    warnings.warn(
        f"training.dtype = {name!r} is not supported on {device.type} here; running in float32",
        RuntimeWarning,
        stacklevel=2,
    )
    return torch.float32


def prepare_backbone(backbone: Backbone, device: torch.device, name: str) -> torch.dtype:
    """Move the frozen backbone to ``device`` in the resolved dtype; returns that dtype."""
    dtype = resolve_dtype(device, name)
    backbone.module.to(device=device, dtype=dtype).eval().requires_grad_(False)
    return dtype
