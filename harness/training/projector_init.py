"""``training.projector_init = "label-embeddings"``: start the projector where its tokens name the image.

The projector's output layer is fitted in closed form (ridge regression) so that every training image's
tokens land on the mean input embedding of its training label's text, as that text reads inside a question.
Only the training split's leaf labels are used (the same supervision the training questions give; no
hypernym), so the hypernym ablation still holds. Not in the paper's code: a randomly initialised projector
trained at the demo's CPU-sized learning rate collapses onto one shared output and learns the leaves slowly
(docs/demo.md, "Why the leaves stall").

``"label-embeddings-centred"`` fits the same map into a centred projector: ``hidden_mean`` becomes the
training tokens' mean hidden units and ``fc2.bias`` the targets' mean, so the projector computes the same
function at the start but ``fc2``'s weight no longer shares a gradient direction with its bias. On the
demo's cells this removed a collapse plateau that appeared on one CPU code path only (docs/demo.md, "d6").
"""

from __future__ import annotations

import pandas as pd
import torch

from harness.errors import UserError
from harness.plugin.contracts import Backbone
from harness.training.projector import Projector

RIDGE = 0.1  # ridge penalty per fitted token, relative to the mean variance of the hidden units
LABEL_TEXT = "label_text"  # column of the training questions: the text of the image's training label


def word_ids(backbone: Backbone, text: str) -> list[int]:
    """Token ids of ``text`` as it reads after a space inside a sentence (``tokenize("x " + text)`` less the
    tokens of ``"x"``), or of ``text`` alone when the two do not line up."""
    if not text.strip():
        raise UserError(f"label text is empty: {text!r}")
    head, full = backbone.tokenize("x"), backbone.tokenize("x " + text)
    inside = full[: len(head)] == head and len(full) > len(head)
    ids = full[len(head) :] if inside else backbone.tokenize(text)
    if not ids:
        raise UserError(f"label text tokenizes to nothing: {text!r}")  # pragma: no cover - tokenizer quirk
    return ids


def label_embeddings(backbone: Backbone, texts: list[str], device: torch.device) -> torch.Tensor:
    """``[len(texts), H]`` float32 on CPU: the mean input embedding of each text's tokens."""
    with torch.no_grad():
        rows = [
            backbone.embed(torch.tensor([word_ids(backbone, t)], device=device))[0].float().mean(0)
            for t in texts
        ]
    return torch.stack(rows).cpu()


def fit_to_label_embeddings(
    projector: Projector,
    backbone: Backbone,
    features: torch.Tensor,
    index: dict[str, int],
    train: pd.DataFrame,
    device: torch.device,
) -> float:
    """Set ``projector.fc2`` (and a centred projector's ``hidden_mean``) so each training image's tokens
    map to its label text's mean embedding.

    ``train`` needs the columns ``image`` and :data:`LABEL_TEXT`. Returns the fit's mean cosine between
    the projected tokens and their targets (1: exact).
    """
    if LABEL_TEXT not in train.columns:
        raise UserError(f'projector_init "label-embeddings" needs the training questions\' {LABEL_TEXT!r}')
    images = train[["image", LABEL_TEXT]].drop_duplicates("image").sort_values("image")
    texts = sorted(set(images[LABEL_TEXT]))
    row = {text: i for i, text in enumerate(texts)}
    target = label_embeddings(backbone, texts, device)[[row[t] for t in images[LABEL_TEXT]]]  # [I, H]
    with torch.no_grad():
        x = features[[index[r] for r in images["image"]]].to(torch.float32)  # [I, N, D]
        hidden = projector.act(projector.fc1(x)).flatten(0, 1).double()  # [I * N, H_in], not centred
        goal = target.repeat_interleave(x.shape[1], dim=0).double()  # every token of an image: its label
        h_mean, g_mean = hidden.mean(0), goal.mean(0)
        h, g = hidden - h_mean, goal - g_mean
        penalty = RIDGE * h.pow(2).sum(0).mean()  # RIDGE x tokens x mean variance
        gram = h.T @ h + penalty * torch.eye(h.shape[1], dtype=h.dtype)
        weight = torch.linalg.solve(gram, h.T @ g)  # [H_in, H]
        projector.fc2.weight.copy_(weight.T.to(projector.fc2.weight.dtype))
        if projector.centred:
            projector.hidden_mean.copy_(h_mean.to(projector.hidden_mean.dtype))
            bias = g_mean
        else:
            bias = g_mean - h_mean @ weight
        projector.fc2.bias.copy_(bias.to(projector.fc2.bias.dtype))
        fitted = projector.fc2(projector.hidden(x).flatten(0, 1))
        return float(torch.nn.functional.cosine_similarity(fitted, goal.float(), dim=-1).mean())
