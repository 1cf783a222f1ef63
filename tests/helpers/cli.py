"""Running the CLI or a script in a fresh interpreter, installing fake plugin distributions, dedenting."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


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


def python_output(code: str, hash_seed: str, cwd: Path) -> str:
    """What ``code`` prints in a fresh interpreter with ``PYTHONHASHSEED=hash_seed`` and nothing else in its
    environment (so nothing but the code can make two runs differ)."""
    env = {"PYTHONHASHSEED": hash_seed, "PATH": ""}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=cwd
    ).stdout


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()
