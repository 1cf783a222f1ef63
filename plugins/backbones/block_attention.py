"""transformers attention implementation ``taxobench-sdpa``: SDPA, or attention within packed pieces.

Registered with transformers' ``AttentionInterface`` (and its mask interface).  Outside :func:`using_blocks`
it is exactly transformers' ``sdpa``.  Inside, every attention layer computes
:func:`harness.training.piece_attention.piece_attention` over the flattened real tokens of a packed batch,
and no mask is
built.  Models whose attention does not go through the interface never call it: :func:`using_blocks`
notices and raises rather than returning wrong states.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from harness.plugin.api import PieceBlocks, piece_attention

NAME = "taxobench-sdpa"


@dataclass
class _Active:
    blocks: PieceBlocks
    calls: int = 0


_ACTIVE: ContextVar[_Active | None] = ContextVar("taxobench_blocks", default=None)


def _attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    active = _ACTIVE.get()
    if active is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    if kwargs.get("softcap") is not None or dropout:
        raise ValueError("piece attention supports neither logit softcapping nor dropout; use eager")
    active.calls += 1
    return piece_attention(query, key, value, active.blocks, scaling), None


def _mask(*args: Any, **kwargs: Any) -> torch.Tensor | None:
    return None if _ACTIVE.get() is not None else sdpa_mask(*args, **kwargs)


AttentionInterface.register(NAME, _attention)
AttentionMaskInterface.register(NAME, _mask)


@contextmanager
def using_blocks(blocks: PieceBlocks) -> Iterator[None]:
    """Within the block, ``taxobench-sdpa`` layers attend by ``blocks``; at least one layer must."""
    active = _Active(blocks)
    token = _ACTIVE.set(active)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
    if active.calls == 0:
        raise RuntimeError(
            "the backbone's attention layers bypass transformers' AttentionInterface, so piece attention "
            "cannot apply; set the backbone option attn_implementation = 'eager'"
        )
