"""Trustworthy results under bad input: path-independent results, finished cells that prove they are whole,
concurrent runs, early checks of sweeps and output folders, unreadable images, plugin conflicts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock
from PIL import Image

from harness.config import load_grid
from harness.errors import UserError
from harness.runs.store import RunDir
from harness.training.features import read_image
from tests.helpers.cli import dedent, install_fake_dist, run_cli
from tests.helpers.runs import ENV, only_cell, tiny_grid


def test_results_do_not_depend_on_where_the_images_live(tmp_path: Path) -> None:
    """The same grid with its images at two paths: same cell ids, byte-identical questions and metrics."""
    outs = []
    for name in ("here", "there"):
        root = tmp_path / name / "synthetic-images"
        out = tmp_path / f"out-{name}"
        result = run_cli("run", str(tiny_grid(tmp_path, root)), "--out", str(out), env=ENV)
        assert result.returncode == 0, result.stdout + result.stderr
        outs.append(only_cell(out))
    a, b = outs
    assert a.name == b.name  # task_options.root is not part of the cell id
    for name in ("questions.parquet", "metrics.parquet", "predictions.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    task_a = json.loads((a / "manifest.json").read_text())["fingerprints"]["task"]
    assert task_a == json.loads((b / "manifest.json").read_text())["fingerprints"]["task"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A finished one-cell grid: (grid file, run directory); tests copy it before damaging it."""
    tmp = tmp_path_factory.mktemp("finished")
    grid = tiny_grid(tmp, tmp / "images")
    out = tmp / "out"
    result = run_cli("run", str(grid), "--out", str(out), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    return grid, only_cell(out)


def test_done_records_every_output_file(finished: tuple[Path, Path]) -> None:
    _, cell = finished
    record = json.loads((cell / "DONE").read_text())
    assert {"metrics.parquet", "manifest.json", "config.toml", "summary.json"} <= set(record["files"])
    assert RunDir(cell).damage() == []


@pytest.mark.parametrize(
    "damage, expected",
    [
        (
            lambda c: (c / "metrics.parquet").write_bytes((c / "metrics.parquet").read_bytes()[:100]),
            "metrics",
        ),
        (lambda c: (c / "manifest.json").write_text('{"trunc'), "manifest.json"),
        (lambda c: (c / "config.toml").write_text("garbage = [\n"), "config.toml"),
        (lambda c: (c / "summary.json").unlink(), "summary.json is missing"),
    ],
    ids=["truncated-metrics", "truncated-manifest", "garbage-config", "missing-summary"],
)
def test_a_damaged_finished_cell_is_named_and_redone(tmp_path: Path, finished, damage, expected) -> None:
    grid, cell = finished
    out = tmp_path / "out"
    shutil.copytree(cell, out / cell.name)
    metrics = (cell / "metrics.parquet").read_bytes()
    damage(out / cell.name)
    assert any(expected in p for p in RunDir(out / cell.name).damage())
    result = run_cli("run", str(grid), "--out", str(out), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"finished cell {cell.name}" in result.stdout and "damaged" in result.stdout
    assert RunDir(out / cell.name).damage() == []  # redone, whole again, same results
    assert (out / cell.name / "metrics.parquet").read_bytes() == metrics


def test_a_cell_locked_by_another_process_is_not_a_failure(tmp_path: Path, finished) -> None:
    grid, cell = finished
    out = tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / cell.name) + ".lock"):
        result = run_cli("run", str(grid), "--out", str(out), env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = [line for line in result.stdout.splitlines() if " cells finished, " in line]
    assert summary, result.stdout
    assert summary[-1].startswith("0 cells finished, 0 failed, 1 running in another process"), summary
    assert "FAILED" not in result.stdout and "traceback" not in result.stdout


def test_an_empty_sweep_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text("[sweep]\nseed = []\n")
    with pytest.raises(UserError, match=r"sweep.seed: an empty list"):
        load_grid(path)
    result = run_cli("run", str(path), "--dry-run")
    assert result.returncode == 2 and "sweep.seed" in result.stderr


def test_an_unwritable_output_folder_is_reported_before_any_work(tmp_path: Path, finished) -> None:
    grid, _ = finished
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli("run", str(grid), "--out", str(blocker / "runs"), env=ENV)
    assert result.returncode == 2
    assert f"cannot write to {blocker / 'runs'}" in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr


def test_too_little_free_space_is_reported_with_the_path(tmp_path: Path, monkeypatch) -> None:
    import harness.runs.grid as grid
    from harness.config import ExperimentConfig

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 5 * 2**20))
    cell = ExperimentConfig(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
    with pytest.raises(UserError, match=rf"only 5 MB free under {tmp_path}"):
        grid.check_writable([cell])


def test_format_steps_past_the_end_fail_the_cell_before_any_model_loads(tmp_path: Path, monkeypatch) -> None:
    import harness.runs.cell as cell

    grid = tiny_grid(tmp_path, tmp_path / "images")
    head_start = "[training]\nformat_tokens = 1\nformat_steps = 999\n"
    grid.write_text(grid.read_text().replace("[training]\n", head_start))
    (cfg,) = load_grid(grid).cells()
    cfg = cfg.model_copy(update={"output_dir": tmp_path / "out"})

    def no_features(*args, **kwargs):
        raise AssertionError("features were computed")

    monkeypatch.setattr(cell, "cell_features", no_features)
    with pytest.raises(UserError, match=r"training.format_steps \(999\) leaves none of the \d+ steps"):
        cell.run_cell(cfg)
    assert RunDir.for_config(cfg).state == "failed"


def test_a_truncated_image_names_its_file(tmp_path: Path) -> None:
    path = tmp_path / "crow.jpg"
    Image.new("RGB", (64, 64), (200, 10, 10)).save(path)
    path.write_bytes(path.read_bytes()[:200])  # a valid header, most of the data gone
    with pytest.raises(UserError, match=r"cannot read image 'crow/crow\.jpg'"):
        read_image(lambda ref: Image.open(path), "crow/crow.jpg")


def test_a_duplicate_plugin_name_names_both_packages(tmp_path: Path) -> None:
    """A third party registering 'efficientnet-lite0' neither replaces nor loses to the first-party one."""
    module = tmp_path / "taxobench_rival_encoder.py"
    module.write_text(
        dedent("""
        from harness.plugin.hookspecs import hookimpl

        @hookimpl
        def register_encoders(register):
            register("efficientnet-lite0", lambda arg=None, **options: None)
        """)
    )
    site = tmp_path / "site"
    install_fake_dist(site, "rival-encoders", {"rival": "taxobench_rival_encoder"}, [module])
    env = {**os.environ, "PYTHONPATH": str(site), **ENV}
    listing = run_cli("plugins", "--json", env=env)
    assert json.loads(listing.stdout)["conflicts"] == [
        {"kind": "encoders", "name": "efficientnet-lite0", "packages": ["taxobench", "rival-encoders"]}
    ]
    code = (
        "from harness.plugin.registry import default_registry as r; "
        "print(r().get('encoders', 'efficientnet-lite0').package)"
    )

    def lookup(extra: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env={**env, **extra}
        )

    refused = lookup({})
    assert refused.returncode != 0
    assert "registered by 2 packages: taxobench (encoders) and rival-encoders (rival)" in refused.stderr
    chosen = lookup({"TAXOBENCH_OVERRIDES": "encoders:efficientnet-lite0=taxobench"})
    assert chosen.stdout.strip() == "taxobench", chosen.stderr
    rival = lookup({"TAXOBENCH_OVERRIDES": "encoders:efficientnet-lite0=rival-encoders"})
    assert rival.stdout.strip() == "rival-encoders", rival.stderr


def test_trust_remote_code_never_comes_from_a_config(tmp_path: Path, monkeypatch) -> None:
    from plugins.backbones.hf_causal import checked_load_kwargs

    with pytest.raises(UserError, match="--trust-remote-code"):
        checked_load_kwargs({"trust_remote_code": True})
    monkeypatch.delenv("TAXOBENCH_TRUST_REMOTE_CODE", raising=False)
    assert checked_load_kwargs({"token": "x"}) == {"token": "x"}
    monkeypatch.setenv("TAXOBENCH_TRUST_REMOTE_CODE", "1")  # what `taxobench run --trust-remote-code` sets
    assert checked_load_kwargs(None) == {"trust_remote_code": True}


def _two_runs(tmp_path: Path, finished) -> tuple[Path, Path, Path]:
    """A good copy and a second copy of the finished cell under one folder: (root, good, other)."""
    _, cell = finished
    root = tmp_path / "runs"
    good, other = root / "good", root / "other"
    shutil.copytree(cell, good)
    shutil.copytree(cell, other)
    summary = json.loads((other / "summary.json").read_text())
    (other / "summary.json").write_text(json.dumps({**summary, "seed": 99}))  # another seed, same condition
    RunDir(other).mark_done()
    return root, good, other


def _rewrite_f1(cell: Path, value: float) -> None:
    import pandas as pd

    metrics = pd.read_parquet(cell / "metrics.parquet")
    metrics.loc[0, "f1"] = value
    metrics.to_parquet(cell / "metrics.parquet", index=False)
    RunDir(cell).mark_done()  # a faulty producer: the record is whole, its numbers are not


@pytest.mark.parametrize(
    "spoil, expected",
    [
        (lambda c: (c / "metrics.parquet").write_bytes(b"PAR1 not really"), "metrics.parquet"),
        (lambda c: _rewrite_f1(c, 7.5), "f1 must be a number in [0, 1]; found [7.5]"),
        (lambda c: _rewrite_f1(c, float("nan")), "f1 must be a number in [0, 1]; found [nan]"),
        (lambda c: ((c / "summary.json").write_text("{garbage"), RunDir(c).mark_done()), "summary.json"),
    ],
    ids=["truncated-parquet", "f1-out-of-range", "f1-nan", "garbage-summary"],
)
def test_report_skips_a_bad_record_with_a_warning_or_fails_when_strict(tmp_path, finished, spoil, expected):
    root, good, other = _two_runs(tmp_path, finished)
    spoil(other)
    result = run_cli("report", str(root), "--out", str(tmp_path / "board"))
    assert result.returncode == 0, result.stdout + result.stderr
    flat = " ".join(result.stdout.split())
    assert "warning: skipped:" in flat and str(other) in flat and expected in flat, flat
    rows = json.loads((tmp_path / "board" / "leaderboard.json").read_text())["rows"]
    assert rows and all(r["n_runs"] == 1 and 0 <= r["macro_f1"] <= 100 for r in rows)
    strict = run_cli("report", str(root), "--out", str(tmp_path / "board2"), "--strict")
    assert strict.returncode == 2 and expected in " ".join(strict.stderr.split())
    assert "Traceback" not in strict.stderr + result.stderr


def test_report_refuses_a_record_changed_after_it_finished(tmp_path, finished) -> None:
    root, good, other = _two_runs(tmp_path, finished)
    _rewrite_f1(other, 0.5)
    (other / "metrics.parquet").write_bytes((other / "metrics.parquet").read_bytes() + b"\0")  # after DONE
    result = run_cli("report", str(root), "--out", str(tmp_path / "board"), "--strict")
    assert result.returncode == 2 and "damaged since it finished" in result.stderr
