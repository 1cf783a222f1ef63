"""A leaderboard records on which numerics path its runs trained; `taxobench compare` says whether two
boards share one."""

from __future__ import annotations

import json
from pathlib import Path

from harness.report.markdown import md_escape
from harness.report.numerics import numerics_verdict, runs_compute
from harness.runs.store import RunDir
from tests.helpers.cli import run_cli
from tests.helpers.runs import synthetic_grid


def _manifest(d: Path, **compute: object) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.json").write_text(json.dumps({"git_commit": "abc", "compute": compute}))


def test_runs_compute_groups_the_runs_by_their_path(tmp_path: Path) -> None:
    fast = {"numerics_fingerprint": "aaaa", "cpu_model": "EPYC", "cpu_capability": "AVX512", "threads": 1}
    _manifest(tmp_path / "r1", **fast)
    _manifest(tmp_path / "r2", **fast)
    _manifest(tmp_path / "r3", **{**fast, "numerics_fingerprint": "bbbb", "cpu_capability": "AVX2"})
    (tmp_path / "r4").mkdir()  # no manifest
    records = runs_compute([tmp_path / f"r{i}" for i in range(1, 5)])
    assert [r["runs"] for r in records] == [2, 1, 1]
    assert records[0] == {**fast, "cuda_device": None, "runs": 2}
    assert {r["numerics_fingerprint"] for r in records[1:]} == {"bbbb", None}


def test_verdict_same_different_unknown() -> None:
    def board(*prints: str | None) -> dict:
        return {"provenance": {"runs_compute": [{"numerics_fingerprint": p, "runs": 1} for p in prints]}}

    assert numerics_verdict(board("aa", "bb"), board("bb", "aa"))[0] is True
    same, text = numerics_verdict(board("aa"), board("cc"))
    assert same is False and "different (aa vs cc)" in text
    assert numerics_verdict(board("aa", None), board("aa"))[0] is None  # one run without a fingerprint
    same, text = numerics_verdict(board("aa"), {"provenance": {}})
    assert same is None and "the reference records no fingerprint" in text


def test_board_and_compare_state_the_runs_numerics(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    dirs = synthetic_grid(runs)
    for i, d in enumerate(dirs):
        _manifest(d, numerics_fingerprint="f00d" if i % 2 else "beef", cpu_model="EPYC", threads=1)
        RunDir(d).mark_done()  # the record's checksums, now of the new manifest
    assert run_cli("report", str(runs), "--out", str(tmp_path / "board")).returncode == 0
    path = tmp_path / "board" / "leaderboard.json"
    data = json.loads(path.read_text())
    records = data["provenance"]["runs_compute"]
    assert {r["numerics_fingerprint"]: r["runs"] for r in records} == {
        "beef": (len(dirs) + 1) // 2,
        "f00d": len(dirs) // 2,
    }
    md = (tmp_path / "board" / "leaderboard.md").read_text().split("## Provenance", 1)[1]
    for text in ("runs' numerics", f"beef (EPYC, ?, 1 threads): {(len(dirs) + 1) // 2} runs", "f00d (EPYC"):
        assert md_escape(text) in md, text

    same = run_cli("compare", str(path), str(path))
    assert same.returncode == 0 and "numerics path: the same (beef, f00d)" in same.stdout, same.stdout
    for record in data["provenance"]["runs_compute"]:
        record["numerics_fingerprint"] = "cafe"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    moved = run_cli("compare", str(other), str(path))
    assert moved.returncode == 0, moved.stdout  # the rows are equal: only the path differs
    assert "numerics path: different (cafe vs beef, f00d)" in " ".join(moved.stdout.split())
    del data["provenance"]["runs_compute"]
    other.write_text(json.dumps(data))
    unknown = run_cli("compare", str(path), str(other))
    assert "numerics path: unknown (the reference records no fingerprint" in " ".join(unknown.stdout.split())


def _board(tmp_path: Path, name: str, rows: list[dict], fingerprint: str) -> Path:
    path = tmp_path / f"{name}.json"
    runs_compute = [{"numerics_fingerprint": fingerprint, "runs": len(rows)}]
    path.write_text(json.dumps({"provenance": {"runs_compute": runs_compute}, "rows": rows}))
    return path


def test_compare_holds_a_board_to_the_reference_made_on_its_own_path(tmp_path: Path) -> None:
    rows = [
        {"model": "m", "condition": c, "subset": s, "macro_f1": f, "majority_f1": 40.0}
        for c, s, f in (("original", "leaf", 82.0), ("original", "unseen", 70.0))
    ]
    moved = [{**r, "macro_f1": r["macro_f1"] - 3.0} for r in rows]  # another machine type's rounding
    published = _board(tmp_path, "published", rows, "beef")
    elsewhere = _board(tmp_path, "elsewhere", moved, "cafe")

    rerun_there = _board(tmp_path, "rerun-there", moved, "cafe")
    held = run_cli("compare", str(rerun_there), str(published), str(elsewhere))
    text = " ".join(held.stdout.split())
    assert held.returncode == 0, text
    assert f"against {published} (another numerics path): 2 of 4 values differ by more than 1" in text
    assert f"held to {elsewhere}" in text and "numerics path: the same (cafe)" in text
    # only the published board: the same rerun misses it by the path's 3 points
    assert run_cli("compare", str(rerun_there), str(published)).returncode == 1

    # on a third path no reference shares the path: the first (published) one is the reference
    third = _board(tmp_path, "third", moved, "d00d")
    fallback = run_cli("compare", str(third), str(published), str(elsewhere))
    text = " ".join(fallback.stdout.split())
    assert fallback.returncode == 1 and "numerics path: different (d00d vs beef)" in text, text
    assert "held to" not in text

    missing = run_cli("compare", str(third), str(published), str(tmp_path / "absent.json"))
    assert missing.returncode == 2 and "cannot read leaderboard" in missing.stderr + missing.stdout
