"""The only module that reads private attributes of asyncio (and of its loops and futures).

Everything else in the runtime uses public asyncio API. What is here has no
public equivalent; each read is guarded (``getattr`` with a default), has a
fallback that keeps behaviour correct when the attribute is missing (another
Python, uvloop, a loop of another library), and is tested on every Python and
loop of the test axis (``tests/test_asyncio_private.py``).

Each entry: the attribute; what it is used for; the fallback.

- ``asyncio._get_running_loop``: "is a loop running in this thread?" without
  raising, on hot paths; fallback ``asyncio.get_running_loop`` in a try.
- ``loop._default_executor`` (and its ``_thread_name_prefix``): honour
  ``set_default_executor``, the runtime's own pool otherwise; unreadable
  (uvloop): the executor among ``gc.get_referents(loop)`` (public API, cached
  per loop for a second); without the GIL, ``loop.run_in_executor(None,
  ...)``, the public route.
- ``loop._scheduled`` (``TimerHandle._callback`` / ``_args``): `time_left`
  finds the timers of ``asyncio.timeout`` / ``wait_for``; unreadable
  (uvloop): the task's ``asyncio.Timeout`` objects, and the timer handle
  holding a pre-3.12 ``wait_for``'s waiter, found through ``gc.get_referrers``.
- ``asyncio.Timeout._state`` / ``_task``: whether a timeout found that way is
  active (default: assume it is).
- ``future._callbacks``: the task awaiting a future the runtime did not make
  (an adapter's hop); fallback: no task known.
- ``asyncio.tasks._release_waiter``: pre-3.12 ``wait_for`` deadlines;
  fallback: none reported.
- ``asyncio.coroutines._is_coroutine`` (in `_coroutines`): the coroutine
  marker before 3.12, always present there.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import Any

from .. import _state
from ._process import GIL_ENABLED

__all__ = (
    "default_executor",
    "future_callbacks",
    "get_running_loop",
    "timer_deadlines",
)


def _get_running_loop_public() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# The running loop of this thread, or None (asyncio exports it for its C accelerator).
get_running_loop: Callable[[], asyncio.AbstractEventLoop | None] = getattr(
    asyncio, "_get_running_loop", _get_running_loop_public
)

_MISSING = object()
# Thread-name prefixes of the default executors loops make for themselves.
_LOOP_MADE = ("asyncio", "uvloop")


def default_executor(loop: asyncio.AbstractEventLoop) -> Executor | object | None:
    """The executor the loop's ``run_in_executor(None, ...)`` would use, if one is set.

    Returns:
        The executor; None when there is none yet (the one asyncio or uvloop
        makes lazily, recognised by its ``asyncio`` / ``uvloop`` thread-name
        prefix, counts as none: the runtime's pool is faster); `UNKNOWN` when
        the loop hides it and it cannot be looked up cheaply (without the
        GIL): the caller must then go through ``loop.run_in_executor(None,
        ...)``.
    """
    executor = getattr(loop, "_default_executor", _MISSING)
    if executor is _MISSING:
        executor = _hidden_default_executor(loop)
    if executor is None or executor is UNKNOWN:
        return executor
    if getattr(executor, "_thread_name_prefix", "") in _LOOP_MADE:
        return None  # made lazily by the loop itself, not set by the user
    return executor


def _hidden_default_executor(loop: asyncio.AbstractEventLoop) -> Executor | object | None:
    # uvloop keeps it in a C field: the loop's referents show it. That costs a few
    # microseconds, so the answer is kept per loop for a second (a
    # set_default_executor is honoured from the next second at the latest).
    # Without the GIL the referent walk stops the world: take the public route.
    if not GIL_ENABLED:
        return UNKNOWN
    now = time.monotonic()
    cache = _state.hidden_default_executors
    found: Executor | None
    try:
        checked_at, found = cache[loop]
    except (KeyError, TypeError):
        checked_at, found = -1.0, None
    if now - checked_at < 1.0:
        return found
    found = next((x for x in gc.get_referents(loop) if isinstance(x, Executor)), None)
    try:
        cache[loop] = (now, found)
    except TypeError:  # a loop that cannot be weakly referenced: ask every time
        pass
    return found


UNKNOWN = object()  # `default_executor` cannot tell


def future_callbacks(future: asyncio.Future[Any]) -> list[Any]:
    """The callables waiting on ``future`` (empty when unreadable)."""
    callbacks = getattr(future, "_callbacks", None)
    try:
        return [entry[0] for entry in list(callbacks or ())]
    except (TypeError, IndexError):  # pragma: no cover - another future implementation
        return []


_release_waiter: Any = getattr(asyncio.tasks, "_release_waiter", None)
_Timeout: Any = getattr(asyncio, "Timeout", None)


def timer_deadlines(
    loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], owner_types: tuple[type, ...]
) -> Iterator[float]:
    """Loop times at which something will cancel ``task``: its timeouts and wait_for timers.

    ``owner_types`` are timeout classes whose instances keep the task in
    ``_task`` and a timer handle calling one of their methods (asyncio's
    ``Timeout`` is added here; the caller passes asgibridge's ``timeout``).
    """
    types = (*owner_types, _Timeout) if _Timeout is not None else owner_types
    scheduled = getattr(loop, "_scheduled", None)
    if scheduled is None:
        yield from _deadlines_by_referrers(task, types)
        return
    waiters = _wait_for_waiters(task)
    for handle in list(scheduled):
        if handle.cancelled():
            continue
        callback = getattr(handle, "_callback", None)
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, types) and getattr(owner, "_task", None) is task:
            yield handle.when()
        elif waiters and callback is _release_waiter:
            args = getattr(handle, "_args", None) or ()
            if args and any(args[0] is candidate for candidate in waiters):
                yield handle.when()


def _deadlines_by_referrers(task: asyncio.Task[Any], types: tuple[type, ...]) -> Iterator[float]:
    # Hazard (cost): the collector's referrer search visits every tracked object
    # (milliseconds in a large process); it runs only when time_left() is asked
    # on a loop that hides its timers (uvloop), never on the bridge's hot path.
    for holder in _instances_referring_to(task, types):
        when = _when(holder)
        if when is not None:
            yield when
    # A pre-3.12 wait_for: the timer handle whose arguments hold the waiter it
    # releases (handle -> args tuple -> waiter: two referrer steps).
    for waiter in _wait_for_waiters(task):
        for args in gc.get_referrers(waiter):
            if type(args) is not tuple:
                continue
            for handle in gc.get_referrers(args):
                when = getattr(handle, "when", None)
                cancelled = getattr(handle, "cancelled", None)
                if callable(when) and callable(cancelled) and not cancelled():
                    yield float(when())


def _instances_referring_to(target: object, types: tuple[type, ...]) -> Iterator[Any]:
    """Instances of ``types`` holding ``target`` in an attribute.

    Python 3.11+ reports such an instance itself as the referrer; 3.10 reports
    its ``__dict__``, whose owner is one more referrer step away.
    """
    for holder in gc.get_referrers(target):
        if isinstance(holder, types):
            yield holder
        elif type(holder) is dict:
            for owner in gc.get_referrers(holder):
                if isinstance(owner, types) and getattr(owner, "__dict__", None) is holder:
                    yield owner


def _when(holder: Any) -> float | None:
    """The deadline of an active timeout object, or None."""
    if _Timeout is not None and isinstance(holder, _Timeout):
        state = getattr(holder, "_state", None)
        if state is not None and getattr(state, "value", "active") != "active":
            return None  # created, expiring, expired or exited: not a pending deadline
        when = holder.when()
        return float(when) if when is not None else None
    deadline = getattr(holder, "_deadline", None)
    if deadline is None or getattr(holder, "_handle", None) is None:
        return None  # asgibridge's timeout: no limit, or exited
    return float(deadline)


def _wait_for_waiters(task: asyncio.Task[Any]) -> list[Any]:
    # Before 3.12, wait_for runs the awaitable in a task of its own and arms a
    # timer that releases a waiter future; the task's done callback names it.
    if _release_waiter is None or sys.version_info >= (3, 12):
        return []
    found: list[Any] = []
    for callback in future_callbacks(task):
        if isinstance(callback, functools.partial) and callback.func is _release_waiter:
            found.extend(callback.args[:1])
    return found
