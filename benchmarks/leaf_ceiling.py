"""How well the encoder's features alone answer a finished cell's leaf test questions: a leaf F1 ceiling.

A softmax regression (L2, L-BFGS) and a nearest-centroid classifier are fitted on the cell's training images
(standardised, flattened image tokens; their training labels) and answer each leaf test question "Is there
a <leaf>?" with Yes when the asked leaf is among the classifier's top ``k`` labels for the image. Scored as
the board scores the trained model (per-category macro F1 of the leaf subset, ``rules.scored`` applied),
beside the cell's own leaf F1. No LM is involved: what the features could give the projector. Then, from
the cell's predictions, how often the trained model answers all of an image's leaf questions right on the
test images the softmax regression gets right at top 1, and on those it misses.

    python benchmarks/leaf_ceiling.py RUN_DIR [RUN_DIR ...] [--k 1 3 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from harness.config import load_grid
from harness.protocol.questions import QUESTIONS_FILE
from harness.report.leaf_correct import leaf_correct_images
from harness.runs import store
from harness.runs.cell import cell_features, create_plugin
from harness.training.evaluation import category_f1, summary


def leaf_f1(questions: pd.DataFrame, top: dict[str, list[str]]) -> float:
    """Leaf macro F1 (%) of answering Yes when the asked leaf (``category``) is in the image's ``top``."""
    leaf = questions[questions["kind"] == "leaf"]
    pred = [cat in top[img] for img, cat in zip(leaf["image"], leaf["category"], strict=True)]
    per_subset = summary(category_f1(leaf.assign(pred=pred)))
    return 100 * float(per_subset.loc[per_subset["subset"] == "leaf", "macro_f1"].iloc[0])


def rankings(x: torch.Tensor, index: dict[str, int], questions: pd.DataFrame) -> dict[str, dict[str, list]]:
    """Per classifier, each test image's labels ranked best first (training images give the classes)."""
    train = questions[questions["split"] == "train"].drop_duplicates("image")
    labels = sorted(train["label_leaf"].unique())
    y = torch.tensor([labels.index(v) for v in train["label_leaf"]])
    flat = x.flatten(1).double()
    rows = flat[[index[i] for i in train["image"]]]
    mean, std = rows.mean(0), rows.std(0) + 1e-6
    z_train = (rows - mean) / std
    test = sorted(questions.loc[questions["split"] == "test", "image"].unique())
    z_test = (flat[[index[i] for i in test]] - mean) / std
    centroids = torch.stack([z_train[y == c].mean(0) for c in range(len(labels))])
    unit = torch.nn.functional.normalize
    scores = {"nearest centroid": unit(z_test, dim=1) @ unit(centroids, dim=1).T}
    weight = torch.zeros(z_train.shape[1], len(labels), dtype=torch.double, requires_grad=True)
    bias = torch.zeros(len(labels), dtype=torch.double, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], max_iter=300)

    def loss() -> torch.Tensor:
        opt.zero_grad()
        value = torch.nn.functional.cross_entropy(z_train @ weight + bias, y) + 1e-3 * weight.pow(2).sum()
        value.backward()
        return value

    opt.step(loss)
    scores["softmax regression"] = (z_test @ weight + bias).detach()
    ranked = {}
    for name, score in scores.items():
        order = score.argsort(dim=1, descending=True)
        ranked[name] = {img: [labels[int(c)] for c in row] for img, row in zip(test, order, strict=True)}
    return ranked


def agreement(test: pd.DataFrame, ranked: dict[str, list[str]], predictions: pd.DataFrame) -> str:
    """The model's leaf-correct rate on the test images the classifier is right / wrong about at top 1."""
    label = test.drop_duplicates("image").set_index("image")["label_leaf"]
    correct = leaf_correct_images(predictions[predictions["split"] == "test"])
    hit = pd.Series({image: ranked[image][0] == leaf for image, leaf in label.items()})
    parts = []
    for name, images in (("right", hit.index[hit]), ("wrong", hit.index[~hit])):
        rate = 100 * sum(i in correct for i in images) / max(1, len(images))
        parts.append(f"{rate:.1f} % of the {len(images)} it gets {name}")
    return "model answers every leaf question right on " + ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5])
    args = parser.parse_args()
    needed = (store.CONFIG, QUESTIONS_FILE, store.METRICS)
    for run in args.runs:  # every folder checked before any work, so a wrong one costs nothing
        missing = [name for name in needed if not (run / name).is_file()]
        if missing:
            parser.error(f"{run} is not a finished training cell (no {', '.join(missing)})")
    for run in args.runs:
        cfg = load_grid(run / store.CONFIG).cells()[0]  # the resolved config, read as `taxobench run` does
        questions = pd.read_parquet(run / QUESTIONS_FILE)
        feats = cell_features(cfg, create_plugin(cfg, "tasks"), questions)
        test = questions[questions["split"] == "test"]
        metrics = pd.read_parquet(run / store.METRICS)
        own = 100 * metrics.loc[metrics["subset"] == "leaf", "f1"].mean()
        print(f"{run.name} ({cfg.init}, {cfg.shuffle}, seed {cfg.seed}): trained model leaf F1 {own:.1f}")
        ranks = rankings(feats.features, feats.index, questions)
        for name, ranked in ranks.items():
            cells = [f"top-{k} {leaf_f1(test, {i: r[:k] for i, r in ranked.items()}):.1f}" for k in args.k]
            print(f"  {name}: " + ", ".join(cells))
        if (run / store.PREDICTIONS).exists():
            predictions = pd.read_parquet(run / store.PREDICTIONS)
            print("  " + agreement(test, ranks["softmax regression"], predictions))


if __name__ == "__main__":
    main()
