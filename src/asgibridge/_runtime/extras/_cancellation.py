"""Cooperative cancellation and deadlines for sync code run by sync_to_async.

A sync function cannot be interrupted; it can only be asked. `check_cancelled`
raises ``asyncio.CancelledError`` once the task awaiting it was cancelled, and
`time_left` reports the seconds before the awaiting task's deadline.

Theory of operation: the current thread's ``tls.hop`` is the sync_to_async
call it runs. The task awaiting it was recorded when the call was submitted
(``asyncio.current_task()``; an iterator batch names its consumer's task),
so it is known even before that task reaches its ``await`` (a new pool thread
may start the function first) and whatever the task factory (an eager first
step runs before any callback could be linked). An async_to_sync call made
inside a sync_to_async call runs its coroutine with ``_state.outer_hop`` set
to that call, so the next hop outwards is read from the running hop's
context: walking that chain makes both functions see across nested hops
(sync_to_async -> async_to_sync -> sync_to_async). Deadlines are those of an
``asyncio.timeout`` (3.11+; ``wait_for`` is built on it from 3.12), of a
pre-3.12 ``asyncio.wait_for``, or of asgibridge's ``timeout``, read by
`_asyncio_private.timer_deadlines` (the loop's timers where asyncio exposes
them; the task's timeout objects under uvloop).

Rules: both functions only read (the loop thread may change what they read
meanwhile: lists are copied first); a hop inherited through fork is ignored
(its loop belongs to the parent).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from typing import Any, cast

from .. import _state
from ..bridge._hop import Hop
from ..host._asyncio_private import future_callbacks, timer_deadlines
from ..observe._names import function_name
from ._timeout import timeout as _bridge_timeout

__all__ = ("check_cancelled", "time_left")

_MAX_DEPTH = 64  # hops followed outwards (a guard against a cycle we cannot see)
# Task classes: the C one and the pure-Python one (used when something swaps it in).
_TASK_TYPES: tuple[type, ...] = (asyncio.Task, getattr(asyncio.tasks, "_PyTask", asyncio.Task))


def _awaiting_task(hop: Hop) -> asyncio.Task[Any] | None:
    if hop.task is not None:  # recorded at submission
        return hop.task
    # A hop built elsewhere (an adapter's): the task that waits on its future.
    for callback in future_callbacks(hop.future):
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, _TASK_TYPES):
            return cast("asyncio.Task[Any]", owner)
    return None


def _chain() -> Iterator[tuple[Hop, asyncio.Task[Any] | None]]:
    hop: Hop | None = _state.tls.hop
    depth = 0
    while hop is not None and depth < _MAX_DEPTH and hop.generation == _state.generation:
        yield hop, _awaiting_task(hop)
        hop = hop.ctx.get(_state.outer_hop)  # None once spent or at the outermost call
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
            now = _now(hop.loop)
        for when in _deadlines(hop.loop, task):
            left = when - now
            nearest = left if nearest is None else min(nearest, left)
    return None if nearest is None else max(nearest, 0.0)


def _now(loop: asyncio.AbstractEventLoop) -> float:
    """The loop's time, read from another thread.

    uvloop answers with the time cached at the start of its current iteration
    (millisecond steps), which can be behind; both it and asyncio count on the
    monotonic clock, so the fresher of the two is taken when they agree (a
    loop with a clock of its own, a test's virtual time, is left alone).
    """
    now = loop.time()
    fresh = time.monotonic()
    return max(now, fresh) if abs(fresh - now) < 1.0 else now


def _deadlines(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> Iterator[float]:
    return timer_deadlines(loop, task, (_bridge_timeout,))
