"""Shared-prefix packing vs one sequence per question: projector training steps on the same batches.

Data: the offline demo's taxonomy (emoji: leaves, hypernym closure; THINGS as a fallback) with fake image
references, turned into questions by the real protocol at 0 % random ablation (leaf + every hypernym,
positive and negative, per image); features are random ``[I, 49, 1280]`` tensors (efficientnet-lite0's
7x7x1280 patch grid), since only shapes matter for speed.  Backbone: ``smollm2-135m`` (or ``--backbone``).
Both modes run identical batches (about ``--batch-size`` questions of whole images, the same for both)
through the full training step (forward, loss, backward, clip, AdamW) after warm-up steps.  The timed steps
run ``--repeats`` times, the two modes alternating step by step so that both see the same machine load;
each batch counts with its fastest pass (the median pass is printed too).  Reported: questions/s and
tokens/s (real, unpadded tokens; also the tokens the backbone actually runs: the real ones under piece
attention, see harness/training/piece_attention.py), measured speedup, ideal speedup (unpacked
tokens / packed tokens),
efficiency = measured / ideal, and seconds per epoch of that training set.  Then one epoch of the demo
configuration (``configs/demo.toml``'s first cell: its leaves, ablation, image tokens and batch size, fake
features) is timed as the demo trains it, packed, and unpacked for comparison (modes alternating step
by step).  Last line: ``ratio <speedup>``.

Threads: by default each of ``make demo``'s two pool workers' share of the CPU cores (``cpu_count // 2``,
at least 1), since that is how the demo trains its cells; ``--threads 0`` leaves torch's default (every
core in one process).

    python benchmarks/packing.py [--steps 6] [--repeats 3] [--threads N] [--device auto] [--dtype float32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

from harness.common.devices import resolve_device
from harness.config import Ablation, ExperimentConfig, Training, load_grid
from harness.errors import UserError
from harness.plugin.contracts import TaskData
from harness.plugin.registry import default_registry
from harness.protocol.questions import build_question_set
from harness.training.features import pool_tokens
from harness.training.loop import Stepper, epoch_plans
from harness.training.packing import runs_pieces
from harness.training.projector import build_projector
from harness.training.vision_lm import ImageGroup, VisionLM, group_questions

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.toml"


def demo_data(images_per_leaf: int) -> tuple[TaskData, str]:
    """Leaves and hypernyms of the emoji demo task (THINGS if unavailable), with fake image refs."""
    from tasks.taxonomy import derive_depths

    try:
        from tasks.emoji.taxonomy import relations

        name, rel = "emoji", relations()
    except Exception:  # pragma: no cover - fall back to the THINGS taxonomy shipped with its task
        from tasks.taxonomy import read_pairs
        from tasks.things.task import TAXONOMY

        name, rel = "things", read_pairs(TAXONOMY)
    images = {leaf: [f"{leaf}/{i}.png" for i in range(images_per_leaf)] for leaf in rel}
    return TaskData(images=images, relations=dict(rel), depths=derive_depths(rel)), name


def _run_tokens(backbone, batch) -> int:
    """Tokens the backbone runs: the real ones under piece attention, else the padded rows."""
    return batch.packed.n_tokens if runs_pieces(backbone, batch.packed) else batch.packed.ids.numel()


def time_steps(
    steppers: dict[str, Stepper], batches, warmup: int, repeats: int, device: torch.device
) -> dict[str, dict[str, list[float] | int]]:
    """Per-batch step times of every mode over ``repeats`` passes, the modes alternating step by step.

    Each mode has its own stepper (projector and optimiser), so both see identical batches; alternating at
    step granularity exposes them to the same machine load.
    """
    built = {
        key: [stepper.vlm.batch(groups, shared=key == "packed") for groups in batches]
        for key, stepper in steppers.items()
    }
    for i in range(warmup):
        for key, stepper in steppers.items():
            stepper.step(built[key][i])
    times: dict[str, list[list[float]]] = {key: [[] for _ in batches[warmup:]] for key in steppers}
    for _ in range(repeats):
        for i in range(warmup, len(batches)):
            for key, stepper in steppers.items():
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                stepper.step(built[key][i])
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times[key][i - warmup].append(time.perf_counter() - start)
    out = {}
    for key, timed in built.items():
        timed = timed[warmup:]
        out[key] = {
            "steps": times[key],
            "questions": sum(len(b.targets) for b in timed),
            "tokens": sum(b.packed.n_tokens for b in timed),
            "padded": sum(b.packed.ids.numel() for b in timed),
            "run": sum(_run_tokens(stepper.vlm.backbone, b) for b in timed),
            "rows": sum(b.packed.ids.shape[0] for b in timed),
        }
    return out


def demo_cell(path: Path) -> ExperimentConfig:
    """The first cell of the demo configuration at ``path``."""
    return load_grid(path).cells()[0]


def train_set(
    data: TaskData, cfg: ExperimentConfig, backbone, image_tokens: str = "all"
) -> tuple[pd.DataFrame, list[ImageGroup], torch.Tensor]:
    """The cell's train questions, their image groups and random features ``[I, tokens, 1280]`` (efficientnet-
    lite0's 7x7x1280 patch grid, pooled by ``image_tokens``)."""
    shuffle = default_registry().create("shuffles", cfg.shuffle)
    questions = build_question_set(data, cfg, shuffle).questions
    train = questions[questions["split"] == "train"]
    index = {img: i for i, img in enumerate(sorted(train["image"].unique()))}
    gen = torch.Generator().manual_seed(0)
    features = pool_tokens(torch.randn(len(index), 49, 1280, generator=gen), image_tokens)
    return train, group_questions(train, index, backbone.tokenize), features


def make_steppers(
    backbone, features: torch.Tensor, training: Training, steps: int, device: torch.device
) -> dict[str, Stepper]:
    """One stepper (fresh projector, with ``training``'s format tokens, and optimiser) per mode, so both modes
    see identical batches."""
    steppers = {}
    for key in ("unpacked", "packed"):
        d_img, d_lm, n_format = features.shape[2], backbone.hidden_size, training.format_tokens
        projector = build_projector(d_img, d_lm, seed=0, n_format=n_format).to(device)
        vlm = VisionLM(backbone, projector, features.shape[1])
        steppers[key] = Stepper(vlm, features, training, steps, device)
    return steppers


def demo_epoch(backbone, cfg: ExperimentConfig, device: torch.device) -> str:
    """One epoch of the demo cell ``cfg`` (fake features), packed as it trains and unpacked."""
    data, task = demo_data(4)  # the emoji demo has 4 artwork sets
    cfg = cfg.model_copy(update={"task": task})
    train, groups, features = train_set(data, cfg, backbone, cfg.data.image_tokens)
    _, plan = epoch_plans([g.n for g in groups], cfg.training, cfg.seed)[0]
    batches = [[groups[g] for g in b] for b in plan]
    steppers = make_steppers(backbone, features, cfg.training, len(plan), device)
    timed = time_steps(steppers, batches[:1] + batches, warmup=1, repeats=1, device=device)
    seconds = {key: sum(ts[0] for ts in r["steps"]) for key, r in timed.items()}
    return (
        f"demo configuration ({cfg.name}: {cfg.data.max_leaves or 'all'} leaves, {cfg.ablation.kind} "
        f"ablation {cfg.ablation.level:g} %, {len(train)} train questions, {features.shape[1]} image tokens, "
        f"batch {cfg.training.batch_size}, {len(plan)} steps): seconds per epoch packed "
        f"{seconds['packed']:.0f} (unpacked {seconds['unpacked']:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backbone", default="smollm2-135m")
    parser.add_argument("--init", default="pretrained", help="random: same architecture, no weights needed")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per mode")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes, modes alternating")
    parser.add_argument("--batch-size", type=int, default=16, help="questions per batch (paper: 16)")
    parser.add_argument("--images-per-leaf", type=int, default=4, help="the emoji demo has 4 artwork sets")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument(
        "--threads",
        type=int,
        default=max(1, (os.cpu_count() or 1) // 2),
        help="torch CPU threads; default: one make-demo pool worker's share (cpu_count // 2); 0: torch's",
    )
    parser.add_argument("--demo-config", type=Path, default=DEMO_CONFIG, help="timed for seconds per epoch")
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbone's decoder")
    args = parser.parse_args()
    try:
        demo = demo_cell(args.demo_config)
    except UserError as exc:
        parser.error(str(exc))
    if args.threads:
        torch.set_num_threads(args.threads)

    device = resolve_device(args.device)
    data, task = demo_data(args.images_per_leaf)
    cfg = ExperimentConfig(task=task, ablation=Ablation(kind="random", level=0), seed=0)
    backbone = default_registry().create("backbones", args.backbone, init=args.init, compile=args.compile)
    backbone.module.to(device)
    train, groups, features = train_set(data, cfg, backbone)
    per_image = [g.n for g in groups]
    training = Training(lr=1e-3, weight_decay=0.0, batch_size=args.batch_size, dtype=args.dtype)
    _, plan = epoch_plans(per_image, training, cfg.seed)[0]
    batches = [[groups[g] for g in b] for b in plan[: args.warmup + args.steps]]
    steppers = make_steppers(backbone, features, training, len(batches), device)
    results = time_steps(steppers, batches, args.warmup, args.repeats, device)

    q_text = statistics.mean(len(t) for g in groups for t in g.tokens)
    threads = torch.get_num_threads()
    compiled = ", compiled" if args.compile else ""
    print(
        f"backbone {args.backbone} ({args.init}{compiled}) on {device} ({args.dtype}), {threads} CPU threads"
    )
    print(
        f"data: {task} taxonomy, 0 % ablation, {len(groups)} train images, {len(train)} train questions, "
        f"{statistics.mean(per_image):.2f} questions/image (min {min(per_image)}, max {max(per_image)}), "
        f"49 image tokens, {q_text:.1f} tokens/question, BOS {backbone.bos_id is not None}"
    )
    print(
        f"timed: {args.steps} steps of ~{args.batch_size} questions after {args.warmup} warm-up steps, "
        f"{args.repeats} passes alternating the modes step by step; per batch the fastest pass (median pass)"
    )

    def seconds(r, pick) -> float:
        return sum(pick(ts) for ts in r["steps"])

    for key, r in results.items():
        secs = seconds(r, min)
        print(
            f"{key:>8}: {r['questions'] / secs:8.2f} questions/s {r['tokens'] / secs:10.1f} tokens/s  "
            f"({r['tokens']} tokens, {r['padded']} with padding in {r['rows']} rows, {r['run']} run by the "
            f"backbone, {secs:.2f} s; "
            f"median pass {seconds(r, statistics.median):.2f} s, slowest {seconds(r, max):.2f} s)"
        )
    packed, flat = results["packed"], results["unpacked"]
    ideal = flat["tokens"] / packed["tokens"]
    speedups = {pick: seconds(flat, pick) / seconds(packed, pick) for pick in (min, statistics.median)}
    for label, pick in (("", min), ("median pass: ", statistics.median)):  # same questions in both modes
        print(
            f"{label}speedup {speedups[pick]:.2f}x, ideal {ideal:.2f}x (unpacked/packed tokens), "
            f"efficiency {speedups[pick] / ideal:.0%}"
        )
    speedup = speedups[min]
    for key, r in results.items():
        epoch = len(train) / (r["questions"] / seconds(r, min))
        print(f"seconds per epoch ({len(train)} questions, {key}): {epoch:.0f}")
    print(demo_epoch(backbone, demo, device))
    print(f"ratio {speedup:.2f}")


if __name__ == "__main__":
    main()
