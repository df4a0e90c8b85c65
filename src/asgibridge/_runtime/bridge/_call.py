"""One async_to_sync call in flight: the task on the loop and the waiting caller.

Theory of operation: the caller builds an `AsyncCall`, schedules `start` on
the target loop with one ``call_soon_threadsafe`` and serves its
CurrentThreadExecutor. `start` (loop thread) creates the task in the caller's
context copy; `_task_done` (loop thread) records the outcome, cancels what
the call left running on a loop of its own, and then ends the caller's serve
loop. The caller re-raises or returns the outcome.

When the caller gives up instead (a health check raised: a hang report in
mode "raise", a dead loop; or KeyboardInterrupt), `wait` *abandons* the call:
the caller's executor stops accepting work (thread-sensitive work the
coroutine submits later goes to an enclosing caller or raises
`ExecutorGoneError` instead of waiting for a thread that left), the task is
cancelled on its loop, and its end no longer cleans up the loop, which by
then may be running another call of the same thread (it would cancel that
call's tasks).

At the end of a call on a loop of its own, the tasks the call left running
are cancelled, as ``asyncio.run`` does, and waited for at most
``leftover_timeout`` seconds: a task that ignores cancellation is then named
in a warning on the "asgibridge" logger, counted, left on the loop (never
waited for again) and the caller returns. The streaming bridge's per-item
calls (``cancel_leftovers=False``) leave helper tasks of the async iterator
alone between items; they are cancelled when the iterator is closed.

Rules: the task runs *in* the copied context on 3.11+ (``context=``), so its
changes land there for `carry_back`; on 3.10 a wrapper coroutine captures
them. The caller's exception (shown to the coroutine in ``sys.exc_info()``,
as asgiref does) is raised and caught only on the caller's own thread, while
the coroutine is primed (`prepare`): the loop thread never rewrites its
traceback. The caller's health check runs on its own thread and only reads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import sys
import threading
import time
from collections.abc import Awaitable, Coroutine, Generator
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from ..._errors import LoopUnavailableError
from .. import _state
from ..observe._hang_report import a2s_deadline
from ..observe._stats import count, logger
from ..threads._loops import describe_task

if TYPE_CHECKING:
    from ..threads._executor import CurrentThreadExecutor
    from ..threads._loops import LoopThread
    from ._hop import Hop

__all__ = ("AsyncCall",)

_CONTEXT_PARAM = sys.version_info >= (3, 11)
_STOPPED_CHECKS = 3  # health checks a loop may be seen stopped before we give up


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class _Pause:
    """Suspends a coroutine once, outside any task (its priming step)."""

    def __await__(self) -> Generator[None, None, None]:
        yield None


async def _with_exc_info(exc: BaseException, awaitable: Awaitable[Any]) -> Any:
    # Let the coroutine see the caller's exception in sys.exc_info(), as asgiref does.
    # Primed on the caller's thread (see `AsyncCall.prepare`): the raise and the
    # traceback restore happen there, before the pause; the loop resumes after it.
    traceback = exc.__traceback__
    try:
        try:
            raise exc
        except BaseException:
            exc.__traceback__ = traceback
            await _Pause()
            return await awaitable
    finally:
        # Python 3.10 rewrites the handled exception's traceback when its except
        # block is left; 3.11+ never does, so nothing is written there.
        if exc.__traceback__ is not traceback:
            exc.__traceback__ = traceback


async def _within_hop(hop: Hop, awaitable: Awaitable[Any]) -> Any:
    # Set inside the task (its first step, eager or not) and reset at its end:
    # the coroutine and its tasks know the sync_to_async call around them, and
    # the mark is never carried back to the sync caller.
    token = _state.outer_hop.set(hop)
    try:
        return await awaitable
    finally:
        try:
            _state.outer_hop.reset(token)
        except ValueError:
            pass  # closed from another context (garbage collection): nothing to undo here


async def _capturing(call: AsyncCall, awaitable: Awaitable[Any]) -> Any:
    # Python 3.10: create_task cannot run in a given Context, only a copy of it.
    try:
        return await awaitable
    finally:
        call.captured = contextvars.copy_context()


class AsyncCall:
    """State shared by the waiting sync caller and the task running its coroutine."""

    __slots__ = (
        "abandoned",
        "cancel_leftovers",
        "captured",
        "context_box",
        "coro",
        "ctx",
        "exc",
        "executor",
        "finished_waiting",
        "hop",
        "loop",
        "loop_ident",
        "loop_thread",
        "outcome",
        "reported",
        "started_at",
        "stopped_seen",
        "task",
        "waiter",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        ctx: contextvars.Context,
        executor: CurrentThreadExecutor,
        hop: Hop | None,
        loop_thread: LoopThread | None,
        exc: BaseException | None,
    ) -> None:
        self.loop = loop
        self.ctx = ctx
        self.executor = executor
        self.hop = hop
        self.loop_thread = loop_thread
        self.exc = exc
        self.coro: Coroutine[Any, Any, Any] | None = None
        self.task: asyncio.Task[Any] | None = None
        self.captured: contextvars.Context | None = None
        self.outcome: tuple[Any, BaseException | None] = (
            None,
            RuntimeError("async_to_sync: the call did not finish"),
        )
        self.waiter = threading.current_thread()
        self.started_at = time.monotonic()
        self.stopped_seen = 0
        self.abandoned = False
        self.cancel_leftovers = True
        self.finished_waiting = False
        self.loop_ident: int | None = None  # the loop's thread, once the call started
        # Set when a patched or overridden ``main_wrap`` runs the call: it
        # reports the outcome into ``reported`` and the context into ``context_box``.
        self.reported: concurrent.futures.Future[Any] | None = None
        self.context_box: list[contextvars.Context] | None = None

    # -- caller thread, before scheduling ---------------------------------------

    def prepare(self, awaitable: Awaitable[Any]) -> None:
        """Wrap the awaitable for the task; prime the exc_info carrier here (caller thread)."""
        coro: Any = awaitable
        if type(coro) is not CoroutineType:
            coro = _await(coro)
        if self.hop is not None:
            coro = _within_hop(self.hop, coro)
        if not _CONTEXT_PARAM:
            # 3.10 copies the context at create_task: capture what the task ends with.
            # Wrapped before priming: a primed coroutine cannot be awaited again there.
            coro = _capturing(self, coro)
        if self.exc is not None:
            coro = _with_exc_info(self.exc, coro)
            coro.send(None)  # raises and catches the caller's exception on this thread
        self.coro = coro

    # -- loop thread ----------------------------------------------------------

    def start(self) -> None:
        coro = self.coro
        self.coro = None
        assert coro is not None
        self.loop_ident = threading.get_ident()
        try:
            if _CONTEXT_PARAM:
                task = self.loop.create_task(coro, context=self.ctx)  # type: ignore[call-arg,unused-ignore]
            else:
                task = self.ctx.run(self.loop.create_task, coro)
        except BaseException as exc:
            self.outcome = (None, exc)
            self.executor._finish()
            return
        self.task = task
        task.add_done_callback(self._task_done)
        if self.hop is not None:
            self.hop.add_inner_task(task)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if self.hop is not None:
            self.hop.remove_inner_task(task)
        try:
            self.outcome = (task.result(), None)
        except BaseException as exc:
            self.outcome = (None, exc)
        loop_thread = self.loop_thread
        if loop_thread is None or self.abandoned or not self.cancel_leftovers:
            self._wake_caller()
            return
        # A loop of our own: cancel what the call left running, as asyncio.run does.
        stubborn = loop_thread.stubborn
        leftovers = [t for t in asyncio.all_tasks(self.loop) if not t.done() and t not in stubborn]
        if not leftovers:
            self._wake_caller()
            return
        for leftover in leftovers:
            leftover.cancel()
        gathered = asyncio.gather(*leftovers, return_exceptions=True)
        timer = self.loop.call_later(
            _state.config["leftover_timeout"], self._leftovers_overdue, leftovers, stubborn
        )

        def finished(_gathered: object) -> None:
            timer.cancel()
            self._finish_once()

        gathered.add_done_callback(finished)

    def _leftovers_overdue(self, leftovers: list[asyncio.Task[Any]], stubborn: Any) -> None:
        # Hazard (hang): a task that ignores cancellation would keep the caller
        # blocked forever while the loop is healthy (no health check fires).
        overdue = [task for task in leftovers if not task.done()]
        if overdue:
            for task in overdue:
                stubborn.add(task)
            count("leftover_tasks", len(overdue))
            logger.warning(
                "asgibridge: async_to_sync in thread %r returned while %d task(s) it left "
                "running ignored cancellation for %gs: %s. They stay on the loop; make them "
                "return when cancelled, or await them before the async function returns.",
                self.waiter.name,
                len(overdue),
                _state.config["leftover_timeout"],
                ", ".join(describe_task(task) for task in overdue),
            )
        self._finish_once()

    def _finish_once(self) -> None:
        if not self.finished_waiting:
            self.finished_waiting = True
            self._wake_caller()

    def _wake_caller(self) -> None:
        """Let the caller return, once this loop has let go of the finished task.

        Hazard (late free): the caller wakes at once (one context switch, see
        `_inbox`), while this callback's handle still holds the task, and the
        task its context: what the async code left there (a `Local` value, a
        request) would outlive the caller's own last reference to it. One loop
        turn later the handle is gone.
        """
        try:
            self.loop.call_soon(self.executor._finish)
        except RuntimeError:  # the loop is closing: wake the caller from here
            self.executor._finish()

    def _cancel_abandoned(self) -> None:
        # Loop thread; queued after `start`, so the task exists unless start failed.
        task = self.task
        if task is not None and not task.done():
            task.cancel()

    # -- caller thread ----------------------------------------------------------

    def wait(self) -> None:
        """Serve the caller's executor until the call ends; abandon the call on error."""
        try:
            self.executor._serve(self.health_check)
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        # Set before the caller releases its loop: `_task_done` must not clean
        # up a loop that another call may be using by then.
        self.abandoned = True
        self.executor._finish()
        self.executor._fail_queued("gave up waiting")
        try:
            self.loop.call_soon_threadsafe(self._cancel_abandoned)
        except RuntimeError:
            pass  # the loop is closed: the task will never run again

    def result_context(self) -> contextvars.Context:
        box = self.context_box
        if box is not None:
            return box[0]
        return self.captured if self.captured is not None else self.ctx

    def result(self) -> Any:
        result, exc = self.outcome
        reported = self.reported
        if reported is not None and exc is None:
            # The task was a main_wrap: its outcome is what it reported.
            if not reported.done():
                raise RuntimeError("AsyncToSync.main_wrap returned without reporting an outcome")
            return reported.result()
        if exc is not None:
            raise exc
        return result

    def health_check(self) -> None:
        """Raise if the loop can no longer finish the call (caller thread, when idle)."""
        loop = self.loop
        name = self.loop_thread.thread.name if self.loop_thread else "the outer event loop"
        if loop.is_closed() or (self.loop_thread and not self.loop_thread.thread.is_alive()):
            raise LoopUnavailableError(
                f"async_to_sync in thread {self.waiter.name!r} waits on {name}, "
                "which is closed or whose thread has died.",
                "The coroutine can never finish. Keep the loop running until the sync "
                "code it called has returned.",
            )
        if not loop.is_running():
            self.stopped_seen += 1
            if self.stopped_seen >= _STOPPED_CHECKS:
                raise LoopUnavailableError(
                    f"async_to_sync in thread {self.waiter.name!r} waits on {name}, "
                    "which has stopped running.",
                    "Stopping a loop (e.g. the end of a pytest-asyncio test) while sync "
                    "code it awaits is still running strands that code; await it first.",
                )
        else:
            self.stopped_seen = 0
        self._check_deadline(name)

    def _check_deadline(self, name: str) -> None:
        # Reported (raise, or log once) by `_hang_report`, which names the chain.
        a2s_deadline(self, name)
