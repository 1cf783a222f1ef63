"""A valid leaderboard submission and the runs one is made from."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from tests.helpers.runs import make_run


def good_submission() -> dict:
    metrics = [
        {
            "subset": "leaf",
            "category": "crow",
            "depth": 0,
            "n_yes": 5,
            "n_no": 5,
            "f1": 0.95,
            "majority_f1": 0.4,
        },
        {"subset": "unseen", "category": "bird", "depth": 2, "f1": 0.7, "majority_f1": 0.35},
    ]
    run = {
        "run_id": "r1",
        "task": "things",
        "encoder": "dinov2-large",
        "backbone": "smollm2-135m",
        "ablation_kind": "random",
        "ablation_level": 100,
        "shuffle": "original",
        "seed": 42,
        "metrics": metrics,
    }
    return {
        "id": "alice-smollm",
        "title": "SmolLM2 baseline",
        "submitter": {"name": "Alice"},
        "manifest": {"taxobench_version": "0.1.0", "git_commit": "abc", "anything_else": {"ok": True}},
        "runs": [run, {**copy.deepcopy(run), "run_id": "r2", "seed": 7}],
    }


def write_file(tmp_path: Path, data, name: str = "sub.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def submission_runs(root: Path) -> Path:
    for seed in (1, 2, 3):
        make_run(
            root,
            backbone="lm-sub",
            seed=seed,
            f1={"leaf": {"a": 0.9, "b": 0.95}, "unseen": {"animal": 0.6 + seed / 100, "tool": 0.7}},
        )
    return root
