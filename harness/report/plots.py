"""PNG plots mirroring the paper's figures, plus the headline figure (matplotlib, Agg).

Print quality: DPI dots per inch, ticks and legends at 9 pt or more, the majority baseline dashed wherever
F1 is drawn against conditions, n (seeds x categories) in each caption.  Each plot returns a path and its
caption, or None and the reason it was skipped.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from PIL import Image  # noqa: E402

from harness.report.analysis import coherence_table, full_ablation_unseen  # noqa: E402
from harness.report.load import RunData  # noqa: E402
from harness.report.stats import F1_RANGE, correlation, mean_ci  # noqa: E402
from harness.report.table import (  # noqa: E402
    LEAF_THRESHOLD,
    headline_groups,
    model_label,
    shuffle_label,
    shuffle_rank,
)

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

DPI = 200
HEADLINE_WIDTH_IN = 8.0  # headline.png: 1600 px wide at DPI (up to HEADLINE_MAX_WIDTH_IN with many models)
HEADLINE_HEIGHT_IN = 5.0
HEADLINE_MAX_WIDTH_IN = 14.0
HEADLINE_GAP = 0.8  # bar slots between two models
MAX_PANELS = 12
STYLE: dict[RcKeyType, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
SHUFFLE_COLORS = {
    "original": "tab:orange",
    "across_category": "tab:blue",
    "within_category": "tab:green",
    "hypernym_swap": "tab:red",
    "hypernym_swap_control": "tab:purple",
}
RANDOM_INIT_GREYS = ("0.45", "0.62", "0.75", "0.85")
MAJORITY = {"colors": "black", "linestyles": (0, (4, 2)), "linewidths": 1.4, "zorder": 4}
MAJORITY_LABEL = "majority baseline"
FLAG = "⚠"
Result = tuple[Path | None, str]  # (path, caption) or (None, reason skipped)


def _grid(n: int, width: float = 4.8, height: float = 3.6):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _save(fig, path: Path, layout: bool = True) -> Path:
    """The figure as a PNG at DPI, reduced to a 256-colour palette (plots use few colours; a third of the
    size of the RGBA file, which the HTML page embeds)."""
    if layout:
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    with Image.open(buf) as img:
        small = img.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    small.save(path, format="PNG", optimize=True, dpi=(DPI, DPI))
    return path


def _wrap(text: str, width: int) -> str:
    """Text on lines of about ``width`` characters, broken at spaces only."""
    lines = textwrap.wrap(str(text), width=max(width, 10), break_on_hyphens=False, break_long_words=False)
    return "\n".join(lines) or str(text)


def _span(values: Iterable) -> str:
    """``3`` or ``2–3``: the range of a count over the plotted points."""
    v = sorted({int(x) for x in values if not pd.isna(x)})
    if not v:
        return "?"
    return str(v[0]) if len(v) == 1 else f"{v[0]}–{v[-1]}"


def _n_text(df: pd.DataFrame, what: str = "categories", per: str | None = "point") -> str:
    """n per plotted value: seeds x categories (from the rows' n_seeds / n_categories)."""
    text = f"n = {_span(df['n_seeds'])} seeds × {_span(df['n_categories'])} {what}"
    return f"{text} per {per}" if per else text


def _majority_marks(ax, x, slot: float, values) -> None:
    """The majority baseline of each plotted bar or point: a dashed segment across its slot (adjacent equal
    segments join into one dashed line)."""
    x, values = np.asarray(x, float), np.asarray(values, float)
    ok = ~np.isnan(values)
    if ok.any():
        ax.hlines(values[ok], x[ok] - slot / 2, x[ok] + slot / 2, label=MAJORITY_LABEL, **MAJORITY)


def _legend_handles(axes) -> dict[str, object]:
    handles: dict[str, object] = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    return handles


def _ax_legend(ax, **kw) -> None:
    handles = _legend_handles([ax])
    if handles:
        ax.legend(list(handles.values()), list(handles), **kw)


def _errorbar(ax, x, rows: pd.DataFrame, label: str, **kw) -> None:
    y = rows["macro_f1"].to_numpy(float)
    lo = np.nan_to_num(y - rows["ci_low"].to_numpy(float))
    hi = np.nan_to_num(rows["ci_high"].to_numpy(float) - y)
    ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3, label=label, **kw)


def _figure_legend(fig, handles: dict[str, object]) -> None:
    """One legend under all panels: the figure grows by the legend's height, the panels keep theirs."""
    ncol = min(3, max(len(handles), 1))
    extra = 0.3 * math.ceil(len(handles) / ncol) + 0.25
    height = fig.get_figheight() + extra
    fig.set_figheight(height)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol, frameon=False)
    fig.tight_layout(rect=(0, extra / height, 1, 1))


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
            ax.plot(maj.index, maj.values, color="black", ls=(0, (4, 2)), lw=1.4, label=MAJORITY_LABEL)
        ax.set_title(f"{subset}")
        ax.set_xlabel("hypernyms removed" if kind == "systematic" else "ablation level (%)")
        ax.set_ylabel("macro F1 (%)")
    _figure_legend(fig, _legend_handles(axes))
    caption = (
        f"Macro F1 vs {kind} ablation level per subset, original labels (Fig. 4); bars: 95 % CI; dashed: "
        f"majority baseline (mean over models); {_n_text(r)}"
    )
    return _save(fig, out, layout=False), caption


def shuffle_curves(rows: pd.DataFrame, out: Path) -> Result:
    """Fig. 6: unseen F1 by label shuffle, one panel per model: a line per shuffle over the random ablation
    levels, or, where a model has one level only, one point per shuffle (no line over a degenerate axis)."""
    r = rows[(rows["ablation_kind"] == "random") & (rows["subset"] == "unseen")]
    models = [m for m, g in r.groupby("model") if g["shuffle"].nunique() >= 2][:MAX_PANELS]
    if not models:
        return None, "no model has two or more shuffles"
    fig, axes = _grid(len(models))
    levels_seen = set()
    for ax, m in zip(axes, models, strict=True):
        g = r[r["model"] == m]
        shuffles = sorted(g["shuffle"].unique(), key=shuffle_rank)
        levels = sorted(g["ablation_level"].unique())
        levels_seen.update(levels)
        if len(levels) < 2:
            for i, shuffle in enumerate(shuffles):
                s = g[g["shuffle"] == shuffle]
                _errorbar(ax, [i], s, shuffle_label(shuffle), color=SHUFFLE_COLORS.get(shuffle), ls="none")
                _majority_marks(ax, [i], 0.6, s["majority_f1"])
            ax.set_xticks(range(len(shuffles)), [shuffle_label(s) for s in shuffles])
            ax.set_xlim(-0.6, len(shuffles) - 0.4)
            ax.set_xlabel(f"label condition (random ablation {levels[0]:g} %)")
        else:
            for shuffle in shuffles:
                s = g[g["shuffle"] == shuffle].sort_values("ablation_level")
                _errorbar(
                    ax, s["ablation_level"], s, shuffle_label(shuffle), color=SHUFFLE_COLORS.get(shuffle)
                )
            maj = g.groupby("ablation_level")["majority_f1"].mean().dropna()
            if len(maj):
                ax.plot(maj.index, maj.values, color="black", ls=(0, (4, 2)), lw=1.4, label=MAJORITY_LABEL)
            ax.set_xlabel("ablation level (%)")
        flagged = sorted(
            shuffle_label(x) for x in g.loc[g["leaf_precondition"] == "not met", "shuffle"].unique()
        )
        note = f"\n{FLAG} leaf F1 < {LEAF_THRESHOLD:g}: {', '.join(flagged)}" if flagged else ""
        ax.set_title(_wrap(m, 45) + note, fontsize=10)
        ax.set_ylabel("held-out hypernym macro F1 (%)")
        _ax_legend(ax)
    how = "vs ablation level" if len(levels_seen) > 1 else f"at {min(levels_seen):g} % ablation, by condition"
    caption = (
        f"Held-out hypernym F1 by label shuffle {how} (Fig. 6); bars: 95 % CI; dashed: majority baseline; "
        f"{_n_text(r[r['model'].isin(models)], 'hypernyms')}"
    )
    return _save(fig, out), caption


def coherence_scatter(data: RunData, out: Path) -> Result:
    """Fig. 7: per-hypernym unseen F1 (mean over seeds) vs visual coherence, with Pearson r."""
    d = coherence_table(data)
    if d.empty:
        return None, "no coherence data for unseen runs at 100 % ablation"
    per = d.groupby(["source", "encoder", "backbone", "init", "shuffle", "category"], as_index=False).agg(
        f1=("f1", "mean"), coherence=("coherence", "mean"), majority=("majority_f1", "mean")
    )
    per["model"] = [model_label(r) for _, r in per.iterrows()]
    models = [m for m, g in per.groupby("model") if len(g) >= 3 and g["coherence"].nunique() > 1][:MAX_PANELS]
    if not models:
        return None, "fewer than three hypernyms with coherence per model"
    fig, axes = _grid(len(models))
    for ax, m in zip(axes, models, strict=True):
        g = per[per["model"] == m]
        for shuffle in sorted(g["shuffle"].unique(), key=shuffle_rank):
            s = g[g["shuffle"] == shuffle]
            ax.scatter(
                s["coherence"],
                s["f1"] * 100,
                s=18,
                label=shuffle_label(shuffle),
                color=SHUFFLE_COLORS.get(shuffle),
            )
        if g["majority"].notna().any():
            ax.axhline(
                g["majority"].mean() * 100, color="black", ls=(0, (4, 2)), lw=1.4, label=MAJORITY_LABEL
            )
        c = correlation(g["coherence"], g["f1"])
        ax.set_title(f"{_wrap(m, 45)}\nPearson r = {c.pearson_r:.2f} (n = {c.n})", fontsize=10)
        ax.set_xlabel("visual coherence (mean cosine)")
        ax.set_ylabel("held-out hypernym F1 (%)")
        _ax_legend(ax)
    seeds = _span(
        d[d.assign(model=[model_label(r) for _, r in d.iterrows()])["model"].isin(models)]
        .groupby(["source", "encoder", "backbone", "init", "shuffle"])["seed"]
        .nunique()
    )
    caption = (
        "Per-hypernym F1 vs visual coherence at 100 % ablation (Fig. 7); each point one hypernym × shuffle, "
        f"mean over {seeds} seeds; dashed: majority baseline (mean)"
    )
    return _save(fig, out), caption


def depth_bars(data: RunData, out: Path) -> Result:
    """Fig. 12: unseen F1 by taxonomy depth at 100 % ablation, original labels."""
    d = full_ablation_unseen(data)
    d = d[(d["shuffle"] == "original")].dropna(subset=["depth"])
    if d["depth"].nunique() < 2:
        return None, "fewer than two taxonomy depths in the unseen results"
    d = d.assign(model=[model_label(r) for _, r in d.iterrows()])
    models = sorted(d["model"].unique())[:MAX_PANELS]
    depths = sorted(int(x) for x in d["depth"].unique())
    fig, ax = plt.subplots(figsize=(max(6.4, 0.8 * len(models) * len(depths) + 1.5), 4.2))
    width = 0.8 / len(depths)
    counts = []
    for i, depth in enumerate(depths):
        sel = [d[(d["model"] == m) & (d["depth"] == depth)] for m in models]
        cis = [mean_ci(s["f1"] * 100, bounds=F1_RANGE) for s in sel]
        counts += [
            {"n_seeds": s["seed"].nunique(), "n_categories": s["category"].nunique()} for s in sel if len(s)
        ]
        x = np.arange(len(models)) + i * width
        y = np.array([c.mean for c in cis])
        err = np.nan_to_num(np.array([c.mean - c.ci_low for c in cis]))
        ax.bar(x, y, width * 0.92, yerr=err, capsize=3, label=f"depth {depth}")
        _majority_marks(ax, x, width, [s["majority_f1"].mean() * 100 for s in sel])
    ax.set_xticks(
        np.arange(len(models)) + width * (len(depths) - 1) / 2, [_wrap(m, 22) for m in models], fontsize=9
    )
    ax.set_ylabel("held-out hypernym macro F1 (%)")
    _ax_legend(ax, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    caption = (
        "Held-out hypernym F1 by taxonomy depth, 100 % ablation, original labels (Fig. 12); bars: 95 % CI; "
        f"dashed: majority baseline; {_n_text(pd.DataFrame(counts), 'hypernyms', 'bar')}"
    )
    return _save(fig, out), caption


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
            e = s[s["encoder"] == enc].groupby("backbone").first().reindex(backbones)
            y = e["macro_f1"].to_numpy(float)
            err = np.nan_to_num(y - e["ci_low"].to_numpy(float))
            x = np.arange(len(backbones)) + i * width
            ax.bar(x, y, width * 0.92, yerr=err, capsize=3, label=enc)
            _majority_marks(ax, x, width, e["majority_f1"])
        ax.set_xticks(
            np.arange(len(backbones)) + width * (len(encoders) - 1) / 2, [_wrap(b, 18) for b in backbones]
        )
        ax.set_title(subset)
        ax.set_ylabel("macro F1 (%)")
    _figure_legend(fig, _legend_handles(axes))
    caption = (
        "Encoder comparison at 100 % ablation, original labels (Fig. 3); bars: 95 % CI; dashed: majority "
        f"baseline; {_n_text(r, per='bar')}"
    )
    return _save(fig, out, layout=False), caption


def _headline_series_key(key: tuple[str, str]) -> tuple:
    """Sort key of an (init, shuffle) series: pretrained conditions first, then the random-init ones."""
    return (key[0] != "pretrained", key[0] != "random", key[0], shuffle_rank(key[1]))


def _headline_series(groups: list[tuple[str, pd.DataFrame]]) -> list[tuple[str, str]]:
    """(init, shuffle) of every bar kind, in :func:`_headline_series_key` order."""
    keys = {(r["init"], r["shuffle"]) for _label, g in groups for _, r in g.iterrows()}
    return sorted(keys, key=_headline_series_key)


def _series_styles(series: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """(colour, legend label) of each (init, shuffle) series, in order: the random-init ones take the greys
    in turn."""
    styles, greys = {}, 0
    for init, shuffle in series:
        styles[init, shuffle] = _series_style(init, shuffle, greys)
        greys += init != "pretrained"
    return styles


def _series_style(init: str, shuffle: str, index: int) -> tuple[str, str]:
    """(colour, legend label) of a bar kind."""
    if init == "pretrained":
        return SHUFFLE_COLORS.get(shuffle, "tab:gray"), f"pretrained LM, {shuffle_label(shuffle)}"
    return RANDOM_INIT_GREYS[index % len(RANDOM_INIT_GREYS)], f"{init}-init LM, {shuffle_label(shuffle)}"


@dataclass
class _HeadlineLayout:
    """Where each model group of the headline figure sits: groups are max(bars, 2.5) bar slots wide,
    HEADLINE_GAP slots apart; the figure widens with the slots up to HEADLINE_MAX_WIDTH_IN."""

    bars_of: list[list[tuple[tuple[str, str], pd.Series]]]
    widths: list[float]
    centers: np.ndarray
    total: float
    width_in: float
    height_in: float

    @classmethod
    def of(cls, groups: list[tuple[str, pd.DataFrame]], series: list[tuple[str, str]]) -> _HeadlineLayout:
        def ordered(g: pd.DataFrame) -> list[tuple[tuple[str, str], pd.Series]]:
            bars = [((r["init"], r["shuffle"]), r) for _, r in g.iterrows()]
            return sorted(bars, key=lambda t: series.index(t[0]))

        bars_of = [ordered(g) for _label, g in groups]
        widths = [max(len(b), 2.5) for b in bars_of]
        starts = np.cumsum([0.0] + [w + HEADLINE_GAP for w in widths[:-1]])
        total = float(starts[-1] + widths[-1])
        width_in = min(HEADLINE_MAX_WIDTH_IN, max(HEADLINE_WIDTH_IN, 1.2 + 0.36 * total))
        height_in = HEADLINE_HEIGHT_IN + 0.15 * (width_in - HEADLINE_WIDTH_IN)
        return cls(bars_of, widths, starts + np.array(widths) / 2, total, width_in, height_in)


def _headline_bar(ax, x: float, r: pd.Series, color: str, label_values: bool) -> bool:
    """One bar with its CI, majority mark and label; returns whether it is flagged (leaf F1 < 80)."""
    y = float(r["macro_f1"])
    lo, hi = float(r["ci_low"]), float(r["ci_high"])
    flagged = r["leaf_precondition"] == "not met"
    err = None if math.isnan(lo) else [[y - lo], [hi - y]]
    ax.bar(
        x,
        y,
        0.9,
        color=color,
        edgecolor="black",
        linewidth=0.6,
        alpha=0.55 if flagged else 1.0,
        hatch="///" if flagged else None,
        yerr=err,
        capsize=3,
        error_kw={"elinewidth": 1.2},
        zorder=2,
    )
    _majority_marks(ax, [x], 1.0, [r["majority_f1"]])
    top = max(v for v in (y, hi, float(r["majority_f1"])) if not math.isnan(v))
    text = " ".join(([FLAG] if flagged else []) + ([f"{y:.1f}"] if label_values else []))
    if text:
        ax.text(x, top + 1.5, text, ha="center", va="bottom", fontsize=9, zorder=5)
    return bool(flagged)


def _headline_axes(ax, groups: list[tuple[str, pd.DataFrame]], layout: _HeadlineLayout) -> None:
    """Ticks (model label and n per group), limits, grid, axis labels and title."""
    inch_per_slot = (layout.width_in - 1.2) / layout.total
    ticks = [
        f"{_wrap(label, int(w * inch_per_slot * 12))}\nn = {_span(g['n_seeds'])} × {_span(g['n_categories'])}"
        for (label, g), w in zip(groups, layout.widths, strict=True)
    ]
    ax.set_xticks(layout.centers, ticks)
    ax.set_xlim(-HEADLINE_GAP / 2, layout.total + HEADLINE_GAP / 2)
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.yaxis.grid(True, color="0.9", zorder=0)
    ax.set_axisbelow(True)
    ax.set_ylabel("held-out hypernym macro F1 (%)")
    ax.set_xlabel("model (n = seeds × held-out hypernyms per bar)")
    ax.set_title(
        "Held-out hypernyms at 100 % hypernym ablation: macro F1 by label condition\n"
        "mean over seeds × hypernyms, error bars 95 % CI",
        fontsize=12,
        loc="left",
    )


def headline_figure(rows: pd.DataFrame, out: Path) -> Result:
    """The headline: held-out-hypernym macro F1 at 100 % ablation for each model (encoder + backbone),
    every label condition and the random-init LM side by side, with 95 % CIs, the majority baseline
    (dashed) and the leaf precondition (hatched bars marked ⚠ where leaf F1 < 80)."""
    groups = headline_groups(rows)[:MAX_PANELS]
    if not groups:
        return None, "no held-out-hypernym results at 100 % random ablation"
    series = _headline_series(groups)
    layout = _HeadlineLayout.of(groups, series)
    fig, ax = plt.subplots(figsize=(layout.width_in, layout.height_in), layout="constrained")
    label_values = sum(len(b) for b in layout.bars_of) <= 24
    styles = _series_styles(series)
    handles: dict[str, Artist] = {
        label: Patch(facecolor=color, edgecolor="black", linewidth=0.6) for color, label in styles.values()
    }
    flagged_any = False
    for center, bars in zip(layout.centers, layout.bars_of, strict=True):
        for j, (key, r) in enumerate(bars):
            x = center + j - (len(bars) - 1) / 2
            flagged_any |= _headline_bar(ax, x, r, styles[key][0], label_values)
    handles[MAJORITY_LABEL + " (dashed, per bar)"] = Line2D([], [], color="black", ls=(0, (4, 2)), lw=1.4)
    if flagged_any:
        handles[f"{FLAG} hatched: leaf F1 < {LEAF_THRESHOLD:g} (not interpretable)"] = Patch(
            facecolor="white", edgecolor="black", hatch="///", linewidth=0.6
        )
    _headline_axes(ax, groups, layout)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=2, frameon=False)
    n = _n_text(pd.concat([g for _label, g in groups]), "hypernyms", "bar")
    caption = (
        "Headline: held-out-hypernym macro F1 at 100 % ablation per model and label condition, random-init "
        f"LM beside (bars: mean, 95 % CI; dashed: majority baseline; hatched {FLAG}: leaf F1 below "
        f"{LEAF_THRESHOLD:g}, not interpretable); {n}"
    )
    return _save(fig, out, layout=False), caption


def training_curves(data: RunData, out: Path) -> Result:
    """Training loss by step, one line per run, one panel per task and encoder + backbone (pretrained and
    random-init LM together), coloured by LM init and label condition."""
    curves = data.curves
    if curves.empty:
        return None, "no run has a training log"
    runs = data.runs.set_index("run_key")
    runs["series"] = list(zip(runs["init"], runs["shuffle"], strict=True))
    runs["panel"] = [f"{r['task']}: {r['encoder']} + {r['backbone']}" for _, r in runs.iterrows()]
    order = sorted(set(runs["series"]), key=_headline_series_key)
    styles = _series_styles(order)
    logged = runs.loc[curves["run_key"].unique()]
    panels = sorted(logged["panel"].unique())[:MAX_PANELS]
    fig, axes = _grid(len(panels), width=6.4, height=4.2)
    for ax, panel in zip(axes, panels, strict=True):
        keys = logged.index[logged["panel"] == panel]
        for key in sorted(keys, key=lambda k: (order.index(runs.loc[k, "series"]), k)):
            color, label = styles[runs.loc[key, "series"]]
            c = curves[curves["run_key"] == key].sort_values("step")
            ax.plot(c["step"], c["loss"], color=color, linewidth=1.2, alpha=0.85, label=label)
        ax.set_yscale("log")
        ax.set_title(_wrap(panel, 48), fontsize=10)
        ax.set_xlabel("training step")
        ax.set_ylabel("training loss (log scale)")
        ax.yaxis.grid(True, color="0.9", which="both")
        _ax_legend(ax, loc="center right", frameon=False)
    caption = (
        "Training loss by step (the logged mean over the answer and end tokens), one line per run (seeds "
        f"share a colour); {len(logged)} runs"
    )
    return _save(fig, out), caption


def make_plots(data: RunData, rows: pd.DataFrame, out: Path) -> dict[str, dict]:
    """Draw every plot the data supports, the headline figure first; returns name -> {"file", "caption"}
    or {"skipped": reason}."""
    out.mkdir(parents=True, exist_ok=True)
    jobs: dict[str, Callable[[Path], Result]] = {
        "headline": lambda p: headline_figure(rows, p),
        "fig4_ablation_random": lambda p: ablation_curves(rows, p, "random"),
        "fig4_ablation_systematic": lambda p: ablation_curves(rows, p, "systematic"),
        "fig6_shuffles": lambda p: shuffle_curves(rows, p),
        "fig7_coherence": lambda p: coherence_scatter(data, p),
        "fig12_depth": lambda p: depth_bars(data, p),
        "fig3_encoders": lambda p: encoder_bars(rows, p),
        "training_curves": lambda p: training_curves(data, p),
    }
    result: dict[str, dict] = {}
    with plt.rc_context(STYLE):
        for name, job in jobs.items():
            path, text = job(out / f"{name}.png")
            result[name] = {"file": path.name, "caption": text} if path else {"skipped": text}
    return result
