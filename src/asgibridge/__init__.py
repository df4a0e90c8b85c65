"""asgibridge: asgiref's jobs under asgiref's module names, faster and without silent hangs.

Public modules mirror asgiref's (`asgibridge.sync`, `asgibridge.compatibility`,
`asgibridge.current_thread_executor`, `asgibridge.timeout`, ...); this package
adds runtime controls and `install_as_asgiref` for code that imports asgiref.

The names below load on first use (PEP 562): every ``import asgibridge.X``
runs this file first, and type-only modules (`asgibridge.typing`, imported by
servers and CLIs at start-up) must not pay for the runtime and asyncio. The
``ASGIBRIDGE_*`` variables are therefore checked when the runtime first loads
(``import asgibridge.sync``, ``asgibridge.configure``, ...), not here.
"""

from __future__ import annotations

import atexit
import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._activation.install import install_as_asgiref
    from ._runtime._lifecycle import configure, runtime_stats, shutdown

__version__ = "0.1.0"
"""The version of asgibridge (PEP 440)."""

__all__ = ("__version__", "configure", "install_as_asgiref", "runtime_stats", "shutdown")

# name -> the private module that defines it.
_LAZY = {
    "install_as_asgiref": "._activation.install",
    "configure": "._runtime._lifecycle",
    "runtime_stats": "._runtime._lifecycle",
    "shutdown": "._runtime._lifecycle",
}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def _shutdown_at_exit() -> None:
    # Registered at the first import of the package, so it runs after every
    # later exit hook (which may still call the bridges): persistent loops are
    # closed properly (async generators, default executor, loop.close()) even
    # in a process that never loaded `_lifecycle`, whose own hook does the same.
    if "asgibridge._runtime" in sys.modules:
        from ._runtime._lifecycle import shutdown

        shutdown(1.0)


atexit.register(_shutdown_at_exit)
