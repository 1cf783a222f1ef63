"""`taxobench protocol build` on a fake THINGS tree with the real taxonomy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.protocol.questions import QuestionSet
from tasks.things.fake import make_fake_things_tree
from tests.helpers.cli import run_cli
from tests.helpers.paths import REPO

CONFIG = REPO / "configs" / "things-example.toml"


def _config(tmp_path: Path) -> Path:
    """The shipped example, with the leaves a partial tree lacks skipped instead of an error."""
    path = tmp_path / "cell.toml"
    text = CONFIG.read_text().replace('{ root = "THINGS_IMAGES_ROOT" }', '{ on_missing = "skip" }')
    path.write_text(text)
    return path


def test_protocol_build_writes_questionset_and_prints_counts(tmp_path):
    leaves = make_fake_things_tree(tmp_path / "things", per_leaf=8)
    out = tmp_path / "qs"
    result = run_cli(
        "protocol", "build", str(_config(tmp_path)), "--images", str(tmp_path / "things"), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "QuestionSet counts" in result.stdout and "unseen" in result.stdout
    (cell,) = [p for p in out.iterdir() if p.is_dir()]
    qs = QuestionSet.load(cell)
    q = qs.questions
    assert set(q["image_leaf"]) == set(leaves)
    # 100 % random ablation: training holds leaf questions only; every test hypernym pair is unseen.
    assert set(q.loc[q["split"] == "train", "kind"]) == {"leaf"}
    assert set(q.loc[(q["split"] == "test") & (q["kind"] == "hypernym"), "subset"]) == {"unseen"}
    assert isinstance(qs.counts(), pd.DataFrame)


def test_protocol_build_missing_images_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("protocol", "build", str(CONFIG), "--images", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "missing" in result.stderr.lower() or "no image" in result.stderr.lower()
