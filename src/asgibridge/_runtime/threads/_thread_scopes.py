"""ThreadSensitiveContext and AsyncSingleThreadContext: scoping the bridge's threads.

`ThreadSensitiveContext` (async): thread-sensitive sync_to_async calls inside
it share one thread of their own (Django enters one per request). The thread
is leased from the sticky pool at the first such call and handed back at exit
by queueing a release marker behind the context's work: the exit never blocks
the loop and starts no joiner thread, even when the thread is still parked in
an async_to_sync (asgiref issue #535). A context nobody exits (its task was
dropped) gives its thread back when it is garbage-collected.

With ``executor=``, calls inside go to that executor instead (one worker, owned
by the caller) even inside another context or a blocked sync caller, which the
context hides on entry; such a context is single-use and rejects calls from
tasks that outlive it.

`AsyncSingleThreadContext` (sync): async_to_sync calls inside it run on one
loop thread of their own, which lives exactly as long as the context (it is
never reaped for idling) and is stopped at exit.
"""

from __future__ import annotations

import contextvars
import weakref
from concurrent.futures import Executor
from types import TracebackType
from typing import Any

from ..._errors import BridgeDeadlockError, ThreadSensitiveContextError
from .. import _state
from ._loops import LoopThread, temporary_loop
from ._routing import ExecutorTarget, Target
from ._workers import get_sticky_pool

__all__ = ("AsyncSingleThreadContext", "ThreadSensitiveContext")

_EXIT_JOIN_TIMEOUT = 30.0


class ThreadSensitiveContext:
    """Async context manager giving the thread-sensitive calls inside it their own thread.

    Only the outermost context counts (nested ones are no-ops), except one
    given an ``executor``, which always takes over for its block.

    Args:
        executor: run this block's thread-sensitive calls on this executor
            (one call at a time on one thread, e.g. ``ThreadPoolExecutor(1)``).
            The caller owns it: it is not shut down at exit.

    Raises:
        ThreadSensitiveContextError: a context with an executor entered twice,
            or used by a task after it exited (a RuntimeError).

    Example:
        >>> import asyncio, threading
        >>> from asgibridge.sync import sync_to_async
        >>> async def request() -> bool:
        ...     async with ThreadSensitiveContext():
        ...         a = await sync_to_async(threading.get_ident)()
        ...         b = await sync_to_async(threading.get_ident)()
        ...     return a == b
        >>> asyncio.run(request())
        True
    """

    def __init__(self, *, executor: Executor | None = None) -> None:
        self._executor = executor
        self._executor_target = ExecutorTarget(executor) if executor is not None else None
        self.token: contextvars.Token[Any] | None = None
        self._hidden: contextvars.Token[Any] | None = None
        self._exited = False
        self._worker: Target | None = None
        self._worker_generation = -1
        self._release: weakref.finalize[Any, Any] | None = None

    async def __aenter__(self) -> ThreadSensitiveContext:
        if self._executor is not None:
            if self.token is not None:
                raise ThreadSensitiveContextError(
                    "ThreadSensitiveContext is already entered",
                    "(a context with an executor routes one block; make one per block).",
                )
            if self._exited:
                raise ThreadSensitiveContextError(
                    "ThreadSensitiveContext with an executor cannot be entered again",
                    "(tasks that outlived its first block would be routed to the second; "
                    "make a new context).",
                )
            self.token = _state.thread_sensitive_context.set(self)
            # Hide an enclosing blocked sync caller: this block's calls must go to
            # the executor. A nested async_to_sync publishes a new one.
            self._hidden = _state.current_executor.set(None)
        elif _state.thread_sensitive_context.get(None) is None:
            self.token = _state.thread_sensitive_context.set(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.token is None:
            return
        _state.thread_sensitive_context.reset(self.token)
        self.token = None
        if self._hidden is not None:
            _state.current_executor.reset(self._hidden)
            self._hidden = None
            self._exited = True
            return
        release, self._release, self._worker = self._release, None, None
        if release is not None:
            release()

    def _target(self) -> Target:
        """Where this context's thread-sensitive calls go (leases a thread at first use)."""
        if self._executor_target is not None:
            if self._exited:
                raise ThreadSensitiveContextError(
                    "ThreadSensitiveContext has exited. Tasks created inside a context "
                    "with an executor must finish before it exits.",
                    "Await such tasks inside the `async with` block.",
                )
            return self._executor_target
        worker = self._worker
        if worker is None or self._worker_generation != _state.generation:
            # Hazard (fork): a context inherited by a forked child holds a thread
            # that does not exist there; lease a new one in the child.
            pool = get_sticky_pool()
            leased = pool.lease()
            self._release = weakref.finalize(self, pool.release, leased)
            worker = self._worker = leased
            self._worker_generation = _state.generation
        return worker


class AsyncSingleThreadContext:
    """Sync context manager running every async_to_sync call inside it on one thread.

    Only the outermost context counts. Its loop thread stops at exit.

    Example:
        >>> import threading
        >>> from asgibridge.sync import async_to_sync
        >>> async def ident() -> int:
        ...     return threading.get_ident()
        >>> with AsyncSingleThreadContext():
        ...     async_to_sync(ident)() == async_to_sync(ident)()
        True
    """

    def __init__(self) -> None:
        self.token: contextvars.Token[Any] | None = None
        self._loop_thread: LoopThread | None = None

    def __enter__(self) -> AsyncSingleThreadContext:
        if _state.single_thread_context.get(None) is None:
            self.token = _state.single_thread_context.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.token is None:
            return
        loop_thread, self._loop_thread = self._loop_thread, None
        _state.single_thread_context.reset(self.token)
        self.token = None
        if loop_thread is not None:
            loop_thread.stop()
            loop_thread.thread.join(_EXIT_JOIN_TIMEOUT)
            if loop_thread.thread.is_alive():
                raise BridgeDeadlockError(
                    f"AsyncSingleThreadContext could not stop {loop_thread.thread.name!r} "
                    f"within {_EXIT_JOIN_TIMEOUT:g}s.",
                    "A task on its loop ignores cancellation; make it return when cancelled.",
                )

    def _lease(self) -> LoopThread:
        """This context's loop thread, leased for one call."""
        loop_thread = self._loop_thread
        if loop_thread is None or loop_thread.stopping:
            # Lives exactly as long as the context: never reaped for idling
            # (objects bound to its loop must keep working after a pause).
            loop_thread = self._loop_thread = LoopThread(
                "AsyncSingleThreadContext", reap_when_idle=False, leased=True
            )
            return loop_thread
        if loop_thread.acquire(call=True):
            return loop_thread
        return temporary_loop("nested async_to_sync in AsyncSingleThreadContext")
