"""The report's statistics (PROTOCOL §6): each analysis runs where the data allows, else says why not."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd

from harness.report import stats
from harness.report.load import RunData
from harness.report.table import model_label


def _skip(reason: str) -> dict[str, Any]:
    return {"status": "skipped", "reason": reason}


def full_ablation_unseen(data: RunData, init: str | None = "pretrained") -> pd.DataFrame:
    """Per (run, hypernym) unseen F1 at 100 % random ablation (optionally one init only)."""
    m = unseen_at_full_ablation(data.metrics)
    return m if init is None else m[m["init"] == init]


def unseen_at_full_ablation(m: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``m`` (per-(run, category) scores joined with their runs) for unseen hypernyms at 100 %
    random ablation, with an F1."""
    sel = (m["subset"] == "unseen") & (m["ablation_kind"] == "random") & (m["ablation_level"] == 100)
    return m[sel].dropna(subset=["f1"])


def encoder_analysis(data: RunData) -> dict[str, Any]:
    """§6(a)/§9: the paper's encoder model on unseen F1 at 100 % ablation, original labels, pretrained
    LMs, over the backbones run with the same two encoders (the paper's Qwen runs)."""
    d = full_ablation_unseen(data)
    d = d[d["shuffle"] == "original"]
    if d["task"].nunique() > 1:
        d = d[d["task"] == d["task"].mode().iloc[0]]
    if d["source"].nunique() > 1:  # the paper's runs and ours are not pooled into one model
        d = d[d["source"] == d["source"].mode().iloc[0]]
    pairs = d.groupby("backbone")["encoder"].apply(lambda e: tuple(sorted(set(e))))
    pairs = pairs[pairs.map(len) == 2]
    if pairs.empty:
        return _skip("no backbone was run with two encoders (unseen, 100 % ablation, original)")
    common = pairs.mode().iloc[0]
    backbones = sorted(pairs[pairs == common].index)[:2]
    d = d[d["backbone"].isin(backbones) & d["encoder"].isin(common)]
    try:
        res = stats.encoder_effect(d)
    except Exception as exc:  # noqa: BLE001 - a model that cannot be fitted is reported, not fatal
        return _skip(f"model failed: {exc}")
    return {
        "status": "ok",
        "data": f"unseen F1 (0-1), 100 % ablation, original labels, {' and '.join(backbones)}",
        "paper": stats.PAPER["encoder"],
        **res.to_dict(),
    }


PROBE_VARIANTS = ("paper", "yes_no")  # the probe F1 the coherence model uses, in order of preference


def coherence_table(data: RunData) -> pd.DataFrame:
    """Unseen per-hypernym F1 at 100 % ablation, with the run's coherence and the backbone's probe F1
    (the paper's probe where the backbone has it, else the yes/no variant)."""
    d = full_ablation_unseen(data)
    if d.empty or data.coherence.empty:
        return pd.DataFrame(columns=[*d.columns, "coherence", "probe_f1"])
    coh = data.coherence.rename(columns={"avg_cosine": "coherence"})
    d = d.merge(coh, on=["run_key", "category"], how="inner")
    probes = data.probes[data.probes["variant"].isin(PROBE_VARIANTS)]
    if probes.empty:
        d["probe_f1"] = float("nan")
        return d
    rank = probes["variant"].map({v: i for i, v in enumerate(PROBE_VARIANTS)})
    best = probes[rank == rank.groupby([probes["backbone"], probes["init"]]).transform("min")]
    pr = best.groupby(["backbone", "init", "category"], as_index=False)["f1"].mean()
    return d.merge(pr.rename(columns={"f1": "probe_f1"}), on=["backbone", "init", "category"], how="left")


def coherence_analysis(data: RunData) -> dict[str, Any]:
    """§6(b): F1 ~ probe F1 + coherence (random: backbone-seed, hypernym) and §6(c) correlations."""
    d = coherence_table(data)
    out: dict[str, Any] = {}
    if d.empty:
        reason = "no coherence.parquet for unseen runs at 100 % ablation"
        return {"mixed_model": _skip(reason), "correlations": _skip(reason)}
    per_hyp = d.groupby(["source", "encoder", "backbone", "init", "shuffle", "category"], as_index=False).agg(
        f1=("f1", "mean"), coherence=("coherence", "mean")
    )
    corr = []
    for keys, g in per_hyp.groupby(["source", "encoder", "backbone", "init"]):
        c = stats.correlation(g["coherence"], g["f1"])
        label = model_label(dict(zip(["source", "encoder", "backbone", "init"], keys, strict=True)))
        corr.append({"model": label, "shuffles": sorted(g["shuffle"].unique()), **asdict(c)})
    out["correlations"] = {
        "status": "ok",
        "unit": "per-hypernym F1 (mean over seeds) vs coherence",
        "rows": corr,
    }
    out["mixed_model"] = coherence_fit(d)
    return out


def coherence_fit(d: pd.DataFrame) -> dict[str, Any]:
    """§6(b)/§9: the paper's coherence model on Original, pretrained runs (per-hypernym unseen F1, probe F1
    and coherence in 0-1), for one encoder (the one with the most such rows)."""
    m = d[(d["shuffle"] == "original") & (d["init"] == "pretrained")].dropna(subset=["probe_f1", "coherence"])
    if m.empty:
        return _skip("no text-only probe results (probe-*/probe.parquet) for these backbones")
    m = m[(m["source"] == m["source"].mode().iloc[0]) & (m["encoder"] == m["encoder"].mode().iloc[0])]
    if m["coherence"].nunique() < 3 or m["probe_f1"].nunique() < 2:
        return _skip("coherence or probe F1 does not vary")
    try:
        res = stats.coherence_model(m)
    except Exception as exc:  # noqa: BLE001
        return _skip(f"model failed: {exc}")
    where = f"{m['encoder'].iloc[0]}, original labels, {m['backbone'].nunique()} backbone(s)"
    return {
        "status": "ok",
        "data": f"unseen F1 and probe F1 (0-1), 100 % ablation, {where}",
        "paper": stats.PAPER["coherence"],
        **res.to_dict(),
    }


def condition_tests(data: RunData) -> dict[str, Any]:
    """Welch t-tests at 100 % ablation (unseen): the pairs of :func:`welch_pairs`."""
    tests = welch_pairs(full_ablation_unseen(data, init=None))
    if not tests:
        return _skip("no model has two conditions to compare at 100 % ablation")
    return {
        "status": "ok",
        "unit": "unseen F1 (percent) over seeds x hypernyms, 100 % ablation",
        "tests": tests,
    }


def welch_pairs(d: pd.DataFrame) -> list[dict[str, Any]]:
    """Per model in ``d`` (per-(run, hypernym) unseen F1 at 100 % ablation): original vs each shuffle,
    within- vs across-category (the paper's coherence contrast), the hypernym swap vs its control,
    pretrained vs random init (original); pairs with two values a side."""
    tests = []
    keys = ["source", "task", "encoder", "backbone", "init"]
    for mkeys, g in d.groupby(keys):
        label = model_label(dict(zip(keys, mkeys, strict=True)))
        present = set(g["shuffle"])
        pairs = [
            ("original", s) for s in sorted(present) if s != "original" and not s.startswith("hypernym_swap")
        ]
        pairs.append(("within_category", "across_category"))
        pairs.append(("hypernym_swap_control", "hypernym_swap"))  # the swap is compared with its own control
        for a, b in pairs:
            xa, xb = g.loc[g["shuffle"] == a, "f1"] * 100, g.loc[g["shuffle"] == b, "f1"] * 100
            if len(xa) >= 2 and len(xb) >= 2:
                tests.append({"model": label, "a": a, "b": b, **asdict(stats.welch_t(xa, xb))})
    orig = d[d["shuffle"] == "original"]
    for mkeys, g in orig.groupby(["source", "task", "encoder", "backbone"]):
        pre, rnd = g.loc[g["init"] == "pretrained", "f1"] * 100, g.loc[g["init"] == "random", "f1"] * 100
        if len(pre) >= 2 and len(rnd) >= 2:
            label = model_label(dict(zip(keys, [*mkeys, "pretrained"], strict=True)))
            tests.append(
                {"model": label, "a": "pretrained", "b": "random init", **asdict(stats.welch_t(pre, rnd))}
            )
    return tests


def leaf_correct_analysis(data: RunData) -> dict[str, Any]:
    """Unseen F1 at 100 % ablation on each run's leaf-correct test images (harness.report.leaf_correct):
    per model x shuffle beside the F1 over all images, and the Welch tests of :func:`welch_pairs`."""
    runs = data.runs
    if "test_images" not in runs.columns or runs["test_images"].isna().all():
        return _skip("no predictions.parquet in these runs")
    every = full_ablation_unseen(data, init=None)
    runs = runs[runs["run_key"].isin(every["run_key"])].dropna(subset=["test_images"])
    if runs.empty:
        return _skip("no run at 100 % ablation has predictions.parquet")
    d = unseen_at_full_ablation(data.leaf_correct)
    keys = ["source", "task", "encoder", "backbone", "init", "shuffle"]
    all_images = every.groupby(keys)["f1"].mean()
    scored = {k: g for k, g in d.groupby(keys)}
    rows = []
    for k, g in runs.groupby(keys):
        mine = scored.get(k, d.iloc[:0])
        ci = stats.mean_ci(mine["f1"].to_numpy(float) * 100, bounds=stats.F1_RANGE)
        full = all_images.get(k)
        rows.append(
            {
                "model": model_label(dict(zip(keys, k, strict=True))),
                "shuffle": k[-1],
                "n_runs": int(len(g)),
                "images_kept": int(g["leaf_correct_images"].sum()),
                "images_total": int(g["test_images"].sum()),
                "f1_all_images": None if full is None else float(full * 100),
                "f1": ci.mean,
                "ci_low": ci.ci_low,
                "ci_high": ci.ci_high,
                "majority_f1": float(mine["majority_f1"].mean() * 100) if len(mine) else None,
            }
        )
    return {
        "status": "ok",
        "unit": "unseen F1 (percent) over seeds x hypernyms, 100 % ablation, leaf-correct test images",
        "rows": rows,
        "tests": welch_pairs(d),
    }


def analyse(data: RunData) -> dict[str, Any]:
    return {
        "encoder_effect": encoder_analysis(data),
        "coherence": coherence_analysis(data),
        "welch_tests": condition_tests(data),
        "leaf_correct": leaf_correct_analysis(data),
    }
