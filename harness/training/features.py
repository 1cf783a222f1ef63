"""Content-addressed cache of frozen-encoder patch features: each (encoder, image) is encoded once, ever.

Layout: ``<cache_dir>/<sha256(fingerprint)[:16]>/<key[:2]>/<key>.safetensors``, one file per image, where
``key = sha256(fingerprint + "\\n" + content)`` and ``content`` is the sha256 of the image file's bytes plus
the ``#variant`` suffix of an augmented reference (``"<ref>#<k>"``); the file is the one the task's optional
``locate(ref)`` names (task references are relative to the task's data), else ``ref`` itself when it is a
file; references that are not files are addressed by their decoded pixels. One small file per image (rather
than a memmap shard) makes writes atomic and incremental (temp file + ``os.replace``; a killed run keeps every
finished image), lets cells that share images share entries, and needs no index to stay consistent;
safetensors files are memory-mapped on read. Each file carries a sha256 of its tensor bytes; a corrupted or
truncated entry is reported, recomputed and overwritten."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image

from harness.common.files import cache_root, sha256_file, write_atomic, write_json
from harness.errors import UserError
from harness.plugin.contracts import Encoder

FORMAT = "1"
TENSOR = "features"


Locate = Callable[[str], "Path | None"]


def default_cache_dir() -> Path:
    """``<taxobench cache>/features`` (``TAXOBENCH_CACHE`` or the platform's user cache folder)."""
    return cache_root() / "features"


def content_hash(ref: str, open_image: Callable[[str], Image.Image], locate: Locate | None = None) -> str:
    """Hash of what ``ref`` shows: file bytes (+ ``#variant``), or decoded pixels for non-file refs."""
    source, sep, variant = ref.rpartition("#")
    for name, suffix in ((ref, ""), (source, f"#{variant}") if sep and source else (None, "")):
        if name is None:
            continue
        path = locate(name) if locate is not None else name
        if path is not None and os.path.isfile(path):
            return sha256_file(path) + suffix
    image = read_image(open_image, ref)
    h = hashlib.sha256(f"pixels:{image.mode}:{image.size}".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def _tensor_sha256(x: torch.Tensor) -> str:
    return hashlib.sha256(x.contiguous().view(torch.uint8).numpy().tobytes()).hexdigest()


class FeatureStore:
    """The cache directory of one encoder fingerprint."""

    def __init__(self, cache_dir: Path, fingerprint: str, name: str = "") -> None:
        self.fingerprint = fingerprint
        self.root = Path(cache_dir) / hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        self.name = name

    def key(self, content: str) -> str:
        return hashlib.sha256(f"{self.fingerprint}\n{content}".encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def load(self, key: str) -> torch.Tensor | None:
        """The cached tensor, or ``None`` when absent; a damaged entry warns and counts as absent."""
        from safetensors import safe_open

        path = self.path(key)
        if not path.exists():
            return None
        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = fh.metadata() or {}
                tensor = fh.get_tensor(TENSOR)
            if meta.get("sha256") != _tensor_sha256(tensor):
                raise ValueError("checksum mismatch")
            if meta.get("key") != key:
                raise ValueError("entry belongs to another key")
        except Exception as exc:  # truncated/garbled files raise various safetensors/OS errors
            warnings.warn(f"feature cache entry {path} is damaged ({exc}); recomputing", stacklevel=3)
            return None
        return tensor

    def save(self, key: str, tensor: torch.Tensor) -> None:
        """Write one entry atomically."""
        from safetensors.torch import save_file

        tensor = tensor.detach().to("cpu", torch.float32).contiguous()
        meta = {"sha256": _tensor_sha256(tensor), "key": key, "format": FORMAT}
        write_atomic(self.path(key), lambda tmp: save_file({TENSOR: tensor}, str(tmp), metadata=meta))

    def describe(self) -> None:
        """Write ``encoder.json`` (name and full fingerprint) once, for people browsing the cache."""
        target = self.root / "encoder.json"
        if not target.exists():
            write_json(target, {"name": self.name, "fingerprint": self.fingerprint})


def encode_images(
    encoder: Encoder,
    open_image: Callable[[str], Image.Image],
    refs: Sequence[str],
    cache_dir: Path,
    batch_size: int = 32,
    progress: bool = True,
    pool: str = "all",
    locate: Locate | None = None,
) -> torch.Tensor:
    """Features ``[len(refs), N, dim]`` (float32, CPU) in ``refs`` order, encoding only uncached images.

    ``pool`` (see :func:`pool_tokens`) is applied per image after the cache, so a pooled result never
    holds the full token tensor of every image in memory at once.  ``locate``: the task's ref -> file.
    """
    store = FeatureStore(cache_dir, encoder.fingerprint(), getattr(encoder, "name", ""))
    out = _Rows(encoder, pool)
    for row, ref in enumerate(refs):
        out.add(store.key(content_hash(ref, open_image, locate)), ref, row)
    missing = []
    for key in out.rows:
        tensor = store.load(key)
        if tensor is None:
            missing.append(key)
        else:
            out.place(key, tensor)
    if missing:
        store.describe()
        _encode_missing(encoder, open_image, store, missing, out, batch_size, progress)
    return out.result()


class _Rows:
    """Assembles the output tensor row by row (allocated once the feature shape is known)."""

    def __init__(self, encoder: Encoder, pool: str) -> None:
        self.encoder, self.pool = encoder, pool
        self.rows: dict[str, list[int]] = {}
        self.refs: dict[str, str] = {}
        self.n = 0
        self.out: torch.Tensor | None = None

    def add(self, key: str, ref: str, row: int) -> None:
        self.rows.setdefault(key, []).append(row)
        self.refs.setdefault(key, ref)
        self.n += 1

    def place(self, key: str, tensor: torch.Tensor) -> None:
        pooled = pool_tokens(tensor.float().unsqueeze(0), self.pool)[0]
        if self.out is None:
            self.out = torch.empty((self.n, *pooled.shape), dtype=torch.float32)
        if pooled.shape != self.out.shape[1:]:
            raise UserError(
                f"encoder {self.encoder.name!r} gave features of shape {tuple(tensor.shape)} for "
                f"{self.refs[key]!r}, unlike the others {tuple(self.out.shape[1:])}"
            )
        self.out[self.rows[key]] = pooled

    def result(self) -> torch.Tensor:
        if self.out is None:
            return torch.empty(0, 0, int(getattr(self.encoder, "dim", 0)))
        return self.out


def _encode_missing(
    encoder: Encoder,
    open_image: Callable[[str], Image.Image],
    store: FeatureStore,
    missing: list[str],
    out: _Rows,
    batch_size: int,
    progress: bool,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task(f"encoding with {encoder.name}", total=len(missing))
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            images = [read_image(open_image, out.refs[key]) for key in batch]
            feats = encoder.encode(images)
            if feats.dim() != 3 or feats.shape[0] != len(batch):
                raise UserError(
                    f"encoder {encoder.name!r} returned shape {tuple(feats.shape)} for {len(batch)} images; "
                    "expected [B, N, dim]"
                )
            for key, tensor in zip(batch, feats, strict=True):
                store.save(key, tensor)
                out.place(key, tensor)
            bar.advance(task, len(batch))


def read_image(open_image: Callable[[str], Image.Image], ref: str) -> Image.Image:
    """The decoded RGB image behind ``ref``; an unreadable or truncated file is a UserError naming it."""
    try:
        image = open_image(ref)
        image.load()
        return image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:  # PIL raises these for damaged files
        raise UserError(f"cannot read image {ref!r}: {exc}") from None


def pool_tokens(x: torch.Tensor, spec: str) -> torch.Tensor:
    """Token reduction ``[B, N, D] -> [B, k, D]``: ``"all"`` keeps every token; ``"pool:k"`` average-pools
    adaptively to ``k`` tokens, over the 2-D patch grid when both ``N`` and ``k`` are perfect squares
    (row-major order), else along the token sequence."""
    import torch.nn.functional as F

    if spec == "all":
        return x
    head, _, tail = spec.partition(":")
    if head != "pool" or not tail.isdigit() or int(tail) < 1:
        raise UserError(f'token pooling must be "all" or "pool:<k>" with k >= 1, not {spec!r}')
    k, (b, n, d) = int(tail), x.shape
    if k > n:
        raise UserError(f"cannot pool {n} tokens up to {k}")
    grid, side = _isqrt(n), _isqrt(k)
    if grid is not None and side is not None:
        maps = x.transpose(1, 2).reshape(b, d, grid, grid)
        return F.adaptive_avg_pool2d(maps, side).flatten(2).transpose(1, 2)
    return F.adaptive_avg_pool1d(x.transpose(1, 2), k).transpose(1, 2)


def _isqrt(n: int) -> int | None:
    root = int(round(n**0.5))
    return root if root * root == n else None
