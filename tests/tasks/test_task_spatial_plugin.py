"""The spatial task needs no core edits: installed as a third-party distribution (its own import name and
entry point), it is discovered, and a grid runs on it end to end: training, evaluation, coherence and the
leaderboard, with relations as the categories."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pandas as pd
import tomli_w

from tasks.emoji.fake import make_fake_emoji_assets
from tests.helpers.cli import install_fake_dist, run_cli
from tests.helpers.paths import REPO

TINY = tomllib.loads((REPO / "configs" / "smoke.toml").read_text())  # a 2-layer random-init LM


def external_site(tmp_path: Path) -> Path:
    """A site dir holding a copy of ``tasks/spatial`` as the package ``taxobench_spatial``."""
    site = tmp_path / "site"
    shutil.copytree(
        REPO / "tasks" / "spatial", site / "taxobench_spatial", ignore=shutil.ignore_patterns("__pycache__")
    )
    install_fake_dist(site, "taxobench-spatial", {"zz_spatial": "taxobench_spatial"}, [])
    return site


def tiny_spatial_config(tmp_path: Path, emoji_root: Path) -> Path:
    data = {key: TINY[key] for key in ("encoder", "backbone", "init", "backbone_options", "training", "data")}
    data.update(
        task="spatial",
        task_options={"root": str(emoji_root), "scenes": 12},
        cache_dir=str(tmp_path / "features"),
        ablation={"kind": "systematic", "level": 1, "hypernyms": ["above"]},
        seed=3,
    )
    path = tmp_path / "spatial.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def test_spatial_task_as_an_external_plugin_runs_end_to_end(tmp_path):
    site = external_site(tmp_path)
    env = {"PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    listed = run_cli("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    plugins = json.loads(listed.stdout)["plugins"]
    spatial = [r for r in plugins if (r["kind"], r["name"]) == ("tasks", "spatial")]
    assert {r["package"] for r in spatial} == {"taxobench", "taxobench-spatial"}  # both copies, in conflict
    assert {r["conflict"] for r in spatial} == {"yes"}
    env["TAXOBENCH_OVERRIDES"] = "tasks:spatial=taxobench-spatial"  # the external copy answers

    config = tiny_spatial_config(tmp_path, tmp_path / "emoji")
    make_fake_emoji_assets(tmp_path / "emoji")
    runs = tmp_path / "runs"
    result = run_cli("run", str(config), "--out", str(runs), env=env)
    assert result.returncode == 0, result.stderr
    (cell,) = [p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]
    manifest = json.loads((cell / "manifest.json").read_text())
    assert manifest["plugins"]["tasks"]["package"] == "taxobench-spatial"
    metrics = pd.read_parquet(cell / "metrics.parquet")
    asked = metrics[metrics["n_yes"] > 0]  # categories a positive question asks about, per subset
    by_subset = asked.groupby("subset")["category"].agg(lambda c: sorted(set(c))).to_dict()
    assert by_subset == {"leaf": ["below", "left_of"], "seen": ["right_of"], "unseen": ["above"]}
    coherence = pd.read_parquet(cell / "coherence.parquet")
    assert sorted(coherence["category"]) == ["above", "right_of"]
    assert coherence["avg_cosine"].between(-1, 1).all()

    board = tmp_path / "board"
    result = run_cli("report", str(runs), "--out", str(board), env=env)
    assert result.returncode == 0, result.stderr
    rows = json.loads((board / "leaderboard.json").read_text())["rows"]
    assert {r["task"] for r in rows} == {"spatial"}
    assert {r["subset"] for r in rows} == {"leaf", "seen", "unseen"}
    assert all(0 <= r["macro_f1"] <= 100 and 0 <= r["majority_f1"] <= 100 for r in rows)
