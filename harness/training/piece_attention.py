"""Piece-wise attention for shared-prefix packing, over the packed batch's real tokens only.

A packed batch (:func:`harness.training.packing.pack`) is a set of pieces, each a prefix (BOS?, image tokens)
followed
by questions that see the prefix and themselves, never each other.  The dense ``[R, 1, T, T]`` row mask
states this at the cost of running every padding token through the model and scoring every pair of tokens
that share a row.  :class:`PieceBlocks` lists each piece's tokens in the real tokens flattened row-major to
``[N]``, with the mask inside the piece; :func:`piece_attention` attends within pieces only, so the model's
matrix products see the ``N`` real tokens and nothing else.  The result equals the dense masked attention up
to float rounding; any backbone may use it (see ``hidden_blocks`` in :mod:`harness.plugin.contracts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class PieceBlocks:
    """The pieces of a packed batch as index blocks over its real tokens (flattened row-major to ``[N]``)."""

    real: torch.Tensor  # bool [R, T]: the packed batch's real tokens
    index: torch.Tensor  # [I, L] flat token index of each piece's tokens (padded with 0)
    mask: torch.Tensor  # bool [I, 1, L, L]: "may attend" inside each piece (padding sees itself)
    take: torch.Tensor  # [N] row of each flat token in the pieces' outputs flattened to [I * L]

    def to(self, device: torch.device | str) -> PieceBlocks:
        moved = {k: v.to(device) for k, v in self.__dict__.items()}
        return PieceBlocks(**moved)


def piece_blocks(real: torch.Tensor, pieces: Sequence[tuple[int, int, Sequence[int]]]) -> PieceBlocks:
    """Blocks for ``pieces`` given as ``(row, start, segment ids)`` in the padded ``[R, T]`` grid of ``real``;
    segment id 0 marks the prefix, ``j > 0`` the piece's ``j``-th question."""
    width = max(len(seg) for _, _, seg in pieces)
    n = int(real.sum())
    flat = torch.cumsum(real.flatten(), 0) - 1  # padded grid position -> flat token index
    seg = torch.full((len(pieces), width), -1, dtype=torch.long)
    index = torch.zeros(len(pieces), width, dtype=torch.long)
    for i, (row, start, ids) in enumerate(pieces):
        at = row * real.shape[1] + start
        seg[i, : len(ids)] = torch.as_tensor(ids)
        index[i, : len(ids)] = flat[at : at + len(ids)]
    valid = seg >= 0
    q_seg, k_seg = seg[:, :, None], seg[:, None, :]
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    mask = causal & valid[:, None, :] & ((k_seg == 0) | (k_seg == q_seg))
    mask |= torch.eye(width, dtype=torch.bool)  # padded queries see themselves: no NaN
    rows = valid.flatten().nonzero()[:, 0]
    take = torch.full((n,), -1, dtype=torch.long)
    take[index.flatten()[rows]] = rows
    if len(rows) != n or bool((take < 0).any()):
        raise ValueError("the pieces must cover every real token exactly once")
    return PieceBlocks(real=real, index=index, mask=mask[:, None], take=take)


def dense_mask(blocks: PieceBlocks) -> torch.Tensor:
    """``blocks``' rule as the dense bool ``[R, 1, T, T]`` "may attend" over the padded grid of
    ``blocks.real`` (pieces sharing a row never see each other; pads see themselves only)."""
    rows, width = blocks.real.shape
    grid = blocks.real.flatten().nonzero()[:, 0]  # flat token index -> padded grid position
    filled = torch.zeros(blocks.index.numel(), dtype=torch.bool)
    filled[blocks.take] = True
    filled = filled.view(blocks.index.shape)  # [I, L] slots holding a real token
    piece, q, k = (blocks.mask[:, 0] & filled[:, :, None] & filled[:, None, :]).nonzero(as_tuple=True)
    at_q, at_k = grid[blocks.index[piece, q]], grid[blocks.index[piece, k]]
    out = torch.zeros(rows, width, width, dtype=torch.bool)
    out[at_q // width, at_q % width, at_k % width] = True
    out |= torch.eye(width, dtype=torch.bool) & ~blocks.real[:, :, None]
    return out[:, None]


def piece_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, blocks: PieceBlocks, scale: float | None
) -> torch.Tensor:
    """Attention output ``[1, N, H, D]`` for ``query [1, H, N, D]``, ``key``/``value [1, H_kv, N, D]``.

    ``H`` must be a multiple of ``H_kv`` (grouped-query attention).
    """

    def gather(x: torch.Tensor) -> torch.Tensor:  # [1, H, N, D] -> [I, H, L, D]
        picked = x[0].index_select(1, blocks.index.flatten())  # a cheaper backward than indexing
        return picked.view(x.shape[1], *blocks.index.shape, x.shape[-1]).transpose(0, 1)

    dtype = query.dtype
    # On CPU, low-precision SDPA with a mask has a slow backward (about 2-4x the float32 one at these
    # shapes): attention runs in float32 there, which is also the more exact result.
    upcast = query.device.type == "cpu" and dtype != torch.float32
    q, k, v = (gather(x.float() if upcast else x) for x in (query, key, value))
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=blocks.mask, scale=scale, enable_gqa=query.shape[1] != key.shape[1]
    )
    rows = out.transpose(1, 2).reshape(-1, *out.shape[1:2], out.shape[-1])  # [I * L, H, D]
    return rows.index_select(0, blocks.take)[None].to(dtype)
