"""A digest of a torch module's weights as loaded (manifests, fingerprints of weights loaded by name)."""

from __future__ import annotations

import hashlib
from typing import Any


def weights_digest(module: Any) -> str:
    """sha256 over a module's parameters and buffers (names, dtypes, shapes and bytes), as loaded."""
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted({**dict(module.named_parameters()), **dict(module.named_buffers())}.items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")  # 0-dim too
    return h.hexdigest()
