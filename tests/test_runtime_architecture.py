"""The runtime's shape: no import circles, ``_state`` is data only, no ``_asgi`` imports.

Imports are read from the source with ``ast`` (``TYPE_CHECKING`` imports
included: a circle hidden behind them is still a circle for a reader and for
import-linter).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "asgibridge"


def _imports(path: Path, package: str) -> set[str]:
    """Modules of ``asgibridge`` that ``path`` imports (absolute names)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
                if node.module is None:  # from . import x, y
                    found.update(f"{base}.{alias.name}" for alias in node.names)
                    continue
            else:
                module = node.module or ""
            if module.startswith("asgibridge"):
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("asgibridge"))
    return found


def _graph(folder: Path, package: str) -> dict[str, set[str]]:
    modules = {f"{package}.{p.stem}": p for p in folder.glob("*.py") if p.stem != "__init__"}
    return {name: _imports(path, package) & set(modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_the_runtime_has_no_import_circles() -> None:
    graph = _graph(PACKAGE / "_runtime", "asgibridge._runtime")
    assert len(graph) > 20
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_state_is_data_only() -> None:
    """``_state`` imports no worker, loop or bridge module (only the option table)."""
    imports = _imports(PACKAGE / "_runtime" / "_state.py", "asgibridge._runtime")
    assert {m for m in imports if m.startswith("asgibridge._runtime.")} <= {
        "asgibridge._runtime._config",
        "asgibridge._runtime._config.from_environment",
    }


def test_the_runtime_never_imports_asgi_and_modules_stay_small() -> None:
    for path in (PACKAGE / "_runtime").glob("*.py"):
        assert not any(m.startswith("asgibridge._asgi") for m in _imports(path, "x")), path
        assert len(path.read_text().splitlines()) <= 520, path
