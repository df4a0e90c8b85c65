"""Detecting a monkeypatched ``threading`` (gevent, eventlet) before the bridge starts a thread.

The bridge needs real OS threads: a worker runs sync code while the event
loop keeps running elsewhere, and an async_to_sync caller blocks while its
loop runs on another thread. Once gevent's ``monkey.patch_all()`` (or
eventlet's ``monkey_patch()``) has replaced ``threading``, a "new thread" is a
greenlet on the *same* OS thread: asyncio then sees the loop of one greenlet
as running in another, and async_to_sync fails with "You cannot use
AsyncToSync in the same thread as an async event loop" (asgiref #443), or the
loop and its caller wait on each other forever (hang hazard).

Making real threads under the patch is not enough: the queues, locks and
selectors the bridge and asyncio use are patched too. Patched queues never
wake a waiter on another OS thread (each wait then lasts until its health
check timeout), and a patched selector in the loop thread stalls the loop. So
the bridge fails at its first thread start, naming what is patched and the
call that works (checked in tests: gevent's ``patch_all(thread=False,
queue=False, select=False)``, eventlet's ``monkey_patch(thread=False)``;
sockets, ssl, time, os... stay cooperative).

Rules: the check reads only ``sys.modules`` (it never imports gevent or
eventlet); it runs once per thread the runtime starts, never per call.
"""

from __future__ import annotations

import sys

from ..._errors import GreenThreadsError

__all__ = ("green_threading", "require_real_threads")


# Modules whose patching breaks the bridge, as each library names them.
_GEVENT_MODULES = ("threading", "queue", "select", "selectors")
# eventlet's green select works per OS thread (checked in tests), gevent's does not.
_EVENTLET_MODULES = ("thread",)


def green_threading() -> tuple[str, tuple[str, ...]] | None:
    """The library that patched what the bridge needs, and the patched modules; or None."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None:
        patched = tuple(m for m in _GEVENT_MODULES if monkey.is_module_patched(m))
        if patched:
            return "gevent", patched
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None:
        patched = tuple(m for m in _EVENTLET_MODULES if patcher.is_monkey_patched(m))
        if patched:
            return "eventlet", patched
    return None


_FIXES = {
    "gevent": (
        "call `gevent.monkey.patch_all(thread=False, queue=False, select=False)` instead "
        "(with gunicorn's gevent worker, which calls `patch_all()` itself, use a threaded "
        "worker class such as gthread)"
    ),
    "eventlet": "call `eventlet.monkey_patch(thread=False)` instead",
}


def require_real_threads(purpose: str) -> None:
    """Raise `GreenThreadsError` if gevent/eventlet patching would break a thread for ``purpose``.

    Args:
        purpose: what the thread is for, named in the error.

    Raises:
        GreenThreadsError: gevent or eventlet patched threading, queue or select.

    Example:
        >>> require_real_threads("a worker")  # no gevent patching here: returns
    """
    found = green_threading()
    if found is None:
        return
    library, modules = found
    raise GreenThreadsError(
        f"asgibridge cannot start {purpose}: {library} monkeypatched {', '.join(modules)}",
        "(a new thread would be a greenlet on the calling OS thread, and patched queues and "
        "selectors cannot wake another OS thread: the event loop and the sync code it waits "
        f"for would block each other, asgiref issue #443). The bridge needs real OS threads: "
        f"{_FIXES[library]}.",
    )
