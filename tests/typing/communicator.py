"""Tests written with ApplicationCommunicator and typed scopes and events."""

from __future__ import annotations

from typing import Any

from asgibridge.testing import ApplicationCommunicator
from asgibridge.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPRequestEvent,
    HTTPScope,
    LifespanScope,
    Scope,
    WebSocketScope,
)


async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 204})
    await send({"type": "http.response.body"})


def make_scope() -> HTTPScope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def http_round_trip() -> int:
    communicator = ApplicationCommunicator(app, make_scope())
    request: HTTPRequestEvent = {"type": "http.request", "body": b""}
    await communicator.send_input(request)
    start: dict[str, Any] = await communicator.receive_output(timeout=1)
    await communicator.receive_output()
    await communicator.wait()
    status: int = start["status"]
    return status


async def websocket_and_lifespan() -> bool:
    ws_scope: WebSocketScope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/ws",
        "headers": [],
    }
    websocket = ApplicationCommunicator(app, ws_scope, validate=True)
    await websocket.send_input({"type": "websocket.connect"})
    lifespan_scope: LifespanScope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    lifespan = ApplicationCommunicator(app, lifespan_scope)
    await lifespan.send_input({"type": "lifespan.startup"})
    untyped = ApplicationCommunicator(app, {"type": "http", "path": "/"})
    untyped.scope["user"] = "alice"  # Channels' tests add keys to the scope
    return await websocket.receive_nothing() and await lifespan.receive_nothing()
