"""Read finished run directories (those with DONE) into tidy tables for the report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.errors import UserError

MODEL_KEYS = ["source", "task", "encoder", "backbone", "init"]
COND_KEYS = ["ablation_kind", "ablation_level", "shuffle"]
SUMMARY_KEYS = ["run_id", *MODEL_KEYS, *COND_KEYS, "seed", "reference"]
METRIC_COLUMNS = ["subset", "category", "depth", "f1", "majority_f1"]
SUBSETS = ("leaf", "seen", "unseen")


@dataclass
class RunData:
    """Everything the report reads: one row per (run, subset, category) in ``metrics``."""

    runs: pd.DataFrame  # one row per run: SUMMARY_KEYS + run_key (the directory)
    metrics: pd.DataFrame  # runs joined with metrics.parquet
    coherence: pd.DataFrame  # run_key, category, avg_cosine
    probes: pd.DataFrame  # backbone, init, variant, category, f1


def find_run_dirs(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Finished run directories and probe directories under ``paths`` (each a run dir or a parent)."""
    runs: list[Path] = []
    probes: list[Path] = []
    for root in map(Path, paths):
        if not root.exists():
            raise UserError(f"run directory not found: {root}")
        candidates = [root] if (root / "DONE").is_file() else sorted(p.parent for p in root.rglob("DONE"))
        for d in candidates:
            if not (d / "summary.json").is_file():
                continue
            kind = _read_json(d / "summary.json").get("kind")
            (probes if kind == "probe" else runs).append(d)
    return sorted(set(runs)), sorted(set(probes))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable summary ({exc})") from None


def summary_row(summary: dict, run_key: str) -> dict:
    row = {k: summary.get(k) for k in SUMMARY_KEYS}
    row["source"] = row["source"] or "taxobench"
    row["task"] = row["task"] or "unknown"
    row["init"] = row["init"] or "pretrained"
    row["ablation_level"] = (
        float(row["ablation_level"]) if row["ablation_level"] is not None else float("nan")
    )
    row["run_key"] = run_key
    missing = [k for k in ("encoder", "backbone", "ablation_kind", "shuffle", "seed") if row.get(k) is None]
    if missing:
        raise UserError(f"{run_key}: summary.json lacks {', '.join(missing)}")
    return row


def load_runs(paths: list[Path]) -> RunData:
    """Load every finished run under ``paths``; UserError when there is none."""
    run_dirs, probe_dirs = find_run_dirs(paths)
    if not run_dirs:
        raise UserError("no finished run directories (with DONE) under: " + ", ".join(map(str, paths)))
    summaries, metric_frames, coh_frames = [], [], []
    for d in run_dirs:
        key = str(d)
        summaries.append(summary_row(_read_json(d / "summary.json"), key))
        mpath = d / "metrics.parquet"
        if not mpath.is_file():
            raise UserError(f"{d}: finished run without metrics.parquet")
        m = pd.read_parquet(mpath)
        missing = [c for c in ("subset", "category", "f1") if c not in m.columns]
        if missing:
            raise UserError(f"{mpath}: missing columns {missing}")
        m = m.reindex(columns=METRIC_COLUMNS)
        m["run_key"] = key
        metric_frames.append(m)
        cpath = d / "coherence.parquet"
        if cpath.is_file():
            c = pd.read_parquet(cpath, columns=["category", "avg_cosine"])
            c["run_key"] = key
            coh_frames.append(c)
    return from_frames(
        pd.DataFrame(summaries),
        pd.concat(metric_frames, ignore_index=True),
        coh_frames,
        _load_probes(probe_dirs),
    )


def from_frames(
    runs: pd.DataFrame, metrics: pd.DataFrame, coh_frames: list[pd.DataFrame], probes: pd.DataFrame
) -> RunData:
    """Join per-run metrics with their run summaries (shared with leaderboard submissions)."""
    # Numeric columns are made numeric here, whatever frames they came from: an empty frame built from
    # column names is object dtype, and concatenating it with real values keeps object dtype (a probe
    # F1 then entered the coherence model as a categorical).
    metrics = metrics.copy()
    metrics["f1"] = pd.to_numeric(metrics["f1"], errors="coerce").astype(float)
    metrics["majority_f1"] = pd.to_numeric(metrics["majority_f1"], errors="coerce").astype(float)
    metrics["depth"] = pd.to_numeric(metrics["depth"], errors="coerce")
    runs = runs.copy()
    for col in ("ablation_level", "seed"):
        if col in runs.columns:
            runs[col] = pd.to_numeric(runs[col])
    bad = set(metrics["subset"].dropna().unique()) - set(SUBSETS)
    if bad:
        raise UserError(f"unknown subset(s) in metrics: {sorted(bad)} (expected leaf, seen, unseen)")
    merged = metrics.merge(runs, on="run_key", how="left", validate="many_to_one")
    coherence = (
        pd.concat(coh_frames, ignore_index=True)
        if coh_frames
        else pd.DataFrame(columns=["category", "avg_cosine", "run_key"])
    )
    coherence["avg_cosine"] = pd.to_numeric(coherence["avg_cosine"], errors="coerce").astype(float)
    probes = probes.copy()
    probes["f1"] = pd.to_numeric(probes["f1"], errors="coerce").astype(float)
    return RunData(runs=runs, metrics=merged, coherence=coherence, probes=probes)


def _load_probes(dirs: list[Path]) -> pd.DataFrame:
    frames = []
    for d in dirs:
        summary = _read_json(d / "summary.json")
        path = d / "probe.parquet"
        if not path.is_file():
            continue
        p = pd.read_parquet(path)
        if not {"category", "f1"} <= set(p.columns):
            continue
        p = p.assign(backbone=summary.get("backbone"), init=summary.get("init", "pretrained"))
        if "variant" not in p.columns:
            p["variant"] = "yes_no"
        frames.append(p[["backbone", "init", "variant", "category", "f1"]])
    if not frames:
        return pd.DataFrame(columns=["backbone", "init", "variant", "category", "f1"]).astype({"f1": float})
    probes = pd.concat(frames, ignore_index=True)
    probes["f1"] = pd.to_numeric(probes["f1"], errors="coerce").astype(float)
    return probes
