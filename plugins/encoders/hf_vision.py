"""``hf-vision:<hub id or local path>``: patch tokens of any transformers vision model.

DINOv2 (with or without registers), SigLIP/CLIP (their vision tower is loaded alone), ViT, … Images are
resized naively (no crop, aspect ignored) to the processor's size and normalised with its mean/std; the
output is one hidden layer (option ``layer``, indexed like ``hidden_states``: 0 = embeddings, -1 = last
block, default -2 = second-to-last as in Prismatic) with CLS and register tokens dropped.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.plugin.api import UserError, declare, resolve_device
from plugins.encoders import common

if TYPE_CHECKING:
    import torch
    from PIL import Image


class HFVisionOptions(common.EncoderOptions):
    """Options of encoder ``hf-vision``."""

    layer: int = -2  # indexed like hidden_states: 0 = embeddings, -1 = last block
    dtype: common.Dtype = "float32"
    image_size: int | tuple[int, int] | None = None  # int or (height, width); default: the processor's size
    keep_prefix: bool = False  # keep CLS/register tokens (PROTOCOL.md §8: the paper's coherence used them)
    revision: str | None = None


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence the load report (SigLIP's unused text tower is expected) while loading."""
    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


def _processor_size(processor: Any, config: Any) -> tuple[int, int]:
    """The (height, width) the processor would hand the model."""
    crop = getattr(processor, "crop_size", None)
    if getattr(processor, "do_center_crop", False) and crop is not None and _get(crop, "height"):
        return (_get(crop, "height"), _get(crop, "width"))
    size = getattr(processor, "size", None)
    if size is not None and _get(size, "height"):
        return (_get(size, "height"), _get(size, "width"))
    if size is not None and _get(size, "shortest_edge"):
        return _pair(_get(size, "shortest_edge"))
    return _pair(config.image_size)


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def _model_dir(source: str, revision: str | None) -> Path | None:
    """Local directory holding the model's files (a hub snapshot directory for hub ids)."""
    if os.path.isdir(source):
        return Path(source)
    from transformers.utils import cached_file

    try:
        found = cached_file(source, "config.json", revision=revision)
    except OSError:
        return None
    return Path(found).parent if found else None


class HFVisionEncoder:
    """Frozen transformers vision model returning patch tokens ``[B, N, dim]``."""

    def __init__(self, source: str, **options: Any) -> None:
        opts = HFVisionOptions.parse("encoder 'hf-vision'", options)
        import torch
        from transformers import MODEL_MAPPING, AutoConfig, AutoImageProcessor, AutoModel

        self.source = source
        self.name = f"hf-vision:{source}"
        self.layer = opts.layer
        self.keep_prefix = opts.keep_prefix
        self.batch_size = opts.batch_size
        self.device = resolve_device(opts.device)
        self.dtype_name = opts.dtype
        revision = opts.revision
        try:
            with _quiet_transformers():
                config = AutoConfig.from_pretrained(source, revision=revision)
                vision_config = getattr(config, "vision_config", None)
                model_class = MODEL_MAPPING[type(vision_config)] if vision_config is not None else AutoModel
                # transformers types MODEL_MAPPING's values as (slow, fast) tuples; they are model classes
                model, info = model_class.from_pretrained(  # type: ignore[union-attr]
                    source, revision=revision, output_loading_info=True
                )
                processor = AutoImageProcessor.from_pretrained(source, revision=revision)
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"hf-vision cannot load {source!r}: {exc}") from exc
        if info.get("missing_keys"):
            missing = sorted(info["missing_keys"])
            raise UserError(f"hf-vision {source!r}: weights missing from the checkpoint: {missing[:5]} …")
        self.config = model.config
        self.model = model.eval().requires_grad_(False).to(self.device, common.torch_dtype(self.dtype_name))
        n_layers = self.config.num_hidden_layers
        if not -(n_layers + 1) <= self.layer <= n_layers:
            raise UserError(f"hf-vision {source!r}: layer {self.layer} outside [-{n_layers + 1}, {n_layers}]")
        self.dim = int(self.config.hidden_size)
        self.patch_size = _pair(self.config.patch_size)
        size = opts.image_size
        self.image_size = _pair(size) if size is not None else _processor_size(processor, self.config)
        self.resample = int(getattr(processor, "resample", None) or 3)  # 3 = bicubic
        self.scale = float(processor.rescale_factor) if getattr(processor, "do_rescale", True) else 1.0
        if getattr(processor, "do_normalize", True):
            self.mean = [float(v) for v in processor.image_mean]
            self.std = [float(v) for v in processor.image_std]
        else:
            self.mean, self.std = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
        directory = _model_dir(source, revision)
        preprocess = ["resize-naive", self.image_size, self.resample, self.scale, self.mean, self.std]
        self._fingerprint = common.digest(
            {
                "encoder": "hf-vision",
                "source": source,
                "revision": revision,
                "weights": common.directory_digest(directory) if directory else None,
                "layer": self.layer,
                "keep_prefix": self.keep_prefix,
                "dtype": self.dtype_name,
                "preprocess": preprocess,
                "version": 1,
            }
        )
        self._torch = torch
        self._forward_kwargs: dict[str, Any] = {"output_hidden_states": True}
        native = _pair(getattr(self.config, "image_size", self.image_size))
        accepts = "interpolate_pos_encoding" in inspect.signature(self.model.forward).parameters
        if accepts and native != self.image_size:
            self._forward_kwargs["interpolate_pos_encoding"] = True

    def fingerprint(self) -> str:
        return self._fingerprint

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        x = common.resize_naive(images, self.image_size, self.resample, self.scale)
        return common.normalize(x, self.mean, self.std)

    def encode(self, images: Sequence[Image.Image]) -> torch.Tensor:
        torch = self._torch
        outputs = []
        with (
            torch.inference_mode(),
            common.exact_float32(self.device.type == "cuda" and self.dtype_name == "float32"),
        ):
            for chunk in common.in_batches(images, self.batch_size):
                x = self.preprocess(chunk).to(self.device, common.torch_dtype(self.dtype_name))
                hidden = self.model(pixel_values=x, **self._forward_kwargs).hidden_states[self.layer]
                if not self.keep_prefix:
                    grid = (x.shape[2] // self.patch_size[0]) * (x.shape[3] // self.patch_size[1])
                    hidden = hidden[:, hidden.shape[1] - grid :]
                outputs.append(hidden.float().cpu())
        return torch.cat(outputs) if outputs else torch.empty(0, 0, self.dim)


@declare(HFVisionOptions)
def factory(arg: str | None = None, **options: Any) -> HFVisionEncoder:
    if not arg:
        raise UserError("hf-vision needs a model, e.g. hf-vision:facebook/dinov2-large")
    return HFVisionEncoder(arg, **options)
