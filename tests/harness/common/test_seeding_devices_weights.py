"""harness.common: seeded streams per purpose, device names, weight digests."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from harness.common.devices import resolve_device
from harness.common.seeding import derive_rng, derive_seed
from harness.common.weights import weights_digest
from harness.errors import UserError


def test_streams_differ_by_purpose_and_repeat_in_another_process() -> None:
    here = [derive_rng(42, "split", "crow").random() for _ in range(1)]
    assert derive_seed(42, "split", "crow") != derive_seed(42, "split", "raven")
    assert derive_seed(42, "split", "crow") != derive_seed(43, "split", "crow")
    code = (
        "from harness.common.seeding import derive_rng; print(repr(derive_rng(42, 'split', 'crow').random()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    assert float(out.stdout) == here[0]


def test_device_names() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_weights_digest_sees_one_changed_value_and_ignores_nothing() -> None:
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    before = weights_digest(module)
    assert weights_digest(module) == before
    with torch.no_grad():
        module[0].weight[1, 2] += 1e-6
    assert weights_digest(module) != before
    changed = weights_digest(module)
    module[1].running_mean += 1  # a buffer counts too
    assert weights_digest(module) != changed
