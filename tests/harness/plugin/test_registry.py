"""Plugin discovery through entry points, third-party plugins, failures and lookup errors."""

from __future__ import annotations

import json
import os
from importlib.metadata import EntryPoint

import pytest

from harness.errors import UnknownPluginError
from harness.plugin.registry import discover
from tests.helpers.cli import run_cli


def _pythonpath(site) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def test_first_party_plugins_of_every_kind_are_discovered():
    registry = discover()
    assert {"original", "across_category", "within_category", "hypernym_swap"} <= set(
        registry.names("shuffles")
    )
    assert "local" in registry.names("executors")
    for kind in ("encoders", "backbones", "tasks"):
        assert registry.names(kind), f"no {kind} registered"
    assert all(r["package"] == "taxobench" for r in registry.rows())


def test_unknown_name_lists_the_available_ones():
    registry = discover()
    with pytest.raises(UnknownPluginError, match="available shuffles: .*across_category"):
        registry.create("shuffles", "no-such-shuffle")


def test_reference_argument_reaches_the_factory():
    ep = EntryPoint("example", "tests.fixtures.thirdparty.taxobench_example_plugin", "taxobench")
    registry = discover([ep])
    obj = registry.create("shuffles", "reverse:ignored", flavour="x")
    assert obj.options == {"flavour": "x"}


def test_broken_plugin_is_reported_and_the_others_load():
    eps = [
        EntryPoint("broken", "tests.fixtures.thirdparty.taxobench_broken_plugin", "taxobench"),
        EntryPoint("example", "tests.fixtures.thirdparty.taxobench_example_plugin", "taxobench"),
    ]
    with pytest.warns(RuntimeWarning, match="'broken' failed to load: ImportError"):
        registry = discover(eps)
    assert "broken" in registry.failures
    assert registry.names("shuffles") == ["reverse"]


def test_third_party_package_is_discovered_without_harness_changes(thirdparty_site):
    result = run_cli("plugins", "--json", env=_pythonpath(thirdparty_site))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    rows = {(r["kind"], r["name"]): r for r in payload["plugins"]}
    assert rows[("shuffles", "reverse")]["package"] == "taxobench-example-plugin"
    assert rows[("shuffles", "original")]["package"] == "taxobench"
    assert "broken" in payload["failures"]
    assert "broken" in result.stderr  # the warning names the plugin


def test_taxobench_plugins_env_restricts_external_plugins(thirdparty_site):
    env = {**_pythonpath(thirdparty_site), "TAXOBENCH_PLUGINS": "broken"}
    payload = json.loads(run_cli("plugins", "--json", env=env).stdout)
    names = {r["name"] for r in payload["plugins"]}
    assert "reverse" not in names  # not allowed
    assert "original" in names  # first-party plugins always load
    env["TAXOBENCH_PLUGINS"] = "example"
    payload = json.loads(run_cli("plugins", "--json", env=env).stdout)
    assert "reverse" in {r["name"] for r in payload["plugins"]}
    assert payload["failures"] == {}  # the broken one was never imported


def test_plugins_table_lists_kinds():
    result = run_cli("plugins")
    assert result.returncode == 0
    for word in ("shuffles", "executors", "kind", "package"):
        assert word in result.stdout


def test_a_package_registering_one_name_twice_is_reported() -> None:
    from harness.plugin.registry import Registry, _recorder

    registry = Registry()
    register = _recorder(registry, "tasks", "mine", "my-package", "0.1")
    register("twice", "my_package:first")
    with pytest.raises(ValueError, match="task 'twice' is registered twice"):
        register("twice", "my_package:second")
    assert registry.get("tasks", "twice").target == "my_package:first"
