"""Scores on the test images whose leaf the model recognised: a check that does not lean on leaf F1.

A condition below the leaf precondition (PROTOCOL §7.1) may score lower on held-out hypernyms only because
it recognises fewer leaves. Scoring its questions again on the *leaf-correct* images alone (every scored
leaf question about the image, its label and the label's negatives, answered right) compares conditions
on images each one recognised. Not in the paper; the leaderboard's statistics show it beside the Welch
tests over all images.
"""

from __future__ import annotations

import pandas as pd


def leaf_correct_images(predictions: pd.DataFrame) -> set[str]:
    """The images all of whose scored leaf questions were answered right (``pred == answer``)."""
    leaf = predictions[predictions["kind"] == "leaf"]
    if "scored" in leaf.columns:
        leaf = leaf[leaf["scored"].astype(bool)]
    right = (leaf["pred"].astype(bool) == leaf["answer"].astype(bool)).groupby(leaf["image"]).all()
    return set(right.index[right])


def leaf_correct_scores(predictions: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """(the board's per (subset, category) scores, :func:`category_f1`, over the leaf-correct images'
    questions, leaf-correct images, test images)."""
    from harness.training.evaluation import category_f1  # torch-backed module: imported when used

    kept = leaf_correct_images(predictions)
    scores = category_f1(predictions[predictions["image"].isin(kept)])
    return scores, len(kept), int(predictions["image"].nunique())
