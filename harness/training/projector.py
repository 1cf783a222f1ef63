"""The projector: the only trained part, ``Linear(d_img, d_lm) -> GELU -> Linear(d_lm, d_lm)`` per patch token
(PROTOCOL.md §1; Prismatic's "gelu-mlp")."""

from __future__ import annotations

import math

import torch
from torch import nn

from harness.common.seeding import derive_seed

FIXED_PROJECTOR_SEED = 0  # used when Training.seeded_projector_init is False (the paper's code fixed it)


class Projector(nn.Module):
    """``Linear(d_img, d_lm) -> GELU -> Linear(d_lm, d_lm)`` applied to every patch token."""

    def __init__(self, d_img: int, d_lm: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(d_img, d_lm), nn.GELU(), nn.Linear(d_lm, d_lm)
        if generator is not None:
            self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """``nn.Linear``'s default initialisation, drawn from ``generator``."""
        with torch.no_grad():
            for layer in (self.fc1, self.fc2):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def build_projector(d_img: int, d_lm: int, seed: int, seeded: bool = True) -> Projector:
    """A projector initialised from ``derive_seed(seed, "projector")`` (or a fixed seed if not ``seeded``)."""
    base = seed if seeded else FIXED_PROJECTOR_SEED
    return Projector(d_img, d_lm, torch.Generator().manual_seed(derive_seed(base, "projector")))


def output_spread(projector: Projector, features: torch.Tensor) -> dict[str, float]:
    """How the projected tokens of ``features`` ``[I, N, D]`` differ between images: ``image_cosine``, the
    mean cosine between two images' tokens at the same position (1: every image projects alike, the
    projector has collapsed to one shared output), and ``image_norm``, the mean token norm."""
    with torch.no_grad():
        y = projector(features).float()
    n = y.shape[0]
    unit = torch.nn.functional.normalize(y, dim=-1)
    pairs = unit.sum(0).pow(2).sum(-1) - n  # per position: sum over ordered pairs a != b of cos(a, b)
    cosine = float(pairs.mean() / (n * (n - 1))) if n > 1 else math.nan
    return {"image_cosine": cosine, "image_norm": float(y.norm(dim=-1).mean())}
