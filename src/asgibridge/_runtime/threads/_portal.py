"""A private event loop on its own thread that the sync faces (test client, lifespan) drive.

In the runtime, not in the test client, because production code needs it too:
the sync face of `LifespanManager` (``asgibridge.lifespan``) runs on one.

Plain sync test code has no event loop; the sync `TestClient` and the sync
face of `LifespanManager` run the application on a `Portal`: one loop thread
per client, alive from first use to ``close()``. An application instance may
outlive one call (a streamed response, a WebSocket session, lifespan), which is
why this is not ``async_to_sync`` (its calls cancel what they leave running).

Rules:

- Every wait of the calling thread has a deadline and wakes up every
  ``_SLICE`` seconds to check that the loop thread is still alive: a dead or
  stopped loop raises `LoopUnavailableError` naming it instead of hanging.
- The loop thread is a `LoopThread` of the runtime, so it is registered in
  ``_state.loop_threads``: ``asgibridge.shutdown()`` stops it and a fork
  drops it (hazard: a child waiting on a loop whose thread does not exist).
- Never call the blocking methods from the portal's own loop thread (they
  would wait on themselves): that raises at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from ..._errors import ApplicationTimeoutError, BridgeDeadlockError, LoopUnavailableError
from ._loops import LoopThread, temporary_loop
from ._tasks import Expired

__all__ = ("Portal",)

_T = TypeVar("_T")
_SLICE = 0.25  # seconds between liveness checks of the loop thread
_JOIN = 5.0  # seconds close() waits for the loop thread to end


def _stop_loop_thread(loop_thread: LoopThread) -> None:
    loop_thread.release()  # a temporary loop stops when released


class Portal:
    """An event loop running on a thread of its own, for sync code to call into.

    Args:
        purpose: shown in the loop thread's name (and so in hang reports).

    Example:
        >>> portal = Portal("doc example")
        >>> async def add(a, b):
        ...     return a + b
        >>> portal.run(add(1, 2), timeout=5, what="add")
        3
        >>> portal.close()
    """

    def __init__(self, purpose: str) -> None:
        self._loop_thread = temporary_loop(purpose)
        self.loop = self._loop_thread.loop
        self.thread = self._loop_thread.thread
        # A forgotten portal (no close()) still stops when garbage collected.
        self._finalizer = weakref.finalize(self, _stop_loop_thread, self._loop_thread)

    @property
    def name(self) -> str:
        """The loop thread's name."""
        return self.thread.name

    def alive(self) -> bool:
        """True while the loop can still run callbacks."""
        return self._loop_thread.alive() and not self._loop_thread.stopping

    def _check(self) -> None:
        if threading.current_thread() is self.thread:
            raise BridgeDeadlockError(
                f"a blocking test-client call was made on its own loop thread ({self.name}).",
                "It would wait for itself forever. From async code use AsyncTestClient "
                "(or the async face of LifespanManager) instead.",
            )
        if not self.alive():
            raise LoopUnavailableError(
                f"the test client's event loop ({self.name}) is closed or its thread died.",
                "Was asgibridge.shutdown() or client.close() called while the client was "
                "in use? Create a new client.",
            )

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Run ``callback(*args)`` on the loop soon (thread-safe, does not wait)."""
        self._check()
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError as exc:  # closed between the check and the call
            raise LoopUnavailableError(
                f"the test client's event loop ({self.name}) is closed.", "Create a new client."
            ) from exc

    def run(self, coro: Coroutine[Any, Any, _T], *, timeout: float, what: str) -> _T:
        """Run ``coro`` on the loop and wait at most ``timeout`` seconds for its result.

        Raises:
            ApplicationTimeoutError: it did not finish in time (it is cancelled).
            LoopUnavailableError: the loop died while we waited.
            Exception: whatever the coroutine raised.
        """
        try:
            self._check()
        except BaseException:
            coro.close()
            raise
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                future.cancel()
                raise ApplicationTimeoutError(
                    f"{what} did not finish within {timeout} s (on loop thread {self.name}).",
                    "The application is stuck or slow: check what it awaits, or raise the "
                    "client's timeout.",
                )
            # wait() then result(): the coroutine's own TimeoutError must not be
            # mistaken for "not done yet" (result(timeout) raises the same class).
            concurrent.futures.wait([future], timeout=min(_SLICE, remaining))
            if future.done():
                return future.result()
            if not self.alive():
                future.cancel()
                self._check()

    def get(self, queue: SimpleQueue[_T], deadline: float) -> _T:
        """Take one item that the loop puts in ``queue``, waiting until ``deadline``.

        Args:
            queue: filled by callbacks on the loop thread.
            deadline: a `time.monotonic` value.

        Raises:
            Expired: nothing arrived before the deadline.
            LoopUnavailableError: the loop died while we waited.
        """
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                try:
                    return queue.get_nowait()
                except Empty:
                    raise Expired from None
            try:
                return queue.get(timeout=min(_SLICE, remaining))
            except Empty:
                if not self.alive():
                    try:  # the last items may have been put before it died
                        return queue.get_nowait()
                    except Empty:
                        self._check()

    def close(self) -> None:
        """Stop the loop (cancelling what still runs on it) and wait for its thread."""
        self._finalizer()
        if threading.current_thread() is not self.thread:
            self.thread.join(_JOIN)
