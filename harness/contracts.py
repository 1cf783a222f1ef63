"""What the core calls on each plugin kind (structural ``typing.Protocol`` types).

Plugins need not inherit from these classes; they only need the attributes and methods below.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # the data layer stays importable without torch
    import torch
    from PIL import Image


@dataclass(frozen=True)
class TaskData:
    """A task's concepts as pure data.

    ``images``: leaf -> image references (file paths), in any order; the protocol sorts them.
    ``relations``: leaf -> derived labels that hold for it (for hypernymy: its hypernyms).
    ``depths``: derived label -> depth in the label hierarchy (1 = top level).
    ``names``: label (leaf or derived) -> surface text used in questions; defaults to the label.
    """

    images: dict[str, list[str]]
    relations: dict[str, tuple[str, ...]]
    depths: dict[str, int]
    names: dict[str, str] = field(default_factory=dict)

    def surface(self, label: str) -> str:
        return self.names.get(label, label)

    @property
    def leaves(self) -> list[str]:
        return sorted(self.images)

    @property
    def derived(self) -> list[str]:
        return sorted(self.depths)


@runtime_checkable
class Task(Protocol):
    """A relation task: leaves with images, and labels derived from each leaf."""

    name: str
    question_template: str  # e.g. "Is there {article} {category} in this image?"
    probe_template: str  # e.g. "Is it true that {leaf_article} {leaf} is a type of {category}?"

    def load(self) -> TaskData: ...

    def open_image(self, ref: str) -> Image.Image:
        """The image behind a reference, as an RGB PIL image."""
        ...

    def fingerprint(self) -> str: ...


@runtime_checkable
class Shuffle(Protocol):
    """A counterfactual relabelling of images (PROTOCOL.md §4)."""

    name: str

    def apply(self, data: TaskData, rng: random.Random) -> dict[str, str]:
        """A bijection on leaves: images of leaf ``k`` are labelled ``mapping[k]`` after the shuffle."""
        ...


@runtime_checkable
class Encoder(Protocol):
    """A frozen image encoder yielding patch tokens."""

    name: str
    dim: int

    def fingerprint(self) -> str:
        """Stable id of weights, preprocessing and layer: the feature-cache key."""
        ...

    def encode(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Patch features ``[B, N, dim]``, float32 on CPU."""
        ...


@runtime_checkable
class Backbone(Protocol):
    """A frozen causal LM.  ``module`` is the underlying ``torch.nn.Module``."""

    name: str
    hidden_size: int
    yes_id: int
    no_id: int
    bos_id: int | None
    module: Any

    def fingerprint(self) -> str: ...

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""
        ...

    def embed(self, ids: torch.Tensor) -> torch.Tensor: ...

    def hidden(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor
    ) -> torch.Tensor:
        """Final hidden states ``[B, T, hidden_size]`` (after the final norm).

        ``attention_mask`` is either a ``[B, T]`` padding mask (1 = token; the model applies causal
        masking) or a boolean ``[B, 1, T, T]`` "query may attend to key" mask used as given (packing).
        """
        ...

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits for the given hidden states."""
        ...


@dataclass(frozen=True)
class CellOutcome:
    """What an executor reports for one cell."""

    cell_id: str
    run_dir: Path
    ok: bool
    error: str | None = None


@runtime_checkable
class Executor(Protocol):
    """Runs independent cells; each writes its own run directory.

    ``run_cell`` is a module-level function (picklable), so executors may call it in other processes or
    on other machines; ``on_outcome`` is called in the calling process as each cell settles.  The result
    holds one outcome per cell, in the order of ``cells``.
    """

    name: str

    def run(
        self,
        cells: Sequence[Any],
        run_cell: Callable[[Any], Path],
        on_outcome: Callable[[CellOutcome], None] | None = None,
    ) -> list[CellOutcome]: ...
