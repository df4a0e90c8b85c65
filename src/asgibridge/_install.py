"""`install_as_asgiref()`: make ``import asgiref...`` return asgibridge's modules.

For code that cannot be edited (Django, Channels, Daphne): after the call,
``sys.modules["asgiref"]`` *is* the ``asgibridge`` package and each public
``asgiref.X`` is the same module object as ``asgibridge.X``, like PyMySQL's
``install_as_MySQLdb()``.

Rules: idempotent; refuses when the real asgiref is already imported (two
copies of the bridge in one process would each think the other's blocked
threads are foreign: silent deadlocks); only public modules are aliased.
"""

from __future__ import annotations

import importlib
import sys

from ._activation.takeover import take_over
from ._alias_hooks import announce
from ._errors import AsgirefAlreadyImportedError

__all__ = ("PUBLIC_MODULES", "install_as_asgiref")

# asgiref's public modules, in asgiref's names. Those asgibridge does not
# provide yet are skipped (``import asgiref.X`` then fails as it would anyway).
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


def install_as_asgiref() -> None:
    """Alias ``asgiref`` and its public submodules to asgibridge's.

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
        >>> asgiref.sync is asgibridge.sync  # doctest: +SKIP
        True
    """
    package = importlib.import_module("asgibridge")
    present = sys.modules.get("asgiref")
    if present is package:
        return
    foreign = sorted(
        name for name in sys.modules if name == "asgiref" or name.startswith("asgiref.")
    )
    # Real modules imported but not used yet (daphne's CLI) are taken over instead.
    if foreign and not take_over(foreign, PUBLIC_MODULES):
        raise AsgirefAlreadyImportedError(
            f"the real asgiref is already imported ({', '.join(foreign)}).",
            "Call asgibridge.install_as_asgiref() before anything imports asgiref or "
            "Django: first thing in manage.py / asgi.py / wsgi.py (under pytest-django, "
            "a conftest.py is too late: call it from a module loaded with `pytest -p`).",
        )
    modules = {}
    for name in PUBLIC_MODULES:
        try:
            modules[name] = importlib.import_module(f"asgibridge.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"asgibridge.{name}":
                raise
    # Through the finders, so that import hooks set earlier (APM agents) fire (issue 15).
    announce({"asgiref": package, **{f"asgiref.{n}": m for n, m in modules.items()}})
