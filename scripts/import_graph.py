#!/usr/bin/env python3
"""The import graph of ``src/asgibridge``, read from the source: circles and import depth.

Every ``import`` / ``from ... import`` of an asgibridge module counts, wherever it is in the
module (inside functions and under ``TYPE_CHECKING`` too): a circle hidden behind a lazy or a
typing-only import is still a circle for a reader and for import-linter. ``tests/
test_architecture.py`` uses the same functions, so the numbers this prints are the ones CI
checks.

Usage: scripts/import_graph.py [--chain]
    Prints the module count, the circles, and the longest import chain that starts at a
    public module (its length in modules); ``--chain`` prints that chain too.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "asgibridge"


def module_files(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` under ``src``, by dotted name (packages by their name)."""
    files: dict[str, Path] = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def imported_names(path: Path, module: str, is_package: bool) -> set[str]:
    """Dotted names ``path`` imports: each ``from X import y`` gives both ``X`` and ``X.y``."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def graph(files: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a name that is not a module is dropped)."""
    files = module_files() if files is None else files
    edges: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        targets = imported_names(path, name, is_package) & set(files)
        # ``from . import x`` names the package itself too; that is no edge of its own.
        edges[name] = {t for t in targets if t != name and not _is_parent_only(t, targets)}
    return edges


def _is_parent_only(target: str, targets: set[str]) -> bool:
    # ``from .spec import model`` yields both ``spec`` and ``spec.model``: the edge is to the
    # submodule; the package's __init__ is counted only when a name comes from it directly.
    return any(other.startswith(target + ".") for other in targets)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Import circles, each as a path that ends where it starts (depth-first, stable order)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def public_modules(edges: Iterable[str]) -> list[str]:
    """Modules a user may import: no path component starts with an underscore."""
    return sorted(
        name for name in edges if not any(part.startswith("_") for part in name.split("."))
    )


def longest_chain(edges: dict[str, set[str]], starts: Iterable[str]) -> list[str]:
    """The longest import chain from any of ``starts`` (circles are cut where they close)."""
    best: dict[str, list[str]] = {}
    on_path: set[str] = set()

    def walk(node: str) -> list[str]:
        if node in best:
            return best[node]
        on_path.add(node)
        longest: list[str] = []
        for target in sorted(edges.get(node, ())):
            if target in on_path:  # a circle: the chain stops at the module that closes it
                continue
            candidate = walk(target)
            if len(candidate) > len(longest):
                longest = candidate
        on_path.discard(node)
        best[node] = [node, *longest]
        return best[node]

    chains = [walk(start) for start in starts]
    return max(chains, key=len, default=[])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", action="store_true", help="print the longest chain")
    args = parser.parse_args(argv)
    edges = graph()
    found = cycles(edges)
    chain = longest_chain(edges, public_modules(edges))
    print(f"modules: {len(edges)}")
    print(f"circles: {len(found)}")
    for circle in found:
        print("  " + " -> ".join(circle))
    print(f"longest import chain from a public module: {len(chain)} modules")
    if args.chain:
        for name in chain:
            print("  " + name)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
