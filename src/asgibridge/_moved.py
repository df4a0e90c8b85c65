"""Names that moved out of asgiref-named modules: still importable there, with a warning.

asgibridge's own additions left ``asgibridge.sync``, ``.wsgi``, ``.testing`` and
``.typing`` (which carry asgiref's names only, so code written against them
runs on asgiref too) for modules of their own. Code that imports them from
the old place keeps working: a module ``__getattr__`` (PEP 562) finds the
name in its new module and warns once per place with a `DeprecationWarning`
naming the new import. The names stay out of the old modules' ``__all__`` and
``dir()``, which are asgiref's.

Rules: a leaf (standard library only); the new module is imported on first
access, never at import time.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ("find_moved", "moved_names")


def find_moved(module: str, moves: Mapping[str, str], name: str, *, stacklevel: int) -> Any:
    """``name`` of ``module`` from its new place, with the warning; else AttributeError.

    ``stacklevel`` is `warnings.warn`'s, counted from this function: 3 when
    the module's ``__getattr__`` calls it (the warning names the importing line).
    """
    target = moves.get(name)
    if target is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(
        f"{module}.{name} moved to {target}.{name}; import it from there "
        f"({module} keeps asgiref's names only)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return getattr(importlib.import_module(target), name)


def moved_names(module: str, moves: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``moves`` (name -> new module) with a warning."""

    def __getattr__(name: str) -> Any:
        return find_moved(module, moves, name, stacklevel=3)

    return __getattr__
