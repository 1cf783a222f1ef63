"""Markdown rendering of the leaderboard (leaderboard.md, leaderboard/README.md)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from harness.report_table import LEAF_THRESHOLD

FLAG = "⚠"
LEGEND = (
    "Macro F1 in percent: mean over seeds × categories with a t-based 95 % CI over the same values. "
    "Majority = predicting each category's majority answer. Δ rand = difference to the random-init control "
    f"of the same backbone. {FLAG} = leaf F1 below {LEAF_THRESHOLD:g}: the PROTOCOL §7.1 precondition "
    "(leaves learned) is not met, so hypernym results of that row are not interpretable."
)


def fmt(v: Any, digits: int = 1, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    return str(v)


def _ci(r: pd.Series) -> str:
    return f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"


def _leaf(r: pd.Series) -> str:
    flag = f" {FLAG}" if r["leaf_precondition"] == "not met" else ""
    return fmt(r["leaf_f1"]) + flag


def table(header: list[str], lines: list[list[str]]) -> str:
    def esc(s: str) -> str:
        return str(s).replace("|", "\\|")

    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(esc(c) for c in line) + " |" for line in lines]
    return "\n".join(out)


def headline_md(head: pd.DataFrame) -> str:
    if head.empty:
        return "_No unseen-hypernym results at 100 % ablation with original labels._"
    lines = [
        [
            str(r["rank"]),
            r["model"],
            r["task"],
            fmt(r["macro_f1"]),
            _ci(r),
            fmt(r["majority_f1"]),
            fmt(r["delta_majority"], signed=True),
            fmt(r["delta_random_init"], signed=True),
            str(r["n_seeds"]),
            _leaf(r),
        ]
        for _, r in head.iterrows()
    ]
    return table(
        [
            "#",
            "model",
            "task",
            "unseen F1",
            "95 % CI",
            "majority",
            "Δ majority",
            "Δ rand",
            "seeds",
            "leaf F1",
        ],
        lines,
    )


def rows_md(rows: pd.DataFrame) -> str:
    parts = []
    for subset in ("leaf", "seen", "unseen"):
        s = rows[rows["subset"] == subset]
        if s.empty:
            continue
        lines = [
            [
                r["model"],
                r["task"],
                r["condition"],
                fmt(r["macro_f1"]),
                fmt(r["se"], 2),
                _ci(r),
                str(r["n_seeds"]),
                str(r["n_categories"]),
                fmt(r["majority_f1"]),
                fmt(r["delta_majority"], signed=True),
                fmt(r["delta_random_init"], signed=True),
                _leaf(r),
            ]
            for _, r in s.iterrows()
        ]
        parts.append(
            f"### {subset}\n\n"
            + table(
                [
                    "model",
                    "task",
                    "condition",
                    "F1",
                    "SE",
                    "95 % CI",
                    "seeds",
                    "cats",
                    "majority",
                    "Δ majority",
                    "Δ rand",
                    "leaf F1",
                ],
                lines,
            )
        )
    return "\n\n".join(parts)


def stats_md(st: dict[str, Any]) -> str:
    out = []
    enc = st.get("encoder_effect", {})
    out.append(
        "**Encoder effect** (the paper's model: F1 ~ enc × lm, ±1 codes, random intercepts and slopes "
        "for seed and hypernym): " + _model_text(enc, "enc", paper=("enc", "t"))
    )
    coh = st.get("coherence", {})
    mm = coh.get("mixed_model", {})
    out.append(
        "**Coherence model** (the paper's model on original labels: per-hypernym F1 ~ probe F1 + "
        "coherence, random slopes by hypernym, random intercepts for seed and backbone): "
        + _model_text(mm, "coherence", also="probe_f1", paper=("coherence", "t"), paper_also="probe_t")
    )
    corr = coh.get("correlations", {})
    if corr.get("status") == "ok":
        items = [
            f"{c['model']}: r = {fmt(c['pearson_r'], 2)} (p {_p(c['pearson_p'])}), "
            f"ρ = {fmt(c['spearman_rho'], 2)}, n = {c['n']}"
            for c in corr["rows"]
        ]
        out.append(
            "**F1 vs coherence** (Pearson/Spearman, per hypernym × shuffle):\n\n"
            + "\n".join(f"- {i}" for i in items)
        )
    else:
        out.append(f"**F1 vs coherence**: skipped — {corr.get('reason', 'no data')}")
    wt = st.get("welch_tests", {})
    if wt.get("status") == "ok":
        lines = [
            [
                t["model"],
                f"{t['a']} vs {t['b']}",
                fmt(t["mean_a"]),
                fmt(t["mean_b"]),
                fmt(t["diff"], signed=True),
                fmt(t["t"], 2),
                fmt(t["df"], 1),
                _p(t["p"]).lstrip("= "),
            ]
            for t in wt["tests"]
        ]
        out.append(
            "**Welch t-tests** (unseen F1, 100 % ablation, seeds × hypernyms):\n\n"
            + table(["model", "comparison", "mean a", "mean b", "Δ", "t", "df", "p"], lines)
        )
    else:
        out.append(f"**Welch t-tests**: skipped — {wt.get('reason', 'no data')}")
    return "\n\n".join(out)


def _p(p: Any) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    return "< .001" if p < 0.001 else f"= {p:.3f}"


def _model_text(
    res: dict[str, Any],
    term: str,
    also: str | None = None,
    paper: tuple[str, str] | None = None,
    paper_also: str | None = None,
) -> str:
    """The terms' estimates, with the paper's published t beside them where ``res`` carries it."""
    if res.get("status") != "ok":
        return f"skipped — {res.get('reason', 'no data')}"
    published = res.get("paper") or {}
    parts = []
    for t in res["terms"]:
        name = t["name"]
        if name != term and not (also and name == also):
            continue
        text = f"{name}: β = {fmt(t['estimate'], 3)}, z = {fmt(t['stat'], 2)}, p {_p(t['p'])}"
        key = paper[1] if name == term and paper else paper_also if name == also else None
        if key and key in published:
            text += f" (paper: t = {fmt(published[key], 2)})"
        parts.append(text)
    return "; ".join(parts) + f" (n = {res['n_obs']}, {res['method']}, Wald z; {res.get('data', '')})"


def render_md(
    rows: pd.DataFrame,
    head: pd.DataFrame,
    st: dict[str, Any],
    plots: dict[str, dict],
    meta: dict[str, Any],
    plot_dir: str = "plots",
) -> str:
    parts = [
        "# taxobench leaderboard",
        f"{meta['n_runs']} finished runs ({', '.join(meta['sources'])}). {LEGEND}",
        *([meta["notes"]] if meta.get("notes") else []),
        "## Headline: held-out hypernyms at 100 % ablation (original labels)",
        headline_md(head),
        "## Statistics",
        stats_md(st),
        "## Plots",
    ]
    for name, p in plots.items():
        parts.append(
            f"![{p['caption']}]({plot_dir}/{p['file']})"
            if "file" in p
            else f"- {name}: skipped — {p['skipped']}"
        )
    parts += ["## All results", rows_md(rows)]
    return "\n\n".join(parts) + "\n"
