"""Streaming bridges: iterate a sync iterator from async code, and the reverse.

`sync_iter_to_async` turns a sync iterable into an async generator whose items
are produced on the thread ``sync_to_async`` would pick; `async_iter_to_sync`
turns an async iterable into a sync generator driven through ``async_to_sync``.

Theory of operation (`sync_iter_to_async`):

- The consumer's context is copied when the bridge is created. With
  thread_sensitive=True every batch is routed from that copy
  (``sensitive_target``), so the generator stays on one thread even when a
  different task (the async generator finalizer) drives ``aclose()``, and the
  generator sees the consumer's contextvars. With thread_sensitive=False each
  batch, and the final ``close()``, is one item of the bounded worker pool
  (``max_workers``), like a ``sync_to_async(thread_sensitive=False)`` call:
  many concurrent streams share the pool, and waiting for a free worker is
  back-pressure (the generator may move between pool threads, never runs
  on two at once).
- A batch is one `Hop` naming its task (the work item sync_to_async uses, so a nested
  async_to_sync inside the generator reaches the consumer's loop; it names
  the consumer's task, for check_cancelled and time_left). It calls
  ``next()`` until ``buffer`` items wait unconsumed, then *returns*: it never
  parks the thread, because a thread-sensitive thread (a blocked sync caller,
  the sync worker) must stay free for other work (deadlock hazard).
- Each item is appended to a deque under a lock; the loop is woken with one
  post to its doorbell only when the consumer is actually waiting, so a
  consumer slower than the producer pays no wake-up per item.
- The consumer starts a new batch when the deque falls to half of ``buffer``.
- ``aclose()`` or dropping the generator stops production after the item
  being produced, then runs ``close()`` on the generator's thread (its
  ``finally`` runs there). Cancelling the consumer returns at once: the item
  in flight is abandoned (counted) and ``close()`` is queued behind it without
  waiting, so the thread is free again when that item ends.
- Instrumentation: when ``_state.traced`` is set (checked once per batch),
  a batch and the final ``close()`` are traced hops submitted like a
  traced sync_to_async call (`submit_traced`): listeners see each start and
  end, the thread handlers wrap it on its thread, and with a hang deadline a
  `StreamWatchdog` times the consumer's waits for an item. The generator's
  error is diverted to the consumer after the handlers and listeners saw it.
  A batch the watchdog gave up on runs on; ``close()`` is queued behind it.

`async_iter_to_sync` lives in `_async_iter`.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import threading
import time
from collections.abc import (
    AsyncGenerator,
    Callable,
    Iterable,
    Iterator,
)
from typing import Any, Generic, TypeVar

from .. import _state
from ..bridge._deadlines import StreamWatchdog, Watchdog, submit_traced
from ..bridge._hop import Hop
from ..observe._hooks import HopInfo
from ..observe._names import iterable_name
from ..threads._doorbell import poster
from ..threads._routing import Target, sensitive_target
from ..threads._workers import get_pool

__all__ = ("END", "sync_iter_to_async")

_T = TypeVar("_T")
END = object()  # the iterator is exhausted (both bridges)
_END = END
_DEFAULT_BUFFER = 32


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _drop_outcome(future: asyncio.Future[Any]) -> None:
    # An abandoned batch, or its close(): the outcome is dropped, never logged.
    if not future.cancelled():
        future.exception()


class _SyncProducer(Generic[_T]):
    """Shared state between the consumer (loop thread) and the producing thread."""

    def __init__(self, iterable: Iterable[_T], thread_sensitive: bool, buffer: int) -> None:
        self._iterable = iterable
        self._iterator: Iterator[_T] | None = None
        self._thread_sensitive = thread_sensitive
        self._buffer = buffer
        self._low = buffer // 2
        self._ctx = contextvars.copy_context()
        self._lock = threading.Lock()
        self._items: collections.deque[_T] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._batch: Hop | None = None  # the batch running or last run
        self._running = False
        self._stopping = False
        self._done = False
        self._error: BaseException | None = None
        self._cancelled = False  # the consumer was cancelled while waiting for an item
        # A batch given up on closes the generator itself when it stops (set and
        # read under ``_lock`` with ``_running``: exactly one side closes it).
        self._close_after_batch = False
        self._in_batch = False  # a batch was submitted and has not left `_fill`
        self._name: str | None = None  # what hop listeners are told (first traced batch)

    # -- producing thread -------------------------------------------------------

    def _produce(self) -> None:
        """One batch (plain path): the generator's error goes to the consumer."""
        try:
            self._fill()
        except BaseException as exc:  # delivered to the consumer, never lost
            self._finish(exc)

    def _fill(self) -> None:
        """Fill the buffer, then return (in ``self._ctx``); raises what the iterator raises."""
        try:
            iterator = self._iterator
            if iterator is None:
                iterator = self._iterator = iter(self._iterable)
            while True:
                with self._lock:
                    if self._stopping or len(self._items) >= self._buffer:
                        self._running = False
                        break
                item = next(iterator)
                with self._lock:
                    self._items.append(item)
                    waiter, self._waiter = self._waiter, None
                if waiter is not None:
                    self._notify(waiter)
        except StopIteration:  # the normal end: not an error for the thread handlers
            self._finish(None)
        finally:
            with self._lock:
                self._in_batch = False
                close_now, self._close_after_batch = self._close_after_batch, False
        if close_now:  # the consumer gave up on this batch: close here, right after it
            self._close_abandoned()

    def _close_abandoned(self) -> None:
        """Close the generator after a batch the hang watchdog gave up on (queued behind it)."""
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()

    def _finish(self, error: BaseException | None) -> None:
        with self._lock:
            self._done = True
            self._running = False
            self._error = error
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._notify(waiter)

    def _notify(self, waiter: asyncio.Future[None]) -> None:
        try:
            poster(waiter.get_loop())(_wake, waiter)  # the loop's doorbell, if it has one
        except RuntimeError:  # the consumer's loop is closed: nobody waits any more
            pass

    # -- consumer (loop thread) -------------------------------------------------

    def _target(self, loop: asyncio.AbstractEventLoop) -> Target:
        if self._thread_sensitive:
            # Routed in a copy: a batch the hang watchdog gave up on may still
            # be running inside ``self._ctx`` (a context is entered once at a time).
            return self._ctx.copy().run(sensitive_target, loop)
        return get_pool()

    def _submit(self, close: Callable[[], Any] | None = None) -> Hop:
        """Queue a production batch (or ``close``, to close the generator) on its thread."""
        loop = self._loop
        assert loop is not None
        if _state.traced:  # the one check the plain path pays for instrumentation
            return self._submit_traced(loop, close)
        # The consumer's task: what check_cancelled/time_left in the generator ask about.
        func = self._produce if close is None else close
        hop = Hop(loop, self._ctx, func, (), {}, None, task=asyncio.current_task(loop))
        self._target(loop)._put(hop)
        return hop

    def _submit_traced(
        self, loop: asyncio.AbstractEventLoop, close: Callable[[], Any] | None
    ) -> Hop:
        """`_submit` as one traced sync_to_async call (listeners, handlers, deadline)."""
        if self._name is None:
            self._name = iterable_name(self._iterable)  # before the generator ends
        info = HopInfo(
            self._iterable,
            "sync_to_async",
            loop,
            submitted_at=time.perf_counter(),
            label=self._name,
        )
        task = asyncio.current_task(loop)
        watch: Callable[..., Watchdog] = Watchdog
        if close is None:  # a batch: the generator's error goes to the consumer
            hop = Hop(loop, self._ctx, self._fill, (), {}, None, info, task, self._finish)
            watch = functools.partial(StreamWatchdog, waiting=self._waiting, fail=self._finish)
        else:
            hop = Hop(loop, self._ctx, close, (), {}, None, info, task)
        watchdog = submit_traced(hop, self._target(loop), watch)
        if watchdog is not None:
            hop.future.add_done_callback(watchdog.cancel)
        return hop

    def _waiting(self) -> object:
        """What the loop side waits on now (for the hang watchdog): an item, or the batch."""
        waiter = self._waiter
        if waiter is not None:
            return waiter
        return self._batch if self._stopping else None

    async def next(self) -> Any:
        """The next item, or `_END`; raises what the generator raised."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._items:
                    item: Any = self._items.popleft()
                    waiter = None
                elif self._done:
                    if self._error is not None:
                        error, self._error = self._error, None
                        raise error
                    return _END
                else:
                    item = _END
                    waiter = self._waiter = self._loop.create_future()
                start = not (self._running or self._done or self._stopping) and (
                    len(self._items) <= self._low
                )
                if start:
                    self._running = True
                    self._in_batch = True
            if start:
                try:
                    self._batch = self._submit()
                except BaseException:
                    # No thread to produce on (its executor is gone): nothing runs.
                    with self._lock:
                        self._running = False
                        self._in_batch = False
                        self._waiter = None
                    raise
            if waiter is None:
                return item
            try:
                await waiter
            except asyncio.CancelledError:
                with self._lock:
                    self._waiter = None
                    self._stopping = True
                    self._cancelled = True
                raise

    async def aclose(self) -> None:
        """Stop production and close the generator on its own thread."""
        with self._lock:
            self._stopping = True
            started = self._iterator is not None or self._running
        batch = self._batch
        if batch is not None and not batch.finished and self._cancelled:
            # Hazard (latency): the consumer was cancelled; waiting for the item
            # in flight would delay its cancellation by the item's whole run.
            batch.give_up()
            self._close_behind(batch)
            return
        if batch is not None and batch.cancelled:  # the hang watchdog gave up on it
            self._close_behind(batch)
            return
        if batch is not None and not batch.future.done():
            # The batch stops after the item being produced; the generator
            # cannot be closed while another thread is inside it. Once it has
            # delivered, its handlers have exited and its listeners saw its end.
            try:
                await batch.future
            except BaseException:
                if batch.cancelled:  # given up while aclose() waited for it
                    self._close_behind(batch)
                raise
        close = getattr(self._iterator, "close", None)
        if not started or self._done or close is None:
            return
        await self._submit(close).future

    def _close_behind(self, batch: Hop) -> None:
        """Close the generator after a batch that was given up on, without waiting for it.

        A batch still running closes the generator itself, on its thread, when it
        stops after the item in flight; otherwise ``close()`` is submitted now.
        Either way the generator is never entered by two threads at once.
        """
        batch.future.add_done_callback(_drop_outcome)  # the consumer got the report
        with self._lock:
            if batch.state == "cancelled":  # it will never run: not running any more
                self._running = self._in_batch = False
            elif self._in_batch:
                self._close_after_batch = True  # the batch closes it when it stops
                return
        self._submit_close_quietly()

    def _submit_close_quietly(self) -> None:
        if self._iterator is None:
            return
        try:
            hop = self._submit(self._close_abandoned)
        except Exception:  # no thread left to close it on: the garbage collector will
            return
        hop.future.add_done_callback(_drop_outcome)


async def _drive(producer: _SyncProducer[_T]) -> AsyncGenerator[_T, None]:
    try:
        while True:
            item = await producer.next()
            if item is _END:
                return
            yield item
    finally:
        await producer.aclose()


def sync_iter_to_async(
    iterable: Iterable[_T], *, thread_sensitive: bool = True, buffer: int = _DEFAULT_BUFFER
) -> AsyncGenerator[_T, None]:
    """Iterate a sync iterable from async code, produced on the right thread.

    Items are produced on the thread ``sync_to_async(thread_sensitive=...)``
    would pick for the caller (chosen from the caller's context at creation),
    at most ``buffer`` items ahead of the consumer: a slow consumer stops the
    producer. ``aclose()``, an early ``break`` (when the generator is closed or
    dropped) or cancelling the consumer closes the sync generator on its own
    thread, so its ``finally`` runs there. The generator sees the caller's
    contextvars (a copy taken now).

    Args:
        iterable: a sync iterable; ``iter()`` is called on the producing thread.
        thread_sensitive: as for ``sync_to_async``.
        buffer: how many items may be produced ahead of the consumer (>= 1).

    Returns:
        An async generator of the items.

    Raises:
        ValueError: ``buffer`` is below 1.
        Exception: whatever the sync iterator raises, at the matching item.

    Example:
        >>> import asyncio, contextlib
        >>> async def main() -> list[int]:
        ...     agen = sync_iter_to_async(range(3))
        ...     async with contextlib.aclosing(agen):
        ...         return [i async for i in agen]
        >>> asyncio.run(main())
        [0, 1, 2]
    """
    if buffer < 1:
        raise ValueError(f"buffer must be at least 1, not {buffer!r}")
    return _drive(_SyncProducer(iterable, thread_sensitive, buffer))
