"""The runtime's shape: no import circles, ``_state`` is data only, no ``_asgi`` imports.

Imports are read from the source with ``ast`` (``TYPE_CHECKING`` imports
included: a circle hidden behind them is still a circle for a reader and for
import-linter).
"""

from __future__ import annotations

from pathlib import Path

from package_graph import ROOT, import_graph

PACKAGE = ROOT / "src" / "asgibridge"


def _imports(path: Path, package: str) -> set[str]:
    """Modules of ``asgibridge`` that ``path`` imports (absolute names)."""
    names = import_graph.imported_names(path, f"{package}.{path.stem}", is_package=False)
    return {name for name in names if name.startswith("asgibridge")}


def _graph(folder: Path, package: str) -> dict[str, set[str]]:
    files = import_graph.module_files()
    edges = import_graph.graph(files)
    return {
        name: targets & {m for m in files if m.startswith(package + ".")}
        for name, targets in edges.items()
        if name.startswith(package + ".") and folder in files[name].parents
    }


_cycles = import_graph.cycles


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
    for path in (PACKAGE / "_runtime").rglob("*.py"):
        package = ".".join(path.relative_to(PACKAGE.parent).parent.parts)
        assert not any(m.startswith("asgibridge._asgi") for m in _imports(path, package)), path
        assert len(path.read_text().splitlines()) <= 520, path
