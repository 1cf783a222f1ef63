"""benchmarks/path_agreement.py matches cells across two run folders and counts the answers that differ."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd

from tests.helpers.paths import REPO
from tests.helpers.runs import make_run


def load_benchmark():
    spec = importlib.util.spec_from_file_location("path_agreement", REPO / "benchmarks" / "path_agreement.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def cell(root: Path, seed: int, preds: list[bool], losses: list[float]) -> Path:
    log = [{"kind": "train", "step": 10 * (i + 1), "loss": loss} for i, loss in enumerate(losses)]
    d = make_run(root, seed=seed, f1={"leaf": {"a": 0.8}, "unseen": {"h": 0.6}}, train_log=log)
    n = len(preds)
    pd.DataFrame(
        {
            "image": [f"img{i // 2}" for i in range(n)],
            "question": [f"q{i}" for i in range(n)],
            "subset": ["leaf", "unseen"] * (n // 2),
            "pred": preds,
        }
    ).to_parquet(d / "predictions.parquet", index=False)
    return d


def test_counts_differing_answers_and_loss_gaps_per_matched_cell(tmp_path: Path) -> None:
    bench = load_benchmark()
    base = [True, False] * 5
    cell(tmp_path / "a", 1, base, [2.0, 1.0, 0.5, 0.4])
    cell(tmp_path / "a", 2, base, [2.0, 1.0, 0.5, 0.4])  # only on side a: not compared
    flipped = [not p if i in (0, 2, 3) else p for i, p in enumerate(base)]  # 2 leaf answers, 1 held-out
    cell(tmp_path / "b", 1, flipped, [2.0, 1.1, 0.5, 0.2])
    out = tmp_path / "rows.json"
    assert bench.main([str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["cell"]["seed"] == 1
    assert row["answers_differ"] == 0.3
    assert row["answers_differ_by_subset"] == {"leaf": 0.4, "unseen": 0.2}
    assert row["loss_gap"] == {"10": 0.0, "40": 0.5}  # steps 10 and 40 of the logged 10..40
    assert row["f1_a"] == row["f1_b"] == {"leaf": 80.0, "unseen": 60.0}


def test_no_common_cell_is_an_exit_2(tmp_path: Path, capsys) -> None:
    bench = load_benchmark()
    cell(tmp_path / "a", 1, [True, False], [1.0])
    cell(tmp_path / "b", 2, [True, False], [1.0])
    assert bench.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "no cell finished in both" in capsys.readouterr().out


def test_cells_that_asked_different_questions_are_an_exit_2(tmp_path: Path, capsys) -> None:
    bench = load_benchmark()
    a = cell(tmp_path / "a", 1, [True, False], [1.0])
    cell(tmp_path / "b", 1, [True, False], [1.0])
    preds = pd.read_parquet(a / "predictions.parquet")
    preds.loc[0, "question"] = "another question"
    preds.to_parquet(a / "predictions.parquet", index=False)
    assert bench.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "asked different test questions" in capsys.readouterr().err
