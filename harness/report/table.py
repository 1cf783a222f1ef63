"""The leaderboard table: macro F1 per model x condition x subset, with CIs and baselines (percent)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.report.load import COND_KEYS, MODEL_KEYS, SUBSETS
from harness.report.stats import F1_RANGE, mean_ci

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
        ci = mean_ci(d["f1"].to_numpy(float) * 100, bounds=F1_RANGE)
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


# order of the label conditions in the headline figure and its reading
SHUFFLE_ORDER = ("original", "within_category", "across_category", "hypernym_swap_control", "hypernym_swap")
GROUP_KEYS = ["source", "task", "encoder", "backbone"]  # one model group: the LM's inits side by side


def full_ablation_rows(rows: pd.DataFrame, subset: str = "unseen") -> pd.DataFrame:
    """Rows of ``subset`` at random 100 % ablation (every shuffle and init): the headline comparison."""
    return rows[
        (rows["subset"] == subset) & (rows["ablation_kind"] == "random") & (rows["ablation_level"] == 100)
    ]


def shuffle_label(shuffle: str) -> str:
    return str(shuffle).replace("_", "-")


def shuffle_rank(shuffle: str) -> tuple[int, str]:
    """Sort key: the paper's conditions first (SHUFFLE_ORDER), any other shuffle after, by name."""
    return (SHUFFLE_ORDER.index(shuffle) if shuffle in SHUFFLE_ORDER else len(SHUFFLE_ORDER), str(shuffle))


def headline_groups(rows: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The 100 % ablation unseen rows per model group (source, task, encoder, backbone), each sorted
    pretrained first, then by shuffle; groups ranked by their pretrained original F1 (then by label)."""
    full = full_ablation_rows(rows)
    if full.empty:
        return []
    many_tasks = full["task"].nunique() > 1
    groups = []
    for _keys, g in full.groupby(GROUP_KEYS, sort=True, dropna=False):
        g = g.assign(
            _i=(g["init"] != "pretrained").astype(int), _s=[shuffle_rank(s) for s in g["shuffle"]]
        ).sort_values(["_i", "_s", "init"], kind="stable")
        first = g.iloc[0]
        label = model_label({**first.to_dict(), "init": "pretrained"})
        if many_tasks:
            label += f" on {first['task']}"
        ref = g[(g["init"] == "pretrained") & (g["shuffle"] == "original")]["macro_f1"]
        score = float(ref.iloc[0]) if len(ref) and not math.isnan(ref.iloc[0]) else -math.inf
        groups.append((score, label, g.drop(columns=["_i", "_s"])))
    groups.sort(key=lambda t: (-t[0], t[1]))
    return [(label, g) for _score, label, g in groups]


def _missing(*values: float) -> bool:
    return any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)


def _value(r: pd.Series) -> str:
    """``62.3 [58.1, 66.5]`` (with ⚠ when the row fails the leaf precondition)."""
    text = f"{r['macro_f1']:.1f}"
    text += " (no CI)" if _missing(r["ci_low"], r["ci_high"]) else f" [{r['ci_low']:.1f}, {r['ci_high']:.1f}]"
    return text + (" ⚠" if r["leaf_precondition"] == "not met" else "")


def _vs_point(r: pd.Series, value: float, name: str) -> str:
    """How ``r``'s CI stands to a fixed value (the majority baseline)."""
    if _missing(value):
        return f"has no {name} to compare with"
    if _missing(r["ci_low"], r["ci_high"]):
        return f"cannot be told apart from the {name} {value:.1f} (no CI)"
    if r["ci_low"] > value:
        return f"is above the {name} {value:.1f} (CI excludes it)"
    if r["ci_high"] < value:
        return f"is below the {name} {value:.1f} (CI excludes it)"
    return f"is not distinguishable from the {name} {value:.1f} (CI includes it)"


def _vs_row(a: pd.Series, b: pd.Series, name: str, show: bool = True) -> str:
    """How ``a``'s CI stands to ``b``'s (non-overlapping CIs: a difference the data support); ``show``:
    with ``b``'s value after its name."""
    other = f"{name} {_value(b)}" if show else name
    if _missing(a["ci_low"], a["ci_high"], b["ci_low"], b["ci_high"]):
        return f"cannot be told apart from {other} (no CI)"
    if a["ci_low"] > b["ci_high"]:
        return f"is above {other} (CIs do not overlap)"
    if a["ci_high"] < b["ci_low"]:
        return f"is below {other} (CIs do not overlap)"
    return f"is not separated from {other} (CIs overlap)"


def _group_reading(label: str, g: pd.DataFrame) -> list[str]:
    pre = g[g["init"] == "pretrained"].set_index("shuffle", drop=False)
    rnd = g[g["init"] == "random"].set_index("shuffle", drop=False)
    sentences = []
    if "original" not in pre.index:
        for _, r in g.iterrows():
            init = "pretrained" if r["init"] == "pretrained" else f"{r['init']}-init LM"
            sentences.append(
                f"{label} ({init}), {shuffle_label(r['shuffle'])} labels: {_value(r)} "
                f"{_vs_point(r, r['majority_f1'], 'majority baseline')}."
            )
        return sentences
    p = pre.loc["original"]
    majority = _vs_point(p, p["majority_f1"], "majority baseline")
    text = f"{label}, pretrained, original labels: {_value(p)} {majority}"
    if "original" in rnd.index:
        text += f", and {_vs_row(p, rnd.loc['original'], 'the random-init LM')}"
    sentences.append(text + ".")
    others = [s for s in sorted(pre.index, key=shuffle_rank) if s != "original"]
    if others:
        parts = [
            f"{shuffle_label(s)} {_value(pre.loc[s])} {_vs_row(pre.loc[s], p, 'it', False)}" for s in others
        ]
        sentences.append("Against the original labels: " + "; ".join(parts) + ".")
    if {"within_category", "across_category"} <= set(pre.index):
        w, a = pre.loc["within_category"], pre.loc["across_category"]
        sentences.append(f"Within-category {_vs_row(w, a, 'across-category', False)}.")
    for s in sorted((s for s in rnd.index if s != "original"), key=shuffle_rank):
        r = rnd.loc[s]
        sentences.append(
            f"The random-init LM with {shuffle_label(s)} labels: {_value(r)} "
            f"{_vs_point(r, r['majority_f1'], 'majority baseline')}."
        )
    return sentences


def headline_reading(rows: pd.DataFrame) -> str:
    """One paragraph of plain sentences on the 100 % ablation comparison (held-out hypernyms): what the
    95 % CIs support (against the majority baseline, the random-init LM and between label conditions)
    and which rows fail the leaf precondition.  Deterministic; plain text (escape it where rendered)."""
    groups = headline_groups(rows)
    if not groups:
        return "There are no held-out-hypernym results at 100 % random ablation to read."
    sentences = ["Held-out hypernyms at 100 % ablation, macro F1 with 95 % CI."]
    for label, g in groups:
        sentences += _group_reading(label, g)
    full = pd.concat([g for _label, g in groups])
    flagged = full[full["leaf_precondition"] == "not met"]
    no_leaf = full[full["leaf_precondition"] == "no leaf data"]
    if len(flagged):
        names = "; ".join(
            f"{r['model']}, {shuffle_label(r['shuffle'])} (leaf {r['leaf_f1']:.1f})"
            for _, r in flagged.iterrows()
        )
        sentences.append(
            f"⚠ The leaf precondition (leaf F1 ≥ {LEAF_THRESHOLD:g}) is not met by: {names}; "
            "their hypernym numbers are not interpretable."
        )
    if len(no_leaf):
        names = "; ".join(f"{r['model']}, {shuffle_label(r['shuffle'])}" for _, r in no_leaf.iterrows())
        sentences.append(f"There are no leaf results for: {names}; the leaf precondition cannot be checked.")
    if flagged.empty and no_leaf.empty:
        sentences.append(f"Every row meets the leaf precondition (leaf F1 ≥ {LEAF_THRESHOLD:g}).")
    return " ".join(sentences)
