"""benchmarks/packing.py stays runnable: identical batches in both modes, and the demo epoch it times."""

from __future__ import annotations

import importlib.util
import re

import pytest
import torch

from harness.config import Training
from harness.training.features import pool_tokens
from harness.training.loop import Stepper
from harness.training.projector import build_projector
from harness.training.vision_lm import VisionLM
from plugins.backbones.hf_causal import HFCausalBackbone
from tests.helpers.models import question_groups, save_tiny_model
from tests.helpers.paths import REPO

SCRIPT = REPO / "benchmarks" / "packing.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("packing_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    return HFCausalBackbone(str(save_tiny_model(tmp_path_factory.mktemp("llama"), "llama")))


def test_both_modes_time_the_same_questions(bench, backbone):
    features = torch.randn(4, 6, 12, generator=torch.Generator().manual_seed(0))
    groups = question_groups(backbone, [4, 1, 5, 2])
    batches = [groups[:2], groups[2:3], groups[3:]]
    training = Training(lr=1e-3, batch_size=4)
    steppers = {
        key: Stepper(
            VisionLM(backbone, build_projector(12, backbone.hidden_size, seed=0), 6),
            features,
            training,
            3,
            torch.device("cpu"),
        )
        for key in ("unpacked", "packed")
    }
    out = bench.time_steps(steppers, batches, warmup=1, repeats=2, device=torch.device("cpu"))
    assert out["packed"]["questions"] == out["unpacked"]["questions"] == 7  # the timed batches' questions
    assert out["packed"]["tokens"] < out["unpacked"]["tokens"]  # the prefix appears once per image
    assert out["packed"]["rows"] < out["unpacked"]["rows"] == 7
    assert out["packed"]["run"] == out["packed"]["tokens"]  # piece attention runs the real tokens only
    for result in out.values():
        assert [len(t) for t in result["steps"]] == [2, 2] and all(
            t > 0 for ts in result["steps"] for t in ts
        )


def test_demo_epoch_reads_the_demo_configuration(bench, backbone):
    cell = bench.demo_cell(bench.DEMO_CONFIG)
    line = bench.demo_epoch(backbone, cell, torch.device("cpu"))
    pooled = pool_tokens(torch.zeros(1, 49, 1), cell.data.image_tokens).shape[1]
    assert f"{pooled} image tokens" in line and f"batch {cell.training.batch_size}," in line
    assert f"({cell.name}: {cell.data.max_leaves} leaves" in line
    assert re.search(r"seconds per epoch packed \d+ \(unpacked \d+\)$", line), line
