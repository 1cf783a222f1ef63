"""Shared pytest fixtures (the builders they use live in tests/helpers/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import install_fake_dist
from tests.helpers.paths import FIXTURES


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
