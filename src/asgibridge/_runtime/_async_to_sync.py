"""AsyncToSync: call an async function from sync code and wait for it.

Theory of operation (where the coroutine runs):

1. Called inside a sync function that sync_to_async is running (this thread's
   ``tls.hop`` names the call and its loop): on that *outer* loop, if it is
   still running and belongs to this process (after a fork it does not).
   The task is registered with the hop so that cancelling the outer awaiting
   task reaches it.
2. Else, inside ``with AsyncSingleThreadContext()``: on that context's loop.
3. Else: on this thread's persistent loop (`_loops`), reused across calls.
   What the call leaves running is cancelled when it ends, as ``asyncio.run``
   does. A nested call on a thread whose loop is busy (force_new_loop inside
   thread-sensitive work) gets a temporary loop, so it cannot cancel the outer
   call's tasks.

Meanwhile the calling thread serves its CurrentThreadExecutor: thread-sensitive
sync_to_async calls made by the coroutine come back here to run. The executor
is published in the ``current_executor`` ContextVar *before* the context is
copied for the coroutine, so its tasks inherit it.

Rules: calling from a thread whose loop is running raises at once (the wait
would block that loop forever); every wait wakes up periodically to check that
the loop it waits on can still answer (closed, dead or stopped loop raise
`LoopUnavailableError`; the optional hang deadline raises
`BridgeDeadlockError`, or a logged report in hang_mode "warn").
When ``_state.traced`` is set, the coroutine is wrapped by `_timed`, which
reports the call to the hop listeners.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar, overload

from .._errors import AsyncToSyncInLoopError, NonAsyncCallableWarning
from . import _state
from ._asyncio_private import get_running_loop
from ._call import AsyncCall
from ._carry_back import carry_back
from ._coroutines import (
    COROUTINE_MARKER_NAMES,
    WrapperMeta,
    bind_method,
    copy_metadata,
    is_async_callable,
)
from ._executor import CurrentThreadExecutor
from ._hooks import HopInfo, emit_end, emit_start, note_thread
from ._hop import current_exception
from ._loops import LoopThread, loop_for_this_thread

__all__ = ("AsyncToSync", "async_to_sync")

_P = ParamSpec("_P")
_R = TypeVar("_R")

_get_running_loop = get_running_loop
_current_executor = _state.current_executor
_single_thread_context = _state.single_thread_context
_loop_executors = _state.loop_executors
_copy_context = contextvars.copy_context
_NOT_BOUND = object()


class AsyncToSync(Generic[_P, _R], metaclass=WrapperMeta):
    """Wrap an async callable so that calling it from sync code runs it to completion.

    Args:
        awaitable: an async function (or any callable returning an awaitable).
        force_new_loop: do not use the outer event loop even when called from
            inside sync_to_async; run on a loop of this thread instead.

    Raises:
        AsyncToSyncInLoopError: (when called) this thread runs an event loop;
            await the function instead (a RuntimeError).

    Warns:
        NonAsyncCallableWarning: ``awaitable`` is not marked as async (a UserWarning).

    Example:
        >>> async def add(a: int, b: int) -> int:
        ...     return a + b
        >>> AsyncToSync(add)(1, 2)
        3
    """

    # asgiref exposes this ContextVar as a class attribute; code reads it.
    async_single_thread_context = _single_thread_context
    # A call on a loop of the runtime's own cancels the tasks it left running
    # (as asyncio.run does); the streaming bridge's per-item calls do not.
    _cancel_leftovers = True

    def __init__(
        self,
        awaitable: Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]],
        force_new_loop: bool = False,
    ) -> None:
        if not callable(awaitable) or not is_async_callable(awaitable):
            # Python cannot reliably tell (callable objects, partials): warn only.
            warnings.warn(
                NonAsyncCallableWarning("async_to_sync was passed a non-async-marked callable"),
                stacklevel=_caller_stacklevel(),
            )
        copy_metadata(self, awaitable)
        if not COROUTINE_MARKER_NAMES.isdisjoint(self.__dict__):
            # The wrapper is sync: do not inherit a coroutine marker with __dict__.
            for marker in COROUTINE_MARKER_NAMES:
                self.__dict__.pop(marker, None)
        self.awaitable = awaitable
        self.force_new_loop = force_new_loop
        bound_to = getattr(awaitable, "__self__", _NOT_BOUND)
        if bound_to is not _NOT_BOUND:
            self.__self__ = bound_to

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        __traceback_hide__ = True
        if _get_running_loop() is not None:
            raise AsyncToSyncInLoopError(
                "You cannot use AsyncToSync in the same thread as an async event loop - "
                "just await the async function directly.",
                "(this thread is running an event loop, and blocking it to wait for the "
                "coroutine would stop that loop forever).",
            )
        hop = None if self.force_new_loop else _state.tls.hop
        if hop is not None and not _outer_loop_usable(hop.loop, hop.generation):
            hop = None
        loop_thread: LoopThread | None = None
        keeps_thread_critical = True  # see carry_back below
        if hop is None:
            loop_thread, keeps_thread_critical = _own_loop_thread()
            loop = loop_thread.loop
        else:
            loop = hop.loop
        executor = CurrentThreadExecutor(_current_executor.get())
        token = _current_executor.set(executor)
        try:
            ctx = _copy_context()
            before = ctx.copy()
            call = AsyncCall(loop, ctx, executor, hop, loop_thread, current_exception())
            try:
                if _state.traced:  # the one check the plain path pays for instrumentation
                    call.prepare(_traced_coroutine(self, args, kwargs, loop))
                else:
                    call.prepare(self.awaitable(*args, **kwargs))
                call.cancel_leftovers = self._cancel_leftovers
                if loop_thread is not None:
                    _loop_executors[loop] = executor
                loop.call_soon_threadsafe(call.start)
                call.wait()
            finally:
                if loop_thread is not None:
                    _loop_executors.pop(loop, None)
                    loop_thread.release()
                # On a per-thread persistent loop, what the coroutine kept
                # thread-critical ends with the call (see _own_loop_thread).
                # A call the caller gave up on may still run in its context:
                # nothing is carried back from it (as for sync_to_async).
                if not call.abandoned:
                    carry_back(
                        call.result_context(), before, thread_critical=keeps_thread_critical
                    )
        finally:
            _current_executor.reset(token)
        return call.result()  # type: ignore[no-any-return]

    def __get__(self, parent: Any, objtype: Any) -> Callable[_P, _R]:
        """Bind to ``parent`` when used as a method."""
        if parent is None:
            return self
        return bind_method(self.__call__, parent, self.awaitable, is_async=False)

    def _hop_info(self, loop: asyncio.AbstractEventLoop) -> HopInfo:
        """What the hop listeners are told this call is (a streaming bridge overrides it)."""
        return HopInfo(self.awaitable, "async_to_sync", loop, submitted_at=time.perf_counter())


def _own_loop_thread() -> tuple[LoopThread, bool]:
    """The loop for a call with no usable outer loop, and whether it is the context's.

    The second value says if thread-critical `Local` values the coroutine
    keeps may outlive the call: yes on an AsyncSingleThreadContext's thread
    (asgiref too runs every call of the context there); no on the calling
    thread's persistent loop, which stands in for asgiref's new thread per call.
    """
    context: Any = _single_thread_context.get(None)
    if context is not None:
        return context._lease(), True
    return loop_for_this_thread(), False


def _traced_coroutine(
    wrapper: AsyncToSync[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    loop: asyncio.AbstractEventLoop,
) -> Awaitable[Any]:
    """Tell the hop listeners about this call; time it on the loop (caller thread)."""
    func = wrapper.awaitable
    if not _state.hop_listeners:
        # Traced for the hang deadline only: keep the user's coroutine as the
        # task's own, so that hang reports and task reprs name it.
        return func(*args, **kwargs)
    info = wrapper._hop_info(loop)
    note_thread(info)
    emit_start(info)
    try:
        awaitable = func(*args, **kwargs)
    except BaseException as exc:
        info.exception = exc
        emit_end(info)
        raise
    return _timed(info, awaitable)


async def _timed(info: HopInfo, awaitable: Awaitable[Any]) -> Any:
    # Runs as the call's task: on_end fires on the loop thread when it ends.
    started = time.perf_counter()
    info.queue_wait = started - info.submitted_at
    try:
        return await awaitable
    except BaseException as exc:
        info.exception = exc
        raise
    finally:
        info.run_time = time.perf_counter() - started
        emit_end(info)


def _caller_stacklevel() -> int:
    """The warnings stacklevel of the first frame outside this module (the user's call)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back  # type: ignore[assignment,unused-ignore]
        level += 1
    return level


def _outer_loop_usable(loop: asyncio.AbstractEventLoop, generation: int) -> bool:
    # Hazard (hang): a loop that is closed, stopped (a finished pytest-asyncio
    # test) or inherited through fork would never run the coroutine; asgiref
    # falls back to a new loop for the closed case, we do for all three.
    return generation == _state.generation and loop.is_running() and not loop.is_closed()


@overload
def async_to_sync(
    *, force_new_loop: bool = False
) -> Callable[
    [Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]]], Callable[_P, _R]
]: ...


@overload
def async_to_sync(
    awaitable: Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]],
    *,
    force_new_loop: bool = False,
) -> Callable[_P, _R]: ...


def async_to_sync(
    awaitable: Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]] | None = None,
    *,
    force_new_loop: bool = False,
) -> (
    Callable[
        [Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]]], Callable[_P, _R]
    ]
    | Callable[_P, _R]
):
    """Turn an async callable into a sync one (decorator, with or without arguments).

    Args:
        awaitable: an async function (or any callable returning an awaitable);
            omit it to get a decorator (``@async_to_sync(force_new_loop=True)``).
        force_new_loop: do not run on the outer event loop even when called
            inside a sync function run by sync_to_async; use a loop of this
            thread instead.

    Returns:
        An `AsyncToSync` wrapper (a sync callable with ``awaitable``'s
        signature that returns the coroutine's result), or, without
        ``awaitable``, a decorator making one.

    Raises:
        AsyncToSyncInLoopError: (when the wrapper is called) this thread runs
            an event loop: await the function instead (a RuntimeError).
        LoopUnavailableError: (when called) the loop running the coroutine
            was closed or stopped before it finished.
        BridgeDeadlockError: (when called) the call outlived ``hang_timeout``
            in hang_mode "raise" (see `asgibridge.configure`).

    Warns:
        NonAsyncCallableWarning: ``awaitable`` is not marked as async.

    Example:
        >>> @async_to_sync
        ... async def greet(name: str) -> str:
        ...     return f"hello {name}"
        >>> greet("world")
        'hello world'
    """
    if awaitable is None:

        def decorator(
            f: Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]],
        ) -> Callable[_P, _R]:
            return AsyncToSync(f, force_new_loop=force_new_loop)

        return decorator
    return AsyncToSync(awaitable, force_new_loop=force_new_loop)
