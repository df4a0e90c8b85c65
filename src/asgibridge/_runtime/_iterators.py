"""Streaming bridges: iterate a sync iterator from async code, and the reverse.

`sync_iter_to_async` turns a sync iterable into an async generator whose items
are produced on the thread ``sync_to_async`` would pick; `async_iter_to_sync`
turns an async iterable into a sync generator driven through ``async_to_sync``.

Theory of operation (`sync_iter_to_async`):

- The consumer's context is copied when the bridge is created. With
  thread_sensitive=True every batch is routed from that copy
  (``sensitive_target``), so the generator stays on one thread even when a
  different task (the async generator finalizer) drives ``aclose()``, and the
  generator sees the consumer's contextvars. With thread_sensitive=False one
  pool thread is leased for the generator's life (a generator runs one step at
  a time anyway) and handed back, by a marker queued behind the final
  ``close()``, when the bridge closes: its ``finally`` runs where it ran.
- A batch is one `TaskHop` (the work item sync_to_async uses, so a nested
  async_to_sync inside the generator reaches the consumer's loop; it names
  the consumer's task, for check_cancelled and time_left). It calls
  ``next()`` until ``buffer`` items wait unconsumed, then *returns*: it never
  parks the thread, because a thread-sensitive thread (a blocked sync caller,
  the sync worker) must stay free for other work (deadlock hazard).
- Each item is appended to a deque under a lock; the loop is woken with one
  ``call_soon_threadsafe`` only when the consumer is actually waiting, so a
  consumer slower than the producer pays no wake-up per item.
- The consumer starts a new batch when the deque falls to half of ``buffer``.
- Cancelling the consumer, ``aclose()`` or dropping the generator stops
  production after the item being produced, then runs ``close()`` on the
  generator's thread (its ``finally`` runs there).

`async_iter_to_sync` has no read-ahead: the async iterator only runs while the
consuming thread is blocked in ``async_to_sync`` (one call per item), because
that is when thread-sensitive ``sync_to_async`` work it does can come back to
the consuming thread. All calls must reach the same loop (an async generator
is bound to one); a change of loop raises instead of silently skipping items.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import threading
from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable, Iterator
from typing import Any, Generic, TypeVar

from .._errors import IteratorLoopChangedError
from . import _state
from ._async_to_sync import AsyncToSync
from ._hop import Hop, TaskHop
from ._loops import LoopThread
from ._routing import Target, sensitive_target
from ._workers import StickyPool, Worker, get_sticky_pool

__all__ = ("async_iter_to_sync", "sync_iter_to_async")

_T = TypeVar("_T")
_END = object()  # the sync iterator is exhausted
_DEFAULT_BUFFER = 32


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


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
        # thread_sensitive=False: one pool thread leased for the generator's life,
        # so every batch and the final close() run on the same thread.
        self._leased: Worker | None = None

    # -- producing thread -------------------------------------------------------

    def _produce(self) -> None:
        """One batch: fill the buffer, then return (runs in ``self._ctx``)."""
        try:
            iterator = self._iterator
            if iterator is None:
                iterator = self._iterator = iter(self._iterable)
            while True:
                with self._lock:
                    if self._stopping or len(self._items) >= self._buffer:
                        self._running = False
                        return
                item = next(iterator)
                with self._lock:
                    self._items.append(item)
                    waiter, self._waiter = self._waiter, None
                if waiter is not None:
                    self._notify(waiter)
        except StopIteration:
            self._finish(None)
        except BaseException as exc:  # delivered to the consumer, never lost
            self._finish(exc)

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
            waiter.get_loop().call_soon_threadsafe(_wake, waiter)
        except RuntimeError:  # the consumer's loop is closed: nobody waits any more
            pass

    # -- consumer (loop thread) -------------------------------------------------

    def _submit(self, func: Any) -> Hop:
        loop = self._loop
        assert loop is not None
        # The consumer's task: what check_cancelled/time_left in the generator ask about.
        hop = TaskHop(loop, self._ctx, func, asyncio.current_task(loop))
        target: Target
        if self._thread_sensitive:
            target = self._ctx.run(sensitive_target, loop)
        else:
            if self._leased is None:
                self._leased = get_sticky_pool().lease()
            target = self._leased
        target._put(hop)
        return hop

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
            if start:
                try:
                    self._batch = self._submit(self._produce)
                except BaseException:
                    # No thread to produce on (its executor is gone): nothing runs.
                    with self._lock:
                        self._running = False
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
                raise

    async def aclose(self) -> None:
        """Stop production and close the generator on its own thread."""
        try:
            await self._close_generator()
        finally:
            leased, self._leased = self._leased, None
            if leased is not None:
                # Queued behind the close() hop: the thread is handed back after it.
                StickyPool.release(leased)

    async def _close_generator(self) -> None:
        with self._lock:
            self._stopping = True
            running = self._running
            started = self._iterator is not None or running
        batch = self._batch
        if running and batch is not None:
            # The batch stops after the item being produced; the generator
            # cannot be closed while another thread is inside it.
            await batch.future
        close = getattr(self._iterator, "close", None)
        if not started or self._done or close is None:
            return
        await self._submit(close).future


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


class _AsyncConsumer(Generic[_T]):
    """Drives an async iterator, one async_to_sync call per item, on one loop."""

    def __init__(self, aiterable: AsyncIterable[_T]) -> None:
        self._aiterable = aiterable
        self._aiterator: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pinned: LoopThread | None = None
        self._anext_sync = AsyncToSync(self._anext)
        self._aclose = AsyncToSync(self._close)

    def next(self) -> Any:
        """The next item or `_END` (one async_to_sync call)."""
        item = self._anext_sync()
        if self._pinned is None:
            # Hazard (silent truncation): this thread's persistent loop stops
            # after idling, finalizing the async generator bound to it; keep
            # it up until the iterator is closed.
            owner: Any = _state.tls.loop_owner
            if owner is not None and owner.loop_thread.loop is self._loop:
                self._pinned = owner.loop_thread
                owner.loop_thread.pin()
        return item

    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise IteratorLoopChangedError(
                "async_iter_to_sync: the async iterator is bound to another event loop",
                f"(it started on {self._loop!r}, this call reached {loop!r}: the first loop "
                "stopped after idling, or the iterator moved to another thread). Consume "
                "it from one thread without long pauses, or inside "
                "`with AsyncSingleThreadContext():`.",
            )

    async def _anext(self) -> Any:
        self._check_loop()
        if self._aiterator is None:
            self._aiterator = self._aiterable.__aiter__()
        try:
            return await self._aiterator.__anext__()
        except StopAsyncIteration:
            return _END

    async def _close(self) -> None:
        self._check_loop()
        aclose = getattr(self._aiterator, "aclose", None)
        if aclose is not None:
            await aclose()

    def close(self) -> None:
        """Run the async iterator's ``aclose()`` on its loop (if it was started)."""
        pinned, self._pinned = self._pinned, None
        try:
            self._close_on_loop()
        finally:
            if pinned is not None:
                pinned.unpin()

    def _close_on_loop(self) -> None:
        if self._aiterator is None:
            return
        if asyncio._get_running_loop() is None:
            try:
                self._aclose()
                return
            except IteratorLoopChangedError:
                pass  # closed from another thread: schedule it on the right loop
        # Hazard (deadlock): closed from a thread running a loop (garbage
        # collection there); blocking would stop that loop. Schedule instead.
        loop = self._loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close(), loop)


def _pull(consumer: _AsyncConsumer[_T]) -> Generator[_T, None, None]:
    try:
        while True:
            item = consumer.next()
            if item is _END:
                return
            yield item
    finally:
        consumer.close()


def async_iter_to_sync(aiterable: AsyncIterable[_T]) -> Generator[_T, None, None]:
    """Iterate an async iterable from sync code, through ``async_to_sync``.

    Each item is one ``async_to_sync`` call on the loop ``async_to_sync``
    picks for this thread, so thread-sensitive ``sync_to_async`` work done by
    the async iterator runs on the consuming thread, and every wait is bounded
    by async_to_sync's liveness checks. ``close()`` (or dropping the generator,
    or an early ``break`` once it is closed) runs the async iterator's
    ``aclose()`` on its loop. Must not be called from a thread running a loop.

    Args:
        aiterable: an async iterable (``__aiter__`` is called on the loop).

    Returns:
        A sync generator of the items.

    Raises:
        IteratorLoopChangedError: a later item would run on another loop than
            the first (the iterator would be driven on a loop it is not bound to).
        Exception: whatever the async iterator raises, at the matching item.

    Example:
        >>> async def numbers():
        ...     for i in range(3):
        ...         yield i
        >>> list(async_iter_to_sync(numbers()))
        [0, 1, 2]
    """
    return _pull(_AsyncConsumer(aiterable))
