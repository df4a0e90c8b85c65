"""Deadline helpers for asyncio tasks that the testing and lifespan code drive.

`get_within` takes one item from a queue with a deadline without cancelling
the calling task (hazard: ``asyncio.timeout`` / ``wait_for`` cancel it, which
changes ``Task.cancelling()`` for the caller and does not exist on 3.10), and
`stop_task` cancels a task and waits for it with a bound (hazard: an app that
swallows ``CancelledError`` would hang the caller). `Expired` is what both
raise internally; callers turn it into their own, named error.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

__all__ = ("STOP_GRACE", "Expired", "get_within", "stop_task")

_T = TypeVar("_T")

# Seconds a cancelled task (an application, a lifespan) gets to actually stop before the
# caller reports that it ignores cancellation.
STOP_GRACE = 5.0


class Expired(Exception):
    """Internal: a deadline passed (callers turn it into their own, named error)."""


async def get_within(
    queue: asyncio.Queue[_T],
    timeout: float | None,
    until: asyncio.Future[Any] | None = None,
) -> _T:
    """Take one item from ``queue``, waiting at most ``timeout`` seconds.

    Unlike ``asyncio.timeout`` this never cancels the calling task, so its
    cancellation count is untouched (Python 3.10 has no ``asyncio.timeout``
    at all). A cancelled getter leaves the item in the queue.

    Args:
        queue: where the item comes from.
        timeout: seconds (None: no limit).
        until: stop waiting early when this future is done (the app ended:
            nothing more can arrive).

    Raises:
        Expired: nothing arrived in time (callers turn it into their error).
    """
    if not queue.empty():
        return queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    waits: set[asyncio.Future[Any]] = {getter}
    if until is not None:
        waits.add(until)
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        getter.cancel()
        raise
    if getter.done():
        return getter.result()
    getter.cancel()
    await asyncio.wait({getter})
    if not getter.cancelled():  # the item arrived while we cancelled: keep it
        return getter.result()
    raise Expired


async def stop_task(task: asyncio.Future[Any], grace: float | None = None) -> bool:
    """Cancel ``task`` and wait (at most ``grace`` seconds, default 5) until it is done.

    Returns:
        True if the task is done; False if it ignored the cancellation.
    """
    if not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_GRACE if grace is None else grace)
    return task.done()
