"""CurrentThreadExecutor: lets a sync thread blocked in async_to_sync serve sync work.

Theory of operation:

A thread that calls ``async_to_sync(f)()`` blocks until ``f`` finishes on some
event loop. While it waits, thread-sensitive ``sync_to_async`` calls made by
``f`` (and by tasks it starts) must run *on that blocked thread*, because it is
the thread the surrounding sync code lives on (Django's database connections,
for instance). So the blocked thread does not just wait: it serves a queue of
work items until the call is done. That queue is this executor.

Executors nest: an ``async_to_sync`` inside sync work served by an executor
makes a new executor whose ``old_executor`` is the enclosing one. Work
submitted to an executor whose call has ended goes to the nearest enclosing
executor that is still serving (tasks that outlive the call that started them).

Rules:

- Only the thread that made the executor serves it; submitting from that
  thread would wait on itself, so it raises at once (deadlock, detected).
- Items queued before the call ended are still run; the serve loop ends at the
  ``_DONE`` marker, which `_finish` enqueues under the same lock that flips
  ``_broken``: nothing can be queued behind the marker. If the serving thread
  gives up instead (its wait raised), the items still queued fail with
  `ExecutorGoneError`: nobody would ever run them (hazard: silent hang).
- The serve loop never blocks without a deadline: it wakes every
  ``health_interval`` seconds to run a health check supplied by the caller,
  which raises if what it waits on can no longer answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from queue import Empty
from typing import Any, ParamSpec, Protocol, TypeVar

from ..._errors import BridgeDeadlockError, CurrentThreadExecutorError, ExecutorGoneError
from .. import _state
from ._inbox import Inbox, thread_waker

__all__ = ("CurrentThreadExecutor", "WorkItem")

_P = ParamSpec("_P")
_R = TypeVar("_R")


class WorkItem(Protocol):
    """Anything a worker thread or an executor can run."""

    def run(self) -> None:
        """Run on the serving thread; must not raise (deliver errors instead)."""

    def fail(self, exc: BaseException) -> None:
        """Deliver ``exc`` instead of running (nobody is left to run the item)."""


class _Done:
    """Marker ending a serve loop (a class so its name shows in debuggers)."""

    def run(self) -> None:  # pragma: no cover - never run, compared by identity
        raise AssertionError("the _DONE marker is not a work item")

    def fail(self, exc: BaseException) -> None:  # pragma: no cover - likewise
        raise AssertionError("the _DONE marker is not a work item")


_DONE = _Done()


class _FutureItem:
    """A public ``submit()`` call: runs ``fn`` and settles a concurrent Future."""

    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(
        self, future: Future[Any], fn: Callable[..., Any], args: Any, kwargs: Any
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)

    def fail(self, exc: BaseException) -> None:
        if self.future.set_running_or_notify_cancel():
            self.future.set_exception(exc)


class CurrentThreadExecutor(Executor):
    """An executor that runs submitted work on the thread that created it.

    The creating thread calls `run_until_future` and serves submitted work
    until the given future is done. Other threads (typically an event loop
    running the async half of an ``async_to_sync`` call) submit sync work to
    it with `submit`.

    Args:
        old_executor: the executor of an enclosing ``async_to_sync`` call, to
            which work is passed once this one has stopped serving.

    Raises:
        CurrentThreadExecutorError: `run_until_future` called from another
            thread, or `submit` called from the serving thread.
        ExecutorGoneError: `submit` after this executor and every enclosing
            one stopped serving.

    Example:
        >>> import threading
        >>> from concurrent.futures import Future
        >>> ex = CurrentThreadExecutor(None)
        >>> done: Future[None] = Future()
        >>> def other() -> None:
        ...     ex.submit(lambda: print("runs on", threading.current_thread().name)).result()
        ...     done.set_result(None)
        >>> t = threading.Thread(target=other)
        >>> t.start(); ex.run_until_future(done); t.join()
        runs on MainThread
    """

    def __init__(self, old_executor: CurrentThreadExecutor | None = None) -> None:
        self._work_thread = threading.current_thread()
        self._ident = threading.get_ident()
        # This thread's `Local` owner token (see `_state.local_owner`): values
        # async code writes for this caller are boxed with it, so they are
        # this thread's alone once carried back (an ident could be reused).
        self._owner_token: object = _state.local_owner.__dict__
        # Woken by a socket write (one context switch, see `_inbox`); the
        # thread's one waker serves every executor it makes, one call each.
        self._queue: Inbox[WorkItem] = Inbox(thread_waker())
        self._lock = threading.Lock()
        self._broken = False
        self._old_executor = old_executor
        # Fork generation: an executor inherited by a forked child (through a
        # ContextVar) has no serving thread there and must be ignored.
        self._generation = _state.generation

    @property
    def root_owner(self) -> object:
        """`Local` owner token of the outermost blocked sync caller in this executor's chain."""
        executor = self
        while executor._old_executor is not None:
            executor = executor._old_executor
        return executor._owner_token

    # -- internal fast path (used by the bridge) ------------------------------

    def _put(self, item: WorkItem) -> None:
        """Queue ``item`` here or on the nearest enclosing executor still serving."""
        ident = threading.get_ident()
        executor: CurrentThreadExecutor | None = self
        while executor is not None:
            if executor._ident == ident:
                # Hazard (deadlock): this thread *is* the one that would serve the
                # item, but it is busy running the code that submits it.
                raise BridgeDeadlockError(
                    "Thread-sensitive sync work was sent to the thread that submits it.",
                    f"Thread {executor._work_thread.name!r} is blocked in async_to_sync and "
                    "is the thread that must run this work, but it is running an event loop "
                    "of its own (asyncio.run inside sync code?). Await the coroutine in the "
                    "outer loop instead, or use thread_sensitive=False for this call.",
                )
            with executor._lock:
                if not executor._broken:
                    executor._queue.put(item)
                    return
            executor = executor._old_executor
        raise ExecutorGoneError(
            "CurrentThreadExecutor already quit or is broken",
            "(a task that outlived the async_to_sync call that started it made a "
            "thread-sensitive sync_to_async call, and no sync caller is left to run it). "
            "Await such tasks before the async function returns, or enter a "
            "ThreadSensitiveContext in the task.",
        )

    def _finish(self) -> None:
        """Stop accepting work; the serve loop ends after the items already queued."""
        with self._lock:
            if not self._broken:
                self._broken = True
                self._queue.put(_DONE)

    def _fail_queued(self, why: str) -> None:
        """After `_finish` without serving on: fail what was queued before the marker.

        Hazard (silent hang): the serving thread gave up (health check, hang
        deadline, KeyboardInterrupt) while items were still queued; nobody will
        run them, and whoever awaits them would wait forever.
        """
        while True:
            try:
                item = self._queue.get_nowait()
            except Empty:  # pragma: no cover - the _DONE marker is always queued
                return
            if item is _DONE:
                return
            item.fail(
                ExecutorGoneError(
                    "CurrentThreadExecutor already quit or is broken",
                    f"(thread {self._work_thread.name!r}, blocked in async_to_sync, {why} "
                    "before it could run this thread-sensitive work). Fix what made it give "
                    "up (the error it raised says what); then retry the call.",
                )
            )

    def _serve(self, health_check: Callable[[], None] | None) -> None:
        """Run queued items until `_finish`; call ``health_check`` when idle."""
        get = self._queue.get
        interval = _state.config["health_interval"]
        while True:
            try:
                item = get(timeout=interval)
            except Empty:
                if health_check is not None:
                    health_check()
                continue
            if item is _DONE:
                return
            item.run()

    # -- asgiref's public API -------------------------------------------------

    def run_until_future(self, future: Future[Any]) -> None:
        """Serve submitted work on this thread until ``future`` is done.

        Raises:
            CurrentThreadExecutorError: called from a thread other than the
                one that created the executor.
        """
        if threading.get_ident() != self._ident:
            raise CurrentThreadExecutorError(
                "You cannot run CurrentThreadExecutor from a different thread",
                f"(it belongs to thread {self._work_thread.name!r}; call "
                "run_until_future from that thread).",
            )
        future.add_done_callback(lambda _f: self._finish())
        self._serve(None)

    def submit(self, fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_R]:
        """Queue ``fn(*args, **kwargs)`` to run on the serving thread.

        Returns:
            A concurrent Future with the call's result.

        Raises:
            CurrentThreadExecutorError: called from the serving thread itself.
            ExecutorGoneError: no executor in the chain is still serving.
        """
        if threading.get_ident() == self._ident:
            raise CurrentThreadExecutorError(
                "You cannot submit onto CurrentThreadExecutor from its own thread",
                "(the thread would wait on itself). Call the function directly.",
            )
        future: Future[_R] = Future()
        self._put(_FutureItem(future, fn, args, kwargs))
        return future
