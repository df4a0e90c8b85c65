"""One sync_to_async call in flight: the work item a worker runs and the loop awaits.

Theory of operation: the awaiting task creates a `Hop`, hands it to a target
(a worker, a CurrentThreadExecutor, an executor adapter) and awaits
``hop.future``. The target's thread calls `Hop.run`, which marks itself as
"the call this thread is running" (``_state.tls.hop``, read by a nested
async_to_sync to find the outer loop and to register the task it starts), runs
the function in the caller's context copy, and sends the outcome back with one
``call_soon_threadsafe``. `Hop.settle` runs on the loop thread: it records the
outcome on the hop *and* settles whatever future is current, so an outcome is
never lost when the awaiting side swapped futures after a cancellation.

Rules: `run` never raises (errors are delivered); the outcome is recorded
before anything is dropped; a hop whose awaiting side gave up before it
started is skipped, not run.

`TracedHop` is the instrumented variant, built only when ``_state.traced``
is set (a listener, a thread handler or a hang deadline): it records the
thread and the timings in a `HopInfo`, enters the thread handlers around the
function, and calls the listeners' ``on_end`` on the running thread before
the outcome is delivered. The plain `Hop` pays nothing for it.
`submit_traced` puts one on its target the way every traced caller does:
``on_start``, then, with a hang deadline, a `Watchdog`. `TracedTaskHop` is
the traced `TaskHop` (an iterator batch, or the generator's ``close()``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import sys
import time
from collections.abc import Callable
from typing import Any

from . import _state
from ._diagnostics import Watchdog, record_abandoned
from ._hooks import HopInfo, emit_end, emit_start, note_thread, run_with_handlers

__all__ = (
    "Hop",
    "TaskHop",
    "TracedHop",
    "TracedTaskHop",
    "current_exception",
    "run_with_exc_info",
    "submit_traced",
)

if sys.version_info >= (3, 11):
    current_exception = sys.exception
else:

    def current_exception() -> BaseException | None:
        """The exception being handled on this thread, if any."""
        return sys.exc_info()[1]


def run_with_exc_info(exc: BaseException, func: Callable[..., Any], *args: Any) -> Any:
    """Call ``func(*args)`` while ``exc`` is being handled (``sys.exc_info()`` sees it).

    asgiref's callees see the caller's exception while the caller handles one
    (Django's exception middleware relies on it). Re-raising adds a frame to the
    exception's traceback, so the original traceback is put back afterwards.
    """
    traceback = exc.__traceback__
    try:
        raise exc
    except BaseException:
        return func(*args)
    finally:
        exc.__traceback__ = traceback


# What a hop's ``ctx`` becomes once its call has run (see `Hop.run`): empty,
# never entered, never written.
_SPENT = contextvars.Context()


class Hop:
    """A sync call submitted from an event loop to another thread."""

    __slots__ = (
        "args",
        "cancelled",
        "ctx",
        "exc",
        "finished",
        "func",
        "future",
        "generation",
        "handler",
        "inner_tasks",
        "kwargs",
        "loop",
        "outcome",
        "started",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        ctx: contextvars.Context,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        exc: BaseException | None,
    ) -> None:
        self.loop = loop
        self.ctx = ctx
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.exc = exc
        # Fork generation: a hop seen in a forked child belongs to the parent.
        self.generation = _state.generation
        self.future: asyncio.Future[Any] = loop.create_future()
        # Tasks that async_to_sync calls inside this sync function started on
        # ``loop``; cancellation of the awaiting task is forwarded to them.
        self.inner_tasks: list[asyncio.Task[Any]] | None = None
        self.handler: Callable[[], Any] | None = None
        self.cancelled = False
        self.started = False
        self.finished = False
        self.outcome: tuple[Any, BaseException | None] = (None, None)

    def run(self) -> None:
        """Run the call on this thread and deliver its outcome to the loop."""
        if self.cancelled:
            return
        self.started = True
        tls = _state.tls
        previous = tls.hop
        tls.hop = self
        result: Any = None
        error: BaseException | None = None
        try:
            if self.handler is not None:
                result = self.handler()
            elif self.exc is not None:
                result = run_with_exc_info(self.exc, self._call)
            else:
                result = self.ctx.run(self.func, *self.args, **self.kwargs)
        except BaseException as exc:
            error = exc
        finally:
            tls.hop = previous
            # Hazard (leak): the hop outlives the call (in this thread's frame until
            # it takes its next item, in a traceback). Drop what the call held,
            # its context above all, *before* the caller is woken: the caller must
            # never find values the callee's context kept still alive.
            self.args = ()
            self.kwargs = {}
            self.handler = None
            self.ctx = _SPENT
        self._deliver(result, error)

    def fail(self, exc: BaseException) -> None:
        """The thread meant to run this call gave up: deliver ``exc`` unrun."""
        if not self.cancelled:
            self._deliver(None, exc)

    def _call(self) -> Any:
        return self.ctx.run(self.func, *self.args, **self.kwargs)

    def _deliver(self, result: Any, exc: BaseException | None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.settle, result, exc)
        except RuntimeError:
            # The loop is closed: nobody awaits this outcome any more.
            record_abandoned(self)

    def settle(self, result: Any, exc: BaseException | None) -> None:
        """Record the outcome and settle the current future (loop thread only)."""
        if isinstance(exc, StopIteration):
            # asyncio futures refuse StopIteration (it would end the awaiting
            # coroutine's frame silently); asyncio itself converts it likewise.
            error = RuntimeError("the sync function raised StopIteration")
            error.__cause__ = exc
            exc = error
        self.finished = True
        self.outcome = (result, exc)
        future = self.future
        if future.done():
            return
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)

    def dropped(self, future: concurrent.futures.Future[Any]) -> None:
        """Done callback of an executor's future: if it was cancelled unrun, cancel the await."""
        if not future.cancelled() or self.started:
            return
        self.cancelled = True
        try:
            self.loop.call_soon_threadsafe(self._cancel_future)
        except RuntimeError:
            pass  # the loop is closed: nobody awaits the call any more

    def _cancel_future(self) -> None:
        self.future.cancel()

    def add_inner_task(self, task: asyncio.Task[Any]) -> None:
        """Register a task a nested async_to_sync started (loop thread only)."""
        if self.inner_tasks is None:
            self.inner_tasks = []
        self.inner_tasks.append(task)

    def remove_inner_task(self, task: asyncio.Task[Any]) -> None:
        if self.inner_tasks is not None and task in self.inner_tasks:
            self.inner_tasks.remove(task)


class TaskHop(Hop):
    """A `Hop` no task awaits directly (an iterator batch): it names the task it works for.

    `check_cancelled` and `time_left` find the awaiting task of an ordinary hop
    through its future; here nobody awaits the future, so the task is named.
    """

    __slots__ = ("task",)

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        ctx: contextvars.Context,
        func: Callable[..., Any],
        task: asyncio.Task[Any] | None,
    ) -> None:
        super().__init__(loop, ctx, func, (), {}, None)
        self.task = task


class TracedHop(Hop):
    """A `Hop` that reports to the instrumentation hooks (see `_hooks`)."""

    __slots__ = ("info",)

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        ctx: contextvars.Context,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        exc: BaseException | None,
        info: HopInfo,
    ) -> None:
        super().__init__(loop, ctx, func, args, kwargs, exc)
        self.info = info
        if _state.thread_handlers:
            # Entered inside the caller's context copy, on the running thread.
            self.func = functools.partial(run_with_handlers, info, func)

    def run(self) -> None:
        info = self.info
        note_thread(info)
        info.queue_wait = time.perf_counter() - info.submitted_at
        if self.cancelled:
            info.cancelled = True
            emit_end(info)
            return
        Hop.run(self)

    def _cancel_future(self) -> None:
        info = self.info
        info.cancelled = True
        emit_end(info)  # the call never ran: its listeners still see it end
        Hop._cancel_future(self)

    def _deliver(self, result: Any, exc: BaseException | None) -> None:
        self._report_end(exc)
        Hop._deliver(self, result, exc)

    def _report_end(self, exc: BaseException | None) -> None:
        info = self.info
        info.run_time = time.perf_counter() - info.submitted_at - (info.queue_wait or 0.0)
        info.exception = exc
        emit_end(info)


class TracedTaskHop(TracedHop):
    """A traced `TaskHop`: an iterator batch reported like one sync_to_async call.

    ``divert``, when given, receives the function's exception instead of the
    future, after the thread handlers and the listeners saw it: nobody awaits
    a batch's future (the consumer gets the generator's error through its
    buffer, after the items produced before it).
    """

    __slots__ = ("divert", "task")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        ctx: contextvars.Context,
        func: Callable[..., Any],
        task: asyncio.Task[Any] | None,
        info: HopInfo,
        divert: Callable[[BaseException], None] | None = None,
    ) -> None:
        super().__init__(loop, ctx, func, (), {}, None, info)
        self.task = task
        self.divert = divert

    def _deliver(self, result: Any, exc: BaseException | None) -> None:
        divert = self.divert
        if exc is None or divert is None:
            TracedHop._deliver(self, result, exc)
            return
        self._report_end(exc)
        divert(exc)
        Hop._deliver(self, None, None)


def submit_traced(
    hop: TracedHop,
    target: Any,
    watch: Callable[[Hop, HopInfo, Any, float], Watchdog] = Watchdog,
) -> Watchdog | None:
    """Put a traced hop on ``target``: listeners see it start; a deadline arms ``watch``.

    Called on the loop, in the submitting task (``on_start`` sees its context).

    Returns:
        The watchdog (cancel it when the call ends), or None without a hang deadline.
    """
    info = hop.info
    emit_start(info)
    try:
        target._put(hop)
    except BaseException as exc:
        info.exception = exc
        emit_end(info)
        raise
    limit = _state.config["hang_timeout"]
    return watch(hop, info, target, limit) if limit is not None else None
