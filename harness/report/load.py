"""Read finished run directories (those with DONE) into tidy tables for the report.

Every record is checked as it is read: outputs unchanged since DONE (its checksums), readable files, the
expected columns, scores finite and within range.  A record that fails is skipped with a warning naming
the file (``taxobench report --strict``: an error), never read half-way or published out of range.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from harness.errors import UserError
from harness.plugin.options import format_validation_error
from harness.protocol.questions import SUBSETS
from harness.report import leaf_correct
from harness.runs import store
from harness.runs.store import DONE, RunDir, RunRecord

MODEL_KEYS = store.MODEL_KEYS
COND_KEYS = store.CONDITION_KEYS
SUMMARY_KEYS = ["run_id", *MODEL_KEYS, *COND_KEYS, "seed", "reference"]
METRIC_COLUMNS = ["subset", "category", "depth", "f1", "majority_f1"]
CURVE_COLUMNS = ["run_key", "step", "loss"]
PREDICTION_COLUMNS = ["image", "kind", "subset", "category", "depth", "answer", "pred"]  # + optional scored


@dataclass
class RunData:
    """Everything the report reads: one row per (run, subset, category) in ``metrics``."""

    runs: pd.DataFrame  # one row per run: SUMMARY_KEYS + run_key (the directory)
    metrics: pd.DataFrame  # runs joined with metrics.parquet
    coherence: pd.DataFrame  # run_key, category, avg_cosine
    probes: pd.DataFrame  # backbone, init, variant, category, f1
    probe_dirs: list[Path] = field(default_factory=list)  # the probe directories that held up
    curves: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CURVE_COLUMNS))
    # like ``metrics``, scored on each run's leaf-correct test images (harness.report.leaf_correct); runs
    # without predictions.parquet (leaderboard submissions) have no rows
    leaf_correct: pd.DataFrame = field(default_factory=pd.DataFrame)


class BadRun(Exception):
    """A finished run directory whose record does not hold up (damaged, unreadable, out of range)."""


def find_run_dirs(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Finished run directories and probe directories under ``paths`` (each a run dir or a parent); a
    directory whose summary.json cannot be read counts as a run (its loading then reports it)."""
    runs: list[Path] = []
    probes: list[Path] = []
    for root in map(Path, paths):
        if not root.exists():
            raise UserError(f"run directory not found: {root}")
        candidates = [root] if (root / DONE).is_file() else sorted(p.parent for p in root.rglob(DONE))
        for d in candidates:
            try:
                kind = json.loads((d / store.SUMMARY).read_text()).get("kind")
            except (OSError, ValueError, AttributeError):
                kind = None
            (probes if kind == "probe" else runs).append(d)
    return sorted(set(runs)), sorted(set(probes))


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadRun(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise BadRun(f"{path}: not a JSON object")
    return data


def _read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    try:
        return pd.read_parquet(path, columns=columns)
    except Exception as exc:  # pyarrow raises many kinds for truncated or foreign files
        raise BadRun(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None


def summary_row(summary: dict, run_key: str) -> dict:
    """The run's record (:class:`harness.runs.store.RunRecord`) as a row, keyed by ``run_key``."""
    try:
        record = RunRecord.model_validate(summary)
    except ValidationError as exc:
        raise BadRun(format_validation_error(exc, f"{run_key}: summary.json does not hold up:")) from None
    return {**{k: getattr(record, k) for k in SUMMARY_KEYS}, "run_key": run_key}


OPTIONAL_SCORES = {"majority_f1"}  # may be missing (NaN); every other score must be present


def checked_scores(frame: pd.DataFrame, path: Path, columns: dict[str, tuple[float, float]]) -> None:
    """Every value of ``columns`` (name -> (low, high)) a finite number within range (BadRun naming the
    file otherwise); the columns of ``OPTIONAL_SCORES`` may also be missing."""
    for col, (low, high) in columns.items():
        values = pd.to_numeric(frame[col], errors="coerce")
        missing = values.isna()
        bad = (missing & frame[col].notna()) | (values.notna() & ~values.between(low, high))
        if col not in OPTIONAL_SCORES:
            bad |= missing
        if bad.any():
            shown = frame.loc[bad, col].head(3).tolist()
            raise BadRun(f"{path}: {col} must be a number in [{low:g}, {high:g}]; found {shown}")


def load_run(d: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame | None]:
    """One finished run: (summary row, metrics, coherence or None); BadRun when it does not hold up."""
    problems = RunDir(d).damage()
    if problems:
        raise BadRun(f"{d}: damaged since it finished: {'; '.join(problems)}")
    key = str(d)
    row = summary_row(_read_json(d / store.SUMMARY), key)
    mpath = d / store.METRICS
    if not mpath.is_file():
        raise BadRun(f"{d}: finished run without metrics.parquet")
    m = _read_parquet(mpath)
    missing = [c for c in ("subset", "category", "f1") if c not in m.columns]
    if missing:
        raise BadRun(f"{mpath}: missing columns {missing}")
    if m.empty:
        raise BadRun(f"{mpath}: no rows")
    m = m.reindex(columns=METRIC_COLUMNS)
    bad = sorted(set(m["subset"].astype(str)) - set(SUBSETS))
    if bad:
        raise BadRun(f"{mpath}: unknown subset(s) {bad} (expected leaf, seen, unseen)")
    checked_scores(m, mpath, {"f1": (0.0, 1.0), "majority_f1": (0.0, 1.0)})
    m["run_key"] = key
    coherence = None
    cpath = d / store.COHERENCE
    if cpath.is_file():
        coherence = _read_parquet(cpath)
        if not {"category", "avg_cosine"} <= set(coherence.columns):
            raise BadRun(f"{cpath}: missing columns (category, avg_cosine)")
        coherence = coherence[["category", "avg_cosine"]].assign(run_key=key)
        checked_scores(coherence, cpath, {"avg_cosine": (-1.0, 1.0)})
    return row, m, coherence


def load_runs(paths: list[Path], strict: bool = False, warn: Callable[[str], None] | None = None) -> RunData:
    """Load every finished run under ``paths``.  A run that does not hold up (damaged since it finished,
    unreadable, scores out of range) is skipped with a warning naming the file, or with ``strict`` is a
    UserError listing every such run.  UserError when no run is left."""
    run_dirs, probe_dirs = find_run_dirs(paths)
    if not run_dirs:
        raise UserError("no finished run directories (with DONE) under: " + ", ".join(map(str, paths)))
    summaries, metric_frames, coh_frames, curve_frames, lc_frames, bad = [], [], [], [], [], []
    for d in run_dirs:
        try:
            row, m, coherence = load_run(d)
            lc, row["leaf_correct_images"], row["test_images"] = leaf_correct_frame(d)
        except BadRun as exc:
            bad.append(str(exc))
            continue
        lc_frames.append(lc)
        summaries.append(row)
        metric_frames.append(m)
        curve_frames.append(training_curve(d))
        if coherence is not None:
            coh_frames.append(coherence)
    probes, good_probes = _load_probes(probe_dirs, bad)
    if bad and strict:
        raise UserError(f"{len(bad)} run record(s) do not hold up (--strict):\n  " + "\n  ".join(bad))
    for message in bad:
        (warn or _warn)(f"skipped: {message}")
    if not summaries:
        raise UserError("no usable finished run under: " + ", ".join(map(str, paths)))
    data = from_frames(
        pd.DataFrame(summaries), pd.concat(metric_frames, ignore_index=True), coh_frames, probes
    )
    data.probe_dirs = good_probes
    data.curves = pd.concat(curve_frames, ignore_index=True)
    scores = concat_frames(lc_frames, tuple(METRIC_COLUMNS[2:]))
    data.leaf_correct = scores.merge(data.runs, on="run_key", how="inner", validate="many_to_one")
    return data


def concat_frames(frames: list[pd.DataFrame], numeric: tuple[str, ...]) -> pd.DataFrame:
    """Concatenate, leaving out empty frames (whose object columns would make the result object), and
    keep ``numeric`` columns numeric."""
    parts = [f for f in frames if not f.empty] or frames[:1]
    out = pd.concat(parts, ignore_index=True)
    for col in numeric:
        if col in out.columns:
            out[col] = pd.to_numeric(out[col])  # raises on a value that is not a number
    return out


def leaf_correct_frame(d: Path) -> tuple[pd.DataFrame, int | None, int | None]:
    """(the run's scores on its leaf-correct test images keyed by ``run_key``, leaf-correct images, test
    images): :mod:`harness.report.leaf_correct`; no rows and None where there is no predictions.parquet."""
    path = d / store.PREDICTIONS
    if not path.is_file():
        return pd.DataFrame(columns=["run_key", *METRIC_COLUMNS]), None, None
    p = _read_parquet(path)
    missing = [c for c in PREDICTION_COLUMNS if c not in p.columns]
    if missing:
        raise BadRun(f"{path}: missing columns {missing}")
    scores, kept, total = leaf_correct.leaf_correct_scores(p)
    return scores[METRIC_COLUMNS].assign(run_key=str(d)), kept, total


def training_curve(d: Path) -> pd.DataFrame:
    """A run's logged training loss by step (``CURVE_COLUMNS``); empty where the log is missing or holds
    no finite training loss (the curve is an illustration: a run is not rejected for its log)."""
    path = d / store.TRAIN_LOG
    records = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(r, dict) and r.get("kind") == "train":
                records.append((r.get("step"), r.get("loss")))
    frame = pd.DataFrame(records, columns=["step", "loss"]).apply(pd.to_numeric, errors="coerce")
    frame = frame.astype(float)
    frame = frame[np.isfinite(frame["step"]) & np.isfinite(frame["loss"])]
    return frame.assign(run_key=str(d))[CURVE_COLUMNS]


def _warn(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


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


def _load_probes(dirs: list[Path], bad: list[str]) -> tuple[pd.DataFrame, list[Path]]:
    """The probe directories' per-category F1 and the directories that held up; one that does not is
    added to ``bad``."""
    frames, good = [], []
    for d in dirs:
        path = d / store.PROBE
        try:
            problems = RunDir(d).damage()
            if problems:
                raise BadRun(f"{d}: damaged since it finished: {'; '.join(problems)}")
            summary = _read_json(d / store.SUMMARY)
            if not path.is_file():
                continue
            p = _read_parquet(path)
            if not {"category", "f1"} <= set(p.columns):
                raise BadRun(f"{path}: missing columns (category, f1)")
            checked_scores(p, path, {"f1": (0.0, 1.0)})
        except BadRun as exc:
            bad.append(str(exc))
            continue
        good.append(d)
        p = p.assign(backbone=summary.get("backbone"), init=summary.get("init", "pretrained"))
        if "variant" not in p.columns:
            p["variant"] = "yes_no"
        frames.append(p[["backbone", "init", "variant", "category", "f1"]])
    if not frames:
        empty = pd.DataFrame(columns=["backbone", "init", "variant", "category", "f1"]).astype({"f1": float})
        return empty, good
    probes = pd.concat(frames, ignore_index=True)
    probes["f1"] = pd.to_numeric(probes["f1"], errors="coerce").astype(float)
    return probes, good
