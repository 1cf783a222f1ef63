"""Deterministic augmentation of emoji artwork: reference ``"<path>#<k>"`` is variant ``k >= 1`` of ``path``.

A variant is a random resized placement (scale 0.7-1.1, shift up to 15 %, parts beyond the frame cropped),
a rotation within +-15 degrees, a horizontal flip with probability 1/2, a small colour jitter (brightness,
contrast, saturation within +-12 %) and a background colour (white 1/4 of the time, else a random colour).
Its random choices come from the source file's sha256 and ``k``, so a variant depends on the file's content,
not on where the file is stored (matching the feature cache's ``<file sha256>#<k>`` key).
"""

from __future__ import annotations

from PIL import Image, ImageEnhance, ImageOps

from harness.plugin.api import derive_rng

VERSION = 1  # part of the task fingerprint: bump when the augmentation changes


def split_ref(ref: str) -> tuple[str, int]:
    """``("<path>", k)`` for ``"<path>#<k>"`` (k >= 1), else ``(ref, 0)``."""
    source, sep, tail = ref.rpartition("#")
    if sep and tail.isdigit() and int(tail) >= 1:
        return source, int(tail)
    return ref, 0


def augment(image: Image.Image, content: str, k: int) -> Image.Image:
    """Variant ``k`` of an RGBA ``image`` whose file has sha256 ``content``; RGB, same size."""
    rng = derive_rng(k, "emoji-augment", VERSION, content)
    rgba = image.convert("RGBA")
    w, h = rgba.size
    if rng.random() < 0.5:
        rgba = ImageOps.mirror(rgba)
    rgb, alpha = rgba.convert("RGB"), rgba.getchannel("A")
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        rgb = enhancer(rgb).enhance(rng.uniform(0.88, 1.12))
    rgba = rgb.convert("RGBA")
    rgba.putalpha(alpha)
    rgba = rgba.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BICUBIC, expand=False)
    scale = rng.uniform(0.7, 1.1)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    rgba = rgba.resize((sw, sh), Image.Resampling.LANCZOS)
    dx = round((w - sw) / 2 + rng.uniform(-0.15, 0.15) * w)
    dy = round((h - sh) / 2 + rng.uniform(-0.15, 0.15) * h)
    if rng.random() < 0.25:
        background: tuple[int, ...] = (255, 255, 255)
    else:
        background = tuple(rng.randint(40, 255) for _ in range(3))
    canvas = Image.new("RGBA", (w, h), (*background, 255))
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    layer.paste(rgba, (dx, dy))
    canvas.alpha_composite(layer)
    return canvas.convert("RGB")
