"""Run directories for the tests: synthetic finished runs (report, leaderboard) and a real one-cell grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from harness.runs.store import RunDir
from tests.helpers.cli import dedent

LEAVES = [f"leaf{i}" for i in range(6)]
HYPERNYMS = {"animal": 1, "bird": 2, "tool": 1, "vehicle": 1}


def make_run(
    root: Path,
    *,
    encoder: str = "enc-a",
    backbone: str = "lm-x",
    init: str = "pretrained",
    kind: str = "random",
    level: float = 100.0,
    shuffle: str = "original",
    seed: int = 1,
    f1: dict[str, dict[str, float]],
    majority: float = 0.4,
    coherence: dict[str, float] | None = None,
    done: bool = True,
    task: str = "toy",
    train_log: list[dict] | None = None,
) -> Path:
    """One run directory; ``f1`` maps subset -> category -> F1 (0-1); ``train_log``: its log's records."""
    run_id = f"{encoder}_{backbone}_{init}_{kind}{level:g}_{shuffle}_{seed}"
    d = root / run_id
    d.mkdir(parents=True)
    rows = [
        {
            "subset": subset,
            "category": cat,
            "depth": 0 if subset == "leaf" else HYPERNYMS.get(cat, 1),
            "n_yes": 10,
            "n_no": 10,
            "f1": value,
            "majority_f1": majority,
        }
        for subset, cats in f1.items()
        for cat, value in cats.items()
    ]
    pd.DataFrame(rows).to_parquet(d / "metrics.parquet", index=False)
    summary = {
        "run_id": run_id,
        "task": task,
        "encoder": encoder,
        "backbone": backbone,
        "init": init,
        "ablation_kind": kind,
        "ablation_level": level,
        "shuffle": shuffle,
        "seed": seed,
        "source": "taxobench",
        "reference": None,
    }
    (d / "summary.json").write_text(json.dumps(summary))
    (d / "manifest.json").write_text(json.dumps({"git_commit": "abc123", "config": {"seed": seed}}))
    if coherence is not None:
        pd.DataFrame(
            {"category": list(coherence), "avg_cosine": list(coherence.values()), "sd": 0.01, "n_images": 20}
        ).to_parquet(d / "coherence.parquet", index=False)
    if train_log is not None:
        (d / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train_log))
    if done:
        RunDir(d).mark_done()
    return d


def synthetic_grid(root: Path, seed: int = 0) -> list[Path]:
    """Two encoders x two backbones (pretrained; lm-x also random init) x levels {50, 100} x two shuffles.

    Known structure: pretrained unseen F1 ≈ 0.75, random init ≈ 0.5, across_category ≈ 0.5; leaf F1 ≈ 0.95
    except backbone ``lm-weak`` at 0.6 (fails the leaf precondition).
    """
    rng = np.random.default_rng(seed)
    dirs = []
    models = [
        ("enc-a", "lm-x", "pretrained"),
        ("enc-b", "lm-x", "pretrained"),
        ("enc-a", "lm-x", "random"),
        ("enc-a", "lm-weak", "pretrained"),
    ]
    for encoder, backbone, init in models:
        for level in (50.0, 100.0):
            for shuffle in ("original", "across_category"):
                for s in (1, 2, 3):
                    base = 0.5 if init == "random" or shuffle == "across_category" else 0.75
                    leaf = 0.6 if backbone == "lm-weak" else 0.95
                    f1 = {
                        "leaf": {c: float(np.clip(leaf + rng.normal(0, 0.03), 0, 1)) for c in LEAVES},
                        "unseen": {c: float(np.clip(base + rng.normal(0, 0.05), 0, 1)) for c in HYPERNYMS},
                    }
                    if level < 100:
                        f1["seen"] = {c: float(np.clip(0.9 + rng.normal(0, 0.03), 0, 1)) for c in HYPERNYMS}
                    coh = {
                        c: 0.1 + 0.05 * i + (0 if shuffle == "original" else -0.05)
                        for i, c in enumerate(HYPERNYMS)
                    }
                    dirs.append(
                        make_run(
                            root,
                            encoder=encoder,
                            backbone=backbone,
                            init=init,
                            level=level,
                            shuffle=shuffle,
                            seed=s,
                            f1=f1,
                            coherence=coh,
                        )
                    )
    return dirs


ENV = {"OMP_NUM_THREADS": "1"}
TINY_LM = """
[backbone_options.config_overrides]
num_hidden_layers = 1
hidden_size = 32
intermediate_size = 64
num_attention_heads = 2
num_key_value_heads = 1
"""


def tiny_grid(tmp_path: Path, root: Path, seeds: str = "[1]") -> Path:
    """A one-cell grid on the synthetic task with its images under ``root`` (a tiny random-init LM)."""
    path = tmp_path / f"grid-{root.name}.toml"
    path.write_text(
        dedent(f"""
        task = "synthetic"
        task_options = {{ root = "{root}", per_leaf = 4 }}
        encoder = "efficientnet-lite0"
        backbone = "smollm2-135m"
        init = "random"
        [training]
        lr = 0.005
        epochs = 1
        batch_size = 32
        device = "cpu"
        [data]
        image_tokens = "pool:4"
        [sweep]
        seed = {seeds}
        """)
        + TINY_LM
    )
    return path


def only_cell(out: Path) -> Path:
    (cell,) = [p for p in out.iterdir() if (p / "config.toml").is_file()]
    return cell
