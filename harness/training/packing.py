"""Shared-prefix packing: one row per image holds its prefix (lead, image tokens, shared text) once, followed
by all of that image's questions. A block attention mask lets each question see the prefix and itself
causally, never another question; position ids restart at the prefix length for every question. So each
question's answer logits equal those of its own unpacked sequence, at a cost of about ``prefix +
sum(questions)`` tokens instead of ``n_questions * prefix + sum(questions)``. ``shared=False`` builds the
unpacked reference (one row per question, the model's own causal + padding mask).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from harness.plugin.contracts import Backbone
from harness.training.piece_attention import PieceBlocks, dense_mask, piece_blocks


@dataclass(frozen=True)
class Item:
    """One prefix (token ids; image slots hold placeholders) and the segments that each see it.

    ``image``: the prefix positions ``[start, stop)`` that hold this item's image tokens, if any.
    """

    prefix: list[int]
    segments: list[list[int]]
    image: tuple[int, int] | None = None


@dataclass
class Packed:
    """Padded model inputs for items; segments (questions) are numbered in item order."""

    ids: torch.Tensor  # [R, T] token ids (pad and image slots: 0)
    position_ids: torch.Tensor  # [R, T]
    attention_mask: torch.Tensor  # bool [R, 1, T, T] "may attend" (shared) or [R, T] padding mask
    image_index: torch.Tensor  # [R, T] index into image embeddings flattened to [items * N, H]; -1: text
    seg_row: torch.Tensor  # [Q] row of each segment
    seg_start: torch.Tensor  # [Q] first position of each segment
    seg_len: torch.Tensor  # [Q]
    n_tokens: int  # real (non-pad) tokens
    blocks: PieceBlocks | None = None  # the shared mask as per-piece blocks (shared packing only)

    @property
    def last(self) -> torch.Tensor:
        """Position of each segment's last token (where the next token is predicted)."""
        return self.seg_start + self.seg_len - 1

    def to(self, device: torch.device | str) -> Packed:
        moved = {k: v.to(device) if hasattr(v, "to") else v for k, v in self.__dict__.items()}
        return Packed(**moved)


@dataclass
class _Piece:
    """An item's prefix with some of its segments, laid out as one contiguous run of tokens."""

    item: int
    segments: list[int]  # global segment numbers
    tokens: list[int]
    seg: list[int]  # 0 prefix, j + 1 for the j-th segment of the piece
    pos: list[int]
    image: list[int]  # flattened image-token index, -1 for text
    starts: list[int]  # start of each segment inside the piece


def _pieces(items: Sequence[Item], shared: bool) -> list[_Piece]:
    n_image = {i.image[1] - i.image[0] for i in items if i.image}
    if len(n_image) > 1:
        raise ValueError("every item must carry the same number of image tokens")
    width = n_image.pop() if n_image else 0
    pieces, q = [], 0
    for i, item in enumerate(items):
        if not item.segments or any(not s for s in item.segments):
            raise ValueError("every item needs at least one non-empty segment")
        p = len(item.prefix)
        image = [-1] * p
        if item.image:
            a, b = item.image
            image[a:b] = range(i * width, (i + 1) * width)
        groups = [list(range(len(item.segments)))] if shared else [[j] for j in range(len(item.segments))]
        for group in groups:
            piece = _Piece(i, [], list(item.prefix), [0] * p, list(range(p)), list(image), [])
            for k, j in enumerate(group):
                s = item.segments[j]
                piece.segments.append(q + j)
                piece.starts.append(len(piece.tokens))
                piece.tokens += s
                piece.seg += [k + 1] * len(s)
                piece.pos += range(p, p + len(s))
                piece.image += [-1] * len(s)
            pieces.append(piece)
        q += len(item.segments)
    return pieces


def _rows(pieces: list[_Piece], combine: bool) -> list[list[_Piece]]:
    """One piece per row, or first-fit-decreasing bins no longer than the longest piece."""
    if not combine:
        return [[p] for p in pieces]
    capacity = max(len(p.tokens) for p in pieces)
    rows: list[list[_Piece]] = []
    room: list[int] = []
    for p in sorted(pieces, key=lambda p: (-len(p.tokens), p.item)):
        r = next((r for r, left in enumerate(room) if left >= len(p.tokens)), None)
        if r is None:
            rows.append([])
            room.append(capacity)
            r = len(rows) - 1
        rows[r].append(p)
        room[r] -= len(p.tokens)
    return rows


def pack(items: Sequence[Item], shared: bool = True, combine: bool = True) -> Packed:
    """Right-padded inputs for ``items``.

    ``shared``: an item's prefix appears once, followed by all its segments, under a block mask; with
    ``combine`` several short items share a row (first-fit decreasing, rows no longer than the longest
    item; they never see each other) to cut padding.  ``shared=False``: the unpacked reference, one row
    per (item, segment) with a plain padding mask and the model's own causal masking.
    """
    rows = _rows(_pieces(items, shared), combine and shared)
    n_rows = len(rows)
    width = max(sum(len(p.tokens) for p in row) for row in rows)
    ids = torch.zeros(n_rows, width, dtype=torch.long)
    seg = torch.full((n_rows, width), -1, dtype=torch.long)
    position_ids = torch.arange(width).repeat(n_rows, 1)
    image_index = torch.full((n_rows, width), -1, dtype=torch.long)
    n_segments = sum(len(i.segments) for i in items)
    seg_row, seg_start, seg_len = [0] * n_segments, [0] * n_segments, [0] * n_segments
    pieces = []
    for r, row in enumerate(rows):
        at = 0
        for p in row:
            pieces.append((r, at, p.seg))
            sl = slice(at, at + len(p.tokens))
            ids[r, sl], seg[r, sl] = torch.tensor(p.tokens), torch.tensor(p.seg)
            position_ids[r, sl], image_index[r, sl] = torch.tensor(p.pos), torch.tensor(p.image)
            for q, start in zip(p.segments, p.starts, strict=True):
                seg_row[q], seg_start[q] = r, at + start
                seg_len[q] = p.seg.count(p.seg[start])
            at += len(p.tokens)
        if at < width and shared:
            position_ids[r, at:] = torch.arange(width - at)
    real = seg >= 0
    if shared:
        blocks = piece_blocks(real, pieces)
        mask = dense_mask(blocks)  # the same rule, for backbones without piece attention
    else:
        mask, blocks = real.long(), None
    return Packed(
        ids=ids,
        position_ids=position_ids,
        attention_mask=mask,
        image_index=image_index,
        seg_row=torch.tensor(seg_row, dtype=torch.long),
        seg_start=torch.tensor(seg_start, dtype=torch.long),
        seg_len=torch.tensor(seg_len, dtype=torch.long),
        n_tokens=int(real.sum()),
        blocks=blocks,
    )


def runs_pieces(backbone: Backbone, packed: Packed) -> bool:
    """Whether :func:`hidden_states` runs only ``packed``'s real tokens, through ``hidden_blocks``."""
    return packed.blocks is not None and getattr(backbone, "hidden_blocks", None) is not None


def hidden_states(
    backbone: Backbone, packed: Packed, image_embeds: torch.Tensor | None = None
) -> torch.Tensor:
    """Final hidden states ``[R, T, H]``; ``image_embeds [items, N, H]`` fill the items' image slots.

    Shared packing goes through the backbone's optional ``hidden_blocks`` (real tokens only, piece
    attention) when it has one, else through ``hidden`` with the dense block mask; pads' states are zero
    in the former, unspecified in the latter.
    """
    x = backbone.embed(packed.ids)
    if image_embeds is not None:
        flat = image_embeds.reshape(-1, image_embeds.shape[-1]).to(x.dtype)
        index = packed.image_index
        x = torch.where((index >= 0)[..., None], flat[index.clamp(min=0)], x)
    blocks = packed.blocks
    hidden_blocks = getattr(backbone, "hidden_blocks", None)  # optional member of the contract
    if blocks is None or hidden_blocks is None:  # not runs_pieces(backbone, packed)
        return backbone.hidden(x, packed.attention_mask, packed.position_ids)
    h = hidden_blocks(x[blocks.real][None], packed.position_ids[blocks.real][None], blocks)[0]
    return h.new_zeros(*blocks.real.shape, h.shape[-1]).index_put((blocks.real,), h)
