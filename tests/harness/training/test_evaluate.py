"""Scoring sign and packing, per-category macro F1 and the majority baseline on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from harness.training.evaluation import category_f1, score, summary
from harness.training.projector import build_projector
from plugins.backbones.hf_causal import HFCausalBackbone
from tests.helpers.models import save_tiny_model, toy_questions


def frame(subset, category, answers, preds, depth=1):
    return pd.DataFrame(
        {"subset": subset, "category": category, "depth": depth, "answer": answers, "pred": preds}
    )


def reference_f1(y, p):
    """sklearn's macro F1 with labels = classes present in y or p, written out per class."""
    scores = []
    for c in (True, False):
        if not (any(v == c for v in y) or any(v == c for v in p)):
            continue
        tp = sum(a == c and b == c for a, b in zip(y, p, strict=True))
        fp = sum(a != c and b == c for a, b in zip(y, p, strict=True))
        fn = sum(a == c and b != c for a, b in zip(y, p, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


def test_hand_computed_f1_and_majority():
    df = pd.concat(
        [
            frame("unseen", "bird", [True, True, False, False], [True, False, False, False]),
            frame("unseen", "tool", [True, True, True], [True, True, True]),
            frame("unseen", "boat", [True, True, True], [True, True, False]),
            frame("seen", "bird", [True, True, True, False], [False, False, False, True], depth=2),
        ]
    )
    cats = category_f1(df).set_index(["subset", "category"])
    # Yes: tp 1 fp 0 fn 1 -> 2/3; No: tp 2 fp 1 fn 0 -> 4/5.  Majority: tie -> all "No": Yes 0, No 2/3.
    assert cats.loc[("unseen", "bird"), "f1"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert cats.loc[("unseen", "bird"), "majority_f1"] == pytest.approx((0 + 2 / 3) / 2)
    assert (cats.loc[("unseen", "bird"), "n_yes"], cats.loc[("unseen", "bird"), "n_no"]) == (2, 2)
    assert cats.loc[("unseen", "tool"), "f1"] == 1.0  # the No class is absent from truth and prediction
    assert cats.loc[("unseen", "tool"), "majority_f1"] == 1.0
    assert cats.loc[("unseen", "boat"), "f1"] == pytest.approx((0.8 + 0.0) / 2)  # No predicted, never true
    assert cats.loc[("seen", "bird"), "f1"] == 0.0
    assert cats.loc[("seen", "bird"), "majority_f1"] == pytest.approx((2 * 3 / (2 * 3 + 1) + 0) / 2)
    assert cats.loc[("seen", "bird"), "depth"] == 2
    summ = summary(category_f1(df)).set_index("subset")
    assert summ.loc["unseen", "n_categories"] == 3
    assert summ.loc["unseen", "macro_f1"] == pytest.approx(((2 / 3 + 4 / 5) / 2 + 1.0 + 0.4) / 3)
    assert summ.loc["seen", "majority_f1"] == pytest.approx(3 / 7)


def test_f1_matches_reference_on_random_frames():
    rng = np.random.default_rng(0)
    parts = []
    for i in range(40):
        n = int(rng.integers(1, 9))
        y, p = rng.random(n) < rng.random(), rng.random(n) < rng.random()
        parts.append(frame("unseen", f"c{i:02d}", y, p))
    cats = category_f1(pd.concat(parts)).set_index("category")
    for part in parts:
        y, p = list(part["answer"]), list(part["pred"])
        c = part["category"].iloc[0]
        assert cats.loc[c, "f1"] == pytest.approx(reference_f1(y, p))
        majority = sum(y) > len(y) - sum(y)
        assert cats.loc[c, "majority_f1"] == pytest.approx(reference_f1(y, [majority] * len(y)))


def test_score_sign_order_and_packing(tmp_path):
    backbone = HFCausalBackbone(str(save_tiny_model(tmp_path / "m", "qwen3")))
    questions, features = toy_questions(n_images=5)
    questions = questions.sample(frac=1.0, random_state=1)  # any row order is kept
    index = {img: i for i, img in enumerate(sorted(questions["image"].unique()))}
    projector = build_projector(12, backbone.hidden_size, seed=0)
    big = score(backbone, projector, features, index, questions, batch_size=64)
    small = score(backbone, projector, features, index, questions, batch_size=1)  # one image per batch
    assert list(big.index) == list(questions.index)
    np.testing.assert_allclose(big["margin"], small["margin"], atol=1e-5)
    np.testing.assert_allclose(big["margin"], big["logit_yes"] - big["logit_no"])
    assert (big["pred"] == (big["logit_yes"] > big["logit_no"])).all()
    # the first question, scored by hand as one plain sequence
    row = big.iloc[0]
    ids = backbone.tokenize(row["question"])
    with torch.no_grad():
        img = projector(features[index[row["image"]]][None])
        x = torch.cat([img, backbone.embed(torch.tensor([ids]))], dim=1)
        h = backbone.hidden(x, torch.ones(1, x.shape[1], dtype=torch.long), torch.arange(x.shape[1])[None])
        logits = backbone.logits(h[0, -1])
    assert row["logit_yes"] == pytest.approx(float(logits[backbone.yes_id]), abs=1e-5)
    assert row["logit_no"] == pytest.approx(float(logits[backbone.no_id]), abs=1e-5)
    target = backbone.yes_id if row["answer"] else backbone.no_id
    assert row["nll"] == pytest.approx(float(-torch.log_softmax(logits, -1)[target]), abs=1e-5)
    assert len(score(backbone, projector, features, index, questions.iloc[:0])) == 0
