"""One cell end to end: task -> QuestionSet -> cached features -> projector training -> evaluation.

Everything lands in the cell's run directory (the layout of :mod:`harness.runs.store`); ``DONE`` is written
last.  The stages are separate functions: :func:`cell_features`, :func:`train_and_score`,
:func:`write_results`.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout
from rich.console import Console

from harness.common.weights import weights_digest
from harness.config import ExperimentConfig
from harness.plugin.registry import default_registry
from harness.runs import store
from harness.runs.manifest import base_manifest, code_commit, peak_memory_mb
from harness.runs.store import RunDir, RunRecord


def create_plugin(cfg: ExperimentConfig, kind: str) -> Any:
    """The cell's plugin of ``kind``, built with its config options: a task or shuffle whose factory
    declares a ``profile`` keyword also gets the config's preset (its rule defaults follow the profile);
    a backbone gets ``init`` and ``seed``."""
    field = {"tasks": "task", "shuffles": "shuffle", "encoders": "encoder", "backbones": "backbone"}[kind]
    ref, options = getattr(cfg, field), dict(getattr(cfg, f"{field}_options"))
    registry = default_registry()
    if kind == "backbones":
        options |= {"init": cfg.init, "seed": cfg.seed}
    elif registry.accepts(kind, ref, "profile"):
        options.setdefault("profile", cfg.preset)
    return registry.create(kind, ref, **options)


def build_cell_questions(cfg: ExperimentConfig, task: Any = None, data: Any = None):
    """The cell's QuestionSet (pure data; no model is loaded)."""
    from harness.protocol.questions import build_question_set

    task = task or create_plugin(cfg, "tasks")
    data = data or task.load()
    return build_question_set(data, cfg, create_plugin(cfg, "shuffles"), task.question_template)


def run_cell(cfg: ExperimentConfig, console: Console | None = None) -> Path:
    """Run one cell unless finished; returns its run directory.  Two processes never run the same cell: a
    cell whose lock another process holds is left to it (the directory is returned without DONE)."""
    run = RunDir.for_config(cfg)
    if run.done:
        return run.path
    run.path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(run.lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return run.path
    try:
        if run.done:
            return run.path
        run.reset_keeping_checkpoint()  # a killed cell resumes its training
        try:
            _run_cell(cfg, run, console or Console())
        except Exception:
            run.mark_failed(traceback.format_exc())
            raise
        run.mark_done()
        run.discard_checkpoint()
        return run.path
    finally:
        lock.release()


@dataclass
class CellFeatures:
    """The cell's images as encoder features: ``features[index[ref]]``, and mean-pooled ones for
    coherence."""

    features: Any
    index: dict[str, int]
    pooled: Any
    encoder: Any


def cell_features(cfg: ExperimentConfig, task: Any, questions: pd.DataFrame) -> CellFeatures:
    """Features of every image the questions use (from the cache; the encoder runs on new images only)."""
    from harness.training.features import default_cache_dir, encode_images

    encoder = create_plugin(cfg, "encoders")
    refs = sorted(questions["image"].unique())
    cache = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    locate = getattr(task, "locate", None)
    features = encode_images(encoder, task.open_image, refs, cache, pool=cfg.data.image_tokens, locate=locate)
    index = {ref: i for i, ref in enumerate(refs)}
    if cfg.data.feature_norm == "standardize":
        train_images = questions.loc[questions["split"] == "train", "image"]
        features = standardize(features, [index[r] for r in train_images])
    pooled = encode_images(
        encoder, task.open_image, refs, cache, pool="pool:1", progress=False, locate=locate
    )
    return CellFeatures(features, index, pooled[:, 0], encoder)


def train_and_score(
    cfg: ExperimentConfig,
    run: RunDir,
    feats: CellFeatures,
    questions: pd.DataFrame,
    surface: Callable[[str], str],
):
    """Train the projector (log and checkpoints in ``run``), score the test questions: (backbone,
    prompt, predictions, metrics, weights digest).  ``surface``: a label's text (the training questions
    carry it as ``label_text``, for ``training.projector_init``)."""
    from harness.training.evaluation import category_f1, score, summary
    from harness.training.loop import train_projector
    from harness.training.projector_init import LABEL_TEXT
    from harness.training.prompt import build_prompt
    from harness.training.tracking import Trackers

    backbone = create_plugin(cfg, "backbones")
    prompt = build_prompt(backbone, cfg.rules)
    weights = weights_digest(backbone.module)  # as loaded, before training casts it
    trackers = Trackers(cfg.tracking, run.path, cfg.model_dump(mode="json"))
    split = {name: questions[questions["split"] == name] for name in ("train", "val", "test")}
    split["train"] = split["train"].assign(**{LABEL_TEXT: split["train"]["label_leaf"].map(surface)})
    with (run.path / store.TRAIN_LOG).open("w") as log_file:

        def log(record: dict[str, Any]) -> None:
            log_file.write(json.dumps(record, default=float) + "\n")
            log_file.flush()
            trackers.record(record)

        val = split["val"] if len(split["val"]) else None
        projector = train_projector(
            backbone, feats.features, feats.index, split["train"], val, cfg.training, cfg.seed,
            log=log, checkpoint_dir=run.path / store.CHECKPOINT, prompt=prompt,
        )  # fmt: skip
    predictions = score(backbone, projector, feats.features, feats.index, split["test"], prompt=prompt)
    metrics = category_f1(predictions)
    trackers.final(summary(metrics))
    trackers.close()
    return backbone, prompt, predictions, metrics, weights


def _run_cell(cfg: ExperimentConfig, run: RunDir, console: Console) -> None:
    from harness.training.coherence import image_groups, visual_coherence
    from harness.training.evaluation import summary
    from harness.training.loop import check_format_steps, training_steps

    started = time.time()
    code_commit()  # pinned before training imports and runs: the commit the manifest names
    run.write_config(cfg)
    task = create_plugin(cfg, "tasks")
    data = task.load()
    qs = build_cell_questions(cfg, task, data)
    qs.save(run.path)
    train = qs.questions[qs.questions["split"] == "train"]
    check_format_steps(cfg.training, training_steps(train, cfg.training, cfg.seed))  # before any model loads
    feats = cell_features(cfg, task, qs.questions)
    trained = train_and_score(cfg, run, feats, qs.questions, data.surface)
    backbone, prompt, predictions, metrics, weights = trained
    run.write_parquet(store.PREDICTIONS, predictions)
    run.write_parquet(store.METRICS, metrics)
    train_images = qs.questions.loc[qs.questions["split"] == "train", ["image", "label_leaf"]]
    groups = image_groups(train_images.drop_duplicates(), data.relations)
    run.write_parquet(store.COHERENCE, visual_coherence(feats.pooled, feats.index, groups))
    run.write_record(RunRecord.from_config(cfg))
    fingerprints = {
        "task": task.fingerprint(),
        "encoder": feats.encoder.fingerprint(),
        "backbone": backbone.fingerprint(),
        "backbone_weights_sha256": weights,
    }
    write_manifest(run, cfg, prompt, backbone, fingerprints, started)
    console.print(cell_summary(cfg, summary(metrics)))


def write_manifest(
    run: RunDir, cfg: ExperimentConfig, prompt: Any, backbone: Any, fingerprints: dict, started: float
) -> None:
    """What produced the cell: config, seeds, rules, prompt, precision, fingerprints, times, versions."""
    from harness.common.files import write_json

    manifest = {
        **base_manifest(),
        "config": cfg.model_dump(mode="json"),
        "cell_id": cfg.cell_id(),
        "seeds": {"run": cfg.seed, "data": cfg.data_seed},
        "rules": {"preset": cfg.preset, **cfg.rules.model_dump(mode="json")},
        "prompt": prompt.describe(),
        "precision": str(next(backbone.module.parameters()).dtype).removeprefix("torch."),
        "fingerprints": fingerprints,
        "plugins": plugin_sources(cfg),
        "started": started,
        "finished": time.time(),
        "wall_s": round(time.time() - started, 2),
        "peak_memory_mb": round(peak_memory_mb(), 1),
    }
    write_json(run.path / store.MANIFEST, manifest)


def plugin_sources(cfg: ExperimentConfig) -> dict[str, dict[str, str]]:
    """The package (and version) that provided the cell's task, encoder, backbone and shuffle."""
    registry = default_registry()
    refs = {"tasks": cfg.task, "encoders": cfg.encoder, "backbones": cfg.backbone, "shuffles": cfg.shuffle}
    out = {}
    for kind, ref in refs.items():
        reg = registry.get(kind, ref.partition(":")[0])
        out[kind] = {"name": ref, "package": reg.package, "version": reg.version}
    return out


def cell_summary(cfg: ExperimentConfig, per_subset: pd.DataFrame) -> str:
    """One line per subset: macro F1 and the majority baseline, in percent (as the leaderboard shows)."""
    lines = [f"cell {cfg.cell_id()} ({cfg.task}, seed {cfg.seed}): macro F1 %"]
    for row in per_subset.itertuples():
        lines.append(
            f"  {row.subset:<7} {100 * row.macro_f1:5.1f}  (majority {100 * row.majority_f1:5.1f}, "
            f"{row.n_categories} categories)"
        )
    return "\n".join(lines)


def standardize(features: Any, train_rows: list[int]) -> Any:
    """Features centred and scaled per dimension by the mean and SD over the training images' tokens."""
    train = features[sorted(set(train_rows))].reshape(-1, features.shape[-1])
    return (features - train.mean(0)) / (train.std(0) + 1e-6)
