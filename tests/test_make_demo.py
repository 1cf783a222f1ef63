"""`make demo` runs the probes in the background beside the cells (one thread, nice 19) and compares its
board with the published one and those of other numerics paths: its recipe is run here with a stand-in for
the taxobench CLI that records how each step was called. `make demo-publish-path` files a board under its
path."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.paths import REPO

FAKE_CLI = """#!/usr/bin/env bash
echo "$* threads=${OMP_NUM_THREADS:-unset} nice=$(nice)" >> calls.log
if [ "$1" = probe ]; then
  echo $$ > probe.pid
  [ -n "${PROBE_S:-}" ] && exec sleep "$PROBE_S"  # the probe's PID is the process a signal must end
  exit "${PROBE_RC:-0}"
fi
[ "$1" = run ] && sleep "${RUN_S:-0}"
exit 0
"""

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("nice") is None, reason="needs make and nice"
)


def _demo(tmp_path: Path, **env: str) -> subprocess.Popen[bytes]:
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    cli = tmp_path / "fake-taxobench"
    cli.write_text(FAKE_CLI)
    cli.chmod(0o755)

    def own_group() -> None:  # a terminal's Ctrl-C reaches the whole process group, with SIGINT not ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.setsid()

    return subprocess.Popen(
        ["make", "-o", "install", "demo", f"TB={cli}"],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=own_group,
    )


def _calls(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "calls.log").read_text().splitlines()
    return {line.split()[0]: line for line in lines}


def test_the_probes_run_on_one_thread_at_the_lowest_priority_and_the_report_follows(tmp_path: Path) -> None:
    assert _demo(tmp_path).wait(timeout=60) == 0
    calls = _calls(tmp_path)
    assert calls["probe"].endswith("threads=1 nice=19")
    assert "report" in calls and "compare" in calls


def test_the_rerun_is_compared_with_the_published_board_then_those_of_other_paths(tmp_path: Path) -> None:
    by_path = tmp_path / "docs" / "demo" / "by-path" / "2ad9ed1f0e6fdb49"
    by_path.mkdir(parents=True)
    (by_path / "leaderboard.json").write_text("{}")
    (by_path / "analysis.json").write_text("{}")  # not a board: not compared
    assert _demo(tmp_path).wait(timeout=60) == 0
    words = _calls(tmp_path)["compare"].split()
    assert words[1:5] == [
        "results/demo/leaderboard.json",
        "docs/demo/leaderboard.json",
        "docs/demo/by-path/2ad9ed1f0e6fdb49/leaderboard.json",
        "--tolerance",
    ]


def test_a_failed_probe_fails_make_demo_before_the_report(tmp_path: Path) -> None:
    assert _demo(tmp_path, PROBE_RC="3").wait(timeout=60) != 0
    calls = _calls(tmp_path)
    assert "run" in calls and "report" not in calls


def test_ctrl_c_stops_the_background_probes(tmp_path: Path) -> None:
    make = _demo(tmp_path, PROBE_S="60", RUN_S="60")
    pid_file = tmp_path / "probe.pid"
    deadline = time.monotonic() + 30
    while not pid_file.exists() or "run" not in (tmp_path / "calls.log").read_text():
        assert time.monotonic() < deadline, "make demo did not start its steps"
        time.sleep(0.1)
    time.sleep(0.5)  # the recipe's trap is set right after the probe starts
    os.killpg(make.pid, signal.SIGINT)
    assert make.wait(timeout=30) != 0
    probe = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(probe, 0)
            time.sleep(0.1)
    assert "report" not in _calls(tmp_path)


def _publish_path(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    return subprocess.run(
        ["make", "-o", "install", "demo-publish-path", f"PY={sys.executable}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _board(tmp_path: Path, *prints: str) -> None:
    results = tmp_path / "results" / "demo"
    results.mkdir(parents=True, exist_ok=True)
    runs = [{"numerics_fingerprint": p, "runs": 1} for p in prints]
    (results / "leaderboard.json").write_text(json.dumps({"provenance": {"runs_compute": runs}, "rows": []}))
    (results / "analysis.json").write_text("{}")


def test_a_board_is_published_for_its_own_numerics_path(tmp_path: Path) -> None:
    missing = _publish_path(tmp_path)
    assert missing.returncode != 0 and "run make demo first" in missing.stderr
    _board(tmp_path, "f00d", "beef")  # runs on two paths: no one path to file it under
    mixed = _publish_path(tmp_path)
    assert mixed.returncode != 0 and "do not share one numerics fingerprint" in mixed.stderr
    assert not (tmp_path / "docs").exists()
    _board(tmp_path, "f00d", "f00d")
    done = _publish_path(tmp_path)
    assert done.returncode == 0, done.stderr
    published = tmp_path / "docs" / "demo" / "by-path" / "f00d"
    assert sorted(p.name for p in published.iterdir()) == ["analysis.json", "leaderboard.json"]
    board = tmp_path / "results" / "demo" / "leaderboard.json"
    assert published.joinpath("leaderboard.json").read_text() == board.read_text()
