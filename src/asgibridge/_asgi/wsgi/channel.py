"""The two-way channel between one WsgiToAsgi request's task (loop) and its WSGI thread.

Thread -> loop: response messages, with back-pressure. The thread `push`es
messages; the request task `take`s them, awaits the server's ``send`` for
each, then gives the bytes and the message count back (`credit`). The thread
blocks in `push` while more than ``send_buffer`` bytes, or more than
`MAX_MESSAGES` messages, are pushed and not yet sent: a slow client slows the
app instead of growing memory. (Hazard: counting bytes alone, an app that
yields empty or tiny chunks queues messages without bound, some 200 bytes
each.)

Loop -> thread: request body chunks, read ahead a bounded amount. The request
task `feed`s chunks it received; the thread `pull`s them (``wsgi.input``).
The feeding side waits (`wait_room`) while more than ``receive_buffer``
bytes are unread.

Theory of operation: all shared fields change under one lock; the thread
sleeps on a `threading.Condition` over it, the task on an asyncio future.
Waking the task costs a ``call_soon_threadsafe``, so the thread schedules one
only when none is pending (``wake_pending``, reset by `take` under the lock):
a burst of pushes costs one wake-up, and no push can be missed, because
`take` and the decision to schedule a wake happen under the same lock.

Failure: `fail` records why the request cannot go on (the client left, the
task was cancelled); the thread's next `push` or blocked `pull` raises it.
Every thread-side wait wakes each ``health_interval`` to check that the loop
is still open (hazard: a closed loop never answers; waiting on it would hang).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any, Protocol

from ..._errors import LoopUnavailableError
from ..._runtime import health_interval

__all__ = ("MAX_MESSAGES", "PARK_AFTER", "Channel", "Slots")

# Seconds a thread waits for request body data before its slot is lent out.
PARK_AFTER = 0.05


class Slots(Protocol):
    """The thread slots of the adapter (`admission.Admission`), as the channel sees them."""

    def park(self) -> bool:
        """Lend this request's slot while it waits for the client; False if it may not."""

    def unpark(self) -> None:
        """Take a slot back (data came)."""


# Messages pushed and not yet sent before the thread waits (a2wsgi's queue holds 10).
MAX_MESSAGES = 64


class Channel:
    """Shared state of one request: outgoing messages and incoming body chunks."""

    __slots__ = (
        "_batch_bytes",
        "_body_done",
        "_cond",
        "_error",
        "_in_bytes",
        "_inbox",
        "_input_error",
        "_lock",
        "_out",
        "_out_bytes",
        "_out_count",
        "_reader_waiter",
        "_reader_waits",
        "_thread_waits",
        "_waiter",
        "_wake_pending",
        "loop",
        "receive_buffer",
        "send_buffer",
        "slots",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        send_buffer: int,
        receive_buffer: int,
        slots: Slots | None = None,
    ) -> None:
        self.slots = slots  # the adapter's admission, for parking (see `pull`)
        self.loop = loop
        self.send_buffer = send_buffer
        self.receive_buffer = receive_buffer
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._out: list[dict[str, Any]] = []
        self._out_bytes = 0  # pushed and not yet sent
        self._out_count = 0  # messages pushed and not yet sent
        self._batch_bytes = 0  # pushed since the last take
        self._wake_pending = False
        self._thread_waits = False
        self._inbox: deque[bytes] = deque()
        self._in_bytes = 0
        self._body_done = False
        self._reader_waits = False
        self._error: BaseException | None = None
        self._input_error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._reader_waiter: asyncio.Future[None] | None = None

    # -- set-up, before the thread starts (no lock needed yet) ------------------

    def preload(self, chunk: bytes, more: bool) -> None:
        """Store the body's first chunk (received before the app started)."""
        if chunk:
            self._inbox.append(chunk)
            self._in_bytes = len(chunk)
        self._body_done = not more

    # -- thread side ------------------------------------------------------------

    def push(self, messages: list[dict[str, Any]], nbytes: int) -> None:
        """Queue messages for the server; block while the send buffer is full.

        Raises:
            ClientDisconnected (or what `fail` recorded): the request cannot go on.
            LoopUnavailableError: the loop serving the request closed.
        """
        with self._lock:
            if self._error is not None:
                raise _fresh(self._error)
            self._out.extend(messages)
            self._out_bytes += nbytes
            self._out_count += len(messages)
            self._batch_bytes += nbytes
            wake = not self._wake_pending
            self._wake_pending = True
            full = self._out_bytes > self.send_buffer or self._out_count > MAX_MESSAGES
        if wake:
            self._call_soon(self._wake)
        if full:
            self._wait_for_credit()

    def _wait_for_credit(self) -> None:
        with self._lock:
            while (
                self._out_bytes > self.send_buffer or self._out_count > MAX_MESSAGES
            ) and self._error is None:
                self._thread_waits = True
                try:
                    self._cond.wait(health_interval())
                finally:
                    self._thread_waits = False
                self._check_loop()
            if self._error is not None:
                raise _fresh(self._error)

    def pull(self) -> bytes:
        """The next chunk of the request body (blocking), or b"" at its end.

        Raises:
            RequestBodyTooLargeError: the body passed ``max_body_size``.
            ClientDisconnected: the client left before the body was complete.
        """
        with self._lock:
            if not self._inbox and not self._wait_for_body():
                return b""
            chunk = self._inbox.popleft()
            self._in_bytes -= len(chunk)
            wake = self._reader_waits and self._in_bytes <= self.receive_buffer // 2
            if wake:
                self._reader_waits = False
        if wake:
            self._call_soon(self._wake_reader)
        return chunk

    def _wait_for_body(self) -> bool:
        """Wait (lock held) until a chunk is in the inbox (True) or the body ended (False).

        A wait longer than `PARK_AFTER` *parks* the request (``slots.park``):
        its thread slot goes to the next queued request while the client is
        silent, and is taken back when data comes (hazard: clients that
        stall past ``receive_buffer`` would otherwise hold every slot until
        ``body_timeout``).
        """
        interval = health_interval()
        slots = self.slots
        since = time.monotonic() if slots is not None else 0.0
        parked = False
        try:
            while not self._inbox:
                if self._input_error is not None:
                    raise _fresh(self._input_error)
                if self._body_done:
                    return False
                if self._error is not None:
                    raise _fresh(self._error)
                timeout = interval
                if slots is not None and not parked:
                    left = since + PARK_AFTER - time.monotonic()
                    if left <= 0:
                        parked = slots.park()
                        since = float("inf")  # tried once: do not try again
                    else:
                        timeout = min(interval, left)
                self._thread_waits = True
                try:
                    self._cond.wait(timeout)
                finally:
                    self._thread_waits = False
                self._check_loop()
            return True
        finally:
            if parked:
                assert slots is not None
                slots.unpark()

    def _check_loop(self) -> None:
        if self.loop.is_closed():
            raise LoopUnavailableError(
                "the event loop serving this request was closed while the WSGI app waited on it.",
                "The ASGI server stopped its loop with the request still running; stop the "
                "server gracefully (it waits for running requests) instead.",
            )

    def _call_soon(self, callback: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(callback)
        except RuntimeError:
            self._check_loop()
            raise

    # -- loop side ----------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_done(self, _future: object) -> None:
        """Done-callback of the thread's work: wake the task waiting in `wait`."""
        self._wake()

    def take(self) -> tuple[list[dict[str, Any]], int]:
        """The messages pushed since the last call, and their body bytes."""
        with self._lock:
            messages, nbytes = self._out, self._batch_bytes
            if messages:
                self._out = []
                self._batch_bytes = 0
            self._wake_pending = False
            return messages, nbytes

    async def wait(self) -> None:
        """Sleep until the thread pushes or its work ends (call after an empty `take`)."""
        waiter = self._waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def credit(self, nbytes: int, count: int) -> None:
        """``count`` pushed messages (``nbytes`` of body) were sent: let a blocked thread go on."""
        with self._lock:
            self._out_bytes -= nbytes
            self._out_count -= count
            if (
                self._thread_waits
                and self._out_bytes <= self.send_buffer
                and self._out_count <= MAX_MESSAGES
            ):
                self._cond.notify()

    def feed(self, chunk: bytes, more: bool) -> None:
        """Hand a received body chunk to the thread."""
        with self._lock:
            if chunk:
                self._inbox.append(chunk)
                self._in_bytes += len(chunk)
            if not more:
                self._body_done = True
            if self._thread_waits:
                self._cond.notify()

    def over_buffer(self) -> bool:
        """True while more than ``receive_buffer`` body bytes wait for the app."""
        with self._lock:
            return self._in_bytes > self.receive_buffer

    async def wait_room(self) -> None:
        """Wait while the thread has more than ``receive_buffer`` bytes unread."""
        with self._lock:
            if self._in_bytes <= self.receive_buffer:
                return
            self._reader_waits = True
            waiter = self._reader_waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self._reader_waiter = None

    def _wake_reader(self) -> None:
        waiter = self._reader_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, error: BaseException) -> None:
        """The request cannot go on: the thread's next push or blocked pull raises ``error``."""
        with self._lock:
            if self._error is None:
                self._error = error
            self._cond.notify_all()

    def fail_input(self, error: BaseException) -> None:
        """The body cannot be read further: the thread's next read past the buffer raises."""
        with self._lock:
            if self._input_error is None:
                self._input_error = error
            self._cond.notify_all()

    @property
    def failed(self) -> bool:
        """True once `fail` was called."""
        return self._error is not None


def _fresh(error: BaseException) -> BaseException:
    """A new exception like ``error`` (raising one object from many places piles tracebacks)."""
    try:
        copy = type(error)(*error.args)
    except TypeError:
        return error
    hint = getattr(error, "hint", None)
    if hint is not None:
        copy.hint = hint  # type: ignore[attr-defined]
    notes = getattr(error, "__notes__", None)
    if notes is not None and getattr(copy, "__notes__", None) != notes:
        vars(copy)["__notes__"] = list(notes)  # the attribute add_note keeps (PEP 678)
    return copy
