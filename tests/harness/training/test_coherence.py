"""Visual coherence: image groups per hypernym and mean pairwise cosine with known answers."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest
import torch

from harness.training.coherence import image_groups, visual_coherence

RELATIONS = {
    "crow": ("bird", "animal"),
    "penguin": ("bird", "animal"),
    "dog": ("animal",),
    "kayak": ("boat",),
}


def test_image_groups_follow_the_shuffled_label() -> None:
    rows = pd.DataFrame(
        {
            "image": ["k1.jpg", "k1.jpg", "c1.jpg", "d1.jpg", "p1.jpg"],
            # the kayak image carries the label crow after an across-category shuffle
            "label_leaf": ["crow", "crow", "kayak", "dog", "penguin"],
        }
    )
    groups = image_groups(rows, RELATIONS)
    assert groups == {
        "animal": ["d1.jpg", "k1.jpg", "p1.jpg"],
        "bird": ["k1.jpg", "p1.jpg"],
        "boat": ["c1.jpg"],
    }


def pooled_features(vectors: list[list[float]], tokens: int = 3) -> torch.Tensor:
    """[I, tokens, D] whose token mean is ``vectors`` (tokens differ, so pooling matters)."""
    base = torch.tensor(vectors, dtype=torch.float32)[:, None, :].repeat(1, tokens, 1)
    wiggle = torch.linspace(-1, 1, tokens)[None, :, None] * torch.ones_like(base)
    return base + wiggle


def test_identical_orthogonal_and_mixed() -> None:
    vectors = [
        [1, 0, 0],  # a
        [2, 0, 0],  # b: same direction as a
        [0, 3, 0],  # c: orthogonal to a
        [0, 0, 1],  # d
        [1, 1, 0],  # e
    ]
    index = {name: i for i, name in enumerate("abcde")}
    groups = {"same": ["a", "b"], "orth": ["a", "c", "d"], "mix": ["a", "c", "e"], "one": ["a"]}
    table = visual_coherence(pooled_features(vectors), index, groups).set_index("category")
    assert list(table.columns) == ["avg_cosine", "sd", "n_images"]
    assert table.loc["same", "avg_cosine"] == pytest.approx(1.0)
    assert math.isnan(table.loc["same", "sd"])  # a single pair has no spread
    assert table.loc["orth", "avg_cosine"] == pytest.approx(0.0, abs=1e-7)
    assert table.loc["orth", "sd"] == pytest.approx(0.0, abs=1e-7)
    # pairs: a-c 0, a-e 1/sqrt2, c-e 1/sqrt2
    r = 1 / math.sqrt(2)
    assert table.loc["mix", "avg_cosine"] == pytest.approx(2 * r / 3)
    assert table.loc["mix", "sd"] == pytest.approx(pd.Series([0, r, r]).std())
    assert table.loc["mix", "n_images"] == 3
    assert math.isnan(table.loc["one", "avg_cosine"])


def test_matches_a_pairwise_loop() -> None:
    gen = torch.Generator().manual_seed(7)
    features = torch.randn(12, 5, 8, generator=gen)
    index = {f"img{i}": i for i in range(12)}
    groups = {"g": [f"img{i}" for i in (0, 2, 3, 5, 7, 11)], "h": [f"img{i}" for i in range(12)]}
    table = visual_coherence(features, index, groups).set_index("category")
    pooled = features.double().mean(1)
    for category, images in groups.items():
        sims = [
            float(torch.nn.functional.cosine_similarity(pooled[index[a]], pooled[index[b]], dim=0))
            for a, b in itertools.combinations(images, 2)
        ]
        assert table.loc[category, "avg_cosine"] == pytest.approx(sum(sims) / len(sims))
        assert table.loc[category, "sd"] == pytest.approx(pd.Series(sims).std())


def test_already_pooled_features_and_unknown_images() -> None:
    features = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    table = visual_coherence(features, {"a": 0, "b": 1}, {"c": ["a", "b"]})
    assert table.loc[0, "avg_cosine"] == pytest.approx(1 / math.sqrt(2))
    with pytest.raises(KeyError, match="zzz"):
        visual_coherence(features, {"a": 0, "b": 1}, {"c": ["a", "zzz"]})
