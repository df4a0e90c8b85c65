"""A small raw ASGI app that follows the spec, for ``python -m asgibridge check``.

Run ``python -m asgibridge check examples.check_ok_app:app`` from the
repository root.

It answers lifespan, echoes the request body over HTTP (streaming it back in
the chunks it arrived in), and echoes websocket messages. The check exits
with status 0.
"""

from __future__ import annotations

from typing import Any

from asgibridge.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPScope,
    LifespanScope,
    Scope,
    WebSocketScope,
)


async def lifespan(
    scope: LifespanScope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope.get("state", {})["greeting"] = "hello"
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def http(scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/octet-stream")],
        }
    )
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client left; nothing more to send
        more = message.get("more_body", False)
        if scope["method"] != "HEAD":
            await send(
                {"type": "http.response.body", "body": message.get("body", b""), "more_body": True}
            )
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def websocket(
    scope: WebSocketScope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            text = message.get("text")
            if text is not None:
                await send({"type": "websocket.send", "text": text})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})
        elif message["type"] == "websocket.disconnect":
            return


async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> Any:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    elif scope["type"] == "http":
        await http(scope, receive, send)
    else:
        await websocket(scope, receive, send)
