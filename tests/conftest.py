"""Shared test fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def install_fake_dist(site: Path, dist: str, entry_points: dict[str, str], modules: list[Path]) -> None:
    """Make ``site`` hold a distribution with the given ``taxobench`` entry points, as pip would."""
    site.mkdir(parents=True, exist_ok=True)
    for module in modules:
        (site / module.name).write_text(module.read_text())
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[taxobench]\n{lines}\n")


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run ``taxobench`` in a fresh interpreter (so entry points are discovered anew)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=600,
    )


@pytest.fixture
def thirdparty_site(tmp_path: Path) -> Path:
    """A site directory holding one working and one broken third-party plugin distribution."""
    site = tmp_path / "site"
    install_fake_dist(
        site,
        "taxobench-example-plugin",
        {"example": "taxobench_example_plugin"},
        [FIXTURES / "thirdparty" / "taxobench_example_plugin.py"],
    )
    install_fake_dist(
        site,
        "taxobench-broken-plugin",
        {"broken": "taxobench_broken_plugin"},
        [FIXTURES / "thirdparty" / "taxobench_broken_plugin.py"],
    )
    return site


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()
