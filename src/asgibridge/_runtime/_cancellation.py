"""Cooperative cancellation and deadlines for sync code run by sync_to_async.

A sync function cannot be interrupted; it can only be asked. `check_cancelled`
raises ``asyncio.CancelledError`` once the task awaiting it was cancelled, and
`time_left` reports the seconds before the awaiting task's deadline.

Theory of operation: nothing is recorded on the bridge's hot path. The
current thread's ``tls.hop`` is the sync_to_async call it runs; the task
awaiting it is found through the hop's future (the task registered its wakeup
callback there; a hop nobody awaits (an iterator batch) names the
consumer's task instead), and an async_to_sync call between two hops is found through
the task's done callbacks (`AsyncCall._task_done`), whose ``hop`` is the outer
call. Walking that chain makes both functions see across nested hops
(sync_to_async -> async_to_sync -> sync_to_async). Deadlines are the loop's
timer handles that belong to an ``asyncio.timeout`` (3.11+; ``wait_for`` is
built on it from 3.12), to a pre-3.12 ``asyncio.wait_for`` of that task, or to
asgibridge's ``timeout``.

Rules: both functions only read (lists are copied under the GIL before
iterating: the loop thread may change them meanwhile); a hop inherited
through fork is ignored (its loop belongs to the parent).
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Iterator
from typing import Any, cast

from . import _state
from ._call import AsyncCall
from ._hop import Hop
from ._names import function_name
from ._timeout import timeout as _bridge_timeout

__all__ = ("check_cancelled", "time_left")

_MAX_DEPTH = 64  # hops followed outwards (a guard against a cycle we cannot see)
_release_waiter: Any = getattr(asyncio.tasks, "_release_waiter", None)
_Timeout: Any = getattr(asyncio, "Timeout", None)
# Task classes: the C one and the pure-Python one (used when something swaps it in).
_TASK_TYPES: tuple[type, ...] = (asyncio.Task, getattr(asyncio.tasks, "_PyTask", asyncio.Task))
# The task each loop is running now (asyncio's own table, 3.10-3.13).
_current_tasks: dict[Any, Any] | None = getattr(asyncio.tasks, "_current_tasks", None)


def _callbacks(future: asyncio.Future[Any]) -> list[Any]:
    # The C and Python futures both expose pending callbacks as (fn, context).
    callbacks = getattr(future, "_callbacks", None)
    return [entry[0] for entry in list(callbacks or ())]


def _task_in(callbacks: list[Any]) -> asyncio.Task[Any] | None:
    for callback in callbacks:
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, _TASK_TYPES):
            return cast("asyncio.Task[Any]", owner)
    return None


def _awaiting_task(hop: Hop) -> asyncio.Task[Any] | None:
    if hop.task is not None:  # nobody awaits its future: it names its task
        return hop.task
    future = hop.future
    task = _task_in(_callbacks(future))
    if task is not None or future.done():
        return task
    # The worker may start before the awaiting task reaches ``await hop.future``
    # (it is between `_put` and the await): it is then the loop's running task.
    # Read that, then the callbacks again: if they are still empty, the task
    # had not suspended yet when we read it, so it is the right one.
    running = _current_tasks.get(hop.loop) if _current_tasks is not None else None
    task = _task_in(_callbacks(future))
    if task is not None or future.done():
        return task
    return running


def _outer_hop(task: asyncio.Task[Any]) -> Hop | None:
    for callback in _callbacks(task):
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, AsyncCall):
            return owner.hop
    return None


def _chain() -> Iterator[tuple[Hop, asyncio.Task[Any] | None]]:
    hop: Hop | None = _state.tls.hop
    depth = 0
    while hop is not None and depth < _MAX_DEPTH and hop.generation == _state.generation:
        task = _awaiting_task(hop)
        yield hop, task
        hop = _outer_hop(task) if task is not None else None
        depth += 1


def check_cancelled() -> None:
    """Raise if the task awaiting this sync function has been cancelled.

    Call it from long-running sync code run by ``sync_to_async`` (between
    rows, chunks, retries) so that it stops early instead of running on
    after its caller gave up. It sees through nested bridges: a function run
    by sync_to_async inside async_to_sync inside sync_to_async stops when the
    outermost awaiting task is cancelled. Inside a sync generator driven by
    ``sync_iter_to_async`` it asks about the consuming task (Python 3.11+).
    Outside a bridged call it does nothing.

    Raises:
        asyncio.CancelledError: the awaiting task (or one further out) was
            cancelled; let it propagate (it is a BaseException, so ``except
            Exception`` does not swallow it).

    Example:
        >>> import asyncio
        >>> from asgibridge.sync import sync_to_async
        >>> def work() -> str:
        ...     check_cancelled()
        ...     return "done"
        >>> asyncio.run(sync_to_async(work)())
        'done'
    """
    for hop, task in _chain():
        if hop.cancelled or hop.future.cancelled() or (task is not None and _cancelling(task)):
            raise asyncio.CancelledError(
                f"the task awaiting {function_name(hop.func)} was cancelled"
            )


def _cancelling(task: asyncio.Task[Any]) -> bool:
    if sys.version_info >= (3, 11):
        return task.cancelling() > 0
    return False  # pragma: no cover - 3.10 relies on hop.cancelled


def time_left() -> float | None:
    """Seconds left before the awaiting task's deadline, or None when it has none.

    The deadline is the nearest ``asyncio.timeout`` / ``asyncio.timeout_at``
    (or ``asyncio.wait_for``, or ``asgibridge.timeout``) around the awaiting
    task, or around any task further out through nested bridges (in a sync
    generator driven by ``sync_iter_to_async``: around the consuming task).

    Returns:
        Seconds, never negative; None outside a bridged call and when no
        deadline applies.

    Example:
        >>> import asyncio
        >>> from asgibridge.sync import sync_to_async
        >>> async def main() -> bool:
        ...     left = await asyncio.wait_for(sync_to_async(time_left)(), 30)
        ...     return left is not None and 0 < left <= 30
        >>> asyncio.run(main())
        True
    """
    nearest: float | None = None
    now: float | None = None
    for hop, task in _chain():
        if task is None:
            continue
        if now is None:
            now = hop.loop.time()  # monotonic: the same clock in every loop here
        for when in _deadlines(hop.loop, task):
            left = when - now
            nearest = left if nearest is None else min(nearest, left)
    return None if nearest is None else max(nearest, 0.0)


def _deadlines(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> Iterator[float]:
    waiters = _wait_for_waiters(task)
    scheduled = getattr(loop, "_scheduled", None)
    for handle in list(scheduled or ()):
        if handle.cancelled():
            continue
        callback = handle._callback
        owner = getattr(callback, "__self__", None)
        timer_of_task = (_Timeout is not None and isinstance(owner, _Timeout)) or isinstance(
            owner, _bridge_timeout
        )
        if timer_of_task and getattr(owner, "_task", None) is task:
            yield handle.when()
        elif waiters and callback is _release_waiter and handle._args:
            waiter = handle._args[0]
            if any(waiter is candidate for candidate in waiters):
                yield handle.when()


def _wait_for_waiters(task: asyncio.Task[Any]) -> list[Any]:
    # Before 3.12, wait_for runs the awaitable in a task of its own and arms a
    # timer that releases a waiter future; the task's done callback names it.
    if _release_waiter is None or sys.version_info >= (3, 12):
        return []
    found: list[Any] = []
    for callback in _callbacks(task):
        if isinstance(callback, functools.partial) and callback.func is _release_waiter:
            found.extend(callback.args[:1])
    return found
