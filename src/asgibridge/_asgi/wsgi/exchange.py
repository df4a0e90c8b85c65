"""One AsgiToWsgi request: the WSGI server's thread steps with the ASGI app's task.

Theory of operation. Two sides share an `Exchange`:

- the *loop side* (the ASGI app's task on the adapter's loop thread) calls
  `_receive` / `_send`. Events for the WSGI thread (response start, body
  chunks, "read more input", "app done") are batched: the first event of a
  loop iteration schedules one ``_flush`` (``call_soon``) that hands the
  whole batch over with one `SimpleQueue.put`. An app that sends its start
  and body back to back and returns costs the thread one wake-up.
- the *thread side* (the WSGI server's request thread) starts the task with
  one ``call_soon_threadsafe``, waits for the response start, calls
  ``start_response``, and returns a `ResponseBody` iterator that yields body
  chunks as they arrive. When the app wants more request body, the thread
  reads ``wsgi.input`` itself (the server's stream is only safe there).

Back-pressure: body bytes and body messages handed over and not yet taken
by the WSGI server are counted under a lock; past ``send_buffer`` bytes or
`MAX_MESSAGES` messages the app's ``send`` waits until the thread takes them.
(Hazard: counting bytes alone, empty or 1-byte messages queue without bound,
some 100 bytes each.)

Ending: after the last chunk, ``receive()`` answers ``http.disconnect``; the
iterator's ``close()`` (called by the WSGI server, also when it stops early)
delivers ``http.disconnect`` if the response was not complete, and then
waits, at most ``background_timeout``, for the app's task to end.

Hazards: every thread-side wait wakes each ``health_interval`` to check that
the loop thread lives (else `LoopUnavailableError`); a request made from the
loop thread itself is refused (`BridgeDeadlockError`: it would wait on itself).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from queue import Empty, SimpleQueue
from types import MappingProxyType
from typing import Any

from ..._errors import AppSpecError, ClientDisconnected, LoopUnavailableError
from ..._runtime import LoopThread, health_interval
from .headers import status_line, wsgi_headers

__all__ = ("Exchange", "ResponseBody")

logger = logging.getLogger("asgibridge.wsgi")

_START, _BODY, _INPUT, _DONE = range(4)
# Body messages sent by the app and not yet taken by the WSGI server before
# its send() waits (a2wsgi steps in lock-step: one).
MAX_MESSAGES = 64
_TIMEOUT_BODY = b"Gateway Timeout: the application did not answer in time"
_DISCONNECT = MappingProxyType({"type": "http.disconnect"})


class Exchange:
    """Shared state of one request between the WSGI thread and the ASGI task."""

    def __init__(
        self,
        app: Callable[..., Any],
        scope: dict[str, Any],
        environ: dict[str, Any],
        loop_thread: LoopThread,
        chunk_size: int,
        send_buffer: int,
    ) -> None:
        self.app = app
        self.scope = scope
        self.environ = environ
        self.loop_thread = loop_thread
        self.loop = loop_thread.loop
        self.chunk_size = chunk_size
        self.send_buffer = send_buffer
        # thread side
        self.events: SimpleQueue[list[tuple[Any, ...]]] = SimpleQueue()
        self.pending: deque[tuple[Any, ...]] = deque()
        self.remaining = _body_length(environ)
        self.finished = False  # the last body chunk was taken
        self.outcome: BaseException | None = None
        self.ended = False  # the app's task ended (DONE seen)
        # shared (under lock)
        self.lock = threading.Lock()
        self.unsent = 0
        self.unsent_count = 0
        self.credit_waits = False
        # loop side
        self.stash: deque[dict[str, Any]] = deque()  # body messages nobody took yet
        self.task: asyncio.Task[Any] | None = None
        self.batch: list[tuple[Any, ...]] = []
        self.flush_scheduled = False
        self.done_posted = False
        self.started = False
        self.complete = False
        self.disconnected = False
        self.body_done = False
        self.input_waiters: deque[asyncio.Future[dict[str, Any]]] = deque()
        self.asked = 0  # input requests posted to the thread and not answered yet
        self.end_waiters: list[asyncio.Future[None]] = []
        self.credit_waiter: asyncio.Future[None] | None = None

    # == thread side ==============================================================

    def respond(
        self,
        start_response: Callable[..., Any],
        background_timeout: float,
        response_timeout: float | None = None,
    ) -> Iterable[bytes]:
        """Run the app until its response starts; call ``start_response``.

        Past ``response_timeout`` seconds without ``http.response.start`` the
        app is cancelled and the request answered 504 (hazard: an app that
        never answers would hold the WSGI server's thread forever).
        """
        body, more = self._read_input()
        self.stash.append({"type": "http.request", "body": body, "more_body": more})
        self._call_soon(self._start)
        deadline = None if response_timeout is None else time.monotonic() + response_timeout
        while True:
            event = self.next_event(deadline)
            kind = event[0]
            if kind is None:
                return self._give_up(start_response, response_timeout)
            if kind == _START:
                start_response(event[1], event[2])
                return ResponseBody(self, background_timeout)
            if kind == _DONE:
                self.finished = True
                self.raise_outcome()
                raise AppSpecError(
                    "the ASGI application returned without sending http.response.start",
                    "Every HTTP request needs a response: send http.response.start and "
                    "http.response.body before returning.",
                )

    def _give_up(
        self, start_response: Callable[..., Any], response_timeout: float | None
    ) -> list[bytes]:
        app = self.app
        name = getattr(app, "__qualname__", None) or type(app).__qualname__
        logger.error(
            "ASGI app %s.%s sent no http.response.start within %.1f s for %s %s "
            "(response_timeout); cancelled it and answered 504",
            getattr(app, "__module__", "?"),
            name,
            response_timeout,
            self.scope["method"],
            self.scope["path"],
        )
        self.finished = True
        self._call_soon(self._abort)
        start_response(
            "504 Gateway Timeout",
            [("Content-Type", "text/plain"), ("Content-Length", str(len(_TIMEOUT_BODY)))],
        )
        return [_TIMEOUT_BODY]

    def next_event(self, deadline: float | None = None) -> tuple[Any, ...]:
        """The next event for this thread, serving input requests on the way."""
        pending, events = self.pending, self.events
        interval = health_interval()
        while True:
            while pending:
                event = pending.popleft()
                if event[0] == _INPUT:
                    self._answer_input()
                    continue
                if event[0] == _DONE:
                    self.ended = True
                    self.outcome = event[1]
                return event
            timeout = interval
            if deadline is not None:
                timeout = min(interval, max(0.0, deadline - time.monotonic()))
            try:
                pending.extend(events.get(timeout=timeout))
            except Empty:
                self._check_loop()
                if deadline is not None and time.monotonic() >= deadline:
                    return (None,)

    def raise_outcome(self) -> None:
        """Raise the app's exception here (once: `close` then does not log it)."""
        error, self.outcome = self.outcome, None
        if error is not None:
            raise error

    def took(self, nbytes: int) -> None:
        """The WSGI server took one body message of ``nbytes``: let a waiting ``send`` go on."""
        with self.lock:
            self.unsent -= nbytes
            self.unsent_count -= 1
            wake = (
                self.credit_waits
                and self.unsent <= self.send_buffer
                and self.unsent_count <= MAX_MESSAGES
            )
            if wake:
                self.credit_waits = False
        if wake:
            self._call_soon(self._release_credit)

    def _read_input(self) -> tuple[bytes, bool]:
        remaining = self.remaining
        if remaining == 0:
            return b"", False
        stream = self.environ["wsgi.input"]
        size = self.chunk_size if remaining < 0 else min(self.chunk_size, remaining)
        data: bytes = stream.read(size)
        if remaining < 0:
            return data, bool(data)
        self.remaining = remaining - len(data)
        return data, bool(data) and self.remaining > 0

    def _answer_input(self) -> None:
        try:
            body, more = self._read_input()
        except OSError:
            logger.debug("reading wsgi.input failed: the client left", exc_info=True)
            self._call_soon(self._disconnect)
            return
        message = {"type": "http.request", "body": body, "more_body": more}
        self._call_soon(self._feed_input, message)

    def close(self, background_timeout: float) -> None:
        """The WSGI server is done with the body: end the exchange (bounded wait)."""
        cut_short = not self.finished and not self.ended
        if cut_short:
            self._call_soon(self._disconnect)
        deadline = time.monotonic() + background_timeout
        while not self.ended:
            if self.next_event(deadline)[0] is None:
                logger.warning(
                    "ASGI app still running %.1f s after its response to %s %s ended; "
                    "left running on the loop (raise background_timeout to wait longer)",
                    background_timeout,
                    self.scope["method"],
                    self.scope["path"],
                )
                return
        if self.outcome is not None and not (
            cut_short and isinstance(self.outcome, ClientDisconnected)
        ):
            logger.error(
                "ASGI app failed after its response to %s %s was sent",
                self.scope["method"],
                self.scope["path"],
                exc_info=self.outcome,
            )

    def _check_loop(self) -> None:
        if not self.loop_thread.alive():
            raise LoopUnavailableError(
                f"the event loop thread {self.loop_thread.thread.name!r} running the ASGI app "
                "is gone.",
                "It was stopped (asgibridge.shutdown() or AsgiToWsgi.close()) while a request "
                "was running; the next request starts a new one.",
            )

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            self._check_loop()
            raise

    # == loop side ================================================================

    def _start(self) -> None:
        # A fresh context per request, as a server gives each connection: the
        # WSGI thread's context variables must not leak into the app.
        coro = self.app(self.scope, self._receive, self._send)
        self.task = task = contextvars.Context().run(self.loop.create_task, coro)
        task.add_done_callback(self._on_done)

    def _post(self, event: tuple[Any, ...]) -> None:
        self.batch.append(event)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        batch, self.batch = self.batch, []
        task = self.task
        if task is not None and task.done() and not self.done_posted:
            self.done_posted = True
            batch.append((_DONE, _task_error(task)))
        if batch:
            self.events.put(batch)

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        self._end_waiters()
        if self.flush_scheduled or self.done_posted:
            return  # the pending flush reports it
        self.done_posted = True
        self.events.put([(_DONE, _task_error(task))])

    async def _receive(self) -> dict[str, Any]:
        if self.stash:
            message = self.stash.popleft()
            self.body_done = not message["more_body"]
            return message
        if self.disconnected or self.complete:
            return dict(_DISCONNECT)
        if self.body_done:
            waiter = self.loop.create_future()
            self.end_waiters.append(waiter)
            await waiter
            return dict(_DISCONNECT)
        return await self._receive_input()

    async def _receive_input(self) -> dict[str, Any]:
        waiters = self.input_waiters
        while waiters and waiters[0].done():  # receive() calls cancelled meanwhile
            waiters.popleft()
        waiter: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        waiters.append(waiter)
        if self.asked < len(waiters):
            self.asked += 1
            self._post((_INPUT,))
        message = await waiter
        if message["type"] == "http.request" and not message["more_body"]:
            self.body_done = True
        return message

    async def _send(self, message: dict[str, Any]) -> None:
        if self.disconnected:
            raise ClientDisconnected(
                "the WSGI server closed the response",
                "(it stopped iterating the body: the client went away).",
            )
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise AppSpecError("http.response.start sent twice", "Send it once, first.")
            # Checked here, so the app's send() raises (hazard: header injection).
            start = (_START, status_line(message["status"]), wsgi_headers(message))
            self.started = True
            self._post(start)
        elif kind == "http.response.body":
            await self._send_body(message)
        else:
            logger.debug("AsgiToWsgi ignores %r (not offered to the app)", kind)

    async def _send_body(self, message: dict[str, Any]) -> None:
        if not self.started or self.complete:
            raise AppSpecError(
                "http.response.body sent "
                + ("before http.response.start" if not self.started else "after the last one"),
                "Send http.response.start first, and nothing after more_body=False.",
            )
        body = message.get("body", b"")
        more = message.get("more_body", False)
        self._post((_BODY, body, more))
        if not more:
            self.complete = True
            self._end_waiters()
            return
        with self.lock:
            self.unsent += len(body)
            self.unsent_count += 1
            if self.unsent <= self.send_buffer and self.unsent_count <= MAX_MESSAGES:
                return
            self.credit_waits = True
            waiter = self.credit_waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self.credit_waiter = None
        if self.disconnected:
            raise ClientDisconnected("the WSGI server closed the response")

    def _release_credit(self) -> None:
        waiter = self.credit_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _feed_input(self, message: dict[str, Any]) -> None:
        self.asked -= 1
        waiters = self.input_waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(message)
                return
        # The receive() that asked was cancelled: keep the chunk for the next
        # one (the thread answers in order; nothing may be lost).
        self.stash.append(message)

    def _abort(self) -> None:
        """Loop side of `_give_up`: the app's later sends raise, and its task is cancelled."""
        self._disconnect()
        task = self.task
        if task is not None and not task.done():
            task.cancel()

    def _disconnect(self) -> None:
        self.disconnected = True
        waiters, self.input_waiters = self.input_waiters, deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(dict(_DISCONNECT))
        self._end_waiters()
        self._release_credit()

    def _end_waiters(self) -> None:
        waiters, self.end_waiters = self.end_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class ResponseBody:
    """The iterable returned to the WSGI server: body chunks as the ASGI app sends them."""

    __slots__ = ("_background_timeout", "_closed", "_exchange")

    def __init__(self, exchange: Exchange, background_timeout: float = 10.0) -> None:
        self._exchange = exchange
        self._background_timeout = background_timeout
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        exchange = self._exchange
        while not exchange.finished:
            event = exchange.next_event()
            kind = event[0]
            if kind == _BODY:
                body: bytes = event[1]
                if not event[2]:
                    exchange.finished = True
                else:
                    exchange.took(len(body))
                if body:
                    return body
            elif kind == _DONE:
                exchange.finished = True
                exchange.raise_outcome()
        raise StopIteration

    def close(self) -> None:
        """PEP 3333 ``close()``: end the exchange (``http.disconnect`` if cut short)."""
        if not self._closed:
            self._closed = True
            self._exchange.close(self._background_timeout)


def _task_error(task: asyncio.Task[Any]) -> BaseException | None:
    if task.cancelled():
        return ClientDisconnected("the ASGI application's task was cancelled")
    return task.exception()


def _body_length(environ: dict[str, Any]) -> int:
    """Bytes of request body to read: >= 0, or -1 to read until the stream ends."""
    declared = environ.get("CONTENT_LENGTH")
    if declared:
        try:
            return max(0, int(declared))
        except ValueError:
            pass
    return -1 if environ.get("wsgi.input_terminated") else 0
