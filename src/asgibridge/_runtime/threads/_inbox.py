"""A runtime thread's inbox: a FIFO whose wake-up costs one context switch, not three.

Why not `queue.SimpleQueue`: its sleeping reader waits on a lock, and the
writer releases that lock while it holds the GIL. The woken reader runs at
once (the scheduler favours a thread that slept), finds the GIL taken, sleeps
again on the GIL, and is woken a second time when the writer lets the GIL go:
measured pinned to one CPU, a loop-to-worker-and-back hop cost 5 to 7 context
switches with it on asyncio and uvloop alike (issue 18 §1).

Theory of operation: items go into a `collections.deque`; a reader that finds
it empty says so (``_sleeping``) and blocks reading its `Waker` (an eventfd on
Linux, else a socket pair); a writer that sees the flag writes to it. CPython
releases the GIL for the whole system call, so the reader wakes into a free
GIL and runs straight away: one switch each way. A writer that finds the reader awake
(the common case under load) makes no system call at all.

A worker thread owns its waker. A thread blocked in ``async_to_sync`` gets a
new `CurrentThreadExecutor` (and inbox) per call, so those share the thread's
one waker (`thread_waker`): only the innermost executor of a thread waits at
any time, and a stray byte only makes a wait return early.

Hazard (lost wake-up): the reader sets the flag *then* looks at the deque
again before it blocks, and the writer appends *then* reads the flag; whichever
order the two interleave in, either the reader sees the item or the writer
sees the flag. Spurious bytes (a wake-up for an item the reader already took)
only make a later wait return early, and the reader looks again.

Rules: `put` never blocks (an eventfd's counter cannot fill up; a socket
pair's write end is non-blocking, and a full buffer means a wake-up is already
pending). Where no descriptor can be made (descriptor limit), a waker falls
back to a `queue.SimpleQueue` of tokens: slower to wake, same behaviour. A
thread's waker made before a fork is not used after it (the child would share
the descriptors with the parent).
"""

from __future__ import annotations

import math
import os
import select
import socket
from collections import deque
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Generic, TypeVar

from .. import _state

__all__ = ("Channel", "Empty", "Inbox", "Waker", "thread_waker")

_WAKE = b"\0"
_DRAIN = 4096  # bytes read per drain of a socket pair (any count will do)
_HAS_EVENTFD = hasattr(os, "eventfd") and hasattr(select, "poll")
_T = TypeVar("_T")


class Channel:
    """An eventfd (Linux) or a socket pair: what a `Waker` and a loop's doorbell wake through.

    On Linux one eventfd (its read and write system calls cost about two thirds
    of a socket pair's, measured pinned); elsewhere a socket pair whose write
    end never blocks (a full buffer means a wake-up is already pending).
    ``nonblocking``: reads never block either (a loop drains it when told it
    is readable).

    Raises:
        OSError: no descriptor could be made (the caller falls back).
    """

    __slots__ = ("_fd", "_reader", "_writer")

    def __init__(self, *, nonblocking: bool = False) -> None:
        self._fd = -1
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None
        if _HAS_EVENTFD:
            flags = os.EFD_CLOEXEC | (os.EFD_NONBLOCK if nonblocking else 0)
            self._fd = os.eventfd(0, flags)
        else:
            self._reader, self._writer = socket.socketpair()
            self._writer.setblocking(False)
            if nonblocking:
                self._reader.setblocking(False)

    def fileno(self) -> int:
        """The descriptor that becomes readable when woken."""
        return self._fd if self._reader is None else self._reader.fileno()

    def _write(self) -> bool:
        """Wake the reader (never blocks); False if there is no channel (closed)."""
        fd = self._fd
        try:
            if fd >= 0:
                os.eventfd_write(fd, 1)  # never blocks: the counter cannot fill up
                return True
            writer = self._writer
            if writer is None:
                return False
            writer.send(_WAKE)
        except OSError:  # a full buffer (a wake-up is pending), or closed meanwhile
            pass
        return True

    def _drain(self) -> None:
        """Take every pending wake-up at once (a non-blocking channel: never blocks)."""
        try:
            if self._fd >= 0:
                os.eventfd_read(self._fd)
            elif self._reader is not None:
                self._reader.recv(_DRAIN)
        except OSError:  # nothing to read (a spurious readiness report), or closed
            pass

    def close(self, _close_fd: Callable[[int], None] = os.close) -> None:
        """Free the descriptors."""
        # ``_close_fd`` is bound at definition: a channel freed at interpreter
        # exit may find the ``os`` module's globals already cleared.
        fd, self._fd = self._fd, -1
        if fd >= 0:
            _close_fd(fd)
        for sock in (self._reader, self._writer):
            if sock is not None:
                sock.close()

    # A thread's shared waker lives in its thread-local state and goes with the
    # thread, a doorbell with its loop: close quietly then, not through
    # socket's ResourceWarning.
    __del__ = close


class Waker(Channel):
    """One thread's wake-up channel: `wait` blocks in a system call that `wake` ends.

    A timed wait polls the descriptor first (as a socket's timeout does inside
    CPython). Without descriptors it wakes through a queue of tokens.
    """

    __slots__ = ("_poll", "_timeout", "_tokens", "generation")

    def __init__(self) -> None:
        self.generation = _state.generation
        self._timeout: float | None = None  # the reader socket's current timeout
        self._tokens: SimpleQueue[None] | None = None
        self._poll: select.poll | None = None
        try:
            super().__init__()
        except OSError:  # out of descriptors (Channel left none open): wake through a lock
            self._tokens = SimpleQueue()

    def wake(self) -> None:
        """End a `wait` (now or the next one); never blocks."""
        if not self._write():
            tokens = self._tokens
            if tokens is not None:  # else closed: nobody waits any more
                tokens.put(None)

    def wait(self, timeout: float | None) -> bool:
        """Block until woken (True) or ``timeout`` seconds passed (False)."""
        fd = self._fd
        if fd >= 0:
            return self._wait_eventfd(fd, timeout)
        reader = self._reader
        if reader is None:
            tokens = self._tokens
            if tokens is None:  # closed
                return False
            try:
                tokens.get(timeout=timeout)
            except Empty:
                return False
            return True
        if timeout != self._timeout:  # settimeout is a system call: only on change
            reader.settimeout(timeout)
            self._timeout = timeout
        try:
            reader.recv(64)  # drain every pending wake-up byte at once
        except OSError:  # timed out (TimeoutError), or closed under us
            return False
        return True

    def _wait_eventfd(self, fd: int, timeout: float | None) -> bool:
        try:
            if timeout is not None:
                poll = self._poll
                if poll is None:
                    poll = self._poll = select.poll()
                    poll.register(fd, select.POLLIN)
                if not poll.poll(max(0, math.ceil(timeout * 1000))):
                    return False
            os.eventfd_read(fd)  # takes every pending wake-up at once
        except OSError:  # closed under us
            return False
        return True


def thread_waker() -> Waker:
    """This thread's shared waker (made on first use, and again after a fork)."""
    waker: Waker | None = _state.tls.waker
    if waker is None or waker.generation != _state.generation:
        waker = _state.tls.waker = Waker()
    return waker


class Inbox(Generic[_T]):
    """A multi-writer, single-reader FIFO with a cheap wake-up (see the module docs)."""

    __slots__ = ("_items", "_owned", "_sleeping", "_waker")

    def __init__(self, waker: Waker | None = None) -> None:
        self._items: deque[_T] = deque()
        self._sleeping = False
        self._owned = waker is None
        self._waker = Waker() if waker is None else waker

    def put(self, item: _T) -> None:
        """Append ``item``; wake the reader if it sleeps (never blocks)."""
        self._items.append(item)
        if self._sleeping:
            self._waker.wake()

    def get(self, timeout: float | None = None) -> _T:
        """The next item; waits at most ``timeout`` seconds (None: forever), then `Empty`."""
        items = self._items
        while True:
            try:
                return items.popleft()
            except IndexError:
                pass
            self._sleeping = True
            if items:  # appended before the flag was up: the writer did not wake us
                self._sleeping = False
                continue
            woken = self._waker.wait(timeout)
            self._sleeping = False
            if not woken:
                try:
                    return items.popleft()
                except IndexError:
                    raise Empty from None

    def get_nowait(self) -> _T:
        """The next item, or `Empty` at once."""
        try:
            return self._items.popleft()
        except IndexError:
            raise Empty from None

    def empty(self) -> bool:
        """True if nothing is queued (a snapshot)."""
        return not self._items

    def close(self) -> None:
        """Free an owned waker's descriptors (the reader has left; later puts only queue)."""
        if self._owned:
            self._waker.close()
