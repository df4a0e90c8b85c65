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

from typing import TYPE_CHECKING, Any

from ._runtime._local import Local
from ._runtime.bridge._async_to_sync import AsyncToSync, async_to_sync
from ._runtime.bridge._sync_to_async import SyncToAsync, sync_to_async
from ._runtime.host._coroutines import iscoroutinefunction, markcoroutinefunction
from ._runtime.threads._executor import CurrentThreadExecutor

if TYPE_CHECKING:
    from ._runtime.threads._thread_scopes import AsyncSingleThreadContext, ThreadSensitiveContext

__all__ = (
    "AsyncSingleThreadContext",
    "AsyncToSync",
    "CurrentThreadExecutor",
    "Local",
    "SyncToAsync",
    "ThreadSensitiveContext",
    "async_to_sync",
    "iscoroutinefunction",
    "markcoroutinefunction",
    "sync_to_async",
)

# The module's own name, kept: while the alias loads it as ``asgiref.sync`` the
# import system stamps that name on it for a moment.
_NAME = __name__

# Thread scopes load on first use (PEP 562): a Django process opens one per
# request under ASGI only, and the name is then bound here (no second lookup).
_SCOPES = ("AsyncSingleThreadContext", "ThreadSensitiveContext")

# asgibridge's additions that used to live here: still importable, with a warning.
_MOVED = {
    "check_cancelled": "asgibridge.cancellation",
    "time_left": "asgibridge.cancellation",
    "sync_iter_to_async": "asgibridge.iterators",
    "async_iter_to_sync": "asgibridge.iterators",
}


def __getattr__(name: str) -> Any:
    # Absolute imports: while the alias loads this module as ``asgiref.sync`` its
    # ``__spec__`` says so, and a relative import would resolve against it. The
    # import system asks for ``__path__`` then: a plain miss must stay cheap.
    if name in _SCOPES:
        from asgibridge._runtime.threads import _thread_scopes

        value = getattr(_thread_scopes, name)
        globals()[name] = value
        return value
    if name not in _MOVED:
        raise AttributeError(f"module {_NAME!r} has no attribute {name!r}")
    from asgibridge._moved import find_moved

    return find_moved(_NAME, _MOVED, name, stacklevel=3)


def __dir__() -> list[str]:
    return sorted({*globals(), *_SCOPES})
