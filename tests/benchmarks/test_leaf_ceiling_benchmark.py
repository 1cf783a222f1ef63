"""benchmarks/leaf_ceiling.py stays runnable and scores what the features tell apart."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest
import torch

from tests.helpers.models import toy_questions
from tests.helpers.paths import REPO


def load_benchmark():
    spec = importlib.util.spec_from_file_location("leaf_ceiling", REPO / "benchmarks" / "leaf_ceiling.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def toy_cell():
    """Crow and kayak images whose features tell them apart: 8 training, 4 test."""
    train, train_feats = toy_questions(n_images=8, split="train", seed=0)
    test, test_feats = toy_questions(n_images=4, split="test", seed=0)  # the same two prototypes
    questions = pd.concat([train, test], ignore_index=True)
    images = list(dict.fromkeys(questions["image"]))
    return questions, torch.cat([train_feats, test_feats]), {img: i for i, img in enumerate(images)}


def test_separable_features_answer_every_leaf_question():
    bench = load_benchmark()
    questions, features, index = toy_cell()
    test = questions[questions["split"] == "test"]
    for ranked in bench.rankings(features, index, questions).values():
        assert bench.leaf_f1(test, {img: r[:1] for img, r in ranked.items()}) == 100.0
        assert bench.leaf_f1(test, {img: r[:2] for img, r in ranked.items()}) < 100.0  # always Yes


def test_features_of_the_other_leaf_answer_every_question_wrong():
    bench = load_benchmark()
    questions, features, index = toy_cell()
    test = questions[questions["split"] == "test"]
    swapped = features.clone()
    rows = [index[i] for i in sorted(test["image"].unique())]  # crow, crow, kayak, kayak
    swapped[rows] = features[[rows[2], rows[3], rows[0], rows[1]]]
    for ranked in bench.rankings(swapped, index, questions).values():
        assert bench.leaf_f1(test, {img: r[:1] for img, r in ranked.items()}) == 0.0


def test_agreement_splits_the_models_leaf_correct_rate_by_the_classifiers_top_label():
    bench = load_benchmark()
    questions, _, _ = toy_cell()
    test = questions[questions["split"] == "test"]
    images = sorted(test["image"].unique())
    other = {"crow": "kayak", "kayak": "crow"}
    label = test.drop_duplicates("image").set_index("image")["label_leaf"]
    ranked = {img: [label[img], other[label[img]]] for img in images}
    ranked[images[0]] = ranked[images[0]][::-1]  # the classifier misses the first image only
    predictions = test.assign(pred=test["answer"])
    negative = (predictions["kind"] == "leaf") & ~predictions["answer"]
    predictions.loc[negative & (predictions["image"] == images[1]), "pred"] = True  # the model errs once
    text = bench.agreement(test, ranked, predictions)
    assert text == (
        "model answers every leaf question right on 66.7 % of the 3 it gets right, "
        "100.0 % of the 1 it gets wrong"
    )


def test_a_folder_that_is_not_a_training_cell_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    """A probe run or any other folder among the arguments: exit 2 naming it, not a traceback."""
    bench = load_benchmark()
    probe = tmp_path / "probe-0123"
    probe.mkdir()
    (probe / "summary.json").write_text("{}")
    monkeypatch.setattr("sys.argv", ["leaf_ceiling.py", str(probe)])
    with pytest.raises(SystemExit) as exit_info:
        bench.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "probe-0123 is not a finished training cell" in err and "config.toml" in err
