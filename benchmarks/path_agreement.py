"""How far two runs of the same cells agree: one grid run on two numerics paths (machines, CPU kernels,
thread counts, dtypes), or with two settings.

For every cell finished in both run folders (matched on model, condition and seed): each side's leaf and
held-out macro F1, the share of its test answers that differ (all, leaf, held-out), and the relative gap
of the logged training loss at a few steps (where two paths part). docs/demo.md, "a path change is a seed
change", reads its pilots with it.

    python benchmarks/path_agreement.py RUNS_A RUNS_B [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from harness.report.load import find_run_dirs, training_curve
from harness.runs import store
from harness.training.evaluation import summary

KEY = ("task", "encoder", "backbone", "init", "ablation_kind", "ablation_level", "shuffle", "seed")
STEPS = (10, 40, 100, 200, 360)


def finished_cells(root: Path) -> dict[tuple, Path]:
    """The finished training cells under ``root`` that have predictions, by :data:`KEY`."""
    runs, _probes = find_run_dirs([root])
    cells = {}
    for run in runs:
        if (run / store.PREDICTIONS).is_file():
            record = json.loads((run / store.SUMMARY).read_text())
            cells[tuple(record.get(k) for k in KEY)] = run
    return cells


def macro_f1(run: Path) -> dict[str, float]:
    """Macro F1 (%) per subset, as the cell reports it (:func:`harness.training.evaluation.summary`)."""
    per_subset = summary(pd.read_parquet(run / store.METRICS))
    return {row.subset: round(100 * float(row.macro_f1), 1) for row in per_subset.itertuples()}


def train_losses(run: Path) -> dict[int, float]:
    """The logged training loss by step, read as the report reads it (:func:`training_curve`)."""
    curve = training_curve(run)
    return {int(step): float(loss) for step, loss in zip(curve["step"], curve["loss"], strict=True)}


def agreement(a: Path, b: Path) -> dict[str, Any]:
    """One cell on two sides: F1 of each, the share of differing test answers, the loss gaps.

    Raises ValueError when the two asked different test questions (not the same cell).
    """
    pa, pb = (pd.read_parquet(run / store.PREDICTIONS) for run in (a, b))
    if not pa[["image", "question"]].equals(pb[["image", "question"]]):
        raise ValueError(f"{a} and {b} asked different test questions: not the same cell")
    differ = pd.Series(pa["pred"].to_numpy() != pb["pred"].to_numpy())
    la, lb = train_losses(a), train_losses(b)
    return {
        "f1_a": macro_f1(a),
        "f1_b": macro_f1(b),
        "answers_differ": round(float(differ.mean()), 4),
        "answers_differ_by_subset": {
            k: round(float(v), 4) for k, v in differ.groupby(pa["subset"]).mean().items()
        },
        "loss_gap": {
            s: round(abs(la[s] - lb[s]) / max(la[s], 1e-12), 4) for s in STEPS if s in la and s in lb
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_a", type=Path)
    parser.add_argument("runs_b", type=Path)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    a, b = finished_cells(args.runs_a), finished_cells(args.runs_b)
    try:
        rows = [
            {"cell": dict(zip(KEY, key, strict=True)), **agreement(a[key], b[key])}
            for key in sorted(set(a) & set(b), key=str)
        ]
    except ValueError as e:  # two folders of different experiments: a user mistake
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not rows:
        print(f"no cell finished in both {args.runs_a} and {args.runs_b}")
        return 2
    for r in rows:
        c = r["cell"]
        print(
            f"{c['init']} {c['shuffle']} seed {c['seed']}: F1 {r['f1_a']} vs {r['f1_b']}; "
            f"{100 * r['answers_differ']:.1f} % of test answers differ {r['answers_differ_by_subset']}; "
            f"loss gap {r['loss_gap']}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
