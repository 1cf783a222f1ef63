"""``timm:<model name>``: patch tokens of any timm model (ViTs, DINOv2 via timm, …).  Optional extra.

Uses ``forward_intermediates`` (block output ``layer``, indexed like transformers' ``hidden_states``:
-1 = last block, default -2), which strips the ``num_prefix_tokens`` CLS/register tokens; models without
it fall back to ``forward_features`` (``layer=-1`` only) with the prefix tokens dropped.  Images are
resized naively to the model's input size and normalised with its data config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.plugin.api import UserError, declare, resolve_device, weights_digest
from plugins.encoders import common

if TYPE_CHECKING:
    import torch
    from PIL import Image

INSTALL_HINT = "pip install 'taxobench[timm]' (timm is an optional extra)"


class TimmOptions(common.EncoderOptions):
    """Options of encoder ``timm``."""

    layer: int = -2  # block output, indexed like hidden_states: -1 = last block
    dtype: common.Dtype = "float32"
    pretrained: bool = True


_INTERPOLATION = {"nearest": 0, "bilinear": 2, "bicubic": 3, "lanczos": 1}


def _import_timm() -> Any:
    try:
        import timm
        import timm.data
    except ImportError as exc:
        raise UserError(f"the timm encoder needs timm: {INSTALL_HINT}") from exc
    return timm


class TimmEncoder:
    """Frozen timm model returning patch tokens ``[B, N, dim]``."""

    def __init__(self, model_name: str, **options: Any) -> None:
        opts = TimmOptions.parse("encoder 'timm'", options)
        timm = _import_timm()
        import torch

        self.name = f"timm:{model_name}"
        self.layer = opts.layer
        self.batch_size = opts.batch_size
        self.device = resolve_device(opts.device)
        self.dtype = common.torch_dtype(opts.dtype)
        try:
            model = timm.create_model(model_name, pretrained=opts.pretrained, num_classes=0)
        except RuntimeError as exc:  # unknown model names raise RuntimeError in timm
            raise UserError(f"timm cannot build {model_name!r}: {exc}") from exc
        self.model = model.eval().requires_grad_(False).to(self.device, self.dtype)
        self.dim = int(getattr(model, "num_features", getattr(model, "embed_dim", 0)))
        self.n_prefix = int(getattr(model, "num_prefix_tokens", 0))
        self.n_blocks = len(getattr(model, "blocks", []))
        self.intermediates = hasattr(model, "forward_intermediates")
        if self.layer == 0 or (self.n_blocks and not -self.n_blocks <= self.layer <= self.n_blocks):
            raise UserError(
                f"timm {model_name!r}: layer {self.layer} must be a block in ±1..{self.n_blocks or 'depth'}"
            )
        if not self.intermediates and self.layer != -1:
            raise UserError(f"timm {model_name!r} has no forward_intermediates; only layer=-1 is available")
        data = timm.data.resolve_data_config({}, model=model)
        self.image_size = (int(data["input_size"][1]), int(data["input_size"][2]))
        self.resample = _INTERPOLATION.get(str(data.get("interpolation", "bicubic")), 3)
        self.mean = [float(v) for v in data["mean"]]
        self.std = [float(v) for v in data["std"]]
        cfg = getattr(model, "pretrained_cfg", {}) or {}
        self._fingerprint = common.digest(
            {
                "encoder": "timm",
                "model": model_name,
                "timm": getattr(timm, "__version__", "?"),
                "pretrained": opts.pretrained,
                "source": [cfg.get("hf_hub_id"), cfg.get("tag"), cfg.get("url")],
                "weights": weights_digest(model),
                "layer": self.layer,
                "dtype": opts.dtype,
                "preprocess": ["resize-naive", self.image_size, self.resample, self.mean, self.std],
                "version": 1,
            }
        )
        self._torch = torch

    def fingerprint(self) -> str:
        return self._fingerprint

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        x = common.resize_naive(images, self.image_size, self.resample, 1 / 255)
        return common.normalize(x, self.mean, self.std)

    def _block_index(self) -> int:
        """``hidden_states``-style layer -> timm block index (0 = embeddings is not a block)."""
        return self.layer - 1 if self.layer > 0 else self.layer

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.intermediates:
            (out,) = self.model.forward_intermediates(
                x, indices=[self._block_index()], intermediates_only=True, output_fmt="NCHW"
            )
            return out.flatten(2).transpose(1, 2) if out.dim() == 4 else out
        out = self.model.forward_features(x)
        return out.flatten(2).transpose(1, 2) if out.dim() == 4 else out[:, self.n_prefix :]

    def encode(self, images: Sequence[Image.Image]) -> torch.Tensor:
        torch = self._torch
        outputs = []
        with (
            torch.inference_mode(),
            common.exact_float32(self.device.type == "cuda" and self.dtype == torch.float32),
        ):
            for chunk in common.in_batches(images, self.batch_size):
                x = self.preprocess(chunk).to(self.device, self.dtype)
                outputs.append(self._forward(x).float().cpu())
        return torch.cat(outputs) if outputs else torch.empty(0, 0, self.dim)


@declare(TimmOptions)
def factory(arg: str | None = None, **options: Any) -> TimmEncoder:
    TimmOptions.parse("encoder 'timm'", options)  # options first, then the optional extra
    _import_timm()
    if not arg:
        raise UserError("timm needs a model name, e.g. timm:vit_large_patch14_reg4_dinov2.lvd142m")
    return TimmEncoder(arg, **options)
