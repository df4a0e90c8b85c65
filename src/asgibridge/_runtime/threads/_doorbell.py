"""A loop's doorbell: how runtime threads hand a callback to an event loop in one switch.

Why not ``loop.call_soon_threadsafe``: uvloop's wakes its loop (``uv_async_send``)
while the calling thread still holds the GIL. Pinned to one CPU, the loop
thread wakes at once, finds the GIL taken, sleeps on it, and is woken again
when the worker lets it go: a sync_to_async hop cost 5 to 6 context switches
on uvloop against 2 on asyncio's loop, whose self-pipe ``send()`` releases the
GIL (issue 18 §1). asyncio's own wake-up also makes a system call for every
callback, even when the loop is already awake and about to look.

Theory of operation: a `Doorbell` is a deque of ``(callback, args)`` and one
descriptor (an eventfd on Linux, else a non-blocking socket pair) that the
loop watches with ``add_reader``. `post` appends, then rings (writes to the
descriptor, GIL released for the system call) only if the bell is not
already armed; the loop's reader callback (`_ring`) drains the descriptor,
disarms, and runs the callbacks queued so far, in order. So the worker wakes
the loop without holding the GIL (one switch), and a burst of posts while
the loop is busy costs one system call, not one each.

Hazard (lost wake-up): the writer appends *then* reads ``_armed``; the loop
clears ``_armed`` *then* drains. Whichever way they interleave, either the
loop's drain sees the item or the writer sees the bell disarmed and rings.
Two writers may both ring: a spurious ring only runs an empty drain.

Rules:

- A bell is made on its loop's own thread (``add_reader`` is not
  thread-safe), by `poster_for` at a hop's creation; other threads only look
  it up (`poster`) and fall back to ``call_soon_threadsafe`` when there is
  none. Loops without ``add_reader`` (Windows' proactor, exotic loops) get
  ``call_soon_threadsafe`` for good (remembered as such, tried once).
- `post` raises RuntimeError on a closed loop, as ``call_soon_threadsafe``
  does, so callers keep one error path.
- Callbacks run in an empty context (the reader is registered inside one),
  never in whichever request's context first made the bell.
- A callback's exception goes to the loop's exception handler, as a Handle's
  does; KeyboardInterrupt and SystemExit propagate (after re-ringing, so the
  callbacks still queued are not stranded).
- The descriptor is closed only when the bell is freed (never while a
  thread could still be inside `post`: see `forget_loop`), which happens with
  its loop and the last hop that holds its ``post`` (the loop's reader
  registration holds the bell; `_state.loop_bells` holds it by the loop's
  id with a weak reference to the loop). After a fork the registry is
  cleared: a child never rings its parent's loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from .. import _state
from ._inbox import Channel

__all__ = ("Doorbell", "forget_loop", "poster", "poster_for", "refuse")

Post = Callable[..., object]


class Doorbell(Channel):
    """One loop's deque of callbacks from other threads and the descriptor that wakes it."""

    __slots__ = ("__weakref__", "_armed", "_items", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        self._items: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        self._armed = False
        super().__init__(nonblocking=True)
        try:
            # Registered in an empty context: callbacks never run in the context
            # of whichever request happened to make the bell.
            contextvars.Context().run(loop.add_reader, self.fileno(), self._ring)
        except BaseException:
            self.close()
            raise

    # -- any thread ---------------------------------------------------------------

    def post(self, callback: Callable[..., object], *args: Any) -> None:
        """Run ``callback(*args)`` on the loop soon; RuntimeError if the loop is closed."""
        loop = self._loop()
        if loop is None or loop.is_closed():
            raise RuntimeError("Event loop is closed")
        self._items.append((callback, args))
        if not self._armed:
            self._armed = True
            self._wake()

    def _wake(self) -> None:
        self._write()

    # -- the loop's thread ----------------------------------------------------------

    def _ring(self) -> None:
        self._drain()
        self._armed = False
        items = self._items
        # Only what is queued now: posts made meanwhile ring again, so a thread
        # that keeps posting cannot keep the loop from its other work.
        for _ in range(len(items)):
            callback, args = items.popleft()
            try:
                callback(*args)
            except (KeyboardInterrupt, SystemExit):
                if items:  # the rest must not wait for a ring that may never come
                    self._armed = True
                    self._wake()
                raise
            except BaseException as exc:
                loop = self._loop()
                if loop is not None:
                    loop.call_exception_handler(
                        {
                            "message": f"Exception in callback {callback!r} (asgibridge)",
                            "exception": exc,
                        }
                    )


def _forget(key: int) -> Callable[[Any], None]:
    def forget(_ref: Any) -> None:
        _state.loop_bells.pop(key, None)

    return forget


def poster_for(loop: asyncio.AbstractEventLoop, *, owner: bool = False) -> Post:
    """How to post to ``loop`` from other threads; on ``loop``'s thread, makes its bell.

    ``owner``: the caller owns a loop that is not running yet (a `LoopThread`
    before its thread starts), so the bell may be made from this thread.
    Off the loop's thread (or for a loop without ``add_reader``) this is
    ``loop.call_soon_threadsafe``.
    """
    # Every hop asks (`Hop.__init__`): the registry read is inlined here, not a
    # call of `_registered`.
    entry: tuple[Any, Post] | None = _state.loop_bells.get(id(loop))
    if entry is not None and entry[0]() is loop:
        return entry[1]
    if not owner:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            return loop.call_soon_threadsafe
    post: Post
    try:
        post = Doorbell(loop).post
    except (NotImplementedError, OSError, AttributeError, RuntimeError, ValueError):
        # No add_reader here (proactor), no descriptor left, or a loop that
        # refuses this descriptor: the stdlib's way, for good.
        post = loop.call_soon_threadsafe
    key = id(loop)
    _state.loop_bells[key] = (weakref.ref(loop, _forget(key)), post)
    return post


def forget_loop(loop: asyncio.AbstractEventLoop) -> None:
    """``loop`` was closed by its owner: drop its registry entry.

    The bell itself is freed (and its descriptor closed) with the last holder
    of its ``post``. Hazard (descriptor reuse): closing it here could let a
    thread that is inside `post` at this moment write into a descriptor
    number the process has already reused for something else.
    """
    if _registered(loop) is not None:
        del _state.loop_bells[id(loop)]


def refuse(callback: Callable[..., object], *args: Any) -> None:
    """The post function of a loop that is gone: fails as ``call_soon_threadsafe`` would."""
    raise RuntimeError("Event loop is closed")


def poster(loop: asyncio.AbstractEventLoop) -> Post:
    """How to post to ``loop`` from any thread: its bell if it has one, else the stdlib's."""
    return _registered(loop) or loop.call_soon_threadsafe


def _registered(loop: asyncio.AbstractEventLoop) -> Post | None:
    """``loop``'s entry in the registry (None: none, or a dead loop's that had its id)."""
    entry: tuple[Any, Post] | None = _state.loop_bells.get(id(loop))
    if entry is not None and entry[0]() is loop:
        return entry[1]
    return None
