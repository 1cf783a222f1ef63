"""The paper probe's scoring pass: a leaf's prompts in one phrasing behind their shared prefix vs grouped by
question (the 4 phrasings of a question share little more than BOS).

Data: the paper probe's rows (every question in its 4 phrasings) for the first ``--leaves`` leaves of the
demo configuration's task (``configs/demo.toml``: emoji; its assets must be fetched), scored by its
backbone in its training dtype on its device, as ``taxobench probe`` runs it.  The two groupings alternate
``--repeats`` times; each counts with its fastest pass.  Reported: the tokens each runs, seconds, the
largest difference between their scores (float rounding only) and, last line, ``ratio <speedup>``.

    python benchmarks/probe.py [--leaves 60] [--repeats 2] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config import load_grid
from harness.errors import UserError
from harness.runs.cell import create_plugin
from harness.runs.probe import on_device, paper_probe_frame, probe_data
from harness.training.probe import _groups, _tokens, scoring_keys, sequence_scores

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.toml"


def groupings(rows: pd.DataFrame) -> dict[str, list]:
    """Scoring keys: per question (every phrasing apart) and per leaf and phrasing (as the probe runs)."""
    return {
        "per question": list(rows["question"]),
        "per leaf and phrasing": scoring_keys(rows),
    }


def tokens_run(backbone, rows: pd.DataFrame, keys: list) -> int:
    """Tokens the backbone runs when ``rows`` are packed by ``keys``: each group's prefix once, then the
    rest of every prompt."""
    seqs = _tokens(backbone, list(rows["text"]))
    return sum(
        g.prefix + sum(len(s) - g.prefix for s in g.seqs) for g in _groups(backbone, [], keys, seqs=seqs)
    )


def compare(backbone, rows: pd.DataFrame, repeats: int) -> dict[str, dict]:
    """Per grouping: tokens run, fastest seconds over ``repeats`` alternating passes, and the scores."""
    keys = groupings(rows)
    out = {name: {"tokens": tokens_run(backbone, rows, k), "seconds": []} for name, k in keys.items()}
    for _ in range(repeats):
        for name, k in keys.items():
            start = time.perf_counter()
            out[name]["scores"] = sequence_scores(backbone, list(rows["text"]), k)
            out[name]["seconds"].append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leaves", type=int, default=60, help="the first N leaves of the demo's sample")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads")
    parser.add_argument("--config", type=Path, default=DEMO_CONFIG)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    try:
        cfg = load_grid(args.config, ["init=pretrained"]).cells()[0]
        task = create_plugin(cfg, "tasks")
        rows = paper_probe_frame(cfg, task, probe_data(cfg, task)).reset_index(drop=True)
    except UserError as exc:
        parser.error(str(exc))
    rows = rows[rows["leaf"].isin(list(dict.fromkeys(rows["leaf"]))[: args.leaves])].reset_index(drop=True)
    backbone = create_plugin(cfg, "backbones")
    dtype = on_device(cfg, backbone)
    print(f"{cfg.backbone} ({dtype}), {rows['leaf'].nunique()} leaves, {len(rows)} prompts")
    result = compare(backbone, rows, args.repeats)
    for name, r in result.items():
        print(f"{name}: {r['tokens']} tokens, {min(r['seconds']):.1f} s (passes {r['seconds']})")
    a, b = (r["scores"] for r in result.values())
    print(f"largest score difference {np.max(np.abs(a - b)):.2e} (mean log-probability per token)")
    slow, fast = (min(r["seconds"]) for r in result.values())
    print(f"ratio {slow / fast:.2f}")


if __name__ == "__main__":
    main()
