"""One cell end to end: task -> QuestionSet -> cached features -> projector training -> evaluation.

Everything lands in the cell's run directory; ``DONE`` is written last.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout
from rich.console import Console

from harness.training import checkpoint
from harness.common.files import write_atomic, write_json
from harness.config import ExperimentConfig
from harness.runs.manifest import base_manifest, peak_memory_mb, weights_digest
from harness.plugin.registry import default_registry
from harness.runs.store import RunDir, write_config


def build_cell_questions(cfg: ExperimentConfig, task: Any = None, data: Any = None):
    """The cell's QuestionSet (pure data; no model is loaded)."""
    from harness.protocol.questions import build_question_set

    task = task or create_plugin(cfg, "tasks")
    data = data or task.load()
    return build_question_set(data, cfg, create_plugin(cfg, "shuffles"), task.question_template)


def create_plugin(cfg: ExperimentConfig, kind: str) -> Any:
    """The cell's task or shuffle, built with its config options; a factory that declares a ``profile``
    keyword also gets the config's preset (so its rule defaults follow the profile)."""
    ref, options = {"tasks": (cfg.task, cfg.task_options), "shuffles": (cfg.shuffle, cfg.shuffle_options)}[
        kind
    ]
    registry = default_registry()
    options = dict(options)
    if registry.accepts(kind, ref, "profile"):
        options.setdefault("profile", cfg.preset)
    return registry.create(kind, ref, **options)


def summary_record(cfg: ExperimentConfig) -> dict[str, Any]:
    return {
        "run_id": cfg.cell_id(),
        "task": cfg.task,
        "encoder": cfg.encoder,
        "backbone": cfg.backbone,
        "init": cfg.init,
        "ablation_kind": cfg.ablation.kind,
        "ablation_level": cfg.ablation.level,
        "shuffle": cfg.shuffle,
        "seed": cfg.seed,
        "source": "taxobench",
        "reference": None,
    }


def _write_parquet(path: Path, frame) -> None:
    write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def run_cell(cfg: ExperimentConfig, console: Console | None = None) -> Path:
    """Run one cell unless finished; returns its run directory.  Two processes never run the same cell: a
    cell whose lock another process holds is left to it (the directory is returned without DONE)."""
    run = RunDir.for_config(cfg)
    if run.done:
        return run.path
    run.path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(run.path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return run.path
    try:
        if run.done:
            return run.path
        checkpoint.reset_keeping_checkpoint(run)  # a killed cell resumes its training
        try:
            _run_cell(cfg, run, console or Console())
        except Exception:
            run.mark_failed(traceback.format_exc())
            raise
        run.mark_done()
        checkpoint.discard(run.path)
        return run.path
    finally:
        lock.release()


def _run_cell(cfg: ExperimentConfig, run: RunDir, console: Console) -> None:
    from harness.training.coherence import image_groups, visual_coherence
    from harness.training.evaluation import category_f1, score, summary
    from harness.training.features import default_cache_dir, encode_images
    from harness.training.prompt import build_prompt
    from harness.training.tracking import Trackers
    from harness.training.loop import train_projector

    started = time.time()
    registry = default_registry()
    write_config(run.path / "config.toml", cfg)
    task = create_plugin(cfg, "tasks")
    data = task.load()
    qs = build_cell_questions(cfg, task, data)
    qs.save(run.path)
    questions = qs.questions

    encoder = registry.create("encoders", cfg.encoder, **cfg.encoder_options)
    refs = sorted(questions["image"].unique())
    cache = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    locate = getattr(task, "locate", None)
    features = encode_images(encoder, task.open_image, refs, cache, pool=cfg.data.image_tokens, locate=locate)
    index = {ref: i for i, ref in enumerate(refs)}
    if cfg.data.feature_norm == "standardize":
        features = standardize(
            features, [index[r] for r in questions.loc[questions["split"] == "train", "image"]]
        )

    backbone = registry.create(
        "backbones", cfg.backbone, init=cfg.init, seed=cfg.seed, **cfg.backbone_options
    )
    prompt = build_prompt(backbone, cfg.rules)
    backbone_weights = weights_digest(backbone.module)  # as loaded, before training casts it
    log_path = run.path / "train_log.jsonl"
    trackers = Trackers(cfg.tracking, run.path, cfg.model_dump(mode="json"))
    with log_path.open("w") as log_file:

        def log(record: dict[str, Any]) -> None:
            log_file.write(json.dumps(record, default=float) + "\n")
            log_file.flush()
            trackers.record(record)

        train = questions[questions["split"] == "train"]
        val = questions[questions["split"] == "val"]
        projector = train_projector(
            backbone,
            features,
            index,
            train,
            val if len(val) else None,
            cfg.training,
            cfg.seed,
            log=log,
            checkpoint_dir=run.path / checkpoint.NAME,
            prompt=prompt,
        )
    test = questions[questions["split"] == "test"]
    predictions = score(backbone, projector, features, index, test, prompt=prompt)
    metrics = category_f1(predictions)
    trackers.final(summary(metrics))
    trackers.close()
    _write_parquet(run.path / "predictions.parquet", predictions)
    _write_parquet(run.path / "metrics.parquet", metrics)

    train_images = questions.loc[questions["split"] == "train", ["image", "label_leaf"]].drop_duplicates()
    pooled = encode_images(
        encoder, task.open_image, refs, cache, pool="pool:1", progress=False, locate=locate
    )[:, 0]
    coherence = visual_coherence(pooled, index, image_groups(train_images, data.relations))
    _write_parquet(run.path / "coherence.parquet", coherence)

    write_json(run.path / "summary.json", summary_record(cfg))
    write_json(
        run.path / "manifest.json",
        {
            **base_manifest(),
            "config": cfg.model_dump(mode="json"),
            "cell_id": cfg.cell_id(),
            "seeds": {"run": cfg.seed, "data": cfg.data_seed},
            "rules": {"preset": cfg.preset, **cfg.rules.model_dump(mode="json")},
            "prompt": prompt.describe(),
            "precision": str(next(backbone.module.parameters()).dtype).removeprefix("torch."),
            "fingerprints": {
                "task": task.fingerprint(),
                "encoder": encoder.fingerprint(),
                "backbone": backbone.fingerprint(),
                "backbone_weights_sha256": backbone_weights,
            },
            "started": started,
            "finished": time.time(),
            "wall_s": round(time.time() - started, 2),
            "peak_memory_mb": round(peak_memory_mb(), 1),
        },
    )
    console.print(cell_summary(cfg, summary(metrics)))


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


def probe_id(cfg: ExperimentConfig) -> str:
    """Hash of what determines a probe: task, its leaves, the backbone, its init and seed, the settings."""
    keys = ("task", "task_options", "backbone", "backbone_options", "init", "seed")
    payload = {k: getattr(cfg, k) for k in keys} | {"max_leaves": cfg.data.max_leaves}
    payload |= {"probe": cfg.probe.model_dump(mode="json"), "data_seed": cfg.data_seed}
    payload["task_options"] = {k: v for k, v in cfg.task_options.items() if k != "root"}
    blob = json.dumps(payload, sort_keys=True, default=str)
    return "probe-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def probe_data(cfg: ExperimentConfig, task: Any) -> Any:
    """The task data a probe asks about: the task's taxonomy (no images needed where the task can give it
    alone, ``taxonomy_data()``), sampled to ``data.max_leaves``."""
    from harness.protocol.questions import sample_leaves

    describe = getattr(task, "taxonomy_data", None)
    return sample_leaves(describe() if describe is not None else task.load(), cfg.data.max_leaves)


def probe_variants(cfg: ExperimentConfig, task: Any) -> list[str]:
    """The configured probe variants this task offers (a task may list its own ``probe_variants``)."""
    offered = getattr(task, "probe_variants", cfg.probe.variants)
    return [v for v in cfg.probe.variants if v in offered]


def paper_probe_frame(cfg: ExperimentConfig, task: Any, data: Any) -> pd.DataFrame:
    """The paper probe's question rows for this task (its shipped forms and negatives where it has them)."""
    from harness.protocol.probe_questions import paper_probe_questions

    forms = task.probe_forms() if hasattr(task, "probe_forms") else None
    shipped = task.probe_negatives() if hasattr(task, "probe_negatives") else None
    return paper_probe_questions(data, cfg.data_seed, forms, shipped)


def run_probe(cfg: ExperimentConfig, console: Console | None = None) -> Path:
    """Text-only probes of the cell's backbone into ``<output_dir>/probe-<hash>/``: the paper's probe,
    our yes/no-per-category variant and the cloze variant (``cfg.probe.variants``)."""
    run = RunDir(Path(cfg.output_dir) / probe_id(cfg))
    if run.done:
        return run.path
    run.reset()
    registry = default_registry()
    task = create_plugin(cfg, "tasks")
    data = probe_data(cfg, task)
    backbone = registry.create(
        "backbones", cfg.backbone, init=cfg.init, seed=cfg.seed, **cfg.backbone_options
    )
    record: dict[str, Any] = {
        "kind": "probe",
        "task": cfg.task,
        "backbone": cfg.backbone,
        "init": cfg.init,
        "seed": cfg.seed,
        "fingerprint": backbone.fingerprint(),
    }
    frames = []
    for variant in probe_variants(cfg, task):
        f1, details, questions = PROBES[variant](cfg, task, data, backbone)
        frames.append(f1.assign(variant=variant))
        record[variant] = details
        _write_parquet(run.path / f"probe_{variant}.parquet", questions)
    _write_parquet(run.path / "probe.parquet", pd.concat(frames, ignore_index=True))
    write_json(run.path / "summary.json", record)
    write_json(run.path / "manifest.json", {**base_manifest(), "config": cfg.model_dump(mode="json")})
    run.mark_done()
    (console or Console()).print(f"probe {cfg.backbone}/{cfg.init}: " + "; ".join(_probe_line(record)))
    return run.path


def _probe_line(record: dict[str, Any]) -> list[str]:
    parts = []
    for name in ("paper", "yes_no"):
        if name in record:
            r = record[name]
            parts.append(f"{name} macro F1 {r['macro_f1']:.1f} % (majority {r['majority_f1']:.1f} %)")
    if "cloze" in record:
        parts.append(
            f"cloze top-1 {100 * record['cloze']['top1_accuracy']:.1f} %, MRR {record['cloze']['mrr']:.3f}"
        )
    return parts


def _probe_paper(cfg: ExperimentConfig, task: Any, data: Any, backbone: Any):
    from harness.training.evaluation import category_f1
    from harness.training.probe import paper_probe, pooled_f1

    scorer = backbone
    if cfg.probe.scorer != "self":
        scorer = default_registry().create("backbones", cfg.probe.scorer, **cfg.probe.scorer_options)
    scored = paper_probe(backbone, paper_probe_frame(cfg, task, data), scorer=scorer)
    pooled, majority = pooled_f1(scored)
    details = {
        "macro_f1": 100 * pooled,  # pooled over every question, as the paper reports it
        "majority_f1": 100 * majority,
        "n_questions": len(scored),
        "n_yes": int(scored["answer"].sum()),
        "phrasings_chosen": {
            str(k): int(v) for k, v in scored["phrasing"].value_counts().sort_index().items()
        },
        "scorer": cfg.probe.scorer,
    }
    return category_f1(scored), details, scored


def _probe_yes_no(cfg: ExperimentConfig, task: Any, data: Any, backbone: Any):
    from harness.training.evaluation import category_f1, summary
    from harness.training.probe import probe_questions, probe_yes_no

    scored = probe_yes_no(backbone, probe_questions(data, cfg.data_seed, template=task.probe_template))
    f1 = category_f1(scored)
    overall = summary(f1).iloc[0]
    details = {
        "macro_f1": 100 * float(overall["macro_f1"]),
        "majority_f1": 100 * float(overall["majority_f1"]),
        "n_questions": len(scored),
        "n_yes": int(scored["answer"].sum()),
    }
    return f1, details, scored


def _probe_cloze(cfg: ExperimentConfig, task: Any, data: Any, backbone: Any):
    from harness.training.evaluation import summary
    from harness.training.probe import CLOZE_TEMPLATE, cloze_metrics, cloze_scores

    scores = cloze_scores(backbone, data, template=getattr(task, "cloze_template", CLOZE_TEMPLATE))
    metrics, f1 = cloze_metrics(scores)
    return f1, {**metrics, "macro_f1": 100 * float(summary(f1).iloc[0]["macro_f1"])}, scores


PROBES = {"paper": _probe_paper, "yes_no": _probe_yes_no, "cloze": _probe_cloze}
