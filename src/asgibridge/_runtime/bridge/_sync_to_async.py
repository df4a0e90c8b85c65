"""SyncToAsync: await a sync callable, run on the right thread.

Theory of operation (who runs where, asgiref's contract):

1. thread_sensitive=True, and a sync caller up the stack is blocked in
   async_to_sync: run on *that* thread, through its CurrentThreadExecutor
   (found in the ``current_executor`` ContextVar, which follows tasks).
2. else, inside ``async with ThreadSensitiveContext()``: the thread that
   context leased (or the executor it was given).
3. else, on a persistent async_to_sync loop that is serving a call: that
   call's caller thread (for tasks that did not inherit the ContextVar).
4. else: the process-wide sync worker thread.
5. thread_sensitive=False: ``executor=`` if given; else the running loop's
   default executor if the user set one (``loop.set_default_executor``);
   else asgibridge's bounded worker pool.

The call is a `Hop`: the awaiting task creates it, hands it to the target and
awaits its future; no concurrent.futures and no ``asyncio.shield`` on the way
(shield costs a loop iteration per call and, on 3.14, logs an error for every
cancelled request).

Cancellation: if the awaiting task is cancelled while the sync function runs,
the cancellation is forwarded to the async work that function started through
async_to_sync (if any). If that work swallows it and the function returns, the
function's result is returned (as asyncio does for a coroutine that catches
the cancellation); otherwise ``CancelledError`` propagates and the sync
function, which cannot be interrupted, is *abandoned*: it runs to its end and
its outcome is dropped, and so are its context changes (its context is still
in use on its thread: nothing is carried back from it). Abandoned calls are counted
(`asgibridge.runtime_stats()`, by function name in
`asgibridge.instrumentation.stats()`). The function can stop early by
calling `asgibridge.cancellation.check_cancelled()` (see `_cancellation`).

Context: the function runs in its task's *hop context*, one Context shared
by the task's consecutive calls and brought up to date with the caller's
values first (`_context.take_hop_context`; asgiref issue #534: a token made
in one call resets in the next), or in ``context=`` when given. Its changes
are carried back to the caller after it ends.

APM hooks: a ``thread_handler`` patched on the class or overridden in a
subclass (checked per call: ``type(self).thread_handler`` is not the base
class's function) is called as asgiref calls it, on the function's thread,
with ``(loop, exc_info, task_context, func, child)``.

Instrumentation: when ``_state.traced`` is set (hop listeners, thread
handlers or a hang deadline), ``__call__`` takes `_traced_call` instead,
which builds a `Hop` with tracing data and, with a deadline, arms a `Watchdog`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from ..._errors import SyncToAsyncTypeError
from .. import _state
from ..host._coroutines import COROUTINE_MARKER_ITEMS, is_async_callable
from ..observe._hooks import HopInfo, run_with_handlers
from ..threads._routing import ExecutorTarget, Target, nonsensitive_target, sensitive_target
from ._carry_back import TaskContext, carry_back, give_back, take_hop_context
from ._hop import CANCELLED, ExcInfoCarrier, Hop, current_exception
from ._metadata import (
    WrapperMeta,
    bind_method,
    copy_metadata_lazily,
    fill_plain,
    lazy_attribute,
)

if TYPE_CHECKING:
    from ._deadlines import Watchdog

__all__ = ("SyncToAsync", "sync_to_async")

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _submit_traced(hop: Hop, target: Target) -> Watchdog | None:
    # The hang watchdogs (`_deadlines`) load at the first traced call, not with
    # the bridge: without a hop listener, a thread handler or a hang deadline no
    # call is traced. Later calls find the module loaded (an import of a loaded
    # module is a dictionary lookup, on the traced path only).
    from ._deadlines import submit_traced

    return submit_traced(hop, target)


_take_hop_context = take_hop_context
_give_back = give_back
_NOT_BOUND = object()
_fill_plain = fill_plain
_get_running_loop = asyncio.get_running_loop
_current_task = asyncio.current_task


class SyncToAsync(Generic[_P, _R], metaclass=WrapperMeta):
    """Wrap a sync callable so that awaiting it runs it on a worker thread.

    Args:
        func: the sync callable.
        thread_sensitive: run on the thread shared by the surrounding sync code
            (default, see the module docs for which thread that is); False runs
            it on a pool thread.
        executor: a concurrent.futures executor for thread_sensitive=False.
        context: run in this `contextvars.Context` (and do not copy changes
            back) instead of a copy of the caller's context.

    Raises:
        SyncToAsyncTypeError: ``func`` is not a sync callable, or
            ``executor`` was given with thread_sensitive=True (both TypeError).

    Example:
        >>> import asyncio, threading
        >>> def whoami() -> str:
        ...     return threading.current_thread().name
        >>> asyncio.run(SyncToAsync(whoami)()).startswith("asgibridge-sync")
        True
    """

    # asgiref exposes this ContextVar as a class attribute; code reads it.
    thread_sensitive_context = _state.thread_sensitive_context

    def __init__(
        self,
        func: Callable[_P, _R],
        thread_sensitive: bool = True,
        executor: Executor | None = None,
        context: contextvars.Context | None = None,
    ) -> None:
        # Hot path (Django builds one per middleware call): name, docstring and
        # annotations are read from ``func`` when asked (see `_metadata`), the
        # defaults of the options are class attributes, and only what differs
        # from them is stored.
        if not _fill_plain(self, func):
            if not callable(func) or is_async_callable(func):
                raise SyncToAsyncTypeError(
                    "sync_to_async can only be applied to sync functions.",
                    f"(got {func!r}; await an async function directly instead of wrapping it).",
                )
            copy_metadata_lazily(self, func)
            attrs = self.__dict__
            attrs["func"] = func
            # Report as a coroutine function (Django checks), without a per-call scan.
            attrs.update(COROUTINE_MARKER_ITEMS)
            bound_to = getattr(func, "__self__", _NOT_BOUND)
            if bound_to is not _NOT_BOUND:
                attrs["__self__"] = bound_to
            # The callable's own __dict__ was copied (update_wrapper's rule) and may
            # hold names of ours (a `context` attribute): the options must win.
            attrs["context"] = context
            attrs["_thread_sensitive"] = thread_sensitive
            attrs["_executor"] = executor
            attrs["_executor_target"] = None
        if thread_sensitive and executor is not None:
            raise SyncToAsyncTypeError(
                "executor must not be set when thread_sensitive is True",
                "(thread-sensitive calls run on the thread the surrounding sync code "
                "shares; pass thread_sensitive=False to use your executor).",
            )
        if context is not None:
            self.context = context
        if not thread_sensitive:
            self._thread_sensitive = False
        if executor is not None:
            self._executor = executor
            self._executor_target = ExecutorTarget(executor)

    # The options' defaults, read when __init__ stored nothing (see there).
    context: contextvars.Context | None = None
    _thread_sensitive = True
    _executor: Executor | None = None
    _executor_target: ExecutorTarget | None = None

    def __getattr__(self, name: str) -> Any:
        """``__name__``, ``__qualname__``, ``__wrapped__``...: read from the wrapped function."""
        func = self.__dict__.get("func", _NOT_BOUND)
        if func is _NOT_BOUND:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return lazy_attribute(func, name, self)

    async def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        __traceback_hide__ = True
        if _state.traced:  # the one check the plain path pays for instrumentation
            return await self._traced_call(args, kwargs)  # type: ignore[no-any-return]
        loop = _get_running_loop()
        target: Target
        if self._thread_sensitive:
            target = sensitive_target(loop)
        elif self._executor_target is not None:
            target = self._executor_target
        else:
            target = nonsensitive_target(loop)
        own_context = self.context
        # The awaiting task, recorded now: check_cancelled/time_left need it even
        # if the function starts before this task reaches its await.
        task = _current_task(loop)
        shared: TaskContext | None = None
        if own_context is None:
            ctx, shared = _take_hop_context(task)  # the task's calls share one (see _carry_back)
        else:
            ctx = own_context
        hop = Hop(loop, ctx, self.func, args, kwargs, current_exception(), None, task)
        # A thread_handler patched on the class (New Relic) or overridden in a
        # subclass (Channels) is called as asgiref calls it: one identity check.
        if type(self).thread_handler is not _plain_thread_handler:
            self._attach_handler(hop, loop)
        before = ctx.copy() if own_context is None else None
        target._put(hop)
        try:
            return await hop.future  # type: ignore[no-any-return]
        except asyncio.CancelledError as cancelled:
            return await _after_cancel(hop, cancelled)  # type: ignore[no-any-return]
        finally:
            # Hazard (stale executor): carry back only from a call that ended. An
            # abandoned call's function still runs in ``ctx`` on its thread, maybe
            # inside an async_to_sync that has not yet unpublished its finished
            # CurrentThreadExecutor from ``current_executor``; copied into this
            # task, that executor would refuse the task's later thread-sensitive
            # calls with ExecutorGoneError (Django's request_finished after a
            # client left). An abandoned call's context changes are dropped with
            # its outcome.
            if before is not None and hop.finished:
                changed = carry_back(ctx, before)
                if shared is not None:
                    _give_back(shared, ctx, changed)

    async def _traced_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """`__call__` with hop listeners, thread handlers and the hang watchdog."""
        __traceback_hide__ = True
        loop = _get_running_loop()
        target = self._target(loop)
        own_context = self.context
        task = _current_task(loop)
        shared: TaskContext | None = None
        if own_context is None:
            ctx, shared = _take_hop_context(task)  # see __call__
        else:
            ctx = own_context
        info = HopInfo(self.func, "sync_to_async", loop, submitted_at=time.perf_counter())
        hop = Hop(loop, ctx, self.func, args, kwargs, current_exception(), info, task)
        if type(self).thread_handler is not _plain_thread_handler:  # see __call__
            self._attach_handler(hop, loop)
        before = ctx.copy() if own_context is None else None
        watchdog = _submit_traced(hop, target)
        try:
            return await hop.future
        except asyncio.CancelledError as cancelled:
            return await _after_cancel(hop, cancelled)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if before is not None and hop.finished:  # see __call__
                changed = carry_back(ctx, before)
                if shared is not None:
                    _give_back(shared, ctx, changed)

    def _target(self, loop: asyncio.AbstractEventLoop) -> Target:
        if self._thread_sensitive:
            return sensitive_target(loop)
        if self._executor_target is not None:
            return self._executor_target
        return nonsensitive_target(loop)

    def _attach_handler(self, hop: Hop, loop: asyncio.AbstractEventLoop) -> None:
        ctx = hop.ctx
        child = functools.partial(self.func, *hop.args, **hop.kwargs)
        # The caller's exception, shown to the function through a carrier primed
        # here (see `ExcInfoCarrier`): a thread_handler never has to raise it.
        carrier, hop.carrier = hop.carrier, None
        exc = current_exception() if carrier is not None else None
        exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else (None, None, None)
        task_context: list[asyncio.Task[Any]] = []
        hop.inner_tasks = task_context

        info = hop.info if _state.thread_handlers else None

        def func(child: Callable[[], Any]) -> Any:
            if info is not None:  # registered thread handlers go inside the override
                return _in_context(carrier, ctx, run_with_handlers, info, child)
            return _in_context(carrier, ctx, child)

        hop.handler = functools.partial(
            self.thread_handler, loop, exc_info, task_context, func, child
        )

    def thread_handler(
        self,
        loop: asyncio.AbstractEventLoop,
        exc_info: Any,
        task_context: list[asyncio.Task[Any]],
        func: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Run ``func(*args, **kwargs)`` on the worker thread (override hook).

        Subclasses may wrap it (Channels closes database connections around
        it). ``args[0]`` is a `functools.partial` of the wrapped function;
        ``func`` already shows ``exc_info`` (the caller's exception) to it.
        """
        __traceback_hide__ = True
        return func(*args, **kwargs)

    def __get__(self, parent: Any, objtype: Any) -> Callable[_P, Coroutine[Any, Any, _R]]:
        """Bind to ``parent`` when used as a method."""
        if parent is None:
            return self
        return bind_method(self.__call__, parent, self.func, is_async=True)


# The base class's own hook: while ``type(self).thread_handler`` is this very
# function, nobody patched or overrode it and the call takes the direct path.
_plain_thread_handler = SyncToAsync.thread_handler


def _in_context(
    carrier: ExcInfoCarrier | None, ctx: contextvars.Context, func: Callable[..., Any], *args: Any
) -> Any:
    if carrier is not None:
        return carrier.call(ctx.run, func, *args)
    return ctx.run(func, *args)


async def _after_cancel(hop: Hop, cancelled: asyncio.CancelledError) -> Any:
    """The awaiting task was cancelled while ``hop`` was queued or running.

    The original ``cancelled`` (its message and args) is what propagates.
    """
    if hop.finished and hop.future.done() and not hop.future.cancelled():
        raise cancelled  # the outcome came too late to matter
    if hop.state is CANCELLED:
        raise cancelled  # claimed before any worker took it: it never runs
    inner = hop.inner_tasks
    if not hop.started or not inner:
        hop.give_up()  # running: abandoned (counted once); it runs to its end
        raise cancelled
    # Forward the cancellation to the async work the sync function is waiting for.
    task = inner[0]
    task.cancel(*cancelled.args[:1])
    hop.future = hop.loop.create_future()
    try:
        await task
    except asyncio.CancelledError:
        if not hop.finished:
            hop.give_up()
        # Nobody will await the replacement future: cancel it so a late
        # outcome is dropped instead of logged as "never retrieved".
        hop.future.cancel()
        raise cancelled from None
    except BaseException:  # the sync function receives it and decides
        pass
    if hop.finished:
        result, exc = hop.outcome
        if exc is not None:
            raise exc
        return result
    return await hop.future


@overload
def sync_to_async(
    *,
    thread_sensitive: bool = True,
    executor: Executor | None = None,
    context: contextvars.Context | None = None,
) -> Callable[[Callable[_P, _R]], Callable[_P, Coroutine[Any, Any, _R]]]: ...


@overload
def sync_to_async(
    func: Callable[_P, _R],
    *,
    thread_sensitive: bool = True,
    executor: Executor | None = None,
    context: contextvars.Context | None = None,
) -> Callable[_P, Coroutine[Any, Any, _R]]: ...


def sync_to_async(
    func: Callable[_P, _R] | None = None,
    *,
    thread_sensitive: bool = True,
    executor: Executor | None = None,
    context: contextvars.Context | None = None,
) -> (
    Callable[[Callable[_P, _R]], Callable[_P, Coroutine[Any, Any, _R]]]
    | Callable[_P, Coroutine[Any, Any, _R]]
):
    """Turn a sync callable into an awaitable one (decorator, with or without arguments).

    Args:
        func: the sync callable; omit it to get a decorator
            (``@sync_to_async(thread_sensitive=False)``).
        thread_sensitive: True (default): run on the thread the surrounding
            sync code shares (a sync caller blocked in async_to_sync up the
            stack, the thread of the enclosing ThreadSensitiveContext, else the
            one process-wide sync thread); False: run on a pool thread.
        executor: with thread_sensitive=False, run on this
            concurrent.futures executor.
        context: run in this `contextvars.Context` (changes are not copied
            back) instead of a copy of the caller's context.

    Returns:
        A `SyncToAsync` wrapper (an async callable with ``func``'s signature),
        or, without ``func``, a decorator making one.

    Raises:
        SyncToAsyncTypeError: ``func`` is async or not callable, or
            ``executor`` was given with thread_sensitive=True (a TypeError).

    Awaiting the wrapper raises what ``func`` raised, and
    `asyncio.CancelledError` if the awaiting task is cancelled (``func`` may
    run on, abandoned: see `check_cancelled`).

    Example:
        >>> import asyncio
        >>> @sync_to_async
        ... def double(x: int) -> int:
        ...     return 2 * x
        >>> asyncio.run(double(21))
        42
    """
    if func is None:
        return _decorator(thread_sensitive, executor, context)
    # Positional: Django calls this per middleware per request, keywords cost more.
    return SyncToAsync(func, thread_sensitive, executor, context)


def _decorator(
    thread_sensitive: bool, executor: Executor | None, context: contextvars.Context | None
) -> Callable[[Callable[_P, _R]], Callable[_P, Coroutine[Any, Any, _R]]]:
    """``sync_to_async(thread_sensitive=...)`` used as a decorator factory.

    A function of its own: a closure defined inside `sync_to_async` would make
    its options cell variables, which every call (Django's per-request path
    above all) pays to create (~70 ns on 3.11-3.12).
    """

    def decorator(f: Callable[_P, _R]) -> Callable[_P, Coroutine[Any, Any, _R]]:
        return SyncToAsync(f, thread_sensitive, executor, context)

    return decorator
