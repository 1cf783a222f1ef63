"""The projector, and the frozen LM fed ``lead [projected image tokens] shared [question tokens]``.

The token layout (``lead``: BOS or the prompt's first token; ``shared``: the rest of the prompt prefix) and
the answer tokens come from a :class:`harness.training.prompt.Prompt`.

Shared-prefix packing: one row per image holds the prefix (BOS if the backbone uses one, then the image
tokens) once, followed by all of that image's questions.  A block attention mask lets each question see the
prefix and itself causally, never another question; position ids restart at the prefix length for every
question.  So each question's answer logits equal those of its own unpacked sequence, at a cost of about
``prefix + sum(questions)`` tokens instead of ``n_questions * prefix + sum(questions)``.  ``shared=False``
builds the unpacked reference (one row per question, the model's own causal + padding mask).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from harness.common.seeding import derive_seed
from harness.errors import UserError
from harness.plugin.contracts import Backbone
from harness.training.piece_attention import PieceBlocks, dense_mask, piece_blocks
from harness.training.prompt import Prompt

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


# --------------------------------------------------------------------------------------------- packing
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
    if not runs_pieces(backbone, packed):
        return backbone.hidden(x, packed.attention_mask, packed.position_ids)
    blocks = packed.blocks
    h = backbone.hidden_blocks(x[blocks.real][None], packed.position_ids[blocks.real][None], blocks)[0]
    return h.new_zeros(*blocks.real.shape, h.shape[-1]).index_put((blocks.real,), h)


# ------------------------------------------------------------------------------ image + question model
@dataclass(frozen=True)
class ImageGroup:
    """The questions of one image: feature row, positions in the question frame, tokens, targets."""

    image: str
    row: int
    positions: np.ndarray
    tokens: list[list[int]]
    answers: np.ndarray

    @property
    def n(self) -> int:
        return len(self.positions)


def group_questions(
    questions: pd.DataFrame,
    index: dict[str, int],
    tokenize: Callable[[str], list[int]],
    answer_ids: tuple[int, int] | None = None,
) -> list[ImageGroup]:
    """One group per image (sorted by image), questions in frame order; each question text tokenized once.

    With ``answer_ids = (yes_id, no_id)`` each question's tokens end with its answer token (training with
    the end-of-sequence token in the loss).
    """
    missing = sorted(set(questions["image"]) - set(index))
    if missing:
        raise UserError(f"{len(missing)} question images have no features, e.g. {missing[0]!r}")
    cache = {text: tokenize(text) for text in questions["question"].unique()}
    empty = [t for t, ids in cache.items() if not ids]
    if empty:
        raise UserError(f"question tokenizes to nothing: {empty[0]!r}")
    texts = questions["question"].to_numpy()
    answers = questions["answer"].to_numpy(dtype=bool)
    groups = []
    for image, pos in sorted(questions.groupby("image", sort=False).indices.items()):
        pos = np.sort(pos)
        tokens = [cache[t] for t in texts[pos]]
        if answer_ids is not None:
            tokens = [
                [*ids, answer_ids[0] if a else answer_ids[1]]
                for ids, a in zip(tokens, answers[pos], strict=True)
            ]
        groups.append(ImageGroup(image, index[image], pos, tokens, answers[pos]))
    return groups


def plan_batches(sizes: Sequence[int], order: Sequence[int], batch_size: int) -> list[list[int]]:
    """Whole images into batches of about ``batch_size`` questions, in ``order``.

    The next image joins the open batch while that brings its question count closer to ``batch_size``
    (strictly; an empty batch always takes it), so batches hold whole images and average near the target.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    count = 0
    for g in order:
        k = sizes[g]
        if current and abs(count + k - batch_size) >= abs(count - batch_size):
            batches.append(current)
            current, count = [], 0
        current.append(g)
        count += k
    if current:
        batches.append(current)
    return batches


@dataclass
class Batch:
    """Packed inputs for some image groups, with the feature rows and targets they need."""

    packed: Packed
    rows: torch.Tensor  # [items] feature row of each item
    positions: np.ndarray  # [Q] positions in the question frame
    targets: torch.Tensor  # [Q] yes_id / no_id
    eos_id: int | None = None  # set when each segment ends with its answer token, followed by EOS

    @property
    def answer_at(self) -> torch.Tensor:
        """Position of each question's answer prediction (its last question token)."""
        last = self.packed.last
        return last - 1 if self.eos_id is not None else last


class VisionLM:
    """A frozen backbone and a projector wired per PROTOCOL.md §1: lead, image tokens, shared, question."""

    def __init__(
        self, backbone: Backbone, projector: Projector, n_image_tokens: int, prompt: Prompt | None = None
    ) -> None:
        self.backbone, self.projector, self.n_image_tokens = backbone, projector, n_image_tokens
        self.prompt = prompt or Prompt.default(backbone)
        start = len(self.prompt.lead)
        self.image_slots = (start, start + n_image_tokens)

    def prefix(self) -> list[int]:
        return [*self.prompt.lead, *([0] * self.n_image_tokens), *self.prompt.shared]

    def groups(
        self, questions: pd.DataFrame, index: dict[str, int], with_answers: bool = False
    ) -> list[ImageGroup]:
        """The image groups of ``questions``; ``with_answers``: for training with EOS in the loss."""
        answers = (self.prompt.yes_id, self.prompt.no_id)
        feed = with_answers and self.prompt.eos_id is not None
        return group_questions(questions, index, self.prompt.question, answers if feed else None)

    def batch(
        self,
        groups: Sequence[ImageGroup],
        shared: bool = True,
        combine: bool = True,
        with_answers: bool = False,
    ) -> Batch:
        """Packed inputs (see :func:`pack`); ``shared=False`` gives the unpacked reference.

        ``with_answers``: the groups' tokens end with their answer tokens (see :meth:`groups`).
        """
        prefix = self.prefix()
        packed = pack([Item(prefix, g.tokens, self.image_slots) for g in groups], shared, combine)
        answers = np.concatenate([g.answers for g in groups])
        targets = np.where(answers, self.prompt.yes_id, self.prompt.no_id)
        return Batch(
            packed=packed,
            rows=torch.tensor([g.row for g in groups], dtype=torch.long),
            positions=np.concatenate([g.positions for g in groups]),
            targets=torch.as_tensor(targets, dtype=torch.long),
            eos_id=self.prompt.eos_id if with_answers else None,
        )

    def _hidden(self, batch: Batch, features: torch.Tensor, device: torch.device | str):
        packed = batch.packed.to(device)
        feats = features[batch.rows].to(device=device, dtype=torch.float32)
        return packed, hidden_states(self.backbone, packed, self.projector(feats))

    def answer_logits(self, batch: Batch, features: torch.Tensor, device: torch.device | str) -> torch.Tensor:
        """Float32 vocabulary logits ``[Q, V]`` at each question's answer position."""
        packed, h = self._hidden(batch, features, device)
        return self.backbone.logits(h[packed.seg_row, batch.answer_at.to(device)]).float()

    def loss(self, batch: Batch, features: torch.Tensor, device: torch.device | str) -> torch.Tensor:
        """Mean NLL over the batch's label tokens: each answer, and its EOS when ``batch.eos_id`` is set."""
        packed, h = self._hidden(batch, features, device)
        rows, at, targets = packed.seg_row, batch.answer_at.to(device), batch.targets.to(device)
        if batch.eos_id is not None:
            rows, at = torch.cat([rows, rows]), torch.cat([at, at + 1])
            targets = torch.cat([targets, torch.full_like(targets, batch.eos_id)])
        logits = self.backbone.logits(h[rows, at]).float()
        return torch.nn.functional.cross_entropy(logits, targets)
