"""WsgiToAsgi: serve a WSGI application from an ASGI server, requests in parallel, streaming.

The loop side of each request lives here; the thread side is `_wsgi_runner`.

Theory of operation, per HTTP request (all on the server's task for it):

1. Receive the first ``http.request`` message and build the environ
   (`_environ`); answer 400 / 431 / 413 here, without a thread, when the
   headers or the declared body size are over the limits.
2. Hand a `Runner` to the adapter's own bounded pool as a runtime `Hop`, so
   that ``async_to_sync`` inside the WSGI app runs on this very loop (as in
   asgiref), in a copy of this task's context.
3. Pump: send what the thread pushes through the `Channel`, giving the bytes
   back after each ``send`` (back-pressure), until the thread's work ends;
   then send the tail it returned.
4. A *reader* task receives the rest of the body ahead of the app's reads
   (bounded), and afterwards watches for ``http.disconnect``. It starts only
   when the body has more than one message, or when a response is streamed
   (a second batch was sent and the thread still runs): short requests
   create no task at all.

Why the server's ``send`` is only ever called from this task: asgiref sends
from the WSGI thread through ``AsyncToSync``, so the server's code runs in a
context carrying that call's ``CurrentThreadExecutor``; uvicorn then starts
the next pipelined request from inside it, and that request fails with
"CurrentThreadExecutor already quit or is broken" (every other keep-alive
request answers 500).

Non-HTTP scopes: ``lifespan`` is acknowledged; a ``websocket`` is closed
with code 1000 (WSGI has no WebSocket).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .._errors import ClientDisconnected, RequestBodyTooLargeError, UnsupportedScopeError
from .._runtime._hop import Hop
from ._environ import DuplicateHeaderError, HeaderTooLargeError, build_environ
from ._wsgi_channel import Channel
from ._wsgi_io import FileWrapper, RequestBody
from ._wsgi_pool import AdapterPool
from ._wsgi_runner import Runner, plain_response

__all__ = ("WsgiToAsgi", "WsgiToAsgiInstance")

logger = logging.getLogger("asgibridge.wsgi")

_Receive = Callable[[], Awaitable[dict[str, Any]]]
_Send = Callable[[dict[str, Any]], Awaitable[None]]
_copy_context = contextvars.copy_context
_DUPLICATES_BODY = b"Bad Request: Too many duplicate headers"


class WsgiToAsgi:
    """Wrap a WSGI application into an ASGI 3 application.

    Each request runs on a thread of the adapter's own bounded pool (asgiref
    runs them all, one at a time, on one thread); the request body is read
    on demand, the response streamed with back-pressure.

    Args:
        wsgi_application: the PEP 3333 application.
        duplicate_header_limit: most repeats of one request header, answered
            with 400 past it; None (default) for no count limit, since
            ``max_header_size`` bounds the total. (asgiref's default is 100.)
        max_threads: threads of this adapter's pool (requests running at
            once; more wait in line). 1 serves one request at a time.
        max_body_size: largest request body in bytes, answered with 413
            (None: no limit). A declared ``Content-Length`` is checked before
            the app runs; a streamed body past it makes ``wsgi.input`` raise
            `RequestBodyTooLargeError`, answered with 413 if unhandled.
        max_header_size: largest total of request header names and values
            in bytes, answered with 431 (None: no limit).
        send_buffer_size: response bytes the app may produce ahead of the
            client before its ``write``/iteration blocks.
        receive_buffer_size: request body bytes received ahead of the app.

    Raises:
        ValueError: a size or thread count below 1.
        UnsupportedScopeError: (per call) a scope that is not http,
            websocket or lifespan (a ValueError, as in asgiref).

    Example:
        >>> def hello(environ, start_response):
        ...     start_response("200 OK", [("Content-Type", "text/plain")])
        ...     return [b"hello"]
        >>> app = WsgiToAsgi(hello, max_threads=8)
        >>> # uvicorn module:app
    """

    def __init__(
        self,
        wsgi_application: Callable[..., Iterable[bytes]],
        duplicate_header_limit: int | None = None,
        *,
        max_threads: int = 40,
        max_body_size: int | None = None,
        max_header_size: int | None = 65536,
        send_buffer_size: int = 65536,
        receive_buffer_size: int = 1 << 20,
    ) -> None:
        for name, value in (
            ("send_buffer_size", send_buffer_size),
            ("receive_buffer_size", receive_buffer_size),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        self.wsgi_application = wsgi_application
        self.duplicate_header_limit = duplicate_header_limit
        self.max_body_size = max_body_size
        self.max_header_size = max_header_size
        self.send_buffer_size = send_buffer_size
        self.receive_buffer_size = receive_buffer_size
        self._pool = AdapterPool(max_threads)

    @property
    def max_threads(self) -> int:
        """The size bound of this adapter's thread pool."""
        return self._pool.max_threads

    async def __call__(self, scope: dict[str, Any], receive: _Receive, send: _Send) -> None:
        """ASGI entry point: serve one connection scope."""
        instance = WsgiToAsgiInstance(
            self.wsgi_application, self.duplicate_header_limit, adapter=self
        )
        await instance(scope, receive, send)


class WsgiToAsgiInstance:
    """One request (connection scope) served by a `WsgiToAsgi` adapter.

    asgiref's per-request class, kept for code that builds it directly (its
    ``build_environ(scope, body)`` is a tested API).

    Args:
        wsgi_application: the PEP 3333 application.
        duplicate_header_limit: as for `WsgiToAsgi`.
        adapter: the `WsgiToAsgi` whose settings and pool to use.

    Example:
        >>> instance = WsgiToAsgiInstance(None)
        >>> env = instance.build_environ({"type": "http", "method": "GET",
        ...     "path": "/base/x", "root_path": "/base", "query_string": b"",
        ...     "headers": []}, None)
        >>> env["SCRIPT_NAME"], env["PATH_INFO"]
        ('/base', '/x')
    """

    __slots__ = ("_adapter", "duplicate_header_limit", "scope", "wsgi_application")

    def __init__(
        self,
        wsgi_application: Any,
        duplicate_header_limit: int | None = None,
        *,
        adapter: WsgiToAsgi | None = None,
    ) -> None:
        self.wsgi_application = wsgi_application
        self.duplicate_header_limit = duplicate_header_limit
        self._adapter = adapter
        self.scope: dict[str, Any] = {}

    def _settings(self) -> WsgiToAsgi:
        # An instance built directly (asgiref's API) gets an adapter of its
        # own: one thread, made only if it serves a request.
        adapter = self._adapter
        if adapter is None:
            adapter = self._adapter = WsgiToAsgi(
                self.wsgi_application, self.duplicate_header_limit, max_threads=1
            )
        return adapter

    def build_environ(self, scope: dict[str, Any], body: Any) -> dict[str, Any]:
        """The WSGI environ for ``scope`` with ``body`` as ``wsgi.input``.

        Raises:
            ValueError: too many repeats of a header, or headers too large.
        """
        adapter = self._settings()
        return build_environ(
            scope,
            body,
            duplicate_header_limit=self.duplicate_header_limit,
            max_header_size=adapter.max_header_size,
            file_wrapper=FileWrapper,
        )

    async def __call__(self, scope: dict[str, Any], receive: _Receive, send: _Send) -> None:
        kind = scope["type"]
        if kind == "http":
            self.scope = scope
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)
        elif kind == "websocket":
            await _refuse_websocket(receive, send)
        else:
            raise UnsupportedScopeError(
                "WSGI wrapper received a non-HTTP scope",
                f"(scope type {kind!r}; a WSGI app can serve http only).",
            )

    async def _http(self, scope: dict[str, Any], receive: _Receive, send: _Send) -> None:
        adapter = self._settings()
        first = await receive()
        if first["type"] != "http.request":
            return  # the client left before the request began
        chunk: bytes = first.get("body", b"")
        more: bool = first.get("more_body", False)
        channel = Channel(
            asyncio.get_running_loop(), adapter.send_buffer_size, adapter.receive_buffer_size
        )
        try:
            environ = self.build_environ(scope, RequestBody(channel))
        except DuplicateHeaderError:
            await _send_all(send, plain_response(400, _DUPLICATES_BODY))
            return
        except HeaderTooLargeError:
            await _send_all(send, plain_response(431, b"Request Header Fields Too Large"))
            return
        limit = adapter.max_body_size
        if limit is not None and (_declared_length(environ) > limit or len(chunk) > limit):
            await _send_all(send, plain_response(413, b"Request body too large"))
            return
        channel.preload(chunk, more)
        extensions = scope.get("extensions") or {}
        runner = Runner(
            self.wsgi_application, environ, channel, "http.response.pathsend" in extensions
        )
        await _serve(adapter, channel, runner, receive, send, more, len(chunk))


def _declared_length(environ: dict[str, Any]) -> int:
    declared = environ.get("CONTENT_LENGTH")
    return int(declared) if declared and declared.isdigit() else 0


async def _serve(
    adapter: WsgiToAsgi,
    channel: Channel,
    runner: Runner,
    receive: _Receive,
    send: _Send,
    more: bool,
    received: int,
) -> None:
    loop = channel.loop
    hop = Hop(loop, _copy_context(), runner.run, (), {}, None)
    hop.future.add_done_callback(channel.on_done)
    adapter._pool.get().submit(hop)
    pump = _Pump(channel, hop, receive, send, adapter.max_body_size)
    if more:
        pump.start_reader(received)
    try:
        await pump.run()
    except asyncio.CancelledError:
        # Server shutdown or a vanished client: stop the app at its next
        # read or write; a queued request is skipped entirely.
        channel.fail(ClientDisconnected("the request was cancelled by the server"))
        hop.cancelled = True
        hop.future.add_done_callback(_retrieve)
        raise
    finally:
        pump.stop_reader()


class _Pump:
    """Loop side of one request: sends what the thread produces, feeds it the body."""

    __slots__ = ("_channel", "_hop", "_max_body", "_reader", "_receive", "_send")

    def __init__(
        self,
        channel: Channel,
        hop: Hop,
        receive: _Receive,
        send: _Send,
        max_body: int | None,
    ) -> None:
        self._channel = channel
        self._hop = hop
        self._receive = receive
        self._send = send
        self._max_body = max_body
        self._reader: asyncio.Task[None] | None = None

    def start_reader(self, received: int) -> None:
        self._reader = self._channel.loop.create_task(self._read(received))

    def stop_reader(self) -> None:
        """Cancel the reader if it still runs (not awaited: our own task may be cancelled)."""
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
            reader.add_done_callback(_retrieve)

    async def run(self) -> None:
        channel, future = self._channel, self._hop.future
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

    async def _read(self, received: int) -> None:
        """Receive the rest of the body ahead of the app, then watch for a disconnect."""
        channel, receive, limit = self._channel, self._receive, self._max_body
        if received >= 0:
            while True:
                await channel.wait_room()
                message = await receive()
                kind = message["type"]
                if kind == "http.disconnect":
                    channel.fail(ClientDisconnected("the client disconnected"))
                    return
                if kind != "http.request":
                    continue
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                received += len(chunk)
                if limit is not None and received > limit:
                    channel.fail_input(
                        RequestBodyTooLargeError(
                            f"the request body is larger than max_body_size={limit}",
                            "Raise WsgiToAsgi(max_body_size=...) if such bodies are expected.",
                        )
                    )
                    return
                channel.feed(chunk, more)
                if not more:
                    break
        # The body is complete: the next message can only be a disconnect.
        # (Anything else ends the watch: a receive() that answers at once,
        # forever, would otherwise starve the loop.)
        message = await receive()
        if message["type"] == "http.disconnect":
            channel.fail(ClientDisconnected("the client disconnected"))


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Done-callback: mark an outcome nobody awaits as seen (no "never retrieved" log)."""
    if not future.cancelled():
        future.exception()


async def _send_all(send: _Send, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        await send(message)


async def _lifespan(receive: _Receive, send: _Send) -> None:
    """Answer the lifespan protocol: a WSGI app has no startup or shutdown of its own."""
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _refuse_websocket(receive: _Receive, send: _Send) -> None:
    """Close a WebSocket politely (the server answers the handshake with 403)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1000})
