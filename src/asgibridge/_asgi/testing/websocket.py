"""WebSocket sessions of the test client: handshake, text/bytes/JSON frames, close codes.

`AsyncWebSocketSession` (for `AsyncTestClient`) drives the application on the
caller's loop; `WebSocketSession` (for `TestClient`) drives it on the client's
`Portal` loop thread. Both run one `WebSocketExchange` and read what the
application sends, with a deadline on every wait.

Handshake outcomes (ASGI HTTP & WebSocket spec 2.5): ``websocket.accept``
opens the session; ``websocket.close`` before accepting is a 403 denial;
``websocket.http.response.*`` (the denial-response extension, advertised in
the scope) is a denial with that status, headers and body. A denial raises
`WebSocketDenied`; a close by the application raises `WebSocketClosed` from
``receive*``. Leaving the ``with`` block closes the session (code 1000) and
waits for the application to return, re-raising its exception; an application
that does not return within the read timeout is cancelled, and one that
ignores the cancellation too is reported (`ApplicationTimeoutError`).
"""

from __future__ import annotations

import asyncio
import json
import time
from queue import SimpleQueue
from types import TracebackType
from typing import Any, Literal

import httpx

from ..._errors import ApplicationTimeoutError, WebSocketClosed, WebSocketDenied
from ..._runtime import Expired, Portal, get_within, stop_task
from .exchange import AppDone, WebSocketExchange, WsEvent, from_disconnect
from .scope import ClientConfig, build_scope, read_timeout

__all__ = ("AsyncWebSocketSession", "WebSocketSession")

_ABNORMAL = 1006  # close code when the app returned without closing (RFC 6455 7.4.1)
_ERROR = 1011  # close code when the app raised (RFC 6455 7.4.1)
_CANCEL_GRACE = 5.0  # seconds a cancelled application gets to actually stop
Mode = Literal["text", "binary"]


class _Session:
    """State and message rules both session faces share."""

    def __init__(
        self, config: ClientConfig, request: httpx.Request, subprotocols: list[str] | None
    ) -> None:
        self.config = config
        self.request = request
        self.timeout = read_timeout(request, config)
        self.scope = build_scope(request, config, "websocket", subprotocols)
        self.subprotocol: str | None = None
        self.accept_headers: list[tuple[bytes, bytes]] = []
        self.close_code: int | None = None  # set once either side closed
        self.close_reason = ""
        self.done: AppDone | None = None
        self._denial: dict[str, Any] | None = None
        self._denial_body = b""
        self._raised = False
        self._gave_up = False  # the app ignored the cancellation that ended the session
        self._gave_up_reported = False

    def _timeout_error(self, what: str) -> httpx.ReadTimeout:
        return httpx.ReadTimeout(
            f"the WebSocket application sent no {what} within {self.timeout} s "
            f"({self.request.url.path}).",
            request=self.request,
        )

    def _after_end(self) -> None:
        """Report how the session ended: the app's exception, or an app that would not stop."""
        if self.done is not None:
            self._raise_app_error(self.done)
        elif self._gave_up and not self._gave_up_reported:
            self._gave_up_reported = True
            raise ApplicationTimeoutError(
                f"the WebSocket application did not return within {self.timeout} s after the "
                f"client closed ({self.request.url.path}), and ignored its cancellation for "
                f"{_CANCEL_GRACE} s.",
                "It must return on websocket.disconnect and must not swallow CancelledError.",
            )

    def _raise_app_error(self, done: AppDone) -> None:
        """Raise the app's exception, once (not again when the session exits)."""
        exc = done.exc
        if exc is None or self._raised or not self.config.raise_app_exceptions:
            return
        if not from_disconnect(exc):
            self._raised = True
            raise exc

    def _handshake_step(self, event: object) -> bool:
        """Apply one handshake event; True once accepted. Raises on denial."""
        if isinstance(event, AppDone):
            self.done = event
            self._raise_app_error(event)
            status = 500 if event.exc is not None else 403
            raise self._denied(status, [], b"", "returned before accepting")
        assert isinstance(event, WsEvent)
        message = event.message
        mtype = message["type"]
        if mtype == "websocket.accept":
            self.subprotocol = message.get("subprotocol")
            self.accept_headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
            return True
        if mtype == "websocket.close":
            self.close_code = int(message.get("code") or 1000)
            raise self._denied(403, [], b"", "closed before accepting")
        if mtype == "websocket.http.response.start":
            self._denial = message
            return False
        if mtype == "websocket.http.response.body" and self._denial is not None:
            self._denial_body += bytes(message.get("body", b""))
            if message.get("more_body", False):
                return False
            headers = [(bytes(k), bytes(v)) for k, v in self._denial.get("headers", ())]
            raise self._denied(int(self._denial["status"]), headers, self._denial_body, "denied")
        raise WebSocketDenied(
            f"the application sent {mtype} before accepting the WebSocket.",
            "The first message must be websocket.accept, websocket.close or "
            "websocket.http.response.start.",
            status_code=500,
        )

    def _denied(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, how: str
    ) -> WebSocketDenied:
        return WebSocketDenied(
            f"the application {how} the WebSocket handshake ({self.request.url.path}): "
            f"HTTP {status}.",
            "Inspect .status_code, .headers and .body of this error.",
            status_code=status,
            headers=headers,
            body=body,
        )

    def _message(self, event: object) -> dict[str, Any]:
        """Turn one post-handshake event into a received message, or raise the close."""
        if isinstance(event, AppDone):
            self.done = event
            self._raise_app_error(event)
            self.close_code = _ERROR if event.exc is not None else _ABNORMAL
            raise self._closed("returned without closing")
        assert isinstance(event, WsEvent)
        message = event.message
        if message["type"] == "websocket.close":
            self.close_code = int(message.get("code") or 1000)
            self.close_reason = message.get("reason") or ""
            raise self._closed("closed")
        return message

    def _closed(self, how: str = "closed") -> WebSocketClosed:
        return WebSocketClosed(
            f"the WebSocket is closed: the application {how} (code {self.close_code}"
            + (f", reason {self.close_reason!r})." if self.close_reason else ")."),
            "Check .code and .reason; nothing more can be received.",
            code=self.close_code or 1000,
            reason=self.close_reason,
        )

    def _check_open(self) -> None:
        if self.close_code is not None:
            raise self._closed()

    @staticmethod
    def _frame(data: str | bytes) -> dict[str, Any]:
        if isinstance(data, str):
            return {"type": "websocket.receive", "text": data}
        return {"type": "websocket.receive", "bytes": bytes(data)}

    @staticmethod
    def _text(message: dict[str, Any]) -> str:
        text = message.get("text")
        if not isinstance(text, str):
            raise TypeError(f"expected a text frame, got {message!r}")
        return text

    @staticmethod
    def _bytes(message: dict[str, Any]) -> bytes:
        data = message.get("bytes")
        if not isinstance(data, bytes):
            raise TypeError(f"expected a binary frame, got {message!r}")
        return data

    @staticmethod
    def _json_frame(data: Any, mode: Mode) -> str | bytes:
        text = json.dumps(data, separators=(",", ":"))
        return text if mode == "text" else text.encode()

    def _json(self, message: dict[str, Any], mode: Mode) -> Any:
        return json.loads(self._text(message) if mode == "text" else self._bytes(message))


class AsyncWebSocketSession(_Session):
    """A WebSocket session with an ASGI app on the current loop (``async with``).

    Made by `AsyncTestClient.websocket_connect`, not by hand.

    Args:
        config: the client's settings (app, validation, timeouts).
        request: the handshake request (URL, headers, cookies) the scope is built from.
        subprotocols: offered in ``scope["subprotocols"]``.

    Example:
        >>> async def echo(scope, receive, send):
        ...     await receive()  # websocket.connect
        ...     await send({"type": "websocket.accept"})
        ...     while (message := await receive())["type"] == "websocket.receive":
        ...         await send({"type": "websocket.send", "text": message["text"]})
        >>> from asgibridge.testclient import AsyncTestClient
        >>> async def main():
        ...     async with AsyncTestClient(echo, lifespan="off") as client:
        ...         async with client.websocket_connect("/ws") as ws:
        ...             await ws.send_text("hi")
        ...             return await ws.receive_text()
        >>> asyncio.run(main())
        'hi'
    """

    def __init__(
        self, config: ClientConfig, request: httpx.Request, subprotocols: list[str] | None
    ) -> None:
        super().__init__(config, request, subprotocols)
        self._events: asyncio.Queue[object] = asyncio.Queue()
        self.exchange = WebSocketExchange(config.app, self.scope, self._events.put_nowait)

    async def _next(self, what: str) -> object:
        try:
            return await get_within(self._events, self.timeout)
        except Expired:
            await self._end(1006)
            raise self._timeout_error(what) from None

    async def __aenter__(self) -> AsyncWebSocketSession:
        self.exchange.start()
        try:
            while not self._handshake_step(await self._next("handshake answer")):
                pass
        except BaseException:
            await self._end(1006)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(self, message: dict[str, Any]) -> None:
        """Deliver a raw ``websocket.receive`` / ``websocket.disconnect`` message."""
        self._check_open()
        self.exchange.client_send(message)
        await asyncio.sleep(0)

    async def send_text(self, data: str) -> None:
        """Send a text frame."""
        await self.send(self._frame(data))

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        await self.send(self._frame(data))

    async def send_json(self, data: Any, mode: Mode = "text") -> None:
        """Send ``data`` as JSON in a text (default) or binary frame."""
        await self.send(self._frame(self._json_frame(data, mode)))

    async def receive(self) -> dict[str, Any]:
        """The next ``websocket.send`` message; raises `WebSocketClosed` once closed."""
        self._check_open()
        return self._message(await self._next("message"))

    async def receive_text(self) -> str:
        """The next frame, which must be text."""
        return self._text(await self.receive())

    async def receive_bytes(self) -> bytes:
        """The next frame, which must be binary."""
        return self._bytes(await self.receive())

    async def receive_json(self, mode: Mode = "text") -> Any:
        """The next frame decoded as JSON."""
        return self._json(await self.receive(), mode)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side and wait for the app to return (idempotent)."""
        await self._end(code, reason)
        self._after_end()

    async def _end(self, code: int, reason: str = "") -> None:
        task = self.exchange.task
        if task is None or self.done is not None or self._gave_up:
            return
        if not self.exchange.disconnected:
            self.exchange.client_send(
                {"type": "websocket.disconnect", "code": code, "reason": reason}
            )
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        await asyncio.wait({task}, timeout=self.timeout)
        if await stop_task(task, _CANCEL_GRACE):
            self.done = AppDone(task)
        else:
            self._gave_up = True


class WebSocketSession(_Session):
    """A WebSocket session with an ASGI app on the client's loop thread (``with``).

    Made by `TestClient.websocket_connect`, not by hand.

    Args:
        config: the client's settings (app, validation, timeouts).
        request: the handshake request (URL, headers, cookies) the scope is built from.
        subprotocols: offered in ``scope["subprotocols"]``.
        portal: the client's loop thread, where the app runs.

    Example:
        >>> async def echo(scope, receive, send):
        ...     await receive()  # websocket.connect
        ...     await send({"type": "websocket.accept"})
        ...     while (message := await receive())["type"] == "websocket.receive":
        ...         await send({"type": "websocket.send", "text": message["text"]})
        >>> from asgibridge.testclient import TestClient
        >>> with TestClient(echo, lifespan="off") as client:
        ...     with client.websocket_connect("/ws") as ws:
        ...         ws.send_json({"hello": "world"})
        ...         ws.receive_json()
        {'hello': 'world'}
    """

    def __init__(
        self,
        config: ClientConfig,
        request: httpx.Request,
        subprotocols: list[str] | None,
        portal: Portal,
    ) -> None:
        super().__init__(config, request, subprotocols)
        self.portal = portal
        self._events: SimpleQueue[object] = SimpleQueue()
        self.exchange = WebSocketExchange(config.app, self.scope, self._events.put)

    def _next(self, what: str, seconds: float | None = None) -> object:
        try:
            return self.portal.get(self._events, time.monotonic() + (seconds or self.timeout))
        except Expired:
            if seconds is None:
                self._end(1006)
                raise self._timeout_error(what) from None
            raise

    def __enter__(self) -> WebSocketSession:
        self.portal.call_soon(self.exchange.start)
        try:
            while not self._handshake_step(self._next("handshake answer")):
                pass
        except BaseException:
            self._end(1006)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, message: dict[str, Any]) -> None:
        """Deliver a raw ``websocket.receive`` / ``websocket.disconnect`` message."""
        self._check_open()
        self.portal.call_soon(self.exchange.client_send, message)

    def send_text(self, data: str) -> None:
        """Send a text frame."""
        self.send(self._frame(data))

    def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        self.send(self._frame(data))

    def send_json(self, data: Any, mode: Mode = "text") -> None:
        """Send ``data`` as JSON in a text (default) or binary frame."""
        self.send(self._frame(self._json_frame(data, mode)))

    def receive(self) -> dict[str, Any]:
        """The next ``websocket.send`` message; raises `WebSocketClosed` once closed."""
        self._check_open()
        return self._message(self._next("message"))

    def receive_text(self) -> str:
        """The next frame, which must be text."""
        return self._text(self.receive())

    def receive_bytes(self) -> bytes:
        """The next frame, which must be binary."""
        return self._bytes(self.receive())

    def receive_json(self, mode: Mode = "text") -> Any:
        """The next frame decoded as JSON."""
        return self._json(self.receive(), mode)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side and wait for the app to return (idempotent)."""
        self._end(code, reason)
        self._after_end()

    def _end(self, code: int, reason: str = "") -> None:
        if self.done is not None or self._gave_up or not self.portal.alive():
            return
        message = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self.portal.call_soon(self.exchange.client_send, message)
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        for seconds, cancel in ((self.timeout, False), (_CANCEL_GRACE, True)):
            if cancel:
                self.portal.call_soon(self.exchange.cancel)
            deadline = time.monotonic() + seconds
            while self.done is None:
                try:
                    event = self.portal.get(self._events, deadline)
                except Expired:
                    break
                if isinstance(event, AppDone):
                    self.done = event
            if self.done is not None:
                return
        self._gave_up = True
