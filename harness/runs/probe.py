"""Text-only probes of a config's backbones (``taxobench probe``), each into ``<output_dir>/probe-<hash>/``:
the paper's probe, the yes/no-per-category variant and the cloze variant (``[probe] variants``)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from harness.common.files import write_json
from harness.config import ExperimentConfig
from harness.plugin.registry import default_registry
from harness.runs import store
from harness.runs.cell import create_plugin
from harness.runs.manifest import base_manifest, code_commit
from harness.runs.store import RunDir


def probe_id(cfg: ExperimentConfig) -> str:
    """Hash of what determines a probe: task, its leaves, the backbone, its init and seed, the settings."""
    keys = ("task", "task_options", "backbone", "backbone_options", "init", "seed")
    payload = {k: getattr(cfg, k) for k in keys} | {"max_leaves": cfg.data.max_leaves}
    payload |= {"probe": cfg.probe.model_dump(mode="json"), "data_seed": cfg.data_seed}
    payload["dtype"] = cfg.training.dtype  # the probe runs in the cell's training dtype
    payload["task_options"] = {k: v for k, v in cfg.task_options.items() if k != "root"}
    blob = json.dumps(payload, sort_keys=True, default=str)
    return store.probe_dir_name(hashlib.sha256(blob.encode()).hexdigest()[:16])


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
    code_commit()  # pinned before the probes run: the commit the manifest names
    task = create_plugin(cfg, "tasks")
    data = probe_data(cfg, task)
    backbone = create_plugin(cfg, "backbones")
    precision = str(on_device(cfg, backbone)).removeprefix("torch.")
    record = store.ProbeRecord(
        task=cfg.task, backbone=cfg.backbone, init=cfg.init, seed=cfg.seed, fingerprint=backbone.fingerprint()
    )
    frames = []
    out = console or Console()
    for variant in probe_variants(cfg, task):
        started = time.perf_counter()
        f1, details, questions = PROBES[variant](cfg, task, data, backbone)
        out.print(f"probe {cfg.backbone}/{cfg.init}: {variant} done in {time.perf_counter() - started:.0f} s")
        frames.append(f1.assign(variant=variant))
        setattr(record, variant, details)
        run.write_parquet(store.probe_questions_file(variant), questions)
    run.write_parquet(store.PROBE, pd.concat(frames, ignore_index=True))
    run.write_record(record)
    manifest = {**base_manifest(), "config": cfg.model_dump(mode="json"), "precision": precision}
    write_json(run.path / store.MANIFEST, manifest)
    run.mark_done()
    out.print(f"probe {cfg.backbone}/{cfg.init}: " + "; ".join(_probe_line(record.to_json())))
    return run.path


def on_device(cfg: ExperimentConfig, backbone: Any) -> Any:
    """Put the probed (or scoring) backbone on the cell's training device, in its training dtype
    (``training.device``, ``training.dtype``), frozen: a probe costs what the cell's frozen LM costs.
    Returns the dtype it runs in."""
    from harness.common.devices import resolve_device
    from harness.training.precision import prepare_backbone

    return prepare_backbone(backbone, resolve_device(cfg.training.device), cfg.training.dtype)


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
        on_device(cfg, scorer)
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
