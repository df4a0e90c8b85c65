"""Every route a sync_to_async call can take, for bridge rules that must hold on each.

A route is where the sync function runs (DESIGN.md section 2): the process-wide
sync thread, the thread_sensitive=False pool, an ``executor=``, the thread of a
ThreadSensitiveContext, a ThreadSensitiveContext's ``executor=``, or the sync
caller blocked in async_to_sync up the stack.

`run_on_route(route, body)` runs ``await body(wrap)`` on a fresh loop, on a new
plain thread, where ``wrap(f)`` is ``sync_to_async(f, ...)`` set up to take
``route``, and returns its result (or raises its error). For "blocked-caller"
the loop is the plain thread's persistent async_to_sync loop, so ``wrap(f)``
runs ``f`` back on the plain thread.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgibridge.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

__all__ = ("EXECUTOR_PREFIX", "ROUTES", "run_on_route")

_T = TypeVar("_T")
Wrap = Callable[..., Any]  # sync_to_async, with the route's arguments bound

ROUTES = ("sync-thread", "pool", "executor", "context", "context-executor", "blocked-caller")
EXECUTOR_PREFIX = "route-executor"
JOIN = 10.0  # seconds the plain thread gets to finish before the test fails


def run_on_route(route: str, body: Callable[[Wrap], Awaitable[_T]]) -> _T:
    """Run ``await body(wrap)`` with ``wrap`` taking ``route``; return or raise its outcome."""
    assert route in ROUTES, route
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            if route == "blocked-caller":
                box["result"] = async_to_sync(body)(sync_to_async)
            else:
                box["result"] = asyncio.run(_on(route, body))
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main, name="route-caller")
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive(), f"route {route!r}: the caller did not finish"
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


async def _on(route: str, body: Callable[[Wrap], Awaitable[_T]]) -> _T:
    if route == "sync-thread":
        return await body(sync_to_async)
    if route == "pool":
        return await body(functools.partial(sync_to_async, thread_sensitive=False))
    if route == "context":
        async with ThreadSensitiveContext():
            return await body(sync_to_async)
    with ThreadPoolExecutor(1, thread_name_prefix=EXECUTOR_PREFIX) as executor:
        if route == "executor":
            wrap = functools.partial(sync_to_async, thread_sensitive=False, executor=executor)
            return await body(wrap)
        async with ThreadSensitiveContext(executor=executor):
            return await body(sync_to_async)
