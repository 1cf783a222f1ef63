"""Encoder plugins: hf-vision (tiny local models), timm (missing extra, fake module), efficientnet-lite0."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from harness.errors import UserError
from harness.plugin.contracts import Encoder
from harness.plugin.registry import discover

TINY = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)
IMAGENET = dict(image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])


def noise_images(n: int, size: tuple[int, int] = (40, 30), seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random DINOv2, DINOv2-with-registers and full SigLIP checkpoints saved with processors."""
    from transformers import (
        BitImageProcessor,
        Dinov2Config,
        Dinov2Model,
        Dinov2WithRegistersConfig,
        Dinov2WithRegistersModel,
        SiglipConfig,
        SiglipImageProcessor,
        SiglipModel,
    )

    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    vision = dict(TINY, image_size=28, patch_size=7)
    crop = dict(size={"shortest_edge": 32}, crop_size={"height": 28, "width": 28}, do_center_crop=True)
    dirs = {"dinov2": root / "dinov2", "dinov2-reg": root / "dinov2-reg", "siglip": root / "siglip"}
    Dinov2Model(Dinov2Config(**vision)).save_pretrained(dirs["dinov2"])
    BitImageProcessor(**crop, **IMAGENET).save_pretrained(dirs["dinov2"])
    Dinov2WithRegistersModel(Dinov2WithRegistersConfig(**vision, num_register_tokens=4)).save_pretrained(
        dirs["dinov2-reg"]
    )
    BitImageProcessor(**crop, **IMAGENET).save_pretrained(dirs["dinov2-reg"])
    text = dict(TINY, num_hidden_layers=1, vocab_size=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    SiglipModel(SiglipConfig(vision_config=vision, text_config=text)).save_pretrained(dirs["siglip"])
    SiglipImageProcessor(size={"height": 28, "width": 28}).save_pretrained(dirs["siglip"])
    return dirs


def build(ref: str, **options):
    return discover().create("encoders", ref, device="cpu", **options)


def test_encoders_are_registered() -> None:
    assert {"hf-vision", "timm", "efficientnet-lite0"} <= set(discover().names("encoders"))


@pytest.mark.parametrize("kind,prefix", [("dinov2", 1), ("dinov2-reg", 5), ("siglip", 0)])
def test_hf_vision_patch_tokens_drop_prefix(tiny_dirs: dict[str, Path], kind: str, prefix: int) -> None:
    enc = build(f"hf-vision:{tiny_dirs[kind]}", batch_size=2)
    assert isinstance(enc, Encoder) and enc.dim == 32
    images = noise_images(3)  # 40x30: resize-naive to 28x28 -> 4x4 patches
    out = enc.encode(images)
    assert out.shape == (3, 16, 32) and out.dtype == torch.float32 and out.device.type == "cpu"
    with torch.no_grad():
        hidden = enc.model(pixel_values=enc.preprocess(images), output_hidden_states=True).hidden_states
    assert hidden[-2].shape[1] == 16 + prefix
    torch.testing.assert_close(out, hidden[-2][:, prefix:])  # the tail is kept: CLS/registers dropped
    kept = build(f"hf-vision:{tiny_dirs[kind]}", keep_prefix=True).encode(images)
    torch.testing.assert_close(kept, hidden[-2])


def test_hf_vision_layer_choice(tiny_dirs: dict[str, Path]) -> None:
    ref = f"hf-vision:{tiny_dirs['dinov2-reg']}"
    images = noise_images(2, seed=1)
    second, last = build(ref), build(ref, layer=-1)
    a, b = second.encode(images), last.encode(images)
    assert a.shape == b.shape and not torch.allclose(a, b)
    assert second.fingerprint() != last.fingerprint()
    with torch.no_grad():
        hidden = last.model(pixel_values=last.preprocess(images), output_hidden_states=True).hidden_states
    torch.testing.assert_close(b, hidden[3][:, 5:])
    with pytest.raises(UserError, match="layer"):
        build(ref, layer=7)


def test_hf_vision_preprocessing_is_resize_naive(tiny_dirs: dict[str, Path]) -> None:
    enc = build(f"hf-vision:{tiny_dirs['dinov2']}")
    x = enc.preprocess([Image.new("RGB", (90, 20), (255, 0, 0))])
    assert x.shape == (1, 3, 28, 28)  # crop size, aspect ignored, nothing cropped away
    expected = (1.0 - 0.485) / 0.229
    torch.testing.assert_close(x[0, 0], torch.full((28, 28), expected))


def test_hf_vision_deterministic_and_batch_independent(tiny_dirs: dict[str, Path]) -> None:
    images = noise_images(5, seed=2)
    one = build(f"hf-vision:{tiny_dirs['siglip']}", batch_size=2).encode(images)
    two = build(f"hf-vision:{tiny_dirs['siglip']}", batch_size=5).encode(images)
    torch.testing.assert_close(one, two, atol=1e-5, rtol=1e-5)


def test_hf_vision_fingerprint_tracks_weights(tiny_dirs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from transformers import Dinov2Config, Dinov2Model

    copy = tmp_path / "copy"
    shutil.copytree(tiny_dirs["dinov2"], copy)
    before = build(f"hf-vision:{copy}").fingerprint()
    assert build(f"hf-vision:{copy}").fingerprint() == before
    torch.manual_seed(123)
    Dinov2Model(Dinov2Config.from_pretrained(copy)).save_pretrained(copy)
    assert build(f"hf-vision:{copy}").fingerprint() != before


def test_hf_vision_user_errors(tiny_dirs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs a model"):
        build("hf-vision")
    with pytest.raises(UserError, match=r"(?s)encoder 'hf-vision'.*layers: Extra inputs.*accepted.*layer"):
        build(f"hf-vision:{tiny_dirs['dinov2']}", layers=3)
    with pytest.raises(UserError, match="dtype: Input should be 'float32', 'bfloat16' or 'float16'"):
        build(f"hf-vision:{tiny_dirs['dinov2']}", dtype="int8")
    with pytest.raises(UserError, match="batch_size: Input should be greater than or equal to 1"):
        build(f"hf-vision:{tiny_dirs['dinov2']}", batch_size=0)
    with pytest.raises(UserError, match="device: .*unknown device 'gpu 0'"):
        discover().create("encoders", f"hf-vision:{tiny_dirs['dinov2']}", device="gpu 0")
    with pytest.raises(UserError, match="cannot load"):
        build(f"hf-vision:{tmp_path / 'nothing-here'}")


def test_timm_missing_extra_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # makes `import timm` raise ImportError
    with pytest.raises(UserError, match=r"pip install 'taxobench\[timm\]'"):
        build("timm:vit_small_patch14_dinov2")


class _FakeViT(torch.nn.Module):
    """Stands in for a timm ViT: 4 blocks, 2 prefix tokens, 2x2 patch grid on 8x8 input."""

    num_prefix_tokens = 2
    num_features = 6
    pretrained_cfg = {"hf_hub_id": "fake/vit", "tag": "t"}

    def __init__(self) -> None:
        super().__init__()
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(6, 6) for _ in range(4))
        self.calls: list[dict] = []

    def forward_intermediates(self, x, indices, intermediates_only, output_fmt):
        self.calls.append(dict(indices=indices, output_fmt=output_fmt))
        index = indices[0] % len(self.blocks)
        return [x[:, :, :2, :2].repeat(1, 2, 1, 1) + index]  # NCHW [B, 6, 2, 2]


def test_timm_adapter_with_a_fake_module(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("timm")
    fake.__version__ = "0.0-fake"
    fake.data = types.SimpleNamespace(
        resolve_data_config=lambda args, model: dict(
            input_size=(3, 8, 8), interpolation="bilinear", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
        )
    )
    made: list[_FakeViT] = []
    fake.create_model = lambda name, pretrained, num_classes: made.append(_FakeViT()) or made[-1]
    monkeypatch.setitem(sys.modules, "timm", fake)
    monkeypatch.setitem(sys.modules, "timm.data", fake.data)
    enc = build("timm:fake_vit")
    out = enc.encode(noise_images(3))
    assert out.shape == (3, 4, 6) and enc.dim == 6
    assert made[0].calls[-1] == {"indices": [-2], "output_fmt": "NCHW"}
    assert build("timm:fake_vit", layer=1).fingerprint() != enc.fingerprint()
    build("timm:fake_vit", layer=1).encode(noise_images(1))
    assert made[-1].calls[-1]["indices"] == [0]  # hidden_states-style layer 1 = first block
    with pytest.raises(UserError, match="layer"):
        build("timm:fake_vit", layer=0)


@pytest.fixture(scope="module")
def effnet():
    return build("efficientnet-lite0", batch_size=4)


def test_efficientnet_shape_and_determinism(effnet) -> None:
    assert isinstance(effnet, Encoder) and effnet.dim == 1280
    images = noise_images(3, size=(300, 200), seed=3)
    a, b = effnet.encode(images), effnet.encode(images[::-1])
    assert a.shape == (3, 49, 1280) and a.dtype == torch.float32
    torch.testing.assert_close(a, b.flip(0), atol=1e-5, rtol=1e-5)
    assert (
        len(effnet.fingerprint()) == 64 and effnet.fingerprint() == build("efficientnet-lite0").fingerprint()
    )


def test_efficientnet_is_pretrained(effnet) -> None:
    """An orange disc on white is classified as ImageNet 'ping-pong ball' (722) or 'orange' (950)."""
    image = Image.new("RGB", (224, 224), "white")
    ImageDraw.Draw(image).ellipse((40, 40, 184, 184), fill=(255, 140, 0))
    with torch.no_grad():
        probs = effnet.model(effnet.preprocess([image])).softmax(-1)[0]
    assert int(probs.argmax()) in {722, 950}
    assert float(probs.max()) > 0.1  # confident, far above chance (0.001)


def test_efficientnet_rejects_arguments() -> None:
    with pytest.raises(UserError):
        build("efficientnet-lite0:b3")


def test_exact_float32_disables_and_restores_tf32() -> None:
    from plugins.encoders.common import exact_float32

    conv = torch.backends.cudnn.conv
    before = conv.fp32_precision
    conv.fp32_precision = "tf32"
    try:
        with exact_float32():
            assert conv.fp32_precision == "ieee"
        assert conv.fp32_precision == "tf32"
        with exact_float32(active=False):
            assert conv.fp32_precision == "tf32"
    finally:
        conv.fp32_precision = before
