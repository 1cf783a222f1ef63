"""`taxobench probe` end to end on a tiny LM: every variant written, the LM probed in the cell's training
dtype (bf16 where the CPU has it), progress per variant, and a finished probe reused, not recomputed."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import tomli_w

from harness.training.precision import cpu_bf16_supported
from tasks.emoji.fake import make_fake_emoji_assets
from tests.helpers.cli import run_cli
from tests.helpers.paths import REPO

TINY = tomllib.loads((REPO / "configs" / "smoke.toml").read_text())  # a 2-layer random-init LM
ENV = {"OMP_NUM_THREADS": "1"}


def probe_config(tmp_path: Path, dtype: str) -> Path:
    make_fake_emoji_assets(tmp_path / "emoji")
    data = {key: TINY[key] for key in ("backbone", "init", "backbone_options")}
    data |= {
        "task": "emoji",
        "task_options": {"root": str(tmp_path / "emoji")},
        "output_dir": str(tmp_path / "runs"),
        "training": {"device": "cpu", "dtype": dtype},
        "data": {"max_leaves": 6},
    }
    path = tmp_path / "probe.toml"
    path.write_text(tomli_w.dumps(data))
    return path


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_probe_writes_every_variant_in_the_training_dtype(tmp_path: Path, dtype: str) -> None:
    config = probe_config(tmp_path, dtype)
    result = run_cli("probe", str(config), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    for variant in ("paper", "yes_no", "cloze"):
        assert f"random: {variant} done in" in result.stdout
    (probe,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    summary = json.loads((probe / "summary.json").read_text())
    assert summary["kind"] == "probe" and summary["init"] == "random"
    assert 0 <= summary["paper"]["macro_f1"] <= 100 and 0 <= summary["cloze"]["top1_accuracy"] <= 1
    assert set(pd.read_parquet(probe / "probe.parquet")["variant"]) == {"paper", "yes_no", "cloze"}
    expected = "bfloat16" if dtype == "bfloat16" and cpu_bf16_supported() else "float32"
    assert json.loads((probe / "manifest.json").read_text())["precision"] == expected

    again = run_cli("probe", str(config), env=ENV)  # finished: reused, nothing recomputed
    assert again.returncode == 0 and "done in" not in again.stdout and probe.name in again.stdout
