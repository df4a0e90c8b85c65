"""The start-up hook's second half: turn the first ``import asgiref`` into the alias.

``asgibridge-as-asgiref.pth`` (installed next to the package in site-packages)
runs at every interpreter start. When ``ASGIBRIDGE_AS_ASGIREF`` is unset it
only reads the environment (no import at all); when it is set it puts a tiny
finder first in ``sys.meta_path`` that ignores every name but ``asgiref`` and,
for that one, defers to `find_spec` here. So a process that never imports
asgiref never imports asgibridge or asyncio either.

Theory of operation: `find_spec` answers with a spec whose loader hands the
import system the ``asgibridge`` package itself and then runs the public
``install_as_asgiref()`` (which aliases every public submodule and lets APM
import hooks see them). It installs nothing itself, because
``importlib.util.find_spec("asgiref")`` must stay a question, not an action.
"""

from __future__ import annotations

import importlib.machinery
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from .reasons import STARTUP_HOOK, record

if TYPE_CHECKING:
    from importlib.abc import Loader as _Loader
else:
    # Not the class itself: importlib.abc loads importlib.resources (tempfile,
    # shutil, pathlib, ...) before Python 3.14, at every interpreter start
    # with the hook on; importlib asks a loader for its methods only.
    _Loader = object

__all__ = ("FINDER_NAME", "VARIABLE", "find_spec", "remove_startup_finders")

VARIABLE = "ASGIBRIDGE_AS_ASGIREF"
# The class name the .pth line gives its finder (how we find it again to remove it).
FINDER_NAME = "AsgibridgeAsAsgirefFinder"


def remove_startup_finders() -> None:
    """Take the .pth's finder out of ``sys.meta_path`` (its job is done once asgiref is in)."""
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != FINDER_NAME]


class _AliasOnLoad(_Loader):
    """Loads ``asgiref`` as the asgibridge package by running ``install_as_asgiref()``."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        import asgibridge

        self._spec = asgibridge.__spec__
        return asgibridge

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamped our spec on the package: put its own back,
        # then let install_as_asgiref() do the aliasing from a clean slate (it
        # imports "asgiref" once more through the finders, for APM hooks).
        module.__spec__ = self._spec
        remove_startup_finders()  # or the nested import would come back here
        if sys.modules.get("asgiref") is module:
            del sys.modules["asgiref"]
        import asgibridge

        asgibridge.install_as_asgiref()
        record(STARTUP_HOOK)


def find_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """The spec the start-up finder returns for ``asgiref`` (None for anything else).

    Example:
        >>> find_spec("json") is None
        True
    """
    if name != "asgiref":
        return None
    return importlib.machinery.ModuleSpec(name, _AliasOnLoad(), is_package=True)
