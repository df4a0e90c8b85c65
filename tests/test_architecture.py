"""The package's shape: no import circles, layered rooms, a narrow runtime API, asgiref's names.

The import graph is read from the source by ``scripts/import_graph.py`` (the script that
reports circles and import depth), so these tests and the numbers it prints agree. They
check, with plain pytest, what the import-linter contracts in ``pyproject.toml`` check in CI
(``lint-imports``), so a broken layer fails the test suite too.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from package_graph import ROOT, import_graph

PACKAGE = ROOT / "src" / "asgibridge"
GRAPH: dict[str, set[str]] = import_graph.graph()

# _asgi's rooms, bottom up: a room may import only rooms of a lower rank (never one of the
# same rank: those are independent). The import-linter contract says the same.
RANKS = {
    "spec": 0,
    "callables": 0,
    "validator": 1,
    "lifespan": 2,
    "wsgi": 3,
    "server": 3,
    "django": 3,
    "testing": 4,
    "check": 5,
}
TESTING = ("asgibridge._asgi.testing", "asgibridge._asgi.check")
TEST_FACADES = ("asgibridge.testing", "asgibridge.testclient", "asgibridge.validation")
# The public modules that are production code (the test client, the check and their
# facades are not; the root package only re-exports the runtime's controls).
PRODUCTION_FACADES = (
    "asgibridge.sync",
    "asgibridge.iterators",
    "asgibridge.cancellation",
    "asgibridge.local",
    "asgibridge.wsgi",
    "asgibridge.asgi_to_wsgi",
    "asgibridge.file_wrapper",
    "asgibridge.server",
    "asgibridge.lifespan",
    "asgibridge.compatibility",
    "asgibridge.current_thread_executor",
    "asgibridge.timeout",
    "asgibridge.typing",
    "asgibridge.asgi_types",
    "asgibridge.instrumentation",
    "asgibridge.exceptions",
    "asgibridge.django",
)


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] != ["asgibridge", "_asgi"] or len(parts) < 3:
        return None
    return parts[2]


def _reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in GRAPH.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


# -- circles ----------------------------------------------------------------------------------


def test_the_package_has_no_import_circles() -> None:
    assert len(GRAPH) > 90
    assert import_graph.cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_graph.cycles(edges) == [["a", "b", "c", "a"]]


def test_a_typing_only_import_counts_as_an_edge(tmp_path: Path) -> None:
    """A circle hidden behind ``TYPE_CHECKING`` or a lazy import is still found."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n"
    )
    (package / "b.py").write_text("def f():\n    from . import a\n")
    files = import_graph.module_files(tmp_path, "pkg")
    edges = import_graph.graph(files)
    assert edges["pkg.a"] == {"pkg.b"}
    assert edges["pkg.b"] == {"pkg.a"}
    assert import_graph.cycles(edges) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_the_longest_chain_stops_where_a_circle_closes() -> None:
    edges = {"p": {"a"}, "a": {"b"}, "b": {"a", "c"}, "c": set()}
    assert import_graph.longest_chain(edges, ["p"]) == ["p", "a", "b", "c"]


# -- layers -----------------------------------------------------------------------------------


def test_every_asgi_room_is_ranked() -> None:
    rooms = {_room(module) for module in GRAPH} - {None}
    assert rooms == set(RANKS)


def test_asgi_rooms_import_only_lower_rooms() -> None:
    wrong = []
    for module, targets in GRAPH.items():
        here = _room(module)
        if here is None:
            continue
        for target in targets:
            there = _room(target)
            if there is None or there == here:
                continue
            if RANKS[there] >= RANKS[here]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_asgi_reaches_the_runtime_only_through_its_exports() -> None:
    wrong = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if module.startswith("asgibridge._asgi")
        for target in targets
        if target.startswith("asgibridge._runtime.")
    ]
    assert wrong == []


def test_the_runtime_exports_exist() -> None:
    import asgibridge._runtime as runtime

    assert set(runtime._EXPORTS) == set(runtime.__all__)
    assert all(hasattr(runtime, name) for name in runtime.__all__)
    assert len(runtime.__all__) < 20  # a narrow API: grow it with care


PRODUCTION = sorted(
    m
    for m in GRAPH
    if (m.startswith("asgibridge._asgi.") and _room(m) not in {"testing", "check"})
    or m.startswith("asgibridge._runtime")
    or m in PRODUCTION_FACADES
)


@pytest.mark.parametrize("module", PRODUCTION)
def test_production_code_never_reaches_the_test_client(module: str) -> None:
    reached = _reachable(module)
    assert not [m for m in reached if m.startswith(TESTING) or m in TEST_FACADES]


@pytest.mark.parametrize("module", PRODUCTION)
def test_production_code_never_imports_httpx(module: str) -> None:
    path = import_graph.module_files()[module]
    names = import_graph.imported_names(path, module, path.name == "__init__.py")
    assert not [n for n in names if n.split(".")[0] == "httpx"]


# -- size -------------------------------------------------------------------------------------


# Packages allowed past 20 modules, and why. The root holds one module per public name
# space (asgiref's nine and asgibridge's own, asgibridge.django included): users import
# them by those names, so they cannot move into rooms. Every other package is a room of at
# most 20 (docs/design.md, "Package tree").
WIDE_PACKAGES = {"asgibridge": 25}


def test_no_flat_package_and_no_long_module() -> None:
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        if folder.name == "__pycache__":
            continue
        limit = WIDE_PACKAGES.get(folder.name, 20)
        assert len(list(folder.glob("*.py"))) <= limit, folder
    for path in PACKAGE.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 520, path


# -- asgiref's module names carry asgiref's names ---------------------------------------------

# asgiref 3.13.0's public names per module (what code written against asgiref imports from
# there). asgibridge's extras live in modules of their own: asgibridge.cancellation,
# .iterators, .testclient, .asgi_to_wsgi, .file_wrapper, .asgi_types.
ASGIREF_NAMES: dict[str, frozenset[str]] = {
    "compatibility": frozenset(
        {
            "double_to_single_callable",
            "guarantee_single_callable",
            "is_double_callable",
            "iscoroutinefunction",
        }
    ),
    "current_thread_executor": frozenset({"CurrentThreadExecutor"}),
    "local": frozenset({"Local"}),
    "server": frozenset({"StatelessServer", "guarantee_single_callable", "logger"}),
    "sync": frozenset(
        {
            "AsyncSingleThreadContext",
            "AsyncToSync",
            "CurrentThreadExecutor",
            "Local",
            "SyncToAsync",
            "ThreadSensitiveContext",
            "async_to_sync",
            "iscoroutinefunction",
            "markcoroutinefunction",
            "sync_to_async",
        }
    ),
    "testing": frozenset({"ApplicationCommunicator", "guarantee_single_callable"}),
    "timeout": frozenset({"timeout"}),
    "typing": frozenset(
        {
            "ASGIVersions",
            "HTTPScope",
            "WebSocketScope",
            "LifespanScope",
            "WWWScope",
            "Scope",
            "HTTPRequestEvent",
            "HTTPResponseStartEvent",
            "HTTPResponseBodyEvent",
            "HTTPResponseTrailersEvent",
            "HTTPResponsePathsendEvent",
            "HTTPResponseDebugEvent",
            "HTTPServerPushEvent",
            "HTTPDisconnectEvent",
            "WebSocketConnectEvent",
            "WebSocketAcceptEvent",
            "WebSocketReceiveEvent",
            "WebSocketSendEvent",
            "WebSocketResponseStartEvent",
            "WebSocketResponseBodyEvent",
            "WebSocketDisconnectEvent",
            "WebSocketCloseEvent",
            "LifespanStartupEvent",
            "LifespanShutdownEvent",
            "LifespanStartupCompleteEvent",
            "LifespanStartupFailedEvent",
            "LifespanShutdownCompleteEvent",
            "LifespanShutdownFailedEvent",
            "ASGIReceiveEvent",
            "ASGISendEvent",
            "ASGIReceiveCallable",
            "ASGISendCallable",
            "ASGI2Protocol",
            "ASGI2Application",
            "ASGI3Application",
            "ASGIApplication",
        }
    ),
    "wsgi": frozenset({"AsyncToSync", "WsgiToAsgi", "WsgiToAsgiInstance", "sync_to_async"}),
}


def test_the_table_covers_every_module_install_as_asgiref_aliases() -> None:
    from asgibridge._activation.install import PUBLIC_MODULES

    assert set(ASGIREF_NAMES) == set(PUBLIC_MODULES)


@pytest.mark.parametrize("name", sorted(ASGIREF_NAMES))
def test_asgiref_named_modules_export_asgirefs_names_only(name: str) -> None:
    module = importlib.import_module(f"asgibridge.{name}")
    assert set(module.__all__) == ASGIREF_NAMES[name]
    assert len(module.__all__) == len(set(module.__all__))
    for attribute in module.__all__:
        assert hasattr(module, attribute), attribute


@pytest.mark.parametrize("name", sorted(ASGIREF_NAMES))
def test_the_table_is_asgirefs(name: str) -> None:
    """Against the asgiref installed for the comparisons (3.13: the table's version)."""
    asgiref = pytest.importorskip("asgiref")
    if not asgiref.__version__.startswith("3.13."):
        pytest.skip(f"the table is asgiref 3.13's; asgiref {asgiref.__version__} is installed")
    real = importlib.import_module(f"asgiref.{name}")
    public = {n for n in dir(real) if not n.startswith("_")}
    assert ASGIREF_NAMES[name] <= public
    defined = {
        n
        for n in public
        if getattr(getattr(real, n), "__module__", None) == real.__name__
        and not isinstance(getattr(real, n), ModuleType)
    }
    assert defined | set(getattr(real, "__all__", ())) <= ASGIREF_NAMES[name]


def test_exceptions_and_errors_agree() -> None:
    import asgibridge._errors as errors
    from asgibridge import exceptions

    assert sorted(exceptions.__all__) == sorted(errors.__all__)
    assert len(set(errors.__all__)) == len(errors.__all__)
    for name in errors.__all__:
        assert getattr(exceptions, name) is getattr(errors, name)
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
        and not name.startswith("_")
    }
    assert defined == set(errors.__all__)
