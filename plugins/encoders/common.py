"""Helpers shared by the encoder plugins: the options base, devices, resize-naive preprocessing, digests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field

from harness.plugin.api import PluginOptions, sha256_file

if TYPE_CHECKING:
    import torch
    from PIL import Image

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
_CHUNK = 1 << 20
_DEVICE = re.compile(r"[a-z_]+(:\d+)?")


def _device_name(value: str | None) -> str | None:
    """A device name torch can parse (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ...); whether it exists is
    checked when the encoder is built (a driver without GPUs may validate cells that run on GPU workers)."""
    if value is not None and not _DEVICE.fullmatch(value):
        raise ValueError(f"unknown device {value!r} (use auto, cpu, cuda or cuda:N)")
    return value


Device = Annotated[str | None, AfterValidator(_device_name)]
Dtype = Literal["float32", "bfloat16", "float16"]
BatchSize = Annotated[int, Field(strict=True, ge=1)]


class EncoderOptions(PluginOptions):
    """Options every first-party encoder takes: ``device`` (``auto``: CUDA when available, else CPU) and
    ``batch_size`` (images per forward pass)."""

    device: Device = "auto"
    batch_size: BatchSize = 32


def torch_dtype(name: str) -> torch.dtype:
    import torch

    return getattr(torch, name)


@contextlib.contextmanager
def exact_float32(active: bool = True) -> Iterator[None]:
    """Disable TF32 in cuDNN convolutions and CUDA matmuls (restored afterwards), so float32 features
    agree across devices to ~1e-6 and do not depend on a global TF32 setting made elsewhere."""
    import torch

    if not active:
        yield
        return
    # torch.backends.cudnn.conv only exists in torch >= 2.9 (and is missing from torch's type information)
    backends: list[Any] = [getattr(torch.backends.cudnn, "conv", None), torch.backends.cuda.matmul]
    if all(hasattr(b, "fp32_precision") for b in backends):  # torch >= 2.9
        saved = [b.fp32_precision for b in backends]
        for b in backends:
            b.fp32_precision = "ieee"
        try:
            yield
        finally:
            for b, value in zip(backends, saved, strict=True):
                b.fp32_precision = value
        return
    legacy: list[Any] = [torch.backends.cudnn, torch.backends.cuda.matmul]
    saved = [b.allow_tf32 for b in legacy]
    for b in legacy:
        b.allow_tf32 = False
    try:
        yield
    finally:
        for b, value in zip(legacy, saved, strict=True):
            b.allow_tf32 = value


def resize_naive(
    images: Sequence[Image.Image], size: tuple[int, int], resample: int, scale: float = 1.0
) -> torch.Tensor:
    """RGB images resized to ``size`` = (height, width) ignoring aspect ratio: float32 ``[B, 3, H, W]``,
    pixel values multiplied by ``scale``."""
    import numpy as np
    import torch
    from PIL import Image

    height, width = size
    method = Image.Resampling(int(resample))
    arrays = [
        np.asarray(im.convert("RGB").resize((width, height), method), dtype=np.float32) for im in images
    ]
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return batch * scale if scale != 1.0 else batch


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    import torch

    m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def cheap_file_digest(path: Path) -> str:
    """sha256 of size, first, middle and last MiB: changes when weights change, without reading GBs."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        for offset in sorted({0, max(0, size // 2 - _CHUNK // 2), max(0, size - _CHUNK)}):
            fh.seek(offset)
            h.update(fh.read(_CHUNK))
    return h.hexdigest()


def directory_digest(directory: Path) -> str:
    """Digest of a model directory: every ``*.json`` file in full plus a cheap digest of weight files."""
    parts = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        if path.suffix == ".json":
            parts.append((path.name, sha256_file(path)))
        elif path.name.endswith(WEIGHT_SUFFIXES):
            parts.append((path.name, cheap_file_digest(path)))
    return digest(parts)


def digest(obj: Any) -> str:
    """sha256 of a JSON-serialisable object (keys sorted)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def in_batches(images: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [images[i : i + size] for i in range(0, len(images), size)]
