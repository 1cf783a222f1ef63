"""Projector training through the frozen LM (PROTOCOL.md §1, §5, §9; shared-prefix packing).

Loss: NLL of the correct answer token (the prompt's ``yes_id``/``no_id``) under the full-vocabulary log-
softmax at each question's answer position, and with ``rules.answer_eos`` also of the end-of-sequence token
after the fed answer token, averaged over the batch's label tokens (:meth:`VisionLM.loss`). AdamW (weight
decay on weight matrices only, not biases, as Prismatic does), learning rate with linear warmup over
``int(warmup_ratio * steps)`` steps then cosine decay to 0 (transformers' ``get_cosine_schedule_with_warmup``
formula), gradient clipping at ``max_grad_norm``. A batch holds whole images (their questions are packed
behind one image prefix) and about ``batch_size`` questions: see
:func:`harness.training.vision_lm.plan_batches`. Epoch
``e`` visits the images in the order of ``derive_rng(seed, "order", e)``; a fractional last epoch stops after
that fraction of its batches. ``training.dtype`` bfloat16/float16 runs the frozen backbone in that dtype
(:mod:`harness.training.precision`: CUDA, and bfloat16 on CPUs with native support; else float32 with a
warning). With
a checkpoint folder, the state is saved after every epoch and training resumes from it
(:mod:`harness.training.checkpoint`); resumed training on CPU is bit-identical to uninterrupted training.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from harness.common.devices import resolve_device
from harness.common.seeding import derive_rng
from harness.config import Training
from harness.errors import UserError
from harness.plugin.contracts import Backbone
from harness.training import checkpoint
from harness.training.evaluation import category_f1, score, summary
from harness.training.precision import prepare_backbone
from harness.training.projector import Projector, build_projector, output_spread
from harness.training.projector_init import fit_to_label_embeddings
from harness.training.prompt import Prompt
from harness.training.vision_lm import Batch, ImageGroup, VisionLM, plan_batches

Log = Callable[[dict[str, Any]], None]
LOG_EVERY = 10  # optimiser steps per "train" log record


def epoch_plans(sizes: list[int], training: Training, seed: int) -> list[tuple[int, list[list[int]]]]:
    """(epoch, batches of group indices) for every epoch that runs, the last one possibly truncated."""
    plans = []
    for epoch in range(math.ceil(training.epochs)):
        order = list(range(len(sizes)))
        derive_rng(seed, "order", epoch).shuffle(order)
        batches = plan_batches(sizes, order, training.batch_size)
        left = training.epochs - epoch
        if left < 1:
            batches = batches[: max(1, round(left * len(batches)))]
        plans.append((epoch, batches))
    return plans


def training_steps(train: pd.DataFrame, training: Training, seed: int) -> int:
    """The optimiser steps ``train`` questions give: whole images per batch (:func:`epoch_plans`), images in
    the order :meth:`VisionLM.groups` lays them out."""
    sizes = train.groupby("image").size().sort_index().tolist()
    return sum(len(batches) for _, batches in epoch_plans(sizes, training, seed))


def check_format_steps(training: Training, total: int) -> None:
    """A UserError if the format tokens' head start (``format_steps``) leaves no step for the projector."""
    if training.format_steps >= total:
        raise UserError(f"training.format_steps ({training.format_steps}) leaves none of the {total} steps")


def cosine_with_warmup(total: int, warmup: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))

    return factor


def make_optimizer(projector: Projector, training: Training) -> torch.optim.AdamW:
    """AdamW over the projector: weight matrices with weight decay, biases without, then the format tokens
    (if any) without weight decay at ``format_lr``."""
    mlp = [p for name, p in projector.named_parameters() if name != "format"]
    groups: list[dict[str, Any]] = [
        {"params": [p for p in mlp if p.ndim >= 2], "weight_decay": training.weight_decay},
        {"params": [p for p in mlp if p.ndim < 2], "weight_decay": 0.0},
    ]
    if projector.n_format:
        lr = training.format_lr or training.lr
        groups.append({"params": [projector.format], "weight_decay": 0.0, "lr": lr})
    return torch.optim.AdamW(groups, lr=training.lr)


def schedules(training: Training, total: int, format_group: bool) -> list[Callable[[int], float]]:
    """The lr factor of each optimiser group: the projector's groups wait ``format_steps`` steps (factor 0),
    then warm up over ``int(warmup_ratio * total)`` steps and decay to 0 by the end; the format tokens'
    group (``format_group``: the projector has format tokens) decays from the first step."""
    wait = training.format_steps
    after = cosine_with_warmup(total - wait, int(training.warmup_ratio * total))

    def projector(step: int) -> float:
        return 0.0 if step < wait else after(step - wait)

    factors: list[Callable[[int], float]] = [projector, projector]
    return [*factors, cosine_with_warmup(total, 0)] if format_group else factors


class Stepper:
    """One optimiser step on a batch: forward, loss, backward, clip, AdamW, schedule."""

    def __init__(
        self,
        vlm: VisionLM,
        features: torch.Tensor,
        training: Training,
        total_steps: int,
        device: torch.device,
    ) -> None:
        self.vlm, self.features, self.training, self.device = vlm, features, training, device
        self.optimizer = make_optimizer(vlm.projector, training)
        factors = schedules(training, total_steps, vlm.projector.n_format > 0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factors)
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=device.type == "cuda" and training.dtype == "float16"
        )

    def step(self, batch: Batch) -> tuple[float, float]:
        """(mean loss, gradient norm before clipping) of one step."""
        loss = self.vlm.loss(batch, self.features, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        params = self.vlm.projector.parameters()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, self.training.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.item(), float(grad_norm)


def validate(
    backbone: Backbone,
    projector: Projector,
    features: torch.Tensor,
    index: dict[str, int],
    val: pd.DataFrame,
    training: Training,
    prompt: Prompt | None = None,
) -> dict[str, float]:
    scored = score(
        backbone, projector, features, index, val, batch_size=4 * training.batch_size, prompt=prompt
    )
    out = {"val_loss": float(scored["nll"].mean())}
    for row in summary(category_f1(scored)).itertuples():
        out[f"val_f1_{row.subset}"] = float(row.macro_f1)
    return out


class Recorder:
    """The training log: every record is kept (for checkpoints) and passed to the caller's ``log``."""

    def __init__(self, log: Log | None) -> None:
        self.records: list[dict[str, Any]] = []
        self.log = log

    def __call__(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if self.log is not None:
            self.log(record)


class TrainMetrics:
    """Loss and throughput over a window of steps, a "train" record every ``LOG_EVERY`` steps (and the
    last), and the progress bar: kept out of the training loop (as Prismatic's metrics are)."""

    COLUMNS = (
        TextColumn("train"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    )

    def __init__(
        self,
        total: int,
        done: int,
        emit: Recorder,
        progress: bool,
        describe: Callable[[Batch], dict[str, float]] | None = None,
    ) -> None:
        self.total, self.emit, self.describe = total, emit, describe
        self.bar = Progress(*self.COLUMNS, disable=not progress, transient=False)
        self.task = self.bar.add_task("train", total=total, completed=done, info="")
        self._reset()

    def _reset(self) -> None:
        self.window = {"loss": 0.0, "n": 0, "questions": 0, "tokens": 0, "t": time.perf_counter()}

    def __enter__(self) -> TrainMetrics:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def step(self, step: int, epoch: float, loss: float, grad_norm: float, lr: float, batch: Batch) -> None:
        w = self.window
        w["loss"] += loss
        w["n"] += 1
        w["questions"] += len(batch.targets)
        w["tokens"] += batch.packed.n_tokens
        if step % LOG_EVERY == 0 or step == self.total:
            secs = max(time.perf_counter() - w["t"], 1e-9)
            record = {
                "kind": "train",
                "step": step,
                "epoch": epoch,
                "loss": w["loss"] / w["n"],
                "lr": lr,
                "grad_norm": grad_norm,
                "questions_per_s": w["questions"] / secs,
                "tokens_per_s": w["tokens"] / secs,
                **(self.describe(batch) if self.describe is not None else {}),
            }
            self.emit(record)
            self.bar.update(self.task, info=f"loss {record['loss']:.4f}  {record['questions_per_s']:.1f} q/s")
            self._reset()
        self.bar.advance(self.task)


@dataclass
class Session:
    """What one training run holds: the model pieces, the question groups, the epoch plans."""

    vlm: VisionLM
    groups: list[ImageGroup]
    plans: list[tuple[int, list[list[int]]]]
    stepper: Stepper
    start: dict[str, float]  # how the projector started (``label_fit_cosine`` of projector_init)

    @property
    def total(self) -> int:
        return sum(len(batches) for _, batches in self.plans)

    def parts(self) -> dict[str, Any]:
        """The checkpointed states."""
        s = self.stepper
        return {
            "projector": self.vlm.projector,
            "optimizer": s.optimizer,
            "scheduler": s.scheduler,
            "scaler": s.scaler,
        }


def start_session(
    backbone: Backbone,
    features: torch.Tensor,
    index: dict[str, int],
    train: pd.DataFrame,
    training: Training,
    seed: int,
    prompt: Prompt | None,
) -> Session:
    """The frozen backbone on the training device, a fresh projector, the batches of every epoch."""
    device = resolve_device(training.device)
    prepare_backbone(backbone, device, training.dtype)
    centred = training.projector_init == "label-embeddings-centred"
    projector = build_projector(
        features.shape[2],
        backbone.hidden_size,
        seed,
        training.seeded_projector_init,
        training.format_tokens,
        centred,
    )
    start = {}
    if training.projector_init != "default":
        fit = fit_to_label_embeddings(projector, backbone, features, index, train, device)
        start["label_fit_cosine"] = fit
    projector.to(device).train()
    vlm = VisionLM(backbone, projector, features.shape[1], prompt)
    groups = vlm.groups(train, index, with_answers=True)
    plans = epoch_plans([g.n for g in groups], training, seed)
    total = sum(len(batches) for _, batches in plans)
    check_format_steps(training, total)
    return Session(vlm, groups, plans, Stepper(vlm, features, training, total, device), start)


def train_projector(
    backbone: Backbone,
    features: torch.Tensor,
    index: dict[str, int],
    train: pd.DataFrame,
    val: pd.DataFrame | None,
    training: Training,
    seed: int,
    log: Log | None = None,
    progress: bool = True,
    checkpoint_dir: Path | None = None,
    prompt: Prompt | None = None,
) -> Projector:
    """Train a fresh projector on ``train`` questions; ``features`` ``[I, N, D]`` rows are named by ``index``.

    The backbone is moved to ``training.device`` and kept frozen; the trained projector is returned (on
    that device, in eval mode).  ``log`` receives "train" records every few steps (loss, lr, gradient norm,
    throughput, :func:`~harness.training.projector.output_spread` of that step's images) and "val" records
    every ``training.val_every`` steps (0: at the end of every epoch).  With ``checkpoint_dir``, a
    "checkpoint" record follows each epoch's checkpoint; a resumed run first replays the saved log, then a
    "resume" record.
    """
    emit = Recorder(log)
    session = start_session(backbone, features, index, train, training, seed, prompt)
    projector, parts = session.vlm.projector, session.parts()
    start_epoch, step, key = 0, 0, ""
    if checkpoint_dir is not None:
        key = _training_key(backbone, features, train, val, training, seed, session.total, session.vlm.prompt)
        start_epoch, step = resume(checkpoint_dir, key, parts, emit)
    if step == 0 and session.start:
        emit({"kind": "start", **session.start})

    def run_validation(step: int, epoch: float) -> None:
        if val is not None and len(val) > 0:
            scores = validate(backbone, projector, features, index, val, training, session.vlm.prompt)
            emit({"kind": "val", "step": step, "epoch": epoch, **scores})
            projector.train()

    def describe(batch: Batch) -> dict[str, float]:  # the step's images as the projector now maps them
        return output_spread(projector, features[batch.rows].to(session.stepper.device, torch.float32))

    with TrainMetrics(session.total, step, emit, progress, describe) as metrics:
        for epoch, batches in session.plans[start_epoch:]:
            for b, batch_ids in enumerate(batches):
                batch = session.vlm.batch([session.groups[g] for g in batch_ids], with_answers=True)
                loss, grad_norm = session.stepper.step(batch)
                step += 1
                at = epoch + (b + 1) / len(batches)
                # torch types the rates as float | Tensor; LambdaLR over a float lr gives floats
                lr = float(session.stepper.scheduler.get_last_lr()[0])
                metrics.step(step, at, loss, grad_norm, lr, batch)
                if training.val_every and step % training.val_every == 0:
                    run_validation(step, at)
            if not training.val_every:
                run_validation(step, min(epoch + 1.0, training.epochs))
            if checkpoint_dir is not None:
                record = {"kind": "checkpoint", "epoch": epoch + 1, "step": step}
                checkpoint.save(checkpoint_dir, key, epoch + 1, step, parts, [*emit.records, record])
                emit(record)
    return projector.eval()


def resume(directory: Path, key: str, parts: dict[str, Any], emit: Recorder) -> tuple[int, int]:
    """(epoch, step) to continue from: a matching checkpoint's, its log replayed and a "resume" record
    emitted; else (0, 0)."""
    resumed = checkpoint.load(directory, key, parts)
    if resumed is None:
        return 0, 0
    for record in resumed.log:
        emit(record)
    emit({"kind": "resume", "epoch": resumed.epoch, "step": resumed.step})
    return resumed.epoch, resumed.step


def _training_key(
    backbone: Backbone,
    features: torch.Tensor,
    train: pd.DataFrame,
    val: pd.DataFrame | None,
    training: Training,
    seed: int,
    total: int,
    prompt: Prompt,
) -> str:
    """What a checkpoint must match to be resumed: config, seed, backbone, prompt, feature shape and
    questions."""
    questions = hashlib.sha256()
    for frame in (train, val):
        if frame is not None and len(frame):
            hashed = pd.util.hash_pandas_object(frame[["image", "question", "answer"]], index=False)
            questions.update(hashed.to_numpy().tobytes())
    return checkpoint.training_key(
        training=training.model_dump(mode="json", exclude={"device"}),
        seed=seed,
        backbone=backbone.fingerprint(),
        prompt=prompt.describe(),
        features=[list(features.shape), str(features.dtype)],
        questions=questions.hexdigest(),
        steps=total,
    )
