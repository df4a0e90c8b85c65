"""AsyncToSync: call an async function from sync code and wait for it.

Theory of operation (where the coroutine runs):

1. Called inside a sync function that sync_to_async is running (this thread's
   ``tls.hop`` names the call and its loop): on that *outer* loop, if it is
   still running and belongs to this process (after a fork it does not).
   The task is registered with the hop so that cancelling the outer awaiting
   task reaches it.
2. Else, inside ``with AsyncSingleThreadContext()``: on that context's loop.
3. Else, with ``configure(loop_per_call=True)`` (asgiref's behaviour): on a
   new loop on a new thread, closed before the call returns.
4. Else: on this thread's persistent loop (`_loops`), reused across calls.
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
import concurrent.futures
import contextvars
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar, overload

from ..._errors import AsyncToSyncInLoopError, NonAsyncCallableWarning
from .. import _state
from ..host._asyncio_private import get_running_loop
from ..host._coroutines import COROUTINE_MARKER_NAMES, is_async_callable
from ..observe._hooks import HopInfo, emit_end, emit_start, note_thread
from ..threads._executor import CurrentThreadExecutor
from ..threads._loops import LoopThread, loop_for_this_thread, temporary_loop, wait_closed
from ._call import AsyncCall
from ._carry_back import carry_back
from ._hop import current_exception
from ._metadata import WrapperMeta, bind_method, copy_metadata

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
        per_call = False
        # ``post``: the loop's doorbell (the loop thread wakes into a free GIL).
        if hop is None:
            loop_thread, keeps_thread_critical, per_call = _own_loop_thread()
            loop = loop_thread.loop
            post = loop_thread.post
        else:
            loop = hop.loop
            post = hop.post
        executor = CurrentThreadExecutor(_current_executor.get())
        token = _current_executor.set(executor)
        try:
            ctx = _copy_context()
            before = ctx.copy()
            call = AsyncCall(loop, ctx, executor, hop, loop_thread, current_exception())
            try:
                call.prepare(self._coroutine(call, args, kwargs, loop))
                call.cancel_leftovers = self._cancel_leftovers
                if loop_thread is not None:
                    _loop_executors[loop] = executor
                post(call.start)
                call.wait()
            finally:
                if loop_thread is not None:
                    _loop_executors.pop(loop, None)
                    loop_thread.release()
                    if per_call:  # asgiref's: the loop is closed when the call returns
                        wait_closed(loop_thread)
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

    def _coroutine(
        self,
        call: AsyncCall,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
    ) -> Awaitable[Any]:
        """What the call's task runs (caller thread)."""
        if _state.traced:  # the one check the plain path pays for instrumentation
            awaitable = _traced_coroutine(self, args, kwargs, loop)
        else:
            awaitable = self.awaitable(*args, **kwargs)
        # A main_wrap patched on the class (New Relic) or overridden in a
        # subclass wraps the coroutine, as asgiref calls it: one identity check.
        if type(self).main_wrap is not _plain_main_wrap:
            awaitable = _through_main_wrap(self, call, awaitable)
        return awaitable

    async def main_wrap(
        self,
        call_result: concurrent.futures.Future[_R],
        exc_info: Any,
        task_context: list[asyncio.Task[Any]] | None,
        context: list[contextvars.Context],
        awaitable: Awaitable[_R],
    ) -> None:
        """Run the call's coroutine and report its outcome (asgiref's hook; patch or override it).

        Called on the caller's thread, in the caller's context, once per call,
        with asgiref's arguments; the coroutine it returns runs as the call's
        task, in the call's context. The plain class never calls it (the
        runtime does the same work inline); it is called only when patched
        on the class (New Relic) or overridden in a subclass.

        Args:
            call_result: a `concurrent.futures.Future` that must receive the
                outcome (`set_result` / `set_exception`).
            exc_info: ``sys.exc_info()`` of the caller; the runtime already
                shows it to the coroutine, this method need not raise it.
            task_context: the list of tasks the enclosing sync_to_async call
                forwards its cancellation to, or None; the runtime registers
                the call's task there itself.
            context: a one-item list: the call's context; set ``context[0]``
                to the context whose changes go back to the caller.
            awaitable: the coroutine of the wrapped async function.
        """
        __traceback_hide__ = True
        try:
            result = await awaitable
        except BaseException as exc:
            call_result.set_exception(exc)
        else:
            call_result.set_result(result)
        finally:
            context[0] = contextvars.copy_context()

    def _hop_info(self, loop: asyncio.AbstractEventLoop) -> HopInfo:
        """What the hop listeners are told this call is (a streaming bridge overrides it)."""
        return HopInfo(self.awaitable, "async_to_sync", loop, submitted_at=time.perf_counter())


# The base class's own hook: while ``type(self).main_wrap`` is this very
# function, nobody patched or overrode it and the call takes the direct path.
_plain_main_wrap = AsyncToSync.main_wrap


def _through_main_wrap(
    wrapper: AsyncToSync[..., Any], call: AsyncCall, awaitable: Awaitable[Any]
) -> Awaitable[Any]:
    """The coroutine a patched or overridden ``main_wrap`` makes of ``awaitable``.

    Caller thread, caller's context (asgiref's order: the wrapped function's
    coroutine first, then ``main_wrap``). The outcome comes back through the
    future it is given, the context through ``context[0]`` (`AsyncCall`).
    """
    reported: concurrent.futures.Future[Any] = concurrent.futures.Future()
    box = [call.ctx]
    call.reported, call.context_box = reported, box
    exc = call.exc
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else (None, None, None)
    hop = call.hop
    task_context: list[asyncio.Task[Any]] | None = None
    if hop is not None:
        # The call's task is registered there by `AsyncCall.start`; created
        # here on the hop's own thread, before the loop can touch it.
        if hop.inner_tasks is None:
            hop.inner_tasks = []
        task_context = hop.inner_tasks
    return wrapper.main_wrap(reported, exc_info, task_context, box, awaitable)


def _own_loop_thread() -> tuple[LoopThread, bool, bool]:
    """The loop for a call with no usable outer loop, whether it is the context's, and per call.

    The second value says if thread-critical `Local` values the coroutine
    keeps may outlive the call: yes on an AsyncSingleThreadContext's thread
    (asgiref too runs every call of the context there); no on the calling
    thread's persistent loop, which stands in for asgiref's new thread per call.
    The third says the loop is the call's own (``loop_per_call``): it is
    closed before the call returns.
    """
    context: Any = _single_thread_context.get(None)
    if context is not None:
        return context._lease(), True, False
    if _state.config["loop_per_call"]:
        return temporary_loop("async_to_sync, loop per call"), False, True
    return loop_for_this_thread(), False, False


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
