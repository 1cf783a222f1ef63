"""Markdown rendering of the leaderboard (leaderboard.md, leaderboard/README.md)."""

from __future__ import annotations

import math
import re
import shlex
from typing import Any

import pandas as pd

from harness.report.table import LEAF_THRESHOLD

FLAG = "⚠"
LEGEND = (
    "Macro F1 in percent: mean over seeds × categories with a t-based 95 % CI over the same values. "
    "Majority = predicting each category's majority answer. Δ rand = difference to the random-init control "
    f"of the same backbone. {FLAG} after a model = leaf F1 below {LEAF_THRESHOLD:g}: the PROTOCOL §7.1 "
    "precondition (leaves learned) is not met, so hypernym results of that row are not interpretable."
)


# newlines, CR, tabs and other controls; line/paragraph separators; bidi overrides and zero-width marks
_MD_BREAKS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]+"
)
_MD_SPECIAL = re.compile(r"[\\`*_\[\]()#!|~]")
# what would open a list item, a thematic break or a setext underline if the text began a line ("- x",
# "1. x", "---", "==="); "-3.5" or "1.5" would not
_MD_LINE_START = re.compile(r"^(\s*)([-+=](?=[-+=\s]|$)|\d+\.(?=\s|$))")
_MD_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def md_escape(value: Any) -> str:
    """Text (e.g. a submitter's string) made inert in Markdown: one line, shown literally on GitHub.

    Line breaks and other control characters become spaces (no new line, hence no heading, list or table
    row can start); ``& < >`` become entities (no raw HTML: ``<script>``, ``<img onerror=...>``, an
    unclosed ``<!--`` that would hide the rest of the page); Markdown punctuation ``\\ ` * _ [ ] ( ) # ! |
    ~`` is backslash-escaped (no emphasis, code, link, image, heading or table cell break), as is a list
    marker or rule (``- ``, ``+ ``, ``1. ``, ``---``, ``===``) at the very start.  Other ``-`` and ``+``
    (``flip-flop``, ``dinov2-large``, ``-3.5``) stay as they are: away from a line start they are not
    Markdown.  Safe in table cells and running text.
    """
    s = _MD_BREAKS.sub(" ", str(value))
    s = re.sub(r"[&<>]", lambda m: _MD_HTML[m.group()], s)
    s = _MD_SPECIAL.sub(lambda m: "\\" + m.group(), s)
    return _MD_LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], s, count=1)


def fmt(v: Any, digits: int = 1, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    return str(v)


def _ci(r: pd.Series | dict) -> str:
    return f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]"


def flagged(r: pd.Series | dict) -> bool:
    """The row fails the leaf precondition (its hypernym numbers are not interpretable)."""
    return r.get("leaf_precondition") == "not met"


def model_cell(r: pd.Series | dict) -> str:
    """The model's label, with FLAG after it when the row fails the leaf precondition (as LEGEND says)."""
    return f"{r['model']} {FLAG}" if flagged(r) else str(r["model"])


def table(header: list[str], lines: list[list[str]]) -> str:
    """A Markdown table; every cell goes through ``md_escape`` (``header`` is the code's own text)."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(md_escape(c) for c in line) + " |" for line in lines]
    return "\n".join(out)


def headline_md(head: pd.DataFrame) -> str:
    if head.empty:
        return "_No unseen-hypernym results at 100 % ablation with original labels._"
    lines = [
        [
            str(r["rank"]),
            model_cell(r),
            r["task"],
            fmt(r["macro_f1"]),
            _ci(r),
            fmt(r["majority_f1"]),
            fmt(r["delta_majority"], signed=True),
            fmt(r["delta_random_init"], signed=True),
            str(r["n_seeds"]),
            fmt(r["leaf_f1"]),
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
                model_cell(r),
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
                fmt(r["leaf_f1"]),
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
            f"{md_escape(c['model'])}: r = {fmt(c['pearson_r'], 2)} (p {_p(c['pearson_p'])}), "
            f"ρ = {fmt(c['spearman_rho'], 2)}, n = {c['n']}"
            for c in corr["rows"]
        ]
        out.append(
            "**F1 vs coherence** (Pearson/Spearman, per hypernym × shuffle):\n\n"
            + "\n".join(f"- {i}" for i in items)
        )
    else:
        out.append(f"**F1 vs coherence**: skipped — {md_escape(corr.get('reason', 'no data'))}")
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
        out.append(f"**Welch t-tests**: skipped — {md_escape(wt.get('reason', 'no data'))}")
    out.append(leaf_correct_md(st.get("leaf_correct", {})))
    return "\n\n".join(out)


def leaf_correct_md(lc: dict[str, Any]) -> str:
    """The leaf-correct analysis (harness.report.leaf_correct): its table and its Welch tests."""
    title = "**Held-out hypernyms on leaf-correct images**"
    if lc.get("status") != "ok":
        return f"{title}: skipped — {md_escape(lc.get('reason', 'no data'))}"
    lines = [
        [
            r["model"],
            r["shuffle"],
            f"{r['images_kept']} / {r['images_total']}",
            fmt(r["f1_all_images"]),
            f"{fmt(r['f1'])} {_ci(r)}" if r["images_kept"] else "—",
            fmt(r["majority_f1"]),
        ]
        for r in lc["rows"]
    ]
    tests = [
        f"{md_escape(t['model'])}: {md_escape(t['a'])} vs {md_escape(t['b'])} {fmt(t['diff'], signed=True)} "
        f"(t = {fmt(t['t'], 2)}, p {_p(t['p'])})"
        for t in lc["tests"]
    ]
    return (
        f"{title} (unseen F1, 100 % ablation, on the test images whose leaf questions were all answered "
        "right; not in the paper: a condition below the leaf precondition compared on images it "
        "recognised):\n\n"
        + table(["model", "labels", "images", "all images", "leaf-correct [95 % CI]", "majority"], lines)
        + (f"\n\nWelch t-tests on these images: {'; '.join(tests)}." if tests else "")
    )


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
        return f"skipped — {md_escape(res.get('reason', 'no data'))}"
    published = res.get("paper") or {}
    parts = []
    for t in res["terms"]:
        name = t["name"]
        if name != term and not (also and name == also):
            continue
        text = f"{md_escape(name)}: β = {fmt(t['estimate'], 3)}, z = {fmt(t['stat'], 2)}, p {_p(t['p'])}"
        key = paper[1] if name == term and paper else paper_also if name == also else None
        if key and key in published:
            text += f" (paper: t = {fmt(published[key], 2)})"
        parts.append(text)
    method, data = md_escape(res["method"]), md_escape(res.get("data", ""))
    return "; ".join(parts) + f" (n = {res['n_obs']}, {method}, Wald z; {data})"


def provenance_lines(prov: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, plain text) pairs of the short provenance block at the bottom of leaderboard.md / .html."""
    versions = prov.get("versions") or {}
    packages = ", ".join(
        f"{k} {v}" for k, v in versions.items() if k not in ("taxobench", "python") and v != "absent"
    )
    compute = prov.get("compute") or {}
    cpu = compute.get("cpu") or "?"
    if compute.get("cpu_capability"):
        cpu += f" ({compute['cpu_capability']}, {compute.get('threads', '?')} threads)"
    paths = [
        f"{r.get('numerics_fingerprint') or 'not recorded'} ({r.get('cpu_model') or '?'}, "
        f"{r.get('cpu_capability') or '?'}, {r.get('threads') or '?'} threads"
        + (f", {r['cuda_device']}" if r.get("cuda_device") else "")
        + f"): {r.get('runs', '?')} runs"
        for r in prov.get("runs_compute") or []
    ]
    inputs = prov.get("inputs")
    command = "taxobench report " + (shlex.join(inputs) if inputs else "(inputs not recorded)")
    digest = str(prov.get("config_hash") or "?")[:16]
    runs = f"{prov.get('n_runs', '?')} finished runs; config hash {digest} ({prov.get('config_hash_of', '')})"
    return [
        ("generated", f"{prov.get('created', '?')} by: {command}"),
        (
            "taxobench",
            f"{prov.get('taxobench_version', '?')}, git commit {prov.get('git_commit') or 'unknown'}",
        ),
        ("runs", runs),
        ("python", f"{versions.get('python', '?')} on {prov.get('platform', '?')}"),
        ("packages", packages or "?"),
        ("hardware", f"device {prov.get('device', '?')}; CPU {cpu}"),
        ("runs' numerics", "; ".join(paths) or "not recorded"),
    ]


def provenance_md(prov: dict[str, Any]) -> str:
    return "\n".join(f"- **{label}**: {md_escape(text)}" for label, text in provenance_lines(prov))


def render_md(
    rows: pd.DataFrame,
    head: pd.DataFrame,
    st: dict[str, Any],
    plots: dict[str, dict],
    meta: dict[str, Any],
    plot_dir: str = "plots",
) -> str:
    top = plots.get("headline", {})
    parts = [
        "# taxobench leaderboard",
        f"{meta['n_runs']} finished runs ({', '.join(md_escape(s) for s in meta['sources'])}). {LEGEND}",
        *([meta["notes"]] if meta.get("notes") else []),
        "## Headline: held-out hypernyms at 100 % ablation (original labels)",
        headline_md(head),
        *([f"![{md_escape(top['caption'])}]({plot_dir}/{top['file']})"] if "file" in top else []),
        *([f"**Reading**: {md_escape(meta['reading'])}"] if meta.get("reading") else []),
        "## Statistics",
        stats_md(st),
        "## Plots",
    ]
    for name, p in plots.items():
        if name == "headline" and "file" in p:
            continue
        parts.append(
            f"![{md_escape(p['caption'])}]({plot_dir}/{p['file']})"
            if "file" in p
            else f"- {md_escape(name)}: skipped — {md_escape(p['skipped'])}"
        )
    parts += ["## All results", rows_md(rows)]
    if meta.get("provenance"):
        parts += ["## Provenance", provenance_md(meta["provenance"])]
    return "\n\n".join(parts) + "\n"
