"""The Python API (harness.api): load a grid with overrides, run it, report it, as a notebook would."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import api
from harness.errors import UserError
from tests.helpers.runs import tiny_grid


def test_load_run_and_report_a_grid(tmp_path: Path) -> None:
    grid = tiny_grid(tmp_path, tmp_path / "images", seeds="[1, 2]")
    cells = api.load_cells(
        grid, set={"training.epochs": 1, "shuffle": "across_category"}, out=tmp_path / "runs"
    )
    assert len(cells) == 2 and {c.shuffle for c in cells} == {"across_category"}
    assert all(c.training.epochs == 1 and c.output_dir == tmp_path / "runs" for c in cells)
    outcomes = api.run(cells)
    assert [o.ok for o in outcomes] == [True, True]
    assert all((o.run_dir / "DONE").is_file() for o in outcomes)
    board = api.report(tmp_path / "runs", out=tmp_path / "board")
    leaf = [r for r in board["rows"] if r["subset"] == "leaf"]
    assert len(leaf) == 1 and leaf[0]["n_seeds"] == 2 and 0 <= leaf[0]["macro_f1"] <= 100
    assert (tmp_path / "board" / "leaderboard.html").is_file()
    again = api.run(cells)  # finished cells are kept, not redone
    assert [o.run_dir for o in again] == [o.run_dir for o in outcomes]


def test_api_errors_are_user_errors(tmp_path: Path) -> None:
    grid = tiny_grid(tmp_path, tmp_path / "images")
    with pytest.raises(UserError, match="training.lr"):
        api.load_cells(grid, set={"training.lr": "fast"})
    with pytest.raises(UserError, match="not a config field"):
        api.load_cells(grid, set={"trainig.lr": 1.0})
    assert api.load_cells(grid, limit=3)[0].data.max_leaves == 3
