"""The leaderboard table: macro F1 per model x condition x subset, with CIs and baselines (percent)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.report_load import COND_KEYS, MODEL_KEYS, SUBSETS
from harness.stats import mean_ci

ROW_KEYS = [*MODEL_KEYS, *COND_KEYS, "subset"]
LEAF_THRESHOLD = 80.0  # PROTOCOL §7.1: leaves are learned (F1 >= 80) before hypernym results mean anything
COLUMNS = [
    *ROW_KEYS,
    "model",
    "condition",
    "n_runs",
    "n_seeds",
    "n_categories",
    "macro_f1",
    "se",
    "ci_low",
    "ci_high",
    "majority_f1",
    "delta_majority",
    "random_init_f1",
    "delta_random_init",
    "leaf_f1",
    "leaf_precondition",
]


def model_label(row: pd.Series | dict) -> str:
    label = f"{row['encoder']} + {row['backbone']}"
    if row["init"] != "pretrained":
        label += f" ({row['init']} init)"
    if row["source"] != "taxobench":
        label += f" [{row['source']}]"
    return label


def condition_label(row: pd.Series | dict) -> str:
    level = row["ablation_level"]
    if row["ablation_kind"] == "systematic":
        abl = f"systematic {level:g} hyp"
    else:
        abl = f"{row['ablation_kind']} {level:g}%"
    return f"{abl}, {row['shuffle']}"


def aggregate(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per model x condition x subset: mean F1 over seeds x categories (percent) with a t CI."""
    records = []
    for keys, d in metrics.dropna(subset=["f1"]).groupby(ROW_KEYS, dropna=False, sort=False):
        rec = dict(zip(ROW_KEYS, keys, strict=True))
        ci = mean_ci(d["f1"].to_numpy(float) * 100)
        maj = d["majority_f1"].dropna()
        rec.update(
            n_runs=int(d["run_key"].nunique()),
            n_seeds=int(d["seed"].nunique()),
            n_categories=int(d["category"].nunique()),
            macro_f1=ci.mean,
            se=ci.se,
            ci_low=ci.ci_low,
            ci_high=ci.ci_high,
            majority_f1=float(maj.mean() * 100) if len(maj) else math.nan,
        )
        records.append(rec)
    rows = pd.DataFrame.from_records(
        records,
        columns=[
            *ROW_KEYS,
            "n_runs",
            "n_seeds",
            "n_categories",
            "macro_f1",
            "se",
            "ci_low",
            "ci_high",
            "majority_f1",
        ],
    )
    rows["delta_majority"] = rows["macro_f1"] - rows["majority_f1"]
    rows = _random_init_delta(rows)
    rows = _leaf_precondition(rows)
    rows["model"] = [model_label(r) for _, r in rows.iterrows()] if len(rows) else []
    rows["condition"] = [condition_label(r) for _, r in rows.iterrows()] if len(rows) else []
    order = {s: i for i, s in enumerate(SUBSETS)}
    rows = rows.assign(_s=rows["subset"].map(order)).sort_values(
        ["task", "_s", "ablation_kind", "ablation_level", "shuffle", "macro_f1"],
        ascending=[True, True, True, False, True, False],
        kind="stable",
    )
    return rows.drop(columns="_s").reset_index(drop=True)[COLUMNS]


def _random_init_delta(rows: pd.DataFrame) -> pd.DataFrame:
    """Δ vs the random-init control: same source, task, encoder, backbone, condition and subset."""
    keys = [k for k in ROW_KEYS if k != "init"]
    ctrl = rows.loc[rows["init"] == "random", [*keys, "macro_f1"]].rename(
        columns={"macro_f1": "random_init_f1"}
    )
    out = rows.merge(ctrl, on=keys, how="left")
    out.loc[out["init"] == "random", "random_init_f1"] = np.nan
    out["delta_random_init"] = out["macro_f1"] - out["random_init_f1"]
    return out


def _leaf_precondition(rows: pd.DataFrame) -> pd.DataFrame:
    """Leaf F1 of the same model x condition, and whether it reaches LEAF_THRESHOLD."""
    keys = [*MODEL_KEYS, *COND_KEYS]
    leaf = rows.loc[rows["subset"] == "leaf", [*keys, "macro_f1"]].rename(columns={"macro_f1": "leaf_f1"})
    out = rows.merge(leaf, on=keys, how="left")
    out["leaf_precondition"] = np.where(
        out["leaf_f1"].isna(), "no leaf data", np.where(out["leaf_f1"] >= LEAF_THRESHOLD, "met", "not met")
    )
    return out


def headline(rows: pd.DataFrame) -> pd.DataFrame:
    """Models ranked by held-out-hypernym (unseen) F1 at 100 % ablation, original labels."""
    h = rows[
        (rows["subset"] == "unseen")
        & (rows["ablation_kind"] == "random")
        & (rows["ablation_level"] == 100)
        & (rows["shuffle"] == "original")
    ]
    h = h.sort_values("macro_f1", ascending=False, kind="stable").reset_index(drop=True)
    return h.assign(rank=np.arange(1, len(h) + 1))


def to_records(df: pd.DataFrame) -> list[dict]:
    """JSON-ready records: NaN -> None, numpy scalars -> Python."""
    out = []
    for rec in df.to_dict(orient="records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and math.isnan(v):
                v = None
            clean[k] = v
        out.append(clean)
    return out
