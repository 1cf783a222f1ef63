"""Yes/no scoring of questions (packed like training) and per-category macro F1 (PROTOCOL.md §6).

Per category, F1 is the mean of the Yes-class F1 and the No-class F1 over the classes that occur in the
category's true *or* predicted answers, exactly sklearn's ``f1_score(average="macro")`` with labels inferred
from the data: a class absent from both is skipped (so a category whose answers are all Yes and predicted
all Yes scores 1.0), and a class that is predicted but never true (or true but never predicted) scores 0.
The majority baseline predicts the category's majority answer for every question (ties -> "No") and is
scored the same way; this matches the paper's published ``*_guess_*`` baselines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from harness.plugin.contracts import Backbone
from harness.training.projector import Projector
from harness.training.prompt import Prompt
from harness.training.vision_lm import VisionLM, plan_batches


@torch.no_grad()
def score(
    backbone: Backbone,
    projector: Projector,
    features: torch.Tensor,
    index: dict[str, int],
    questions: pd.DataFrame,
    batch_size: int = 64,
    prompt: Prompt | None = None,
) -> pd.DataFrame:
    """``questions`` plus logit_yes, logit_no, margin (= yes - no), pred (margin > 0) and nll (of the
    correct answer over the full vocabulary), computed on the projector's device with shared-prefix packing,
    in the backbone's current dtype; ``batch_size`` counts questions; ``prompt`` defaults to
    :meth:`Prompt.default`."""
    out = questions.copy()
    if len(questions) == 0:
        for col in ("logit_yes", "logit_no", "margin", "nll"):
            out[col] = pd.Series(dtype=float)
        out["pred"] = pd.Series(dtype=bool)
        return out
    device = next(projector.parameters()).device
    vlm = VisionLM(backbone, projector, features.shape[1], prompt)
    groups = vlm.groups(questions, index)
    yes, no, nll = (np.zeros(len(questions)) for _ in range(3))
    was_training = projector.training
    projector.eval()
    try:
        for batch_ids in plan_batches([g.n for g in groups], range(len(groups)), batch_size):
            batch = vlm.batch([groups[g] for g in batch_ids])
            logits = vlm.answer_logits(batch, features, device)
            losses = F.cross_entropy(logits, batch.targets.to(device), reduction="none")
            yes[batch.positions] = logits[:, vlm.prompt.yes_id].cpu().numpy()
            no[batch.positions] = logits[:, vlm.prompt.no_id].cpu().numpy()
            nll[batch.positions] = losses.cpu().numpy()
    finally:
        projector.train(was_training)
    out["logit_yes"], out["logit_no"], out["margin"] = yes, no, yes - no
    out["pred"] = out["margin"] > 0
    out["nll"] = nll
    return out


def macro_f1(n: np.ndarray, n_yes: np.ndarray, pred_yes: np.ndarray, tp_yes: np.ndarray) -> np.ndarray:
    """Vectorised macro F1 over the Yes/No classes present in truth or prediction (see module doc)."""
    n_no, pred_no = n - n_yes, n - pred_yes
    tp_no = n - n_yes - pred_yes + tp_yes
    total = np.zeros(len(n), dtype=float)
    classes = np.zeros(len(n), dtype=float)
    for tp, true, pred in ((tp_yes, n_yes, pred_yes), (tp_no, n_no, pred_no)):
        present = (true + pred) > 0
        denom = np.where(present, true + pred, 1)  # 2tp + fp + fn == true + pred
        total += np.where(present, 2 * tp / denom, 0.0)
        classes += present
    return total / np.maximum(classes, 1)


def category_f1(pred_df: pd.DataFrame) -> pd.DataFrame:
    """Tidy per-(subset, category) scores: subset, category, depth, n_yes, n_no, f1, majority_f1.

    Rows whose ``scored`` column (if any) is False are left out (``rules.scored``, see
    harness.protocol.questions).
    """
    if "scored" in pred_df.columns:
        pred_df = pred_df[pred_df["scored"].astype(bool)]
    df = pred_df.assign(
        _y=pred_df["answer"].astype(bool),
        _p=pred_df["pred"].astype(bool),
    )
    df["_tp"] = df["_y"] & df["_p"]
    agg = (
        df.groupby(["subset", "category"], sort=True)
        .agg(
            depth=("depth", "first"),
            n=("_y", "size"),
            n_yes=("_y", "sum"),
            p=("_p", "sum"),
            tp=("_tp", "sum"),
        )
        .reset_index()
    )
    n, n_yes = agg["n"].to_numpy(), agg["n_yes"].to_numpy()
    agg["n_no"] = n - n_yes
    agg["f1"] = macro_f1(n, n_yes, agg["p"].to_numpy(), agg["tp"].to_numpy())
    majority_yes = n_yes > n - n_yes  # ties -> "No"
    maj_pred = np.where(majority_yes, n, 0)
    agg["majority_f1"] = macro_f1(n, n_yes, maj_pred, np.where(majority_yes, n_yes, 0))
    cols = ["subset", "category", "depth", "n_yes", "n_no", "f1", "majority_f1"]
    return agg[cols].astype({"depth": int, "n_yes": int, "n_no": int})


def summary(cat_df: pd.DataFrame) -> pd.DataFrame:
    """Per subset: macro_f1 (mean over categories), n_categories, majority_f1 (mean over categories)."""
    return (
        cat_df.groupby("subset", sort=True)
        .agg(macro_f1=("f1", "mean"), n_categories=("category", "size"), majority_f1=("majority_f1", "mean"))
        .reset_index()
    )
