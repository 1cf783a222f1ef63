"""Feature cache: hits, misses, corruption, order, variants, and token pooling."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from harness.errors import UserError
from harness.training.features import FeatureStore, default_cache_dir, encode_images, pool_tokens


class CountingEncoder:
    """Fake encoder: 4 tokens whose values are the image's mean colour and a per-image offset."""

    name = "counting"
    dim = 3

    def __init__(self, tag: str = "v1") -> None:
        self.tag = tag
        self.calls: list[int] = []

    def fingerprint(self) -> str:
        return f"counting-{self.tag}"

    def encode(self, images: Sequence[Image.Image]) -> torch.Tensor:
        self.calls.append(len(images))
        means = torch.tensor(np.stack([np.asarray(im, dtype=np.float32).mean((0, 1)) for im in images]))
        return means[:, None, :] + torch.arange(4, dtype=torch.float32)[None, :, None]


def open_image(ref: str) -> Image.Image:
    path, _, variant = ref.partition("#")
    image = Image.open(path).convert("RGB")
    return image.rotate(90 * int(variant)) if variant else image


@pytest.fixture
def images(tmp_path: Path) -> list[str]:
    refs = []
    for i in range(5):
        path = tmp_path / "img" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        pixels = np.zeros((6, 4, 3), np.uint8)
        pixels[..., 0], pixels[:3, :, 1] = 10 * i, 200  # distinct colours; rotation changes the mean
        Image.fromarray(pixels).save(path)
        refs.append(str(path))
    return refs


def expected(refs: list[str]) -> torch.Tensor:
    return CountingEncoder().encode([open_image(r) for r in refs])


def test_miss_then_hit(images: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    enc = CountingEncoder()
    first = encode_images(enc, open_image, images, cache, batch_size=2, progress=False)
    assert enc.calls == [2, 2, 1]
    torch.testing.assert_close(first, expected(images))
    again = CountingEncoder()
    second = encode_images(again, open_image, images, cache, progress=False)
    assert again.calls == []  # every image served from the cache
    torch.testing.assert_close(second, first)


def test_only_missing_images_are_encoded(images: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    encode_images(CountingEncoder(), open_image, images[:3], cache, progress=False)
    enc = CountingEncoder()
    out = encode_images(enc, open_image, images, cache, progress=False)
    assert enc.calls == [2]
    torch.testing.assert_close(out, expected(images))


def test_order_and_duplicates_preserved(images: list[str], tmp_path: Path) -> None:
    refs = [images[3], images[0], images[3], images[4], images[1]]
    enc = CountingEncoder()
    out = encode_images(enc, open_image, refs, tmp_path / "cache", progress=False)
    assert sum(enc.calls) == 4  # the duplicate is encoded once
    torch.testing.assert_close(out, expected(refs))


def test_key_follows_fingerprint_and_content(images: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    encode_images(CountingEncoder(), open_image, images, cache, progress=False)
    other = CountingEncoder("v2")
    encode_images(other, open_image, images, cache, progress=False)
    assert sum(other.calls) == 5  # another fingerprint shares nothing
    moved = tmp_path / "moved.png"
    moved.write_bytes(Path(images[2]).read_bytes())
    enc = CountingEncoder()
    encode_images(enc, open_image, [str(moved)], cache, progress=False)
    assert enc.calls == []  # same bytes under another path: a hit
    Image.new("RGB", (4, 6), (1, 2, 3)).save(images[2])
    out = encode_images(enc, open_image, [images[2]], cache, progress=False)
    assert enc.calls == [1] and out[0, 0].tolist() == [1.0, 2.0, 3.0]  # new bytes: a miss


def test_variants_are_distinct_entries(images: list[str], tmp_path: Path) -> None:
    refs = [images[0], f"{images[0]}#1", f"{images[0]}#2", f"{images[0]}#1"]
    enc = CountingEncoder()
    out = encode_images(enc, open_image, refs, tmp_path / "cache", progress=False)
    assert sum(enc.calls) == 3
    torch.testing.assert_close(out, expected(refs))
    assert not torch.equal(out[0], out[1])


def test_non_file_refs_are_addressed_by_pixels(tmp_path: Path) -> None:
    def render(ref: str) -> Image.Image:
        return Image.new(
            "RGB", (3, 3), {"red": (255, 0, 0), "also-red": (255, 0, 0), "blue": (0, 0, 255)}[ref]
        )

    enc = CountingEncoder()
    out = encode_images(enc, render, ["red", "blue", "also-red"], tmp_path / "cache", progress=False)
    assert sum(enc.calls) == 2 and torch.equal(out[0], out[2]) and not torch.equal(out[0], out[1])


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupted_entry_is_recomputed(images: list[str], tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    encode_images(CountingEncoder(), open_image, images, cache, progress=False)
    entries = sorted(cache.rglob("*.safetensors"))
    assert len(entries) == 5
    victim = entries[1]
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[: len(data) - 7])
    elif damage == "flip":
        victim.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # a tensor byte: only the checksum sees it
    else:
        victim.write_bytes(b"not a safetensors file")
    enc = CountingEncoder()
    with pytest.warns(UserWarning, match="damaged"):
        out = encode_images(enc, open_image, images, cache, progress=False)
    assert enc.calls == [1]
    torch.testing.assert_close(out, expected(images))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: no warning the next time
        encode_images(CountingEncoder(), open_image, images, cache, progress=False)


def test_layout_and_atomic_write(images: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    encode_images(CountingEncoder(), open_image, images[:1], cache, progress=False)
    store = FeatureStore(cache, "counting-v1")
    (entry,) = cache.rglob("*.safetensors")
    assert entry.parent.parent == store.root and entry.parent.name == entry.stem[:2]
    assert (store.root / "encoder.json").is_file()
    assert not list(cache.rglob("*.tmp"))


def test_pool_applied_after_cache(images: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    full = encode_images(CountingEncoder(), open_image, images, cache, progress=False)
    enc = CountingEncoder()
    pooled = encode_images(enc, open_image, images, cache, progress=False, pool="pool:1")
    assert enc.calls == []
    torch.testing.assert_close(pooled, full.mean(1, keepdim=True))


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TAXOBENCH_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "features"
    monkeypatch.delenv("TAXOBENCH_CACHE")
    assert default_cache_dir().parts[-2:] == ("taxobench", "features")


def test_pool_tokens_2d_grid() -> None:
    x = torch.arange(16, dtype=torch.float32).view(1, 16, 1).repeat(2, 1, 3)  # 4x4 grid, row-major
    out = pool_tokens(x, "pool:4")
    assert out.shape == (2, 4, 3)
    # top-left 2x2 block holds tokens 0, 1, 4, 5
    assert out[0, :, 0].tolist() == [2.5, 4.5, 10.5, 12.5]
    assert pool_tokens(x, "all") is x
    torch.testing.assert_close(pool_tokens(x, "pool:1"), x.mean(1, keepdim=True))
    assert pool_tokens(x, "pool:16").equal(x)


def test_pool_tokens_1d_fallback() -> None:
    x = torch.arange(6, dtype=torch.float32).view(1, 6, 1)  # 6 tokens: not a square grid
    assert pool_tokens(x, "pool:3")[0, :, 0].tolist() == [0.5, 2.5, 4.5]
    y = torch.arange(16, dtype=torch.float32).view(1, 16, 1)  # square N but k=2 not square: 1D
    assert pool_tokens(y, "pool:2")[0, :, 0].tolist() == [3.5, 11.5]


@pytest.mark.parametrize("spec", ["pool", "pool:0", "pool:x", "mean", "pool:17"])
def test_pool_tokens_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(UserError):
        pool_tokens(torch.zeros(1, 16, 2), spec)
