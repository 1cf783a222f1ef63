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

from harness import checkpoint
from harness.atomic import write_atomic, write_json
from harness.config import ExperimentConfig
from harness.errors import UserError
from harness.manifest import base_manifest, peak_memory_mb
from harness.registry import default_registry
from harness.runs import RunDir, write_config


def build_cell_questions(cfg: ExperimentConfig, task: Any = None, data: Any = None):
    """The cell's QuestionSet (pure data; no model is loaded)."""
    from harness.protocol import build_question_set

    registry = default_registry()
    task = task or registry.create("tasks", cfg.task, **cfg.task_options)
    data = data or task.load()
    return build_question_set(data, cfg, create_shuffle(cfg), task.question_template)


def create_shuffle(cfg: ExperimentConfig) -> Any:
    """The cell's shuffle; a factory that declares ``profile`` gets the config's preset (its defaults)."""
    registry = default_registry()
    options = dict(cfg.shuffle_options)
    if registry.accepts("shuffles", cfg.shuffle, "profile"):
        options.setdefault("profile", cfg.preset)
    return registry.create("shuffles", cfg.shuffle, **options)


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
    """Run one cell unless finished; returns its run directory.  Two processes never run the same cell."""
    run = RunDir.for_config(cfg)
    if run.done:
        return run.path
    run.path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(run.path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UserError(f"cell {cfg.cell_id()} is being run by another process") from None
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
    from harness.coherence import image_groups, visual_coherence
    from harness.evaluate import category_f1, score, summary
    from harness.features import default_cache_dir, encode_images
    from harness.prompt import build_prompt
    from harness.train import train_projector

    started = time.time()
    registry = default_registry()
    write_config(run.path / "config.toml", cfg)
    task = registry.create("tasks", cfg.task, **cfg.task_options)
    data = task.load()
    qs = build_cell_questions(cfg, task, data)
    qs.save(run.path)
    questions = qs.questions

    encoder = registry.create("encoders", cfg.encoder, **cfg.encoder_options)
    refs = sorted(questions["image"].unique())
    cache = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    features = encode_images(encoder, task.open_image, refs, cache, pool=cfg.data.image_tokens)
    index = {ref: i for i, ref in enumerate(refs)}

    backbone = registry.create(
        "backbones", cfg.backbone, init=cfg.init, seed=cfg.seed, **cfg.backbone_options
    )
    prompt = build_prompt(backbone, cfg.rules)
    log_path = run.path / "train_log.jsonl"
    with log_path.open("w") as log_file:

        def log(record: dict[str, Any]) -> None:
            log_file.write(json.dumps(record, default=float) + "\n")
            log_file.flush()

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
    _write_parquet(run.path / "predictions.parquet", predictions)
    _write_parquet(run.path / "metrics.parquet", metrics)

    train_images = questions.loc[questions["split"] == "train", ["image", "label_leaf"]].drop_duplicates()
    pooled = encode_images(encoder, task.open_image, refs, cache, pool="pool:1", progress=False)[:, 0]
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
            },
            "started": started,
            "finished": time.time(),
            "wall_s": round(time.time() - started, 2),
            "peak_memory_mb": round(peak_memory_mb(), 1),
        },
    )
    console.print(summary(metrics).to_string(index=False))


def probe_id(cfg: ExperimentConfig) -> str:
    """Hash of what determines a probe: task, its leaves, the backbone and its init and seed."""
    keys = ("task", "task_options", "backbone", "backbone_options", "init", "seed")
    payload = {k: getattr(cfg, k) for k in keys} | {"max_leaves": cfg.data.max_leaves}
    blob = json.dumps(payload, sort_keys=True, default=str)
    return "probe-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_probe(cfg: ExperimentConfig, console: Console | None = None) -> Path:
    """Text-only probes of the cell's backbone (yes/no and cloze) into ``<output_dir>/probe-<hash>/``."""
    from harness.evaluate import category_f1, summary
    from harness.probe import CLOZE_TEMPLATE, cloze_metrics, cloze_scores, probe_questions, probe_yes_no
    from harness.protocol import sample_leaves

    run = RunDir(Path(cfg.output_dir) / probe_id(cfg))
    if run.done:
        return run.path
    run.reset()
    registry = default_registry()
    task = registry.create("tasks", cfg.task, **cfg.task_options)
    data = sample_leaves(task.load(), cfg.data.max_leaves)
    backbone = registry.create(
        "backbones", cfg.backbone, init=cfg.init, seed=cfg.seed, **cfg.backbone_options
    )
    yes_no = probe_yes_no(backbone, probe_questions(data, cfg.seed, template=task.probe_template))
    yes_no_f1 = category_f1(yes_no).assign(variant="yes_no")
    cloze_template = getattr(task, "cloze_template", CLOZE_TEMPLATE)
    cloze, cloze_f1 = cloze_metrics(cloze_scores(backbone, data, template=cloze_template))
    _write_parquet(run.path / "probe.parquet", pd.concat([yes_no_f1, cloze_f1.assign(variant="cloze")]))
    _write_parquet(run.path / "probe_questions.parquet", yes_no)
    overall = summary(yes_no_f1).iloc[0]
    record = {
        "kind": "probe",
        "task": cfg.task,
        "backbone": cfg.backbone,
        "init": cfg.init,
        "seed": cfg.seed,
        "yes_no": {
            "macro_f1": 100 * float(overall["macro_f1"]),
            "majority_f1": 100 * float(overall["majority_f1"]),
            "n_questions": len(yes_no),
            "n_yes": int(yes_no["answer"].sum()),
        },
        "cloze": {**cloze, "macro_f1": 100 * float(summary(cloze_f1).iloc[0]["macro_f1"])},
        "fingerprint": backbone.fingerprint(),
    }
    write_json(run.path / "summary.json", record)
    write_json(run.path / "manifest.json", {**base_manifest(), "config": cfg.model_dump(mode="json")})
    run.mark_done()
    (console or Console()).print(
        f"probe {cfg.backbone}/{cfg.init}: yes/no macro F1 {record['yes_no']['macro_f1']:.1f} "
        f"(majority {record['yes_no']['majority_f1']:.1f}); "
        f"cloze top-1 {100 * cloze['top1_accuracy']:.1f} %, "
        f"MRR {cloze['mrr']:.3f}"
    )
    return run.path
