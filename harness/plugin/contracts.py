"""What the core calls on each plugin kind (structural ``typing.Protocol`` types).

Plugins need not inherit from these classes; they only need the attributes and methods below.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from harness.common.text import render

if TYPE_CHECKING:  # the data layer stays importable without torch
    import torch
    from PIL import Image


@dataclass(frozen=True)
class TaskData:
    """A task's concepts as pure data: *observed* labels (leaves) and the labels *derived* from them.

    ``images``: leaf -> image references, in any order; the protocol sorts them.  References are
    task-relative (``"crow/crow_01.jpg"``, a scene name), never absolute paths: every seeded choice is
    keyed on them, so results must not depend on where the data lives.  A leaf is the label an image is
    trained on directly (a THINGS concept; a spatial scene's stated relation).
    ``relations``: leaf -> derived labels that hold for it (hypernyms; the converse relation).
    ``depths``: derived label -> its level in the label hierarchy (the task's count: THINGS under the
    paper-code profile counts bottom-up as the paper did, 3 = most general; derived depths count from the
    top, 1 = top level).
    ``names``: label (leaf or derived) -> surface text used in questions; defaults to the label.
    ``slots``: image -> extra template fields for its questions (a scene's objects, e.g.
    ``{"first": "cat", "second": "dog"}``); empty for tasks whose questions name only the category.
    ``templates``: label -> its own question template, overriding the task's (e.g. a converse relation
    names the scene's objects in the other order).
    ``contrasts``: label -> templates of *contrast* questions: the same label stated falsely of the same
    image (the relation with its objects swapped).  Each becomes one more negative of the label's pair.
    """

    images: dict[str, list[str]]
    relations: dict[str, tuple[str, ...]]
    depths: dict[str, int]
    names: dict[str, str] = field(default_factory=dict)
    slots: dict[str, dict[str, str]] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    contrasts: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def surface(self, label: str) -> str:
        return self.names.get(label, label)

    def question(self, template: str, image: str, label: str) -> str:
        """The question about ``label`` on ``image``: the label's own template or ``template``, filled."""
        return render(self.templates.get(label, template), self.surface(label), **self.slots.get(image, {}))

    def contrast_questions(self, image: str, label: str) -> list[str]:
        """The label's contrast questions on ``image`` (all false for it); none for most tasks."""
        fill = self.slots.get(image, {})
        return [render(t, self.surface(label), **fill) for t in self.contrasts.get(label, ())]

    @property
    def leaves(self) -> list[str]:
        return sorted(self.images)

    @property
    def derived(self) -> list[str]:
        return sorted(self.depths)


@runtime_checkable
class Task(Protocol):
    """A relation task: leaves (observed labels) with images, and labels derived from each leaf."""

    name: str
    question_template: str  # e.g. "Is there {article} {category} in this image?"
    probe_template: str  # e.g. "Is it true that {leaf_article} {leaf} is a type of {category}?"
    # Optional capabilities: see OPTIONAL["tasks"] below.

    def load(self) -> TaskData: ...

    def open_image(self, ref: str) -> Image.Image:
        """The image behind a reference, as an RGB PIL image."""
        ...

    def fingerprint(self) -> str: ...


@runtime_checkable
class Shuffle(Protocol):
    """A counterfactual relabelling of images (PROTOCOL.md §4)."""

    name: str

    def apply(
        self, data: TaskData, rng: random.Random
    ) -> dict[str, str] | tuple[dict[str, str], dict[str, Any]]:
        """A bijection on leaves: images of leaf ``k`` are labelled ``mapping[k]`` after the shuffle; or
        ``(mapping, info)`` with JSON-ready extra information (stored in the QuestionSet's meta)."""
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
    """A frozen causal LM.  ``module`` is the underlying ``torch.nn.Module``.

    Optional: ``eos_id`` (the end-of-sequence token; needed by ``rules.answer_eos``), ``yes_token`` /
    ``no_token`` (the texts of ``yes_id`` / ``no_id``, shown in manifests) and ``chat_prompt(text) -> str |
    None`` (a one-turn chat prompt, for the paper's text-only probe).
    Optional: ``hidden_blocks(inputs_embeds [1, N, H], position_ids [1, N], blocks) -> [1, N, H]``, final
    hidden states of a shared-prefix packed batch's real tokens where attention stays inside the pieces of
    ``blocks`` (:class:`harness.training.piece_attention.PieceBlocks`;
    :func:`harness.training.piece_attention.piece_attention` computes it).
    The harness then runs no padding tokens; without it (or when it is ``None``) it calls ``hidden`` with
    the dense block mask.
    """

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


PROTOCOLS: dict[str, type] = {
    "tasks": Task,
    "shuffles": Shuffle,
    "encoders": Encoder,
    "backbones": Backbone,
    "executors": Executor,
}

# What the harness uses when a plugin has it (``getattr`` with a fallback), per kind.
OPTIONAL: dict[str, dict[str, str]] = {
    "tasks": {
        "cloze_template": "the cloze probe's prompt (default harness.training.probe.CLOZE_TEMPLATE)",
        "probe_variants": "the text-only probe variants the task offers (default: all)",
        "locate": "locate(ref) -> Path | None: the file behind a reference, for the feature cache's key",
        "taxonomy_data": "taxonomy_data() -> TaskData without images (task show, the text-only probe)",
        "probe_forms": "probe_forms(): surface forms of the paper probe's 4 phrasings per label",
        "probe_negatives": "probe_negatives(): per leaf, the paper probe's negatives (number, known ones)",
        "fetch_assets": "fetch_assets(dest) -> Path: download the task's data once (taxobench assets fetch)",
    },
    "backbones": {
        "eos_id": "the end-of-sequence token (needed by rules.answer_eos)",
        "yes_token": "the text of yes_id (manifests)",
        "no_token": "the text of no_id (manifests)",
        "chat_prompt": "chat_prompt(text) -> str | None: a one-turn chat prompt (the paper's probe)",
        "hidden_blocks": "hidden_blocks(embeds, positions, blocks): piece attention over packed tokens",
    },
    "shuffles": {},
    "encoders": {},
    "executors": {},
}


def members(protocol: type) -> list[str]:
    """The attributes and methods a contract requires (its annotations and public methods)."""
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {k for k, v in vars(protocol).items() if callable(v) and not k.startswith("_")}
    return sorted(names)


def methods(protocol: type) -> list[str]:
    """The public methods a contract requires (a class must define them itself, not in ``__init__``)."""
    return sorted(k for k, v in vars(protocol).items() if callable(v) and not k.startswith("_"))


def missing_methods(kind: str, cls: type) -> list[str]:
    """The contract's methods a plugin *class* lacks: checked before any work, without building it."""
    protocol = PROTOCOLS.get(kind)
    return [] if protocol is None else [m for m in methods(protocol) if not hasattr(cls, m)]


def missing_members(kind: str, obj: Any) -> list[str]:
    """The required members of ``kind``'s contract that ``obj`` lacks (empty when it meets it)."""
    protocol = PROTOCOLS.get(kind)
    return [] if protocol is None else [m for m in members(protocol) if not hasattr(obj, m)]
