"""The manifest's compute record: CPU model and the numerics fingerprint that tells code paths apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.runs import manifest
from harness.runs.manifest import compute_info, cpu_model, numerics_fingerprint


def test_cpu_model_reads_the_model_name(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9999\nflags\t: fpu\n")
    assert cpu_model(info) == "AMD EPYC 9999"
    info.write_text("processor\t: 0\nflags\t: fpu\n")
    assert cpu_model(info) is None
    assert cpu_model(tmp_path / "absent") is None


def test_fingerprint_is_stable_and_recorded() -> None:
    first = numerics_fingerprint()
    assert first == numerics_fingerprint()
    assert len(first) == 16 and int(first, 16) >= 0
    info = compute_info()
    assert info["numerics_fingerprint"] == first
    assert "cpu_model" in info


def _fingerprint_in_subprocess(**env: str) -> str:
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from harness.runs.manifest import numerics_fingerprint as f; print(f())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() == "DEFAULT", reason="no vectorised kernels here")
def test_fingerprint_differs_on_another_cpu_code_path() -> None:
    """Forcing torch's scalar kernels (a code path known to move the demo's cells) changes the digest."""
    assert _fingerprint_in_subprocess() != _fingerprint_in_subprocess(ATEN_CPU_CAPABILITY="default")


def test_the_variables_that_choose_kernels_are_recorded() -> None:
    """A run made with oneDNN held below the machine's best ISA (e.g. no AMX) says so in its manifest."""
    code = "import json; from harness.runs.manifest import compute_info as c; print(json.dumps(c()))"
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "COMPATIBLE"}
    env.pop("ATEN_CPU_CAPABILITY", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    assert info["ONEDNN_MAX_CPU_ISA"] == "AVX2" and info["MKL_CBWR"] == "COMPATIBLE"
    assert info["ATEN_CPU_CAPABILITY"] is None and set(manifest.KERNEL_ENV) <= set(info)


def test_manifests_name_the_commit_the_process_started_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit made while a run is under way does not relabel the cells that run still executes."""
    heads = iter(["aaa111", "bbb222"])
    monkeypatch.setattr(manifest, "git_commit", lambda: next(heads))
    manifest.code_commit.cache_clear()
    try:
        first = manifest.base_manifest()["git_commit"]
        later = manifest.base_manifest()["git_commit"]  # HEAD has moved on to bbb222 meanwhile
    finally:
        manifest.code_commit.cache_clear()
    assert first == later == "aaa111"
