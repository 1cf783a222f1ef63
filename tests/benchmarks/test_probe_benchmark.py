"""benchmarks/probe.py stays runnable: both groupings score the same prompts alike, the shared one runs
fewer tokens."""

from __future__ import annotations

import importlib.util

import numpy as np

from harness.plugin.contracts import TaskData
from harness.protocol.probe_questions import paper_probe_questions
from plugins.backbones.hf_causal import HFCausalBackbone
from tests.helpers.models import save_tiny_model
from tests.helpers.paths import REPO

DATA = TaskData(
    images={leaf: [f"{leaf}.png"] for leaf in ("crow", "owl", "kayak", "hammer")},
    relations={
        "crow": ("animal", "bird"),
        "owl": ("animal", "bird"),
        "kayak": ("boat",),
        "hammer": ("tool",),
    },
    depths={"animal": 1, "bird": 2, "boat": 1, "tool": 1},
)


def test_groupings_agree_and_sharing_runs_fewer_tokens(tmp_path):
    spec = importlib.util.spec_from_file_location("probe_benchmark", REPO / "benchmarks" / "probe.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    backbone = HFCausalBackbone(str(save_tiny_model(tmp_path, "llama")))
    rows = paper_probe_questions(DATA, 0).reset_index(drop=True)
    result = bench.compare(backbone, rows, repeats=1)
    per_question, shared = result["per question"], result["per leaf and phrasing"]
    np.testing.assert_allclose(per_question["scores"], shared["scores"], atol=1e-5)
    assert len(per_question["scores"]) == len(rows) and len(per_question["seconds"]) == 1
    assert shared["tokens"] < per_question["tokens"]
