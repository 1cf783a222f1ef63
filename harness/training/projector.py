"""The projector: the only trained part, ``Linear(d_img, d_lm) -> GELU -> Linear(d_lm, d_lm)`` per patch token
(PROTOCOL.md §1; Prismatic's "gelu-mlp"), optionally followed by ``training.format_tokens`` learned tokens
that are the same for every image (prompt tuning; not in the paper's code): they can carry the answer format,
which a projector alone learns as one output shared by every image (docs/demo.md, "Why the leaves stall").
A ``centred`` projector subtracts a fixed vector ``hidden_mean`` from the hidden units before the output
layer (set by ``training.projector_init = "label-embeddings-centred"``; not in the paper's code)."""

from __future__ import annotations

import math

import torch
from torch import nn

from harness.common.seeding import derive_seed

FIXED_PROJECTOR_SEED = 0  # used when Training.seeded_projector_init is False (the paper's code fixed it)


class Projector(nn.Module):
    """``Linear(d_img, d_lm) -> GELU -> Linear(d_lm, d_lm)`` applied to every patch token, then ``n_format``
    learned tokens (the parameter ``format``) appended after each image's tokens. A ``centred`` projector
    computes ``fc2(GELU(fc1(x)) - hidden_mean)``: the buffer ``hidden_mean`` (zeros until a fit sets it)
    takes the hidden units' common part out of ``fc2``'s input, so ``fc2.bias`` alone carries it."""

    hidden_mean: torch.Tensor

    def __init__(
        self,
        d_img: int,
        d_lm: int,
        generator: torch.Generator | None = None,
        n_format: int = 0,
        centred: bool = False,
    ) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(d_img, d_lm), nn.GELU(), nn.Linear(d_lm, d_lm)
        self.n_format = n_format
        self.centred = centred
        if centred:
            self.register_buffer("hidden_mean", torch.zeros(d_lm))
        if n_format:
            self.format = nn.Parameter(torch.zeros(n_format, d_lm))
        if generator is not None:
            self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """``nn.Linear``'s default initialisation, then the format tokens ~ N(0, 1/d_lm), drawn from
        ``generator``."""
        with torch.no_grad():
            for layer in (self.fc1, self.fc2):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
            if self.n_format:
                nn.init.normal_(self.format, std=self.format.shape[1] ** -0.5, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[I, N, d_img]`` -> ``[I, N + n_format, d_lm]``."""
        y = self.fc2(self.hidden(x))
        if not self.n_format:
            return y
        return torch.cat([y, self.format.to(y.dtype).expand(y.shape[0], -1, -1)], dim=1)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The output layer's input: ``GELU(fc1(x))``, less ``hidden_mean`` when ``centred``."""
        h = self.act(self.fc1(x))
        return h - self.hidden_mean.to(h.dtype) if self.centred else h


def build_projector(
    d_img: int, d_lm: int, seed: int, seeded: bool = True, n_format: int = 0, centred: bool = False
) -> Projector:
    """A projector initialised from ``derive_seed(seed, "projector")`` (or a fixed seed if not ``seeded``)."""
    base = seed if seeded else FIXED_PROJECTOR_SEED
    generator = torch.Generator().manual_seed(derive_seed(base, "projector"))
    return Projector(d_img, d_lm, generator, n_format, centred)


def output_spread(projector: Projector, features: torch.Tensor) -> dict[str, float]:
    """How the projected tokens of ``features`` ``[I, N, D]`` differ between images: ``image_cosine``, the
    mean cosine between two images' tokens at the same position (1: every image projects alike, the
    projector has collapsed to one shared output), and ``image_norm``, the mean token norm (format tokens
    excluded)."""
    with torch.no_grad():
        y = projector(features).float()[:, : features.shape[1]]
    n = y.shape[0]
    unit = torch.nn.functional.normalize(y, dim=-1)
    pairs = unit.sum(0).pow(2).sum(-1) - n  # per position: sum over ordered pairs a != b of cos(a, b)
    cosine = float(pairs.mean() / (n * (n - 1))) if n > 1 else math.nan
    return {"image_cosine": cosine, "image_norm": float(y.norm(dim=-1).mean())}
