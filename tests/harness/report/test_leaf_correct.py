"""Held-out-hypernym scores on the leaf-correct test images (harness.report.leaf_correct) and their report."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from harness.report.analysis import leaf_correct_analysis
from harness.report.build import build_report
from harness.report.leaf_correct import leaf_correct_images, leaf_correct_scores
from harness.report.load import load_runs
from harness.runs.store import RunDir
from harness.training.evaluation import category_f1
from tests.helpers.runs import make_run


def _q(image: str, kind: str, category: str, answer: bool, pred: bool, scored: bool = True) -> dict:
    subset = "leaf" if kind == "leaf" else "unseen"
    depth = 0 if kind == "leaf" else 1
    return dict(image=image, kind=kind, subset=subset, category=category, depth=depth, answer=answer,
                pred=pred, scored=scored)  # fmt: skip


def predictions(leaf_wrong: set[str], images: int = 6, hypernym_wrong_where_leaf_wrong: bool = True):
    """Per image a leaf pair (its leaf Yes, another leaf No) and an "animal" pair (Yes, "tool" No); the
    images in ``leaf_wrong`` answer their leaf negative Yes (and, if asked, their hypernym pair wrongly)."""
    rows = []
    for i in range(images):
        img, wrong = f"im{i}", f"im{i}" in leaf_wrong
        rows += [
            _q(img, "leaf", f"leaf{i}", True, True),
            _q(img, "leaf", f"leaf{(i + 1) % images}", False, wrong),
        ]
        flip = wrong and hypernym_wrong_where_leaf_wrong
        rows += [_q(img, "hypernym", "animal", True, not flip), _q(img, "hypernym", "tool", False, flip)]
    return pd.DataFrame(rows)


def test_an_image_is_leaf_correct_only_when_every_scored_leaf_question_is_right():
    p = predictions({"im1", "im4"})
    assert leaf_correct_images(p) == {"im0", "im2", "im3", "im5"}
    unscored = p.copy()
    unscored.loc[(unscored["image"] == "im1") & (unscored["answer"] == False), "scored"] = False  # noqa: E712
    assert "im1" in leaf_correct_images(unscored)  # its only wrong answer is not scored


def test_scores_are_the_board_scores_of_the_kept_images_alone():
    p = predictions({"im1", "im4"})
    scores, kept, total = leaf_correct_scores(p)
    assert (kept, total) == (4, 6)
    want = category_f1(p[p["image"].isin(["im0", "im2", "im3", "im5"])])
    pd.testing.assert_frame_equal(scores.reset_index(drop=True), want[scores.columns].reset_index(drop=True))
    every = category_f1(p).set_index(["subset", "category"])["f1"]
    kept_f1 = scores.set_index(["subset", "category"])["f1"]
    assert kept_f1[("unseen", "animal")] == 1.0 > every[("unseen", "animal")]


def _run(root: Path, shuffle: str, seed: int, leaf_wrong: set[str], init: str = "pretrained") -> Path:
    d = make_run(
        root, shuffle=shuffle, seed=seed, init=init, f1={"leaf": {"leaf0": 0.9}, "unseen": {}}, done=False
    )
    p = predictions(leaf_wrong)
    category_f1(p).to_parquet(d / "metrics.parquet", index=False)  # the run's own scores over all its images
    p.to_parquet(d / "predictions.parquet", index=False)
    RunDir(d).mark_done()
    return d


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # Welch t on identical F1 values
def test_report_compares_conditions_on_leaf_correct_images(tmp_path):
    runs = tmp_path / "runs"
    for seed in (1, 2):
        _run(runs, "original", seed, set())
        _run(runs, "across_category", seed, {"im0", "im1", "im2"})
        _run(runs, "original", seed, {f"im{i}" for i in range(6)}, init="random")
    st = leaf_correct_analysis(load_runs([runs]))
    assert st["status"] == "ok"
    rows = {(r["model"].endswith("(random init)"), r["shuffle"]): r for r in st["rows"]}
    across = rows[(False, "across_category")]
    assert (across["images_kept"], across["images_total"], across["n_runs"]) == (6, 12, 2)
    assert across["f1"] == pytest.approx(100.0) and across["f1_all_images"] < 60  # wrong only off leaf
    random = rows[(True, "original")]
    assert random["images_kept"] == 0 and math.isnan(random["f1"]) and random["majority_f1"] is None
    out = tmp_path / "board"
    build_report(load_runs([runs]), out, plots=False)
    md = (out / "leaderboard.md").read_text()
    assert "Held-out hypernyms on leaf-correct images" in md and "| 6 / 12 |" in md and "| 0 / 12 |" in md


def test_runs_without_predictions_skip_it_and_broken_predictions_skip_the_run(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, f1={"leaf": {"leaf0": 0.9}, "unseen": {"animal": 0.7}})
    assert leaf_correct_analysis(load_runs([runs]))["status"] == "skipped"
    d = make_run(runs, seed=7, f1={"leaf": {"leaf0": 0.9}, "unseen": {"animal": 0.7}}, done=False)
    predictions(set()).drop(columns=["pred"]).to_parquet(d / "predictions.parquet", index=False)
    RunDir(d).mark_done()
    with pytest.warns(RuntimeWarning, match="predictions.parquet: missing columns"):
        data = load_runs([runs])
    assert list(data.runs["seed"]) == [1]
