"""WsgiToAsgi: serve a WSGI application from an ASGI server, requests in parallel, streaming.

The entry point and the request's outline live here; the loop side of a
request is `pump`, the thread side `runner`, the admission to
threads `admission`.

Theory of operation, per HTTP request (all on the server's task for it):

1. Receive the first ``http.request`` message and build the environ
   (`environ`); answer 400 / 431 / 413 here, without a thread, when the
   headers or the declared body size are over the limits.
2. If more body is coming, a *reader* task receives it on the loop until it
   is complete or more than ``receive_buffer_size`` bytes wait, each wait
   bounded by ``body_timeout`` (408 past it): a client that stalls mid-body
   holds no thread (hazard: ``max_threads`` such clients would otherwise
   stop the site). Short requests create no task at all.
3. Hand a `Runner` to the adapter's admission as a runtime `Hop` (so that
   ``async_to_sync`` inside the WSGI app runs on this very loop, as in
   asgiref, in a copy of this task's context): it runs on the adapter's own
   pool, or waits in a line of at most ``max_queued`` (503 past it).
4. Pump: send what the thread pushes through the `Channel`, giving the bytes
   back after each ``send`` (back-pressure), until the thread's work ends;
   then send the tail it returned. The reader, if any, keeps receiving ahead
   of the app's reads (bounded) and then watches for ``http.disconnect``; a
   streamed response starts one to watch too.

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
from collections.abc import Callable, Iterable
from typing import Any

from ..._errors import ClientDisconnected, UnsupportedScopeError
from ..._runtime import AdapterPool, Hop
from ..callables import AnyReceive, AnyScope, AnySend
from .admission import Admission
from .body import FileWrapper, RequestBody
from .channel import Channel
from .environ import DuplicateHeaderError, HeaderTooLargeError, build_environ
from .headers import positive_timeout
from .pump import TOO_LARGE, Pump, retrieve, send_all
from .runner import Runner, plain_response

__all__ = ("WsgiToAsgi", "WsgiToAsgiInstance")

logger = logging.getLogger("asgibridge.wsgi")

# asgibridge.typing's TypedDicts and plain dicts alike (see `callables`).
_Receive = AnyReceive
_Send = AnySend
_copy_context = contextvars.copy_context
_DUPLICATES_BODY = b"Bad Request: Too many duplicate headers"
_BUSY = plain_response(503, b"Service Unavailable: too many requests are waiting")
_BUSY[0]["headers"] = [*_BUSY[0]["headers"], (b"retry-after", b"1")]


class WsgiToAsgi:
    """Wrap a WSGI application into an ASGI 3 application.

    Each request runs on a thread of the adapter's own bounded pool (asgiref
    runs them all, one at a time, on one thread); the request body is
    received on the loop before the app takes a thread (up to
    ``receive_buffer_size``, then streamed to the app's reads), the response
    streamed with back-pressure.

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
            client before its ``write``/iteration blocks (also at most 64
            messages).
        receive_buffer_size: request body bytes received ahead of the app:
            the app starts once the body is complete or this much waits.
        body_timeout: seconds one wait for the next request body message may
            last (as nginx's ``client_body_timeout``); past it the request
            is answered 408 if the app has not started, and otherwise the
            app's next read needing more raises `RequestBodyTimeoutError`.
            None: wait for ever.
        max_queued: most requests waiting for a thread; one more is answered
            503 with ``Retry-After``. None (default): no bound, as asgiref.

    Raises:
        TypeError: an option of the wrong type.
        ValueError: a size or thread count below 1, a negative
            ``max_queued``, or a ``body_timeout`` that is not positive.
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
        body_timeout: float | None = 60.0,
        max_queued: int | None = None,
    ) -> None:
        for name, value in (
            ("send_buffer_size", send_buffer_size),
            ("receive_buffer_size", receive_buffer_size),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if max_queued is not None:
            if isinstance(max_queued, bool) or not isinstance(max_queued, int):
                raise TypeError(f"max_queued must be an int or None, not {type(max_queued)}")
            if max_queued < 0:
                raise ValueError(f"max_queued must be 0 or more (or None), not {max_queued}")
        self.body_timeout = positive_timeout("body_timeout", body_timeout)
        self.max_queued = max_queued
        self.wsgi_application = wsgi_application
        self.duplicate_header_limit = duplicate_header_limit
        self.max_body_size = max_body_size
        self.max_header_size = max_header_size
        self.send_buffer_size = send_buffer_size
        self.receive_buffer_size = receive_buffer_size
        if isinstance(max_threads, bool) or not isinstance(max_threads, int):
            raise TypeError(f"max_threads must be an int, not {type(max_threads).__name__}")
        if max_threads < 1:
            raise ValueError(f"max_threads must be at least 1, not {max_threads}")
        self._pool = AdapterPool(max_threads)
        # Threads for requests that start while others are parked (see `admission`).
        self._overflow = AdapterPool(max_threads)
        self._admission = Admission(self._pool, self._overflow, max_queued)

    @property
    def max_threads(self) -> int:
        """Most requests of this adapter running at once (its pool may hold as many parked)."""
        return self._admission.max_threads

    def stats(self) -> dict[str, Any]:
        """This adapter's requests now: ``running``, ``parked`` (waiting for body), ``queued``.

        Also ``max_queued`` and ``rejected`` (503s answered because the line
        was full). `asgibridge.instrumentation.stats` sums them over adapters.

        Example:
            >>> WsgiToAsgi(None, max_queued=10).stats()
            {'running': 0, 'parked': 0, 'queued': 0, 'max_queued': 10, 'rejected': 0}
        """
        return self._admission.stats()

    async def __call__(self, scope: AnyScope, receive: _Receive, send: _Send) -> None:
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
        self.scope: AnyScope = {}

    def _settings(self) -> WsgiToAsgi:
        # An instance built directly (asgiref's API) gets an adapter of its
        # own: one thread, made only if it serves a request.
        adapter = self._adapter
        if adapter is None:
            adapter = self._adapter = WsgiToAsgi(
                self.wsgi_application, self.duplicate_header_limit, max_threads=1
            )
        return adapter

    def build_environ(self, scope: AnyScope, body: Any) -> dict[str, Any]:
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

    async def __call__(self, scope: AnyScope, receive: _Receive, send: _Send) -> None:
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

    async def _http(self, scope: AnyScope, receive: _Receive, send: _Send) -> None:
        adapter = self._settings()
        first = await receive()
        if first["type"] != "http.request":
            return  # the client left before the request began
        chunk: bytes = first.get("body", b"")
        more: bool = first.get("more_body", False)
        channel = Channel(
            asyncio.get_running_loop(),
            adapter.send_buffer_size,
            adapter.receive_buffer_size,
            adapter._admission,
        )
        try:
            environ = self.build_environ(scope, RequestBody(channel))
        except DuplicateHeaderError:
            await send_all(send, plain_response(400, _DUPLICATES_BODY))
            return
        except HeaderTooLargeError:
            await send_all(send, plain_response(431, b"Request Header Fields Too Large"))
            return
        limit = adapter.max_body_size
        if limit is not None and (_declared_length(environ) > limit or len(chunk) > limit):
            await send_all(send, TOO_LARGE)
            return
        channel.preload(chunk, more)
        extensions = scope.get("extensions") or {}
        runner = Runner(
            self.wsgi_application,
            environ,
            channel,
            "http.response.pathsend" in extensions,
            adapter._admission.release,
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
    pump = Pump(channel, receive, send, adapter.max_body_size, adapter.body_timeout)
    try:
        if more:
            pump.start_reader(received)
            assert pump.ready is not None
            answer = await pump.ready
            if answer is not None:  # 408, 413, or [] when the client left: no thread
                await send_all(send, answer)
                return
        hop = Hop(channel.loop, _copy_context(), runner.run, (), {}, None)
        hop.future.add_done_callback(channel.on_done)
        if not adapter._admission.admit(hop, runner):
            logger.warning(
                "%d requests already wait for a WSGI thread (max_queued): answered 503",
                adapter.max_queued,
            )
            await send_all(send, _BUSY)
            return
        pump.hop = hop
        try:
            await pump.run()
        except asyncio.CancelledError:
            # Server shutdown or a vanished client: stop the app at its next
            # read or write; a queued request leaves the line, unrun.
            channel.fail(ClientDisconnected("the request was cancelled by the server"))
            adapter._admission.withdraw(hop)
            hop.future.add_done_callback(retrieve)
            raise
    finally:
        pump.stop_reader()


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
