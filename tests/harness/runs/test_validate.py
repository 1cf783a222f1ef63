"""A whole grid is checked before any work: each mistake is one message naming the cell, the field and
what is accepted, with exit 2, in --dry-run and at the start of run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.runs import tiny_grid


@pytest.mark.parametrize(
    "override, expected",
    [
        (
            "backbone=smolm2",
            "backbone: unknown backbone 'smolm2'; available backbones: hf-causal, smollm2-135m",
        ),
        ("backbone_options.dtyp=bfloat16", "dtyp: Extra inputs are not permitted"),
        ("encoder_options.batch_size=0", "batch_size: Input should be greater than or equal to 1"),
        ("task_options.per_leaf=0", "task: invalid options for task 'synthetic'"),
        ("shuffle=within_categroy", "available shuffles: across_category, hypernym_swap, original"),
        ("shuffle_options.singletons=drop", "shuffle: invalid options for shuffle 'original': singletons"),
        ("backbone=hf-causal:/nowhere/model", "backbone: backbone path not found: /nowhere/model"),
    ],
    ids=[
        "backbone-name",
        "backbone-option",
        "encoder-option",
        "task-option",
        "shuffle-name",
        "shuffle-value",
        "path",
    ],
)
def test_a_mistake_is_one_message_with_exit_2(tmp_path: Path, override: str, expected: str) -> None:
    grid = tiny_grid(tmp_path, tmp_path / "images", seeds="[1, 2]")
    for extra in (["--dry-run"], []):
        out = tmp_path / f"runs{len(extra)}"
        result = run_cli("run", str(grid), "--out", str(out), "--set", override, *extra)
        message = " ".join(result.stderr.split())
        assert result.returncode == 2, result.stdout + result.stderr
        assert message.startswith("error: cell ") and expected in message, message
        assert "Traceback" not in result.stderr
        assert not out.exists() or not any(out.iterdir())  # nothing ran


def test_accepted_options_are_listed(tmp_path: Path) -> None:
    grid = tiny_grid(tmp_path, tmp_path / "images")
    result = run_cli("run", str(grid), "--dry-run", "--set", "backbone_options.dtyp=bfloat16")
    assert "accepted options: init, seed, dtype, device" in " ".join(result.stderr.split())
    sets = ["--set", "shuffle=within_category", "--set", "shuffle_options.singletons=drop"]
    result = run_cli("run", str(grid), "--dry-run", *sets)
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "singletons: Input should be 'merge' or 'keep'" in message
    assert "accepted options: singletons, profile" in message
    result = run_cli("run", str(grid), "--dry-run", "--set", "shuffle_options.x=1")
    assert "accepted options: none" in " ".join(result.stderr.split())


def test_missing_task_data_is_found_before_any_work(tmp_path: Path) -> None:
    grid = tmp_path / "g.toml"
    grid.write_text('task = "emoji"\ntask_options = { root = "/nowhere/emoji" }\n')
    result = run_cli("run", str(grid), "--dry-run")
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "task data: emoji artwork not found under /nowhere/emoji" in message


def test_a_valid_grid_passes_and_lists_its_rules(tmp_path: Path) -> None:
    grid = tiny_grid(tmp_path, tmp_path / "images", seeds="[1, 2]")
    result = run_cli("run", str(grid), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "2 cells" in result.stdout and "rules (paper-code): split='floor'" in " ".join(
        result.stdout.split()
    )
