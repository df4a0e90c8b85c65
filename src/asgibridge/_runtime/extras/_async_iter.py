"""Iterating an async iterable from sync code: `async_iter_to_sync`.

`async_iter_to_sync` has no read-ahead: the async iterator only runs while the
consuming thread is blocked in ``async_to_sync`` (one call per item), because
that is when thread-sensitive ``sync_to_async`` work it does can come back to
the consuming thread. All calls must reach the same loop (an async generator
is bound to one); a change of loop raises instead of silently skipping items.
Each call is reported to the hop listeners as an async_to_sync call on the
async iterable, and is watched by async_to_sync's hang deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Callable, Generator
from typing import Any, Generic, TypeVar

from ..._errors import IteratorLoopChangedError
from .. import _state
from ..bridge._async_to_sync import AsyncToSync
from ..host._asyncio_private import get_running_loop
from ..observe._hooks import HopInfo
from ..observe._names import iterable_name
from ..threads._loops import LoopThread
from ._iterators import END as _END

__all__ = ("async_iter_to_sync",)

_T = TypeVar("_T")


class _StreamCall(AsyncToSync[[], Any]):
    """An `_AsyncConsumer` call, reported to the hop listeners as a call on the async iterable."""

    def __init__(
        self, step: Callable[[], Any], consumer: _AsyncConsumer[Any], *, last: bool = False
    ) -> None:
        super().__init__(step)
        self._consumer = consumer
        # Hazard (hang): an async generator may rely on helper tasks it started
        # (a producer feeding a queue); cancelling them at the end of each item's
        # call, as a plain call's end does, would starve the next item. Only the
        # closing call cleans up what the iterator left.
        self._cancel_leftovers = last

    def _hop_info(self, loop: asyncio.AbstractEventLoop) -> HopInfo:
        consumer = self._consumer
        if consumer._name is None:
            consumer._name = iterable_name(consumer._aiterable)  # before the generator ends
        return HopInfo(
            consumer._aiterable,
            "async_to_sync",
            loop,
            submitted_at=time.perf_counter(),
            label=consumer._name,
        )


class _AsyncConsumer(Generic[_T]):
    """Drives an async iterator, one async_to_sync call per item, on one loop."""

    def __init__(self, aiterable: AsyncIterable[_T]) -> None:
        self._aiterable = aiterable
        self._aiterator: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pinned: LoopThread | None = None
        self._name: str | None = None  # what hop listeners are told (first traced call)
        self._anext_sync = _StreamCall(self._anext, self)
        self._aclose = _StreamCall(self._close, self, last=True)

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
        if get_running_loop() is None:
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
