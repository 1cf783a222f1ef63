"""PNG plots mirroring the paper's figures (matplotlib, Agg).  Each returns a path or a skip reason."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from harness.report_analysis import coherence_table, full_ablation_unseen  # noqa: E402
from harness.report_load import RunData  # noqa: E402
from harness.report_table import model_label  # noqa: E402
from harness.stats import correlation, mean_ci  # noqa: E402

MAX_PANELS = 12
SHUFFLE_COLORS = {
    "original": "tab:orange",
    "across_category": "tab:blue",
    "within_category": "tab:green",
    "hypernym_swap": "tab:red",
    "hypernym_swap_control": "tab:purple",
}
Result = tuple[Path | None, str]  # (path, caption) or (None, reason skipped)


def _grid(n: int, width: float = 4.2, height: float = 3.2):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _save(fig, path: Path, layout: bool = True) -> Path:
    if layout:
        fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return path


def _errorbar(ax, x, rows: pd.DataFrame, label: str, **kw) -> None:
    y = rows["macro_f1"].to_numpy(float)
    lo = np.nan_to_num(y - rows["ci_low"].to_numpy(float))
    hi = np.nan_to_num(rows["ci_high"].to_numpy(float) - y)
    ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3, label=label, **kw)


def ablation_curves(rows: pd.DataFrame, out: Path, kind: str = "random") -> Result:
    """Fig. 4: F1 vs ablation level, one panel per subset, one line per model (original labels)."""
    r = rows[(rows["ablation_kind"] == kind) & (rows["shuffle"] == "original")]
    if r["ablation_level"].nunique() < 2:
        return None, f"fewer than two {kind} ablation levels"
    subsets = [s for s in ("leaf", "seen", "unseen") if s in set(r["subset"])]
    fig, axes = _grid(len(subsets))
    for ax, subset in zip(axes, subsets, strict=True):
        s = r[r["subset"] == subset]
        for label, g in s.groupby("model", sort=True):
            g = g.sort_values("ablation_level")
            _errorbar(ax, g["ablation_level"], g, label)
        maj = s.groupby("ablation_level")["majority_f1"].mean().dropna()
        if len(maj):
            ax.plot(maj.index, maj.values, "k--", lw=1, label="majority")
        ax.set_title(f"{subset}")
        ax.set_xlabel("hypernyms removed" if kind == "systematic" else "ablation level (%)")
        ax.set_ylabel("macro F1")
    handles: dict[str, object] = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06 * math.ceil(len(handles) / 3), 1, 1))
    return _save(
        fig, out, layout=False
    ), f"Macro F1 vs {kind} ablation level per subset (Fig. 4); bars: 95 % CI"


def shuffle_curves(rows: pd.DataFrame, out: Path) -> Result:
    """Fig. 6: unseen F1 vs random ablation level, one panel per model, one line per shuffle."""
    r = rows[(rows["ablation_kind"] == "random") & (rows["subset"] == "unseen")]
    models = [m for m, g in r.groupby("model") if g["shuffle"].nunique() >= 2][:MAX_PANELS]
    if not models:
        return None, "no model has two or more shuffles"
    fig, axes = _grid(len(models))
    for ax, m in zip(axes, models, strict=True):
        for shuffle, g in r[r["model"] == m].groupby("shuffle"):
            g = g.sort_values("ablation_level")
            _errorbar(ax, g["ablation_level"], g, shuffle, color=SHUFFLE_COLORS.get(shuffle))
        ax.set_title(m, fontsize=8)
        ax.set_xlabel("ablation level (%)")
        ax.set_ylabel("unseen macro F1")
        ax.legend(fontsize=6)
    return _save(fig, out), "Held-out hypernym F1 by shuffle vs ablation level (Fig. 6)"


def coherence_scatter(data: RunData, out: Path) -> Result:
    """Fig. 7: per-hypernym unseen F1 (mean over seeds) vs visual coherence, with Pearson r."""
    d = coherence_table(data)
    if d.empty:
        return None, "no coherence data for unseen runs at 100 % ablation"
    per = d.groupby(["source", "encoder", "backbone", "init", "shuffle", "category"], as_index=False).agg(
        f1=("f1", "mean"), coherence=("coherence", "mean")
    )
    per["model"] = [model_label(r) for _, r in per.iterrows()]
    models = [m for m, g in per.groupby("model") if len(g) >= 3 and g["coherence"].nunique() > 1][:MAX_PANELS]
    if not models:
        return None, "fewer than three hypernyms with coherence per model"
    fig, axes = _grid(len(models))
    for ax, m in zip(axes, models, strict=True):
        g = per[per["model"] == m]
        for shuffle, s in g.groupby("shuffle"):
            ax.scatter(s["coherence"], s["f1"] * 100, s=10, label=shuffle, color=SHUFFLE_COLORS.get(shuffle))
        c = correlation(g["coherence"], g["f1"])
        ax.set_title(f"{m}\nPearson r = {c.pearson_r:.2f} (n = {c.n})", fontsize=8)
        ax.set_xlabel("visual coherence (mean cosine)")
        ax.set_ylabel("unseen F1")
        ax.legend(fontsize=6)
    return _save(fig, out), "Per-hypernym F1 vs visual coherence at 100 % ablation (Fig. 7)"


def depth_bars(data: RunData, out: Path) -> Result:
    """Fig. 12: unseen F1 by taxonomy depth at 100 % ablation, original labels."""
    d = full_ablation_unseen(data)
    d = d[(d["shuffle"] == "original")].dropna(subset=["depth"])
    if d["depth"].nunique() < 2:
        return None, "fewer than two taxonomy depths in the unseen results"
    d = d.assign(model=[model_label(r) for _, r in d.iterrows()])
    models = sorted(d["model"].unique())[:MAX_PANELS]
    depths = sorted(int(x) for x in d["depth"].unique())
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(models) * len(depths) / 2), 3.6))
    width = 0.8 / len(depths)
    for i, depth in enumerate(depths):
        cis = [mean_ci(d.loc[(d["model"] == m) & (d["depth"] == depth), "f1"] * 100) for m in models]
        y = np.array([c.mean for c in cis])
        err = np.nan_to_num(np.array([c.mean - c.ci_low for c in cis]))
        ax.bar(np.arange(len(models)) + i * width, y, width, yerr=err, capsize=2, label=f"depth {depth}")
    ax.set_xticks(np.arange(len(models)) + width * (len(depths) - 1) / 2)
    ax.set_xticklabels(models, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("unseen macro F1")
    ax.legend(fontsize=7)
    return _save(fig, out), "Held-out hypernym F1 by taxonomy depth, 100 % ablation (Fig. 12)"


def encoder_bars(rows: pd.DataFrame, out: Path) -> Result:
    """Fig. 3: F1 per encoder, grouped by backbone, 100 % ablation, original labels."""
    r = rows[
        (rows["ablation_kind"] == "random")
        & (rows["ablation_level"] == 100)
        & (rows["shuffle"] == "original")
        & (rows["init"] == "pretrained")
    ]
    r = r[r.groupby(["source", "task", "backbone", "subset"])["encoder"].transform("nunique") >= 2]
    if r.empty:
        return None, "no backbone was run with two or more encoders at 100 % ablation"
    subsets = [s for s in ("leaf", "seen", "unseen") if s in set(r["subset"])]
    fig, axes = _grid(len(subsets))
    for ax, subset in zip(axes, subsets, strict=True):
        s = r[r["subset"] == subset]
        backbones = sorted(s["backbone"].unique())
        encoders = sorted(s["encoder"].unique())
        width = 0.8 / len(encoders)
        for i, enc in enumerate(encoders):
            e = s[s["encoder"] == enc].set_index("backbone").reindex(backbones)
            y = e["macro_f1"].to_numpy(float)
            err = np.nan_to_num(y - e["ci_low"].to_numpy(float))
            ax.bar(np.arange(len(backbones)) + i * width, y, width, yerr=err, capsize=2, label=enc)
        ax.set_xticks(np.arange(len(backbones)) + width * (len(encoders) - 1) / 2)
        ax.set_xticklabels(backbones, rotation=20, ha="right", fontsize=7)
        ax.set_title(subset)
        ax.set_ylabel("macro F1")
        ax.legend(fontsize=6)
    return _save(fig, out), "Encoder comparison at 100 % ablation (Fig. 3)"


def make_plots(data: RunData, rows: pd.DataFrame, out: Path) -> dict[str, dict]:
    """Draw every plot the data supports; returns name -> {"file", "caption"} or {"skipped": reason}."""
    out.mkdir(parents=True, exist_ok=True)
    jobs: dict[str, Callable[[Path], Result]] = {
        "fig4_ablation_random": lambda p: ablation_curves(rows, p, "random"),
        "fig4_ablation_systematic": lambda p: ablation_curves(rows, p, "systematic"),
        "fig6_shuffles": lambda p: shuffle_curves(rows, p),
        "fig7_coherence": lambda p: coherence_scatter(data, p),
        "fig12_depth": lambda p: depth_bars(data, p),
        "fig3_encoders": lambda p: encoder_bars(rows, p),
    }
    result: dict[str, dict] = {}
    for name, job in jobs.items():
        path, text = job(out / f"{name}.png")
        result[name] = {"file": path.name, "caption": text} if path else {"skipped": text}
    return result
