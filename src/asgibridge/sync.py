"""The sync <-> async bridge, with asgiref.sync's public names and behaviour.

`sync_to_async` / `SyncToAsync` await sync code on the right thread;
`async_to_sync` / `AsyncToSync` call async code from sync code;
`ThreadSensitiveContext` and `AsyncSingleThreadContext` scope their threads.
See ``docs/design.md`` for who runs where.

Only asgiref's names live here, so code written against ``asgiref.sync``
runs on either; asgibridge's additions are in `asgibridge.cancellation`
(``check_cancelled``, ``time_left``) and `asgibridge.iterators`
(``sync_iter_to_async``, ``async_iter_to_sync``).
"""

from ._moved import moved_names
from ._runtime.bridge._async_to_sync import AsyncToSync, async_to_sync
from ._runtime.bridge._sync_to_async import SyncToAsync, sync_to_async
from ._runtime.host._coroutines import iscoroutinefunction, markcoroutinefunction
from ._runtime.threads._executor import CurrentThreadExecutor
from ._runtime.threads._thread_scopes import AsyncSingleThreadContext, ThreadSensitiveContext

__all__ = (
    "AsyncSingleThreadContext",
    "AsyncToSync",
    "CurrentThreadExecutor",
    "SyncToAsync",
    "ThreadSensitiveContext",
    "async_to_sync",
    "iscoroutinefunction",
    "markcoroutinefunction",
    "sync_to_async",
)

# asgibridge's additions that used to live here: still importable, with a warning.
__getattr__ = moved_names(
    __name__,
    {
        "check_cancelled": "asgibridge.cancellation",
        "time_left": "asgibridge.cancellation",
        "sync_iter_to_async": "asgibridge.iterators",
        "async_iter_to_sync": "asgibridge.iterators",
    },
)
