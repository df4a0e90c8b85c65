"""The application side of one test-client connection: scope, ``receive``, ``send``, task.

An exchange runs on the application's event loop and plays the ASGI server
for one HTTP request or one WebSocket session. It never waits for the client:
what the application sends is handed to ``emit`` (an `asyncio.Queue` of the
async client, or a `queue.SimpleQueue` read by the sync client's thread) as
small event objects; what the client sends comes in through methods that the
client calls on the loop (directly, or via ``call_soon_threadsafe``).

Rules:

- ``receive`` and ``send`` follow the ASGI HTTP & WebSocket spec 2.5: after a
  complete response or a client disconnect ``receive`` returns
  ``http.disconnect`` (every time); ``send`` after the client went away raises
  `ClientDisconnected`, an `OSError` subclass (spec 2.4, "Disconnected Client").
- Back-pressure: at most ``HIGH_WATER`` unread body chunks; past that the
  application's ``send`` waits until the client reads (like a socket buffer),
  so an endless stream cannot fill memory.
- The application task starts in an empty `contextvars.Context` (as a
  server's connection would) and reports its end through ``emit`` with an
  `AppDone` event, so no reader ever polls the task.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

from ..._errors import AppSpecError, ClientDisconnected

__all__ = (
    "HIGH_WATER",
    "AppDone",
    "Body",
    "ClientFailed",
    "Emit",
    "HttpExchange",
    "Pull",
    "Start",
    "WebSocketExchange",
    "WsEvent",
    "from_disconnect",
)

HIGH_WATER = 16  # unread response chunks before the app's send() waits

Emit = Callable[[object], None]
Pull = Callable[[], Awaitable["tuple[bytes, bool]"]]
_App = Callable[..., Awaitable[Any]]


class AppDone:
    """Event: the application callable finished (``exc`` None: it returned)."""

    __slots__ = ("cancelled", "exc")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.cancelled = task.cancelled()
        self.exc = None if self.cancelled else task.exception()


class Start:
    """Event: ``http.response.start`` (status and raw headers)."""

    __slots__ = ("headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.headers = headers


class Body:
    """Event: one ``http.response.body`` chunk; ``more`` is its ``more_body``."""

    __slots__ = ("chunk", "more")

    def __init__(self, chunk: bytes, more: bool) -> None:
        self.chunk = chunk
        self.more = more


class ClientFailed:
    """Event: the client's request body raised (a disconnect); see ``client_error``."""

    __slots__ = ()


class WsEvent:
    """Event: a message the application sent on a WebSocket (the dict itself)."""

    __slots__ = ("message",)

    def __init__(self, message: dict[str, Any]) -> None:
        self.message = message


def _headers(message: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    return [(bytes(name), bytes(value)) for name, value in message.get("headers", ())]


class _Exchange:
    """What both protocols share: the task, the end event, the disconnect state."""

    def __init__(self, app: _App, scope: dict[str, Any], emit: Emit) -> None:
        self.app = app
        self.scope = scope
        self.emit = emit
        self.task: asyncio.Task[Any] | None = None
        self.disconnected = False  # the client went away (or was made to)
        self._gone = asyncio.Event()  # binds to the running loop at first await (3.10+)

    def start(self) -> None:
        """Start the application task (call on the loop)."""
        coro = self.app(self.scope, self.receive, self.send)
        self.task = contextvars.Context().run(asyncio.ensure_future, coro)
        self.task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        self.emit(AppDone(task))

    def disconnect(self) -> None:
        """The client goes away: ``receive`` says so, ``send`` raises (call on the loop)."""
        self.disconnected = True
        self._gone.set()

    def cancel(self) -> None:
        """Cancel the application task (call on the loop)."""
        if self.task is not None:
            self.task.cancel()

    def _gone_error(self) -> ClientDisconnected:
        return ClientDisconnected(
            "the client disconnected; send() cannot deliver this message.",
            "ASGI spec 2.4: a send() after the client went away raises an OSError. "
            "Stop sending once receive() returns a disconnect message.",
        )

    async def receive(self) -> dict[str, Any]:
        raise NotImplementedError

    async def send(self, message: dict[str, Any]) -> None:
        raise NotImplementedError


class HttpExchange(_Exchange):
    """One HTTP request/response, application side.

    Args:
        app: the ASGI 3 application.
        scope: its ``http`` scope.
        pull: awaited for the next request body chunk: ``(chunk, more_body)``.
            Whatever it raises (e.g. `ClientDisconnected` from the test's
            body iterator) becomes a client disconnect, kept in ``client_error``.
        emit: takes the events `Start`, `Body` and `AppDone`.
    """

    def __init__(self, app: _App, scope: dict[str, Any], pull: Pull, emit: Emit) -> None:
        super().__init__(app, scope, emit)
        self._pull = pull
        self._body_done = False
        self.started = False
        self.complete = False
        self.client_error: BaseException | None = None
        self._unread = 0
        self._space: asyncio.Future[None] | None = None  # resolved when send() may go on

    def consumed(self) -> None:
        """The client read one body chunk (call on the loop)."""
        self._unread -= 1
        if self._unread < HIGH_WATER:
            self._wake_sender()

    def disconnect(self) -> None:
        super().disconnect()
        self._wake_sender()  # a send() blocked by back-pressure must see the disconnect

    def _wake_sender(self) -> None:
        space, self._space = self._space, None
        if space is not None and not space.done():
            space.set_result(None)

    async def receive(self) -> dict[str, Any]:
        if not self._body_done and not self.disconnected:
            try:
                chunk, more = await self._pull()
            except Exception as exc:  # the client's body failed or disconnected
                if not self.disconnected:
                    self.client_error = exc
                    self.emit(ClientFailed())
                self.disconnect()
            else:
                self._body_done = not more
                return {"type": "http.request", "body": chunk, "more_body": more}
        if not self.disconnected and not self.complete:
            await self._gone.wait()  # a complete response also sets it
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self.disconnected:
            raise self._gone_error()
        mtype = message.get("type")
        if mtype == "http.response.start":
            if self.started:
                raise _order("http.response.start was sent twice.")
            self.started = True
            self.emit(Start(int(message["status"]), _headers(message)))
        elif mtype == "http.response.body":
            if not self.started or self.complete:
                raise _order(
                    "http.response.body was sent "
                    + ("before http.response.start." if not self.started else "after the end.")
                )
            more = bool(message.get("more_body", False))
            self._unread += 1
            self.emit(Body(bytes(message.get("body", b"")), more))
            if not more:
                self.complete = True
                self._gone.set()
            await self._flow_control()
        else:
            raise _order(f"unexpected message type {mtype!r} on an http connection.")

    async def _flow_control(self) -> None:
        if self._unread < HIGH_WATER:
            await asyncio.sleep(0)  # let an async reader on this loop run
            return
        self._space = asyncio.get_running_loop().create_future()
        await self._space
        if self.disconnected:
            raise self._gone_error()


class WebSocketExchange(_Exchange):
    """One WebSocket session, application side.

    The client calls ``client_send`` (on the loop) with ``websocket.receive`` /
    ``websocket.disconnect`` messages; the first ``receive`` returns
    ``websocket.connect``. Everything the application sends is emitted as a
    `WsEvent`, then `AppDone` when it returns.
    """

    def __init__(self, app: _App, scope: dict[str, Any], emit: Emit) -> None:
        super().__init__(app, scope, emit)
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._inbox.put_nowait({"type": "websocket.connect"})
        self.app_closed = False

    def client_send(self, message: dict[str, Any]) -> None:
        """Deliver a client message to the application (call on the loop)."""
        if message["type"] == "websocket.disconnect":
            self.disconnected = True
        self._inbox.put_nowait(message)

    async def receive(self) -> dict[str, Any]:
        return await self._inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        if self.disconnected:
            raise self._gone_error()
        mtype = message.get("type")
        if self.app_closed:
            raise _order(f"{mtype} was sent after the application closed the WebSocket.")
        if not isinstance(mtype, str) or not mtype.startswith("websocket."):
            raise _order(f"unexpected message type {mtype!r} on a websocket connection.")
        if mtype == "websocket.close" or (
            mtype == "websocket.http.response.body" and not message.get("more_body", False)
        ):
            self.app_closed = True
        self.emit(WsEvent(dict(message)))
        await asyncio.sleep(0)  # let an async reader on this loop run


def from_disconnect(exc: BaseException) -> bool:
    """True if ``exc`` is, or was raised while handling, a `ClientDisconnected`.

    Frameworks turn the OSError from ``send()`` into their own exception
    (Starlette raises ``ClientDisconnect`` inside ``except OSError``); that is
    the app reacting to the client leaving, not a bug to report.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ClientDisconnected):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _order(detail: str) -> AppSpecError:
    return AppSpecError(
        f"the application broke the ASGI message order: {detail}",
        "See the ASGI HTTP & WebSocket spec; run the client with validate=True "
        "(the default) for the exact rule.",
    )
