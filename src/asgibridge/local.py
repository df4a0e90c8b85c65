"""`Local`: asgiref.local's thread-, task- and bridge-local namespace.

A drop-in for ``asgiref.local.Local``: like ``threading.local`` in sync
threads, per task in asyncio, and its values follow `asgibridge.sync` calls
both ways; ``Local(thread_critical=True)`` keeps them strictly per thread.
"""

from ._runtime._local import Local

__all__ = ("Local",)
