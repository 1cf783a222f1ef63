"""The report: aggregation arithmetic, baselines, the leaf flag, plots and outputs on synthetic runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from harness.errors import UserError
from harness.report import report
from harness.report_load import load_runs
from harness.report_table import aggregate, headline
from tests.test_report_fixtures import HYPERNYMS, make_run, synthetic_grid


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> tuple[Path, dict, list[Path]]:
    root = tmp_path_factory.mktemp("runs")
    dirs = synthetic_grid(root)
    make_run(root, seed=9, f1={"leaf": {"leaf0": 0.1}}, done=False)  # unfinished: must be ignored
    out = tmp_path_factory.mktemp("board")
    report([root], out, console=None)
    return out, json.loads((out / "analysis.json").read_text()), dirs


def _direct(dirs: list[Path], **where) -> np.ndarray:
    """F1 values (percent) of the runs matching ``where`` and subset, straight from the parquet files."""
    subset = where.pop("subset")
    values = []
    for d in dirs:
        s = json.loads((d / "summary.json").read_text())
        if all(s[k] == v for k, v in where.items()):
            m = pd.read_parquet(d / "metrics.parquet")
            values += list(m.loc[m["subset"] == subset, "f1"] * 100)
    return np.array(values)


def test_outputs_exist(board):
    out, data, _ = board
    for name in ("leaderboard.json", "analysis.json", "leaderboard.md", "leaderboard.html"):
        assert (out / name).stat().st_size > 0
    rows = json.loads((out / "leaderboard.json").read_text())
    assert isinstance(rows, list) and rows == data["rows"]
    assert list((out / "plots").glob("*.png"))
    required = {
        "task",
        "encoder",
        "backbone",
        "init",
        "ablation_kind",
        "ablation_level",
        "shuffle",
        "subset",
        "n_runs",
        "macro_f1",
        "ci_low",
        "ci_high",
        "majority_f1",
    }
    assert required <= set(data["rows"][0])


def test_rows_match_direct_computation(board):
    _, data, dirs = board
    rows = pd.DataFrame(data["rows"])
    assert len(rows) == 4 * 2 * 2 * 2 + 4 * 2 * 1  # leaf+unseen everywhere, seen at 50 % only
    where = dict(
        encoder="enc-a", backbone="lm-x", init="pretrained", ablation_level=100.0, shuffle="original"
    )
    r = rows[(rows[list(where)] == pd.Series(where)).all(axis=1) & (rows["subset"] == "unseen")].iloc[0]
    x = _direct(dirs, subset="unseen", **where)
    assert r["macro_f1"] == pytest.approx(x.mean())
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert r["se"] == pytest.approx(se)
    half = sps.t.ppf(0.975, len(x) - 1) * se
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    assert r["n_runs"] == 3 and r["n_seeds"] == 3 and r["n_categories"] == len(HYPERNYMS)
    assert r["majority_f1"] == pytest.approx(40.0)
    assert r["delta_majority"] == pytest.approx(x.mean() - 40.0)
    ctrl = _direct(dirs, subset="unseen", **{**where, "init": "random"})
    assert r["delta_random_init"] == pytest.approx(x.mean() - ctrl.mean())


def test_leaf_precondition_flag(board):
    out, data, _ = board
    rows = pd.DataFrame(data["rows"])
    weak = rows[rows["backbone"] == "lm-weak"]
    assert (weak["leaf_precondition"] == "not met").all()
    assert (rows.loc[rows["backbone"] == "lm-x", "leaf_precondition"] == "met").all()
    md = (out / "leaderboard.md").read_text()
    table_rows = [line for line in md.splitlines() if "| toy |" in line]  # headline and results tables
    flagged = [line for line in table_rows if "lm-weak" in line]
    assert len(flagged) == len(weak) + 1 and all("⚠" in line for line in flagged)
    assert not any("⚠" in line for line in table_rows if "lm-x" in line)
    html = (out / "leaderboard.html").read_text()
    assert html.count('<tr class="flag">') == len(weak) + 1  # + the headline row of lm-weak


def test_headline_ranks_unseen_full_ablation(board):
    _, data, _ = board
    head = data["headline"]
    assert [h["rank"] for h in head] == list(range(1, len(head) + 1))
    assert all(
        h["subset"] == "unseen" and h["ablation_level"] == 100 and h["shuffle"] == "original" for h in head
    )
    f1 = [h["macro_f1"] for h in head]
    assert f1 == sorted(f1, reverse=True)
    assert head[-1]["init"] == "random"


def test_statistics_and_plots_reported(board):
    _, data, _ = board
    st = data["statistics"]
    assert st["encoder_effect"]["status"] == "ok"
    assert st["encoder_effect"]["n_obs"] == 2 * 3 * len(HYPERNYMS)
    tests = st["welch_tests"]["tests"]
    shuffled = [t for t in tests if t["model"].startswith("enc-a + lm-x") and t["b"] == "across_category"]
    assert shuffled and shuffled[0]["p"] < 0.001 and shuffled[0]["diff"] > 15
    assert st["coherence"]["correlations"]["status"] == "ok"
    assert st["coherence"]["mixed_model"]["status"] == "skipped"  # no probe results in this grid
    plots = data["plots"]
    for name in ("fig4_ablation_random", "fig6_shuffles", "fig7_coherence", "fig12_depth", "fig3_encoders"):
        assert "file" in plots[name], (name, plots[name])
    assert "skipped" in plots["fig4_ablation_systematic"]


def test_plots_skip_cleanly_without_variation(tmp_path):
    root = tmp_path / "runs"
    for seed in (1, 2):
        make_run(root, seed=seed, f1={"leaf": {"a": 0.9, "b": 0.8}, "unseen": {"animal": 0.7, "tool": 0.6}})
    board = json.loads((report([root], tmp_path / "out") / "analysis.json").read_text())
    assert all("skipped" in p for name, p in board["plots"].items() if name != "fig12_depth")
    assert board["statistics"]["encoder_effect"]["status"] == "skipped"
    assert board["statistics"]["welch_tests"]["status"] == "skipped"
    assert len(board["rows"]) == 2


def test_unfinished_and_missing(tmp_path):
    make_run(tmp_path / "runs", f1={"leaf": {"a": 0.5}}, done=False)
    with pytest.raises(UserError, match="no finished run"):
        load_runs([tmp_path / "runs"])
    with pytest.raises(UserError, match="not found"):
        load_runs([tmp_path / "nope"])


def test_single_run_dir_and_nan_ci(tmp_path):
    d = make_run(tmp_path, f1={"leaf": {"a": 0.9}, "unseen": {"animal": 0.5}})
    rows = aggregate(load_runs([d]).metrics)
    un = rows[rows["subset"] == "unseen"].iloc[0]
    assert un["macro_f1"] == pytest.approx(50.0) and np.isnan(un["ci_low"])
    assert len(headline(rows)) == 1
