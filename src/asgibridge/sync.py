"""The sync <-> async bridge, with asgiref.sync's public names and behaviour.

`sync_to_async` / `SyncToAsync` await sync code on the right thread;
`async_to_sync` / `AsyncToSync` call async code from sync code;
`ThreadSensitiveContext` and `AsyncSingleThreadContext` scope their threads.
See ``docs/design.md`` for who runs where.
"""

from ._runtime._async_iter import async_iter_to_sync
from ._runtime._async_to_sync import AsyncToSync, async_to_sync
from ._runtime._cancellation import check_cancelled, time_left
from ._runtime._contexts import AsyncSingleThreadContext, ThreadSensitiveContext
from ._runtime._coroutines import iscoroutinefunction, markcoroutinefunction
from ._runtime._executor import CurrentThreadExecutor
from ._runtime._iterators import sync_iter_to_async
from ._runtime._sync_to_async import SyncToAsync, sync_to_async

__all__ = (
    "AsyncSingleThreadContext",
    "AsyncToSync",
    "CurrentThreadExecutor",
    "SyncToAsync",
    "ThreadSensitiveContext",
    "async_iter_to_sync",
    "async_to_sync",
    "check_cancelled",
    "iscoroutinefunction",
    "markcoroutinefunction",
    "sync_iter_to_async",
    "sync_to_async",
    "time_left",
)
