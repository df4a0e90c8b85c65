"""Let import hooks registered before `install_as_asgiref` see the aliased modules.

APM agents patch asgiref when ``asgiref.sync`` is imported: New Relic's
agent puts a meta-path finder first in ``sys.meta_path`` that wraps the
loader of the module being imported and patches the module once it has run.
A module placed in ``sys.modules`` directly never passes a finder, so an
agent initialised *before* ``install_as_asgiref()`` would never patch the
aliased module (its hook waits for an import that never comes).

Theory of operation: `announce` imports each alias once more through the
import system, with a finder of ours placed just before the path-based
finder (so after every hooking finder an agent put in front). Our loader
hands back the asgibridge module object itself and runs nothing; a hooking
finder in front wraps that loader and fires its hooks on that very object.

Rules: the aliased object stays the one in ``sys.modules`` whatever a finder
does (checked, restored); the import system's rewrite of ``__spec__`` and our
loader's of ``__name__`` (a hooking loader reads it to find its hooks: the
alias's name while the hooks run) are undone; any failure falls back to the
plain ``sys.modules`` assignment.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType

__all__ = ("announce",)


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias as an existing module object (nothing is executed)."""

    def __init__(self, module: ModuleType, alias: str) -> None:
        self.module = module
        self.alias = alias

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        # A hooking loader around this one names the module it hooks by
        # ``module.__name__`` once this returns: it must be the alias's name
        # until `announce` puts the real one back.
        module.__name__ = self.alias


class _AliasFinder(importlib.abc.MetaPathFinder):
    def __init__(self, modules: Mapping[str, ModuleType]) -> None:
        self.modules = modules

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        module = self.modules.get(fullname)
        if module is None:
            return None
        return importlib.util.spec_from_loader(
            fullname, _AliasLoader(module, fullname), is_package=hasattr(module, "__path__")
        )


def announce(modules: Mapping[str, ModuleType]) -> None:
    """Put ``modules`` (alias name -> module, parents first) in ``sys.modules`` via the finders."""
    finder = _AliasFinder(modules)
    meta_path = sys.meta_path
    position = next(
        (i for i, f in enumerate(meta_path) if f is importlib.machinery.PathFinder),
        len(meta_path),
    )
    meta_path.insert(position, finder)
    try:
        for name, module in modules.items():
            spec, real_name = module.__spec__, module.__name__
            sys.modules.pop(name, None)
            try:
                importlib.import_module(name)
            except Exception:
                pass  # a foreign finder failed: the plain assignment below still aliases
            finally:
                if sys.modules.get(name) is not module:
                    sys.modules[name] = module
                module.__spec__, module.__name__ = spec, real_name
    finally:
        try:
            meta_path.remove(finder)
        except ValueError:
            pass
