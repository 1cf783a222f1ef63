"""`taxobench report RUNS... --out DIR`: aggregate run directories into a leaderboard.

Writes ``leaderboard.json`` (``{"provenance", "rows"}``), ``analysis.json`` (rows, headline, its reading,
statistics, plots, provenance and metadata), ``leaderboard.md``, a self-contained ``leaderboard.html`` and
``plots/*.png`` (``headline.png`` first).  Reads only finished run directories (DONE present).
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
from rich.markup import escape

from harness.common.files import write_json, write_text
from harness.config import without_locations
from harness.report.analysis import analyse
from harness.report.html import render_html
from harness.report.load import RunData, load_runs
from harness.report.markdown import md_escape, render_md
from harness.report.numerics import runs_compute
from harness.report.plots import make_plots
from harness.report.table import aggregate, headline, headline_reading, to_records
from harness.report.terminal import print_board
from harness.runs import store
from harness.runs.manifest import base_manifest

SCHEMA = "taxobench.leaderboard/1"


def _clean(obj: Any) -> Any:
    """NaN -> None throughout a nested structure (strict JSON)."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


def config_hash(runs: pd.DataFrame) -> tuple[str, str]:
    """(sha256, what it covers) of the runs read: each run's config.toml (its cell's full configuration,
    less where a checkout wrote, cached and read it: :func:`harness.config.without_locations`), or its run
    id where the directory has none; the per-run digests are sorted, so the hash depends on neither the
    order nor the paths."""
    digests, n_config = [], 0
    for key, run_id in zip(runs["run_key"], runs["run_id"], strict=True):
        path = Path(str(key)) / store.CONFIG
        if path.is_file():
            text = json.dumps(without_locations(tomllib.loads(path.read_text())), sort_keys=True, default=str)
            digests.append("config.toml " + hashlib.sha256(text.encode()).hexdigest())
            n_config += 1
        else:
            digests.append("run id " + hashlib.sha256(str(run_id).encode()).hexdigest())
    covers = [f"config.toml of {n_config} runs"] if n_config else []
    if len(digests) > n_config:
        covers.append(f"run ids of {len(digests) - n_config} runs without config.toml")
    return hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest(), "; ".join(covers)


def provenance(data: RunData, inputs: list[Path] | None = None) -> dict[str, Any]:
    """What produced the report: taxobench version and git commit, package versions, platform, CPU/GPU
    (harness.runs.manifest.base_manifest, without the host name), the UTC date, the command's run folders,
    the number of runs, a hash of their configurations and the runs' own compute records (CPU, kernels,
    threads, numerics fingerprint: :func:`harness.report.numerics.runs_compute`)."""
    man = base_manifest()
    versions = dict(man["versions"])
    for name in ("matplotlib", "markdown-it-py"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    digest, covers = config_hash(data.runs)
    return {
        "taxobench_version": versions.get("taxobench"),
        "git_commit": man["git_commit"],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "taxobench report",
        "inputs": [str(p) for p in inputs] if inputs is not None else None,
        "n_runs": int(data.runs["run_key"].nunique()),
        "config_hash": digest,
        "config_hash_of": covers,
        "versions": versions,
        "platform": man["platform"],
        "device": man["device"],
        "compute": man["compute"],
        "runs_compute": runs_compute(Path(str(k)) for k in data.runs["run_key"].unique()),
    }


def build_report(
    data: RunData,
    out: Path,
    plots: bool = True,
    notes: str | None = None,
    inputs: list[Path] | None = None,
) -> dict[str, Any]:
    """Aggregate ``data`` and write every output into ``out``; returns the analysis.json content.
    ``inputs``: the run folders the command was given (recorded in the provenance)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = aggregate(data.metrics)
    head = headline(rows)
    st = analyse(data)
    plot_dir = out / "plots"
    plot_info = make_plots(data, rows, plot_dir) if plots else {}
    prov = _clean(provenance(data, inputs))
    meta = {
        "n_runs": int(data.runs["run_key"].nunique()),
        "sources": sorted(data.runs["source"].unique()),
        "references": sorted({r for r in data.runs["reference"].dropna().unique()}),
        "notes": notes,
        "reading": headline_reading(rows),
        "provenance": prov,
    }
    board = _clean(
        {
            "schema": SCHEMA,
            "units": "percent (0-100)",
            **meta,
            "rows": to_records(rows),
            "headline": to_records(head),
            "statistics": st,
            "plots": plot_info,
        }
    )
    write_json(out / "leaderboard.json", {"provenance": board["provenance"], "rows": board["rows"]})
    write_json(out / "analysis.json", board)
    write_text(out / "leaderboard.md", render_md(rows, head, st, plot_info, meta))
    write_text(out / "leaderboard.html", render_html(rows, head, st, plot_info, plot_dir, meta))
    for name in ("leaderboard.json", "analysis.json", "leaderboard.md", "leaderboard.html"):
        (out / name).chmod(0o644)  # a static page to publish (atomic writes create 0600 temp files)
    return board


def probe_notes(probe_dirs: list[Path]) -> str | None:
    """Markdown lines summarising the (checked) text-only probe directories."""
    lines, nan = [], float("nan")
    for d in probe_dirs:
        s = json.loads((d / store.SUMMARY).read_text())
        parts = []
        for key, label in (("paper", "the paper's probe"), ("yes_no", "yes/no per category")):
            v = s.get(key, {})
            if v:
                parts.append(
                    f"{label} macro F1 {v['macro_f1']:.1f} (majority {v['majority_f1']:.1f}; "
                    f"{v['n_questions']} questions, {v['n_yes']} yes)"
                )
        cz = s.get("cloze", {})
        if cz:
            parts.append(
                f"cloze top-1 {100 * cz.get('top1_accuracy', nan):.1f} %, MRR {cz.get('mrr', nan):.3f}"
            )
        if parts:
            model = f"{s['backbone']} ({s.get('init', 'pretrained')})"
            lines.append(f"- {md_escape(model)}: " + "; ".join(parts))
    return "**Text-only hypernymy probe** (LM alone):\n" + "\n".join(lines) if lines else None


def report(
    run_dirs: list[Path], out: Path, console: Any = None, notes: str | None = None, strict: bool = False
) -> Path:
    """Load the runs under ``run_dirs`` and write the leaderboard into ``out``; returns ``out``.

    ``notes`` (Markdown) goes at the top of the Markdown and HTML pages, with a summary of any text-only
    probe directories found beside the runs.  A run record that does not hold up is skipped with a warning
    (``strict``: a UserError).
    """
    warn = (
        (lambda m: console.print(f"[yellow]warning: {escape(m)}[/yellow]")) if console is not None else None
    )
    data = load_runs([Path(p) for p in run_dirs], strict=strict, warn=warn)
    notes = "\n\n".join(part for part in (notes, probe_notes(data.probe_dirs)) if part) or None
    if console is not None:
        console.print(f"read {data.runs['run_key'].nunique()} finished runs")
    board = build_report(data, Path(out), notes=notes, inputs=[Path(p) for p in run_dirs])
    if console is not None:
        n_plots = sum("file" in p for p in board["plots"].values())
        console.print(
            f"wrote {len(board['rows'])} rows, {n_plots} plots to {out}/leaderboard.{{json,md,html}}"
        )
        print_board(board["rows"], console)
    return Path(out)
