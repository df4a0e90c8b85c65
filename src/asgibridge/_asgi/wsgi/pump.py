"""The loop side of one WsgiToAsgi request: receive the body (bounded, timed), send the response.

Two jobs, both on the request's event loop:

- The *reader* task receives the request body. Before the app has a thread
  it buffers the body on the loop (`ready` settles once the body is
  complete, or once more than ``receive_buffer_size`` bytes wait, or with
  the answer to give instead: 408, 413, or nothing when the client left).
  So a client that stalls mid-body costs no thread while it stalls (hazard:
  ``max_threads`` stalled uploads would otherwise hold every thread and the
  site would stop answering). Once the app runs it keeps receiving ahead of
  the app's reads, bounded by the same buffer, then watches for
  ``http.disconnect``.
- `run` sends what the thread pushes through the `Channel`, giving the bytes
  and message count back after each batch (back-pressure), until the thread's
  work ends; then it sends the tail the thread returned.

Body deadline: each wait for the next body message is bounded by
``body_timeout`` (one timer per request, re-armed lazily: no task or timer
per chunk). Before the app starts, the request is answered 408; afterwards
the app's next read that needs more body raises `RequestBodyTimeoutError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..._errors import ClientDisconnected, RequestBodyTimeoutError, RequestBodyTooLargeError
from ..._runtime import Hop
from .channel import Channel
from .runner import plain_response

__all__ = ("TIMED_OUT", "TOO_LARGE", "Pump", "retrieve", "send_all")

logger = logging.getLogger("asgibridge.wsgi")

_Receive = Callable[[], Awaitable[dict[str, Any]]]
_Send = Callable[[dict[str, Any]], Awaitable[None]]

TOO_LARGE = plain_response(413, b"Request body too large")
TIMED_OUT = plain_response(408, b"Request Timeout: the request body stopped arriving")


class _Watchdog:
    """Cancels the reader when one wait for body data lasts ``timeout`` seconds."""

    __slots__ = ("_handle", "_loop", "_since", "_task", "_timeout", "active", "fired")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, timeout: float, task: asyncio.Task[None]
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._task = task
        self._handle: asyncio.TimerHandle | None = None
        self._since = 0.0
        self.active = False
        self.fired = False

    def arm(self) -> None:
        self._since = self._loop.time()
        self.active = True
        if self._handle is None:
            self._handle = self._loop.call_at(self._since + self._timeout, self._check)

    def _check(self) -> None:
        self._handle = None
        if not self.active:
            return
        due = self._since + self._timeout
        if self._loop.time() < due:  # armed again since: wait for the newer deadline
            self._handle = self._loop.call_at(due, self._check)
            return
        self.fired = True
        self._task.cancel()

    def close(self) -> None:
        self.active = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class Pump:
    """Loop side of one request (see the module docstring)."""

    __slots__ = (
        "_body_timeout",
        "_channel",
        "_max_body",
        "_reader",
        "_receive",
        "_send",
        "hop",
        "ready",
    )

    def __init__(
        self,
        channel: Channel,
        receive: _Receive,
        send: _Send,
        max_body: int | None,
        body_timeout: float | None,
    ) -> None:
        self._channel = channel
        self._receive = receive
        self._send = send
        self._max_body = max_body
        self._body_timeout = body_timeout
        self._reader: asyncio.Task[None] | None = None
        self.hop: Hop | None = None
        # Settled by the reader: None to start the app, or the messages to
        # answer instead ([] when the client left).
        self.ready: asyncio.Future[list[dict[str, Any]] | None] | None = None

    def start_reader(self, received: int) -> None:
        """Receive the rest of the body (``received`` bytes so far; -1: it is complete)."""
        loop = self._channel.loop
        if received >= 0:
            self.ready = loop.create_future()
        self._reader = loop.create_task(self._read(received))

    def stop_reader(self) -> None:
        """Cancel the reader if it still runs (not awaited: our own task may be cancelled)."""
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
            reader.add_done_callback(retrieve)

    # -- receiving ------------------------------------------------------------------

    def _settle(self, answer: list[dict[str, Any]] | None) -> bool:
        """Settle `ready` if the app has not started; False if it had."""
        ready = self.ready
        if ready is None or ready.done():
            return False
        ready.set_result(answer)
        return True

    async def _read(self, received: int) -> None:
        watchdog = None
        if received >= 0 and self._body_timeout is not None:
            task = asyncio.current_task()
            assert task is not None
            watchdog = _Watchdog(self._channel.loop, self._body_timeout, task)
        try:
            if received >= 0:
                await self._read_body(received, watchdog)
            await self._watch_disconnect()
        except asyncio.CancelledError:
            if watchdog is None or not watchdog.fired:
                raise
            self._timed_out()
        except Exception as exc:
            # The server's receive() failed. Hazard: left unsettled, the
            # request task (awaiting `ready`) or the app's read would wait for
            # ever; the error goes to the request task, or ends the app's read.
            ready = self.ready
            if ready is not None and not ready.done():
                ready.set_exception(exc)
            else:
                self._channel.fail(ClientDisconnected(f"receive() failed: {exc!r}"))
        finally:
            if watchdog is not None:
                watchdog.close()

    async def _read_body(self, received: int, watchdog: _Watchdog | None) -> None:
        channel, receive, limit = self._channel, self._receive, self._max_body
        while True:
            if channel.over_buffer():
                self._settle(None)  # more than the buffer waits: let the app start reading
                await channel.wait_room()
            if watchdog is not None:
                watchdog.arm()
            message = await receive()
            if watchdog is not None:
                watchdog.active = False
            kind = message["type"]
            if kind == "http.disconnect":
                if not self._settle([]):
                    channel.fail(ClientDisconnected("the client disconnected"))
                return
            if kind != "http.request":
                continue
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            received += len(chunk)
            if limit is not None and received > limit:
                if not self._settle(TOO_LARGE):
                    channel.fail_input(
                        RequestBodyTooLargeError(
                            f"the request body is larger than max_body_size={limit}",
                            "Raise WsgiToAsgi(max_body_size=...) if such bodies are expected.",
                        )
                    )
                return
            channel.feed(chunk, more)
            if not more:
                self._settle(None)
                return

    async def _watch_disconnect(self) -> None:
        # The body is complete: the next message can only be a disconnect.
        # (Anything else ends the watch: a receive() that answers at once,
        # forever, would otherwise starve the loop.)
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._channel.fail(ClientDisconnected("the client disconnected"))

    def _timed_out(self) -> None:
        timeout = self._body_timeout
        logger.warning(
            "request body stalled: no data for %.1f s (body_timeout); %s",
            timeout,
            "answered 408" if self.ready is not None and not self.ready.done() else
            "the app's next read raises RequestBodyTimeoutError",
        )  # fmt: skip
        if not self._settle(TIMED_OUT):
            self._channel.fail_input(
                RequestBodyTimeoutError(
                    f"no request body data arrived for {timeout:g} s (body_timeout)",
                    "The client stalled mid-body. Raise WsgiToAsgi(body_timeout=...) for "
                    "slow clients, or None to wait for ever.",
                )
            )

    # -- sending --------------------------------------------------------------------

    async def run(self) -> None:
        """Send what the thread produces until its work ends, then the tail."""
        channel = self._channel
        assert self.hop is not None
        future = self.hop.future
        send_error: BaseException | None = None
        batches = 0
        while True:
            messages, nbytes = channel.take()
            if messages:
                if send_error is None:
                    send_error = await self._send_batch(messages)
                channel.credit(nbytes, len(messages))
                batches += 1
                if batches == 2 and self._reader is None and not future.done():
                    # A streamed response: watch for disconnects. Here, not only
                    # after an empty take(): an app that always stays ahead
                    # never leaves one, and servers such as uvicorn drop sends
                    # after a disconnect silently (only receive() tells).
                    self.start_reader(-1)
                continue
            if future.done():
                break
            await channel.wait()
        tail = future.result()  # the app's exception, if any, goes to the server
        if send_error is None and tail and not channel.failed:
            send_error = await self._send_batch(tail)
        if send_error is not None and not isinstance(send_error, OSError):
            raise send_error

    async def _send_batch(self, messages: list[dict[str, Any]]) -> BaseException | None:
        send = self._send
        try:
            for message in messages:
                await send(message)
        except Exception as exc:
            # ASGI spec: send() on a closed connection raises an OSError
            # subclass. Either way the thread must stop producing.
            self._channel.fail(ClientDisconnected(f"send() failed: {exc!r}"))
            return exc
        return None


def retrieve(future: asyncio.Future[Any]) -> None:
    """Done-callback: mark an outcome nobody awaits as seen (no "never retrieved" log)."""
    if not future.cancelled():
        future.exception()


async def send_all(send: _Send, messages: list[dict[str, Any]]) -> None:
    """Send ``messages`` in order."""
    for message in messages:
        await send(message)
