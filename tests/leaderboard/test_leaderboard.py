"""Leaderboard submissions: schema validation of good and bad files, building the board."""

from __future__ import annotations

import shutil

import pytest

from harness.errors import UserError
from leaderboard.board import build_leaderboard, make_submission, validate_submission
from leaderboard.schema import Submission
from tests.helpers.leaderboard import good_submission, submission_runs, write_file
from tests.helpers.paths import REPO

PUBLISHED = REPO / "leaderboard" / "published"


def test_good_submission_validates(tmp_path):
    assert validate_submission(write_file(tmp_path, good_submission())) == []
    sub = Submission.model_validate(good_submission())
    assert sub.runs[0].init == "pretrained" and sub.runs[0].source == "taxobench"


def _mutate(fn):
    data = good_submission()
    fn(data)
    return data


BAD = {
    "f1 above 1": (lambda d: d["runs"][0]["metrics"][0].update(f1=1.5), "runs.0.metrics.0.f1"),
    "unknown subset": (
        lambda d: d["runs"][0]["metrics"][1].update(subset="held-out"),
        "runs.0.metrics.1.subset",
    ),
    "no leaf metrics": (lambda d: d["runs"][0]["metrics"].pop(0), "no leaf metrics"),
    "duplicate run ids": (lambda d: d["runs"][1].update(run_id="r1"), "duplicate run_id"),
    "duplicate category": (
        lambda d: d["runs"][0]["metrics"].append(dict(d["runs"][0]["metrics"][1])),
        "twice",
    ),
    "random level over 100": (lambda d: d["runs"][0].update(ablation_level=150), "percent"),
    "unknown init": (lambda d: d["runs"][0].update(init="finetuned"), "runs.0.init"),
    "typo field": (lambda d: d["runs"][0].update(encodr="x"), "runs.0.encodr"),
    "missing manifest": (lambda d: d.pop("manifest"), "manifest"),
    "no runs": (lambda d: d.update(runs=[]), "runs"),
    "bad id": (lambda d: d.update(id="Alice's run!"), "id"),
    "negative count": (lambda d: d["runs"][0]["metrics"][0].update(n_yes=-1), "n_yes"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_submissions_rejected(tmp_path, case):
    fn, needle = BAD[case]
    errors = validate_submission(write_file(tmp_path, _mutate(fn)))
    assert errors, case
    assert any(needle in e for e in errors), errors


def test_unreadable_submission(tmp_path):
    assert validate_submission(write_file(tmp_path, "{not json"))[0].startswith("not valid JSON")
    with pytest.raises(UserError, match="not found"):
        validate_submission(tmp_path / "missing.json")


def test_make_submission_round_trip(tmp_path):
    sub = make_submission([submission_runs(tmp_path / "runs")], "My Model!", "My model", "Bob")
    assert sub["id"] == "my-model" and len(sub["runs"]) == 3
    assert sub["manifest"]["git_commit"] == "abc123" and sub["manifest"]["configs"]
    path = write_file(tmp_path, sub)
    assert validate_submission(path) == []


def test_build_leaderboard(tmp_path):
    root = tmp_path / "lb"
    (root / "submissions").mkdir(parents=True)
    sub = make_submission([submission_runs(tmp_path / "runs")], "bob-lm", "Bob's LM", "Bob")
    write_file(root / "submissions", sub, "bob-lm.json")
    (root / "published").mkdir()
    for name in ("8b_unseen_f1_scores.csv", "8b_leaf_f1_scores.csv", "all_hyp_guess_f1_scores.csv"):
        shutil.copy(PUBLISHED / name, root / "published" / name)
    readme = build_leaderboard(root)
    text = readme.read_text()
    # model labels are Markdown-escaped in the tables (brackets shown literally, not a link reference)
    assert r"enc-a + lm-sub \[bob-lm\]" in text and r"dinov2-large + qwen3-8b \[published\]" in text
    assert "- `bob-lm`: Bob's LM — Bob (3 runs)" in text
    head = text.split("## Headline", 1)[1].split("##", 1)[0]
    lines = [line for line in head.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert lines[0].startswith("| 1 | dinov2-large + qwen3-8b")  # 78.4 beats the submission's ~66
    assert r"| 2 | enc-a + lm-sub \[bob-lm\] | toy | 66.0 |" in lines[1]


def test_build_rejects_invalid_submission(tmp_path):
    root = tmp_path / "lb"
    (root / "submissions").mkdir(parents=True)
    write_file(root / "submissions", _mutate(BAD["f1 above 1"][0]), "bad.json")
    with pytest.raises(UserError, match=r"bad.json[\s\S]*f1"):
        build_leaderboard(root, include_published=False)


def test_build_needs_something(tmp_path):
    with pytest.raises(UserError, match="nothing to build"):
        build_leaderboard(tmp_path, include_published=False)
