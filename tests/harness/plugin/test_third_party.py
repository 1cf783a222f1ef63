"""A backbone, an encoder and a task written as outside packages against ``harness.plugin.api`` only
(tests/fixtures/thirdparty/acme_*.py), installed as their own distributions: discovered, validated and run
end to end; a name two packages register and a plugin that breaks its contract fail with clear messages."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers.cli import dedent, install_fake_dist, run_cli
from tests.helpers.paths import FIXTURES

OUTSIDE = FIXTURES / "thirdparty"
ACME = {  # distribution -> (entry point name, module)
    "acme-lm": ("acme_lm", "acme_lm.py"),
    "acme-pixels": ("acme_pixels", "acme_pixels.py"),
    "acme-shapes": ("acme_shapes", "acme_shapes.py"),
}


def acme_site(tmp_path: Path, extra: dict[str, tuple[str, str]] | None = None) -> Path:
    """A site folder where each outside package is installed as its own distribution."""
    site = tmp_path / "site"
    for dist, (entry, module) in {**ACME, **(extra or {})}.items():
        install_fake_dist(site, dist, {entry: entry}, [OUTSIDE / module])
    return site


def grid(tmp_path: Path, encoder: str = "pixels") -> Path:
    path = tmp_path / "acme.toml"
    path.write_text(
        dedent(f"""
        task = "shapes"
        encoder = "{encoder}"
        backbone = "acme-lm"
        output_dir = "{tmp_path / "runs"}"
        cache_dir = "{tmp_path / "features"}"
        [ablation]
        kind = "systematic"
        level = 1
        hypernyms = ["fish"]
        [training]
        lr = 0.01
        epochs = 2
        batch_size = 8
        device = "cpu"
        [sweep]
        init = ["pretrained", "random"]
        """)
    )
    return path


@pytest.mark.parametrize("module", sorted(p.name for p in OUTSIDE.glob("acme_*.py")) + ["rival_lm.py"])
def test_outside_packages_import_only_the_public_plugin_api(module: str) -> None:
    tree = ast.parse((OUTSIDE / module).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {m for m in imported if m.split(".")[0] in {"harness", "plugins", "tasks", "leaderboard"}}
    assert ours == {"harness.plugin.api"}


def test_outside_backbone_encoder_and_task_run_end_to_end(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(acme_site(tmp_path)), "OMP_NUM_THREADS": "1"}
    listed = run_cli("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {(r["kind"], r["name"]): r["package"] for r in json.loads(listed.stdout)["plugins"]}
    assert rows[("backbones", "acme-lm")] == "acme-lm"
    assert rows[("encoders", "pixels")] == "acme-pixels"
    assert rows[("tasks", "shapes")] == "acme-shapes"

    result = run_cli("run", str(grid(tmp_path)), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    cells = sorted(p for p in (tmp_path / "runs").iterdir() if (p / "DONE").is_file())
    assert len(cells) == 2
    fingerprints = set()
    for cell in cells:
        manifest = json.loads((cell / "manifest.json").read_text())
        text = json.dumps(manifest)
        assert "acme-pixels-v1" in text and "acme-shapes-v1-4" in text
        fingerprints.add(json.loads((cell / "summary.json").read_text())["init"])
        metrics = pd.read_parquet(cell / "metrics.parquet")
        asked = metrics[metrics["n_yes"] > 0]
        assert set(asked[asked["subset"] == "unseen"]["category"]) == {"fish"}  # the ablated hypernym
        assert metrics["f1"].between(0, 1).all()
    assert fingerprints == {"pretrained", "random"}

    board = run_cli("report", str(tmp_path / "runs"), "--out", str(tmp_path / "board"), env=env)
    assert board.returncode == 0, board.stderr
    rows = json.loads((tmp_path / "board" / "leaderboard.json").read_text())["rows"]
    assert {(r["encoder"], r["backbone"]) for r in rows} == {("pixels", "acme-lm")}


def test_a_name_two_outside_packages_register_names_both(tmp_path: Path) -> None:
    site = acme_site(tmp_path, {"rival-lm": ("rival_lm", "rival_lm.py")})
    env = {"PYTHONPATH": str(site)}
    result = run_cli("run", str(grid(tmp_path)), "--dry-run", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "backbone 'acme-lm' is registered by 2 packages" in message
    assert "acme-lm (acme_lm)" in message and "rival-lm (rival_lm)" in message
    assert "TAXOBENCH_OVERRIDES=backbones:acme-lm=<package>" in message
    assert "Traceback" not in result.stderr
    chosen = run_cli(
        "run",
        str(grid(tmp_path)),
        "--dry-run",
        env={**env, "TAXOBENCH_OVERRIDES": "backbones:acme-lm=acme-lm"},
    )
    assert chosen.returncode == 0, chosen.stderr


def test_a_plugin_that_breaks_its_contract_is_named_with_what_it_lacks(tmp_path: Path) -> None:
    site = acme_site(tmp_path, {"acme-broken-encoder": ("acme_broken_encoder", "acme_broken_encoder.py")})
    result = run_cli("run", str(grid(tmp_path, encoder="forgetful")), env={"PYTHONPATH": str(site)})
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "encoder 'forgetful' of acme-broken-encoder does not meet the encoder contract" in message
    assert "it lacks encode" in message
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # before any work


def test_a_created_plugin_missing_an_attribute_is_named(monkeypatch) -> None:
    """Attributes set in ``__init__`` (``dim``) can only be checked on the created object."""
    import sys

    from harness.errors import UserError
    from harness.plugin.registry import Registration, Registry

    monkeypatch.syspath_prepend(str(OUTSIDE))
    sys.modules.pop("acme_broken_encoder", None)
    import acme_broken_encoder

    class WithEncode(acme_broken_encoder.Forgetful):
        def encode(self, images):
            return images

    registry = Registry(
        entries={
            "encoders": {
                "forgetful": Registration(
                    "encoders", "forgetful", WithEncode, "acme_broken_encoder", "acme", "0.1"
                )
            }
        }
    )
    with pytest.raises(
        UserError,
        match=r"encoder 'forgetful' of acme does not meet the encoder contract: "
        r"it lacks dim",
    ):
        registry.create("encoders", "forgetful")
