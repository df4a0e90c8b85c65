"""`install_as_asgiref()`: make ``import asgiref...`` return asgibridge's modules.

For code that cannot be edited (Django, Channels, Daphne): after the call,
each ``asgiref.X`` is the same module object as ``asgibridge.X`` (imported
lazily, on first use, through `asgibridge._activation.alias`'s finder), and
``sys.modules["asgiref"]`` is a small package object whose ``__version__`` is
`ASGIREF_VERSION`, the asgiref release whose behaviour asgibridge provides.

Rules: idempotent; refuses when the real asgiref is already imported (two
copies of the bridge in one process would each think the other's blocked
threads are foreign: silent deadlocks); asgibridge's internals are never
reachable under asgiref's name.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from .._errors import AsgirefAlreadyImportedError
from .alias import ALIAS, AsgirefPackage, install_finder, is_ours

__all__ = ("ASGIREF_VERSION", "PUBLIC_MODULES", "install_as_asgiref")

ASGIREF_VERSION = "3.13.0"
"""The asgiref release whose names, messages and behaviour the alias provides."""

# asgiref's public modules, in asgiref's names (asgibridge's own public modules
# are reachable under the alias too).
PUBLIC_MODULES = (
    "compatibility",
    "current_thread_executor",
    "local",
    "server",
    "sync",
    "testing",
    "timeout",
    "typing",
    "wsgi",
)


def _take_over(foreign: list[str]) -> bool:
    # Imported here: the take-over (and the activation record it writes) serves
    # only a process that imported the real asgiref first, never a plain start.
    from .takeover import take_over

    return take_over(foreign, PUBLIC_MODULES, _alias_package)


def _alias_package() -> ModuleType:
    """Install the finder and import ``asgiref`` through it: the alias's package object."""
    install_finder(ASGIREF_VERSION)
    # Through the finders, so that import hooks set earlier (APM agents) see it.
    return importlib.import_module(ALIAS)


def install_as_asgiref() -> None:
    """Serve ``import asgiref`` and ``import asgiref.X`` with asgibridge's modules.

    Call it before anything imports asgiref (first thing in ``manage.py``,
    ``asgi.py`` or ``wsgi.py``). Under pytest with pytest-django a
    ``conftest.py`` is too late (the plugin sets Django up first): call it
    from a module loaded with ``pytest -p module``.

    Raises:
        AsgirefAlreadyImportedError: the real asgiref is already imported (an
            ImportError).

    Example:
        >>> import asgibridge, sys
        >>> asgibridge.install_as_asgiref()  # doctest: +SKIP
        >>> import asgiref.sync  # doctest: +SKIP
        >>> asgiref.sync is asgibridge.sync, asgiref.__version__  # doctest: +SKIP
        (True, '3.13.0')
    """
    if not isinstance(sys.modules.get(ALIAS), AsgirefPackage):
        foreign = sorted(
            name
            for name, module in list(sys.modules.items())
            if (name == ALIAS or name.startswith(ALIAS + ".")) and not is_ours(module)
        )
        # Real modules imported but not used yet (daphne's CLI) are taken over instead.
        if foreign and not _take_over(foreign):
            raise AsgirefAlreadyImportedError(
                f"the real asgiref is already imported ({', '.join(foreign)}).",
                "Call asgibridge.install_as_asgiref() before anything imports asgiref or "
                "Django: first thing in manage.py / asgi.py / wsgi.py (under pytest-django, "
                "a conftest.py is too late: call it from a module loaded with `pytest -p`).",
            )
    _alias_package()
