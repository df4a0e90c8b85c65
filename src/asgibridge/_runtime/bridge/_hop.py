"""One bridged sync call (a *hop*): its lifecycle, its run on a worker, its outcome.

Theory of operation: the awaiting task creates a `Hop`, hands it to a target
(a worker, a CurrentThreadExecutor, an executor adapter) and awaits
``hop.future``. The target's thread calls `Hop.run`, which marks itself as
"the call this thread is running" (``_state.tls.hop``, read by a nested
async_to_sync to find the outer loop and to register the task it starts), runs
the function in the caller's context copy, and sends the outcome back with one
post to the loop's doorbell (`threads._doorbell`). `Hop.settle` runs on the
loop thread.

The lifecycle is one state machine (h11's ``_state.py`` is the model)::

    QUEUED --worker claims the start--> RUNNING --function ends--> DONE
       |                                    |
       +--awaiting side gives up--> CANCELLED (never runs)
                                            +--awaiting side gives up--> ABANDONED
    QUEUED --the target cannot run it (`fail`)--> DONE (never ran, error delivered)

Each arrow is one *claim*: ``dict.setdefault`` on the hop's claim table, atomic
on every CPython (with or without the GIL). The start is claimed by the worker
(`run`) or by the giving-up side (`give_up`): whoever comes first wins, the
other sees the winner's claim, so a call that started is never reported as
not started. ``task.cancel()`` cancels the future its task waits on at once;
a worker that takes the call finds that future cancelled and claims the
cancellation itself instead of the start, so a call cancelled before a worker
took it never runs, even before the awaiting task has run its ``except``. The end is
claimed the same way by the worker (DONE) or the giving-up side (ABANDONED,
counted once). `state` only reads the table; counters and diagnostics read
`state`, never write it.

Tracing data is optional: a hop built with a `HopInfo` (only when
``_state.traced`` is set: a listener, a thread handler or a hang deadline)
records its thread and timings, enters the thread handlers around the
function, and calls the listeners' ``on_end`` on the running thread before
the outcome is delivered. A hop built without one pays nothing for it.

Rules:

- `run` never raises: every outcome, including a BaseException from the
  function, a thread handler or a listener, is delivered to the awaiting side
  (or logged and counted when the loop is gone).
- The caller's exception (``sys.exc_info()`` on the caller's side, which
  asgiref shows to the callee too) is never raised on the worker thread:
  raising it would rewrite its ``__traceback__`` from two threads at once
  (two concurrent hops, or the caller re-raising it). Instead a generator
  primed on the caller's thread holds it as its handled exception, and the
  worker runs the function inside that generator (`ExcInfoCarrier`).
- What the call held (arguments, context, handler) is dropped before the
  caller is woken (leak hazard: the hop outlives the call in tracebacks).
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import time
from collections.abc import Callable, Generator
from typing import Any

from .. import _state
from ..observe._hooks import HopInfo, emit_end, note_thread, run_with_handlers
from ..observe._stats import count, record_abandoned, unhandled
from ..threads._doorbell import poster_for

__all__ = (
    "ABANDONED",
    "CANCELLED",
    "DONE",
    "QUEUED",
    "RUNNING",
    "ExcInfoCarrier",
    "Hop",
    "current_exception",
)

if sys.version_info >= (3, 11):
    current_exception = sys.exception
else:

    def current_exception() -> BaseException | None:
        """The exception being handled on this thread, if any."""
        return sys.exc_info()[1]


QUEUED = "queued"
RUNNING = "running"
DONE = "done"
CANCELLED = "cancelled"
ABANDONED = "abandoned"

_START = 0  # claim-table key: who decided whether the call runs
_END = 1  # claim-table key: who decided how the call's outcome is used


class _Claim:
    """A claim on a hop's transition; its identity tells the claimer whether it won."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


# The worker's claims are shared singletons: only a worker claims the start as
# RUNNING, or the end as DONE, so identity still tells who won. The giving-up
# side makes a fresh claim each time (a watchdog and a cancellation may both try).
_RUN = _Claim(RUNNING)
_FINISH = _Claim(DONE)
_FAILED = _Claim(DONE)

# What a hop's ``ctx`` becomes once its call has run: empty, never entered.
_SPENT = contextvars.Context()


class ExcInfoCarrier:
    """Runs a function on another thread while the caller's exception is "being handled".

    Built on the caller's thread while it handles ``exc``: a generator raises
    and catches ``exc`` there (restoring its traceback at once), then pauses
    inside its ``except`` block. A paused generator keeps that handled
    exception and makes it the running thread's current one whenever it is
    resumed, so `call`, resumed on the worker, runs the function with
    ``sys.exc_info()`` showing ``exc`` without ever raising it there.
    """

    __slots__ = ("_gen",)

    def __init__(self, exc: BaseException) -> None:
        self._gen = self._hold(exc)
        next(self._gen)

    @staticmethod
    def _hold(exc: BaseException) -> Generator[Any, Any, None]:
        traceback = exc.__traceback__
        try:
            try:
                raise exc
            except BaseException:
                exc.__traceback__ = traceback  # on the caller's own thread, before anyone sees it
                func, args, kwargs = yield None
                result = func(*args, **kwargs)
        finally:
            # Python 3.10 rewrites the traceback of the handled exception when its
            # except block is left; 3.11+ never does, so nothing is written there.
            if exc.__traceback__ is not traceback:
                exc.__traceback__ = traceback
        yield result

    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)`` with the carried exception as the handled one (once)."""
        gen = self._gen
        try:
            return gen.send((func, args, kwargs))
        finally:
            gen.close()


def _claim_cancel(claims: dict[int, _Claim], info: HopInfo | None) -> bool:
    """Try QUEUED -> CANCELLED; True if this call won (the hop will never run)."""
    mine = _Claim(CANCELLED)
    if claims.setdefault(_START, mine) is not mine:
        return False
    count("cancelled_before_start")
    if info is not None:
        info.cancelled = True
        escaped = emit_end(info)  # the call never ran: its listeners still see it end
        if escaped is not None:
            unhandled(escaped, "a hop listener (call cancelled before it started)")
    return True


class Hop:
    """A sync call submitted from an event loop to another thread.

    Args:
        loop: the loop of the awaiting side (the outcome is settled there).
        ctx: the context the function runs in (a copy of the caller's).
        func: the sync function.
        args, kwargs: its arguments.
        exc: the exception the caller is handling, shown to the function.
        info: tracing data (instrumented path), or None.
        task: the task the call works for when nobody awaits its future (an
            iterator batch); None: the task awaiting ``future``.
        divert: receives the function's exception instead of the future (an
            iterator batch: the consumer gets it through its buffer).
    """

    __slots__ = (
        "_claims",
        "args",
        "carrier",
        "ctx",
        "divert",
        "finished",
        "func",
        "future",
        "generation",
        "handler",
        "info",
        "inner_tasks",
        "kwargs",
        "loop",
        "outcome",
        "post",
        "task",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        ctx: contextvars.Context,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        exc: BaseException | None,
        info: HopInfo | None = None,
        task: asyncio.Task[Any] | None = None,
        divert: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.loop = loop
        self.ctx = ctx
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.carrier = ExcInfoCarrier(exc) if exc is not None else None
        self.info = info
        self.task = task
        self.divert = divert
        # Fork generation: a hop seen in a forked child belongs to the parent.
        self.generation = _state.generation
        claims: dict[int, _Claim] = {}
        self._claims = claims
        self.future: asyncio.Future[Any] = loop.create_future()
        # How the running thread hands the outcome back: the loop's doorbell
        # (one context switch on every loop), made here on the loop's thread.
        self.post = poster_for(loop)
        # Tasks that async_to_sync calls inside this sync function started on
        # ``loop``; cancellation of the awaiting task is forwarded to them.
        self.inner_tasks: list[asyncio.Task[Any]] | None = None
        self.handler: Callable[[], Any] | None = None
        self.finished = False  # the outcome reached the loop (loop thread only)
        self.outcome: tuple[Any, BaseException | None] = (None, None)
        if info is not None and _state.thread_handlers:
            # Entered inside the caller's context copy, on the running thread.
            self.func = _with_handlers(info, func)

    # -- state (read-only views of the claim table) ----------------------------

    @property
    def state(self) -> str:
        """QUEUED, RUNNING, DONE, CANCELLED or ABANDONED (see the module docs)."""
        claims = self._claims
        end = claims.get(_END)
        if end is not None:
            return end.state
        start = claims.get(_START)
        return QUEUED if start is None else start.state

    @property
    def started(self) -> bool:
        """The worker claimed the start (the function runs or ran)."""
        return self._claims.get(_START) is _RUN

    @property
    def cancelled(self) -> bool:
        """The awaiting side gave up (before the start, or while it ran)."""
        return self.state in (CANCELLED, ABANDONED)

    # -- the awaiting side (loop thread) -----------------------------------------

    def give_up(self) -> bool:
        """The awaiting side stops waiting; True if the call will never run.

        Before the start: CANCELLED (the worker skips it). While it runs:
        ABANDONED, counted once (it runs to its end; its outcome is dropped).
        """
        claims = self._claims
        if _claim_cancel(claims, self.info):
            return True
        start = claims.get(_START)
        if start is not _RUN:  # cancelled earlier (never runs), or failed unrun
            return start is not _FAILED
        mine = _Claim(ABANDONED)
        if claims.setdefault(_END, mine) is mine:
            record_abandoned(self.func, self.info.name if self.info is not None else None)
        return False

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

    def dropped(self, future: Any) -> None:
        """Done callback of an executor's future: if it was cancelled unrun, cancel the await."""
        if not future.cancelled() or not self.give_up():
            return
        try:
            self.loop.call_soon_threadsafe(self.future.cancel)
        except RuntimeError:
            pass  # the loop is closed: nobody awaits the call any more

    def add_inner_task(self, task: asyncio.Task[Any]) -> None:
        """Register a task a nested async_to_sync started (loop thread only)."""
        if self.inner_tasks is None:
            self.inner_tasks = []
        self.inner_tasks.append(task)

    def remove_inner_task(self, task: asyncio.Task[Any]) -> None:
        if self.inner_tasks is not None and task in self.inner_tasks:
            self.inner_tasks.remove(task)

    # -- the running side (any thread) --------------------------------------------

    def run(self) -> None:
        """Run the call on this thread and deliver its outcome to the loop (never raises)."""
        claims = self._claims
        if self.future.cancelled():
            # The awaiting task was cancelled (task.cancel() cancels the future it
            # waits on at once) before this thread took the call: it never runs.
            _claim_cancel(claims, self.info)
            return
        if claims.setdefault(_START, _RUN) is not _RUN:
            return  # given up before the start: never runs (the canceller reported it)
        info = self.info
        if info is not None:
            note_thread(info)
            info.queue_wait = time.perf_counter() - info.submitted_at
        tls = _state.tls
        previous = tls.hop
        tls.hop = self
        result: Any = None
        error: BaseException | None = None
        try:
            if self.handler is not None:
                result = self.handler()
            elif self.carrier is not None:
                result = self.carrier.call(self.ctx.run, self.func, *self.args, **self.kwargs)
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
            self.carrier = None
            self.ctx = _SPENT
            self.task = None  # the awaiting task holds its request's context
        claims.setdefault(_END, _FINISH)
        if info is not None:
            info.run_time = time.perf_counter() - info.submitted_at - (info.queue_wait or 0.0)
            info.exception = error
            escaped = emit_end(info)
            if escaped is not None:
                # A listener's KeyboardInterrupt/SystemExit is the call's outcome.
                if error is not None and escaped.__context__ is None:
                    escaped.__context__ = error
                error = escaped
            divert = self.divert
            if error is not None and divert is not None:
                divert(error)
                error = None
        self._deliver(result, error)

    def fail(self, exc: BaseException) -> None:
        """The thread meant to run this call cannot: deliver ``exc`` unrun (if still queued)."""
        if self._claims.setdefault(_START, _FAILED) is _FAILED:
            self._deliver(None, exc)

    def _deliver(self, result: Any, exc: BaseException | None) -> None:
        try:
            self.post(self.settle, result, exc)
        except Exception:
            # The loop is closed: nobody awaits this outcome any more.
            record_abandoned(self.func, self.info.name if self.info is not None else None)
            if exc is not None and not isinstance(exc, Exception):
                unhandled(exc, f"sync call {self.info.name if self.info else '?'}")


def _with_handlers(info: HopInfo, func: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return run_with_handlers(info, func, *args, **kwargs)

    return call
