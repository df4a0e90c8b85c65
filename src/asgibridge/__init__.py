"""asgibridge: asgiref's jobs under asgiref's module names, faster and without silent hangs.

Public modules mirror asgiref's (`asgibridge.sync`, `asgibridge.compatibility`,
`asgibridge.current_thread_executor`, `asgibridge.timeout`, ...); this package
adds runtime controls and `install_as_asgiref` for code that imports asgiref.
"""

from ._install import install_as_asgiref
from ._runtime._lifecycle import configure, runtime_stats, shutdown

__version__ = "0.1.0"
"""The version of asgibridge (PEP 440)."""

__all__ = ("__version__", "configure", "install_as_asgiref", "runtime_stats", "shutdown")
