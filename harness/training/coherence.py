"""Visual coherence of a category (PROTOCOL.md §6): mean pairwise cosine similarity of its images'
mean-pooled encoder features.

The paper's code (§8) used the encoder's final layer with CLS/register tokens included; pass features
from ``hf-vision`` with ``layer=-1, keep_prefix=true`` to reproduce that, or the cached training
features (second-to-last layer, patch tokens) for the variant the projector sees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd
import torch


def image_groups(
    images_with_labels: pd.DataFrame, relations: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Category -> sorted images whose (shuffled) ``label_leaf`` has that category as a hypernym.

    ``images_with_labels`` has columns ``image`` and ``label_leaf`` (e.g. the training rows of a
    QuestionSet; duplicate rows are fine).
    """
    pairs = images_with_labels[["image", "label_leaf"]].drop_duplicates()
    groups: dict[str, set[str]] = {}
    for image, leaf in pairs.itertuples(index=False):
        for category in relations.get(leaf, ()):
            groups.setdefault(category, set()).add(image)
    return {category: sorted(images) for category, images in sorted(groups.items())}


def visual_coherence(
    features: torch.Tensor, index: Mapping[str, int], groups: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Per category: mean and SD (ddof 1) of the cosine similarities over all unordered pairs of distinct
    images, and the number of images.  ``features`` is ``[I, N, D]`` (mean-pooled here) or already
    pooled ``[I, D]``; ``index`` maps an image to its row.  Fewer than two images give NaN."""
    pooled = features.double().mean(dim=1) if features.dim() == 3 else features.double()
    unit = torch.nn.functional.normalize(pooled, dim=1)
    rows = []
    for category, images in groups.items():
        unknown = [image for image in images if image not in index]
        if unknown:
            raise KeyError(f"no features for {len(unknown)} image(s) of {category!r}, e.g. {unknown[0]!r}")
        rows.append((category, *_pair_stats(unit[[index[image] for image in images]]), len(images)))
    return pd.DataFrame(rows, columns=["category", "avg_cosine", "sd", "n_images"])


def _pair_stats(unit: torch.Tensor) -> tuple[float, float]:
    """Mean and SD of the off-diagonal entries of the Gram matrix, from sums (no pair list)."""
    n = unit.shape[0]
    pairs = n * (n - 1) / 2
    if pairs < 1:
        return math.nan, math.nan
    gram = unit @ unit.T
    diagonal = gram.diagonal()
    total = (gram.sum() - diagonal.sum()) / 2
    squares = ((gram * gram).sum() - (diagonal * diagonal).sum()) / 2
    mean = float(total / pairs)
    if pairs < 2:
        return mean, math.nan
    variance = float((squares - pairs * mean * mean) / (pairs - 1))
    return mean, math.sqrt(max(variance, 0.0))
