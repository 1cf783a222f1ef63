"""The layout's import rules (docs/architecture.md), checked on the source: no module-level import cycle in
harness/, no concrete plugin imported by the core, and plugins and tasks importing only the public API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers.paths import REPO


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """Modules imported when ``path`` is imported (module level; imports inside functions are lazy)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def all_imports(path: Path) -> set[str]:
    """Every absolute import anywhere in ``path`` (lazy ones included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def test_no_module_level_import_cycle_in_the_core() -> None:
    modules = {module_name(p): p for p in sources("harness")}
    graph = {m: {i for i in top_level_imports(p) if i in modules and i != m} for m, p in modules.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(path[path.index(n) :] + [n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_core_imports_no_concrete_plugin() -> None:
    offenders = {
        module_name(p): sorted(i for i in all_imports(p) if i.split(".")[0] in {"plugins", "tasks"})
        for p in sources("harness")
    }
    assert {m: i for m, i in offenders.items() if i} == {}


@pytest.mark.parametrize("package", ["plugins", "tasks"])
def test_first_party_plugins_import_only_the_public_api(package: str) -> None:
    offenders = {
        module_name(p): sorted(
            i for i in all_imports(p) if i.startswith("harness") and i != "harness.plugin.api"
        )
        for p in sources(package)
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_the_protocol_layer_needs_no_torch() -> None:
    heavy = {
        module_name(p): sorted(i for i in all_imports(p) if i.split(".")[0] in {"torch", "transformers"})
        for p in sources("harness/protocol")
    }
    assert {m: i for m, i in heavy.items() if i} == {}
