"""How a question becomes tokens around the image, and which tokens answer it (PROTOCOL.md §1, §9).

A sequence is ``lead + [image tokens] + shared + question tokens``: ``lead`` is the BOS token (if the
tokenizer adds one) or, with ``rules.image_position = "after-first-token"``, the first token of the prompt
(the released code inserts the image embeddings after it; for tokenizers without BOS that is the ``<`` of
``<image>\\n``); ``shared`` is the rest of ``rules.prompt_prefix``, the same for every question.  The answer
is read at the question's last token; with ``rules.answer_eos`` training also feeds the answer token and
predicts the end-of-sequence token after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import UserError
from harness.plugin.contracts import Backbone


@dataclass(frozen=True)
class Prompt:
    """The token layout of one backbone under the rules (see the module docstring)."""

    lead: tuple[int, ...]
    shared: tuple[int, ...]
    yes_id: int
    no_id: int
    eos_id: int | None = None
    prefix_text: str = ""
    answer_text: tuple[str, str] = ("Yes", "No")
    lead_in_text: bool = False  # the lead is the prompt's first text token (not BOS)
    tokenize: Callable[[str], list[int]] = field(default=lambda text: [], compare=False, repr=False)

    @classmethod
    def default(cls, backbone: Backbone) -> Prompt:
        """BOS (if any), image, question; the backbone's own answer tokens; no EOS in the loss."""
        lead = (backbone.bos_id,) if backbone.bos_id is not None else ()
        texts = (getattr(backbone, "yes_token", "Yes"), getattr(backbone, "no_token", "No"))
        return cls(lead, (), backbone.yes_id, backbone.no_id, answer_text=texts, tokenize=backbone.tokenize)

    def question(self, text: str) -> list[int]:
        """The tokens of one question after ``lead + image + shared`` (never empty)."""
        head = [*(self.lead if self.lead_in_text else ()), *self.shared]
        full = self.tokenize(self.prefix_text + text)
        if full[: len(head)] != head or len(full) <= len(head):
            raise UserError(
                f"prompt prefix {self.prefix_text!r} does not tokenize apart from the question {text!r}"
            )
        return full[len(head) :]

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary for manifests: the layout and the answer tokens used."""
        return {
            "lead": list(self.lead),
            "shared": list(self.shared),
            "prefix_text": self.prefix_text,
            "answer_tokens": {
                "yes": [self.answer_text[0], self.yes_id],
                "no": [self.answer_text[1], self.no_id],
            },
            "eos_id": self.eos_id,
        }


def _single(backbone: Backbone, text: str) -> int:
    ids = backbone.tokenize(text)
    if len(ids) != 1:
        raise UserError(
            f"rules.answer_tokens = 'plain' needs {text!r} to be one token, but this backbone's tokenizer "
            f"gives {len(ids)} ({ids}); use answer_tokens = 'leading-space' or another backbone"
        )
    return ids[0]


def build_prompt(backbone: Backbone, rules: Any) -> Prompt:
    """The prompt layout ``rules`` (:class:`harness.protocol.profiles.Rules`) give for ``backbone``."""
    if rules.answer_tokens == "plain":
        yes_text, no_text = "Yes", "No"
        yes, no = _single(backbone, yes_text), _single(backbone, no_text)
    else:
        default = Prompt.default(backbone)
        (yes_text, no_text), yes, no = default.answer_text, default.yes_id, default.no_id
    eos = None
    if rules.answer_eos:
        eos = getattr(backbone, "eos_id", None)
        if eos is None:
            raise UserError(
                f"rules.answer_eos needs an end-of-sequence token; backbone {backbone.name!r} has none"
            )
    bos = [backbone.bos_id] if backbone.bos_id is not None else []
    prefix = backbone.tokenize(rules.prompt_prefix) if rules.prompt_prefix else []
    if rules.image_position == "after-bos":
        lead, shared = bos, prefix
    else:
        if not bos and not prefix:
            raise UserError(
                "rules.image_position = 'after-first-token' needs a BOS token or a rules.prompt_prefix "
                "(the image would otherwise split the first word of each question)"
            )
        lead, shared = (bos + prefix)[:1], (bos + prefix)[1:]
    return Prompt(
        tuple(lead),
        tuple(shared),
        yes,
        no,
        eos,
        prefix_text=rules.prompt_prefix,
        answer_text=(yes_text, no_text),
        lead_in_text=bool(lead) and not bos,
        tokenize=backbone.tokenize,
    )
