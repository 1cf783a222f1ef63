"""The demo tables of the README and docs/demo.md are generated from the committed demo leaderboard
(docs/demo/leaderboard.json), so the numbers they state are the ones a fresh clone's `make demo` is
checked against."""

from __future__ import annotations

import json

import pytest

from harness.config import load_grid
from harness.report.compact_table import END, START, board_rows, markdown_table
from harness.report.compare import KEY
from harness.report.numerics import fingerprints
from tests.helpers.paths import REPO

BOARD = REPO / "docs" / "demo" / "leaderboard.json"


@pytest.mark.parametrize("document", ["README.md", "docs/demo.md"])
def test_the_quoted_table_is_the_committed_demo_leaderboard(document: str) -> None:
    text = (REPO / document).read_text()
    assert text.count(START) == 1 and text.count(END) == 1
    quoted = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert quoted == markdown_table(board_rows(BOARD))


def test_the_committed_leaderboard_is_a_whole_demo_run() -> None:
    data = json.loads(BOARD.read_text())
    rows = data["rows"]
    conditions = {(r["model"], r["condition"]) for r in rows}
    assert len(conditions) == 4  # pretrained: original, within, across; random init: original
    assert {r["subset"] for r in rows} >= {"leaf", "unseen"}
    assert all(0 <= r["macro_f1"] <= 100 for r in rows)
    cells = load_grid(REPO / "configs" / "demo.toml").cells()
    assert data["provenance"]["n_runs"] == len(cells) and data["provenance"]["config_hash"]
    assert {(r["n_seeds"], r["model"].endswith("(random init)")) for r in rows} == {
        (len({c.seed for c in cells if c.init == init}), init == "random")
        for init in ("pretrained", "random")
    }


def test_the_committed_leaderboard_records_its_runs_numerics_path() -> None:
    """A fresh clone's ``make demo`` is promised to reproduce the board on the same numerics path, so the
    published board must say which path that is (``taxobench compare`` reads it)."""
    data = json.loads(BOARD.read_text())
    found = fingerprints(data)
    assert found, "the published board records no numerics fingerprint for some run"
    runs = data["provenance"]["runs_compute"]
    assert sum(r["runs"] for r in runs) == data["provenance"]["n_runs"]


BY_PATH = sorted((REPO / "docs" / "demo" / "by-path").glob("*/leaderboard.json"))


@pytest.mark.parametrize("board", BY_PATH, ids=[p.parent.name for p in BY_PATH])
def test_a_board_of_another_path_is_the_published_configuration_on_the_path_it_is_named_for(board) -> None:
    """``make demo`` holds a rerun to the board made on its own numerics path: that board must come from the
    published board's configuration (else a changed demo would be held to a stale board) and from runs on
    that path alone."""
    data, published = json.loads(board.read_text()), json.loads(BOARD.read_text())
    assert data["provenance"]["config_hash"] == published["provenance"]["config_hash"]
    assert fingerprints(data) == {board.parent.name}
    rows, published_rows = ({tuple(r[k] for k in KEY) for r in b["rows"]} for b in (data, published))
    assert rows == published_rows
