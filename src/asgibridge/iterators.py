"""Streaming across the bridge (asgibridge only, not asgiref).

`sync_iter_to_async` iterates a sync iterable from async code, its items
produced on the thread ``sync_to_async`` would pick; `async_iter_to_sync`
iterates an async iterable from sync code through ``async_to_sync``. See
``docs/streaming.md``.
"""

from ._runtime.extras._async_iter import async_iter_to_sync
from ._runtime.extras._iterators import sync_iter_to_async

__all__ = ("async_iter_to_sync", "sync_iter_to_async")
