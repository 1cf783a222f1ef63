"""The frozen LM fed ``lead [projected image tokens] shared [question tokens]``: questions grouped by image,
batches of whole images, the answer logits and the loss.  The token layout and the answer tokens come from a
:class:`harness.training.prompt.Prompt`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from harness.errors import UserError
from harness.plugin.contracts import Backbone
from harness.training.packing import Item, Packed, hidden_states, pack
from harness.training.projector import Projector
from harness.training.prompt import Prompt


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
        self.backbone, self.projector = backbone, projector
        self.n_image_tokens = n_image_tokens + projector.n_format  # the format tokens follow the image's
        self.prompt = prompt or Prompt.default(backbone)
        start = len(self.prompt.lead)
        self.image_slots = (start, start + self.n_image_tokens)

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
