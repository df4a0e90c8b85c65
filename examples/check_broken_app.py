"""A raw ASGI app with typical spec mistakes, for ``python -m asgibridge check``.

Run ``python -m asgibridge check examples.check_broken_app:app`` from the
repository root.

Each handler breaks one or two rules, so the check exits with status 1 and
names them: lifespan returns without answering startup; HTTP sends a body
before the response start, then a header name in capitals, and a ``str``
body; the websocket handler accepts a subprotocol the client never offered,
then sends a message with neither ``bytes`` nor ``text``.
"""

from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()  # lifespan.startup ... and never answered
        return
    if scope["type"] == "http":
        await receive()
        await send({"type": "http.response.body", "body": b"too early"})
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"X-Mode", b"oops")]}
        )
        await send({"type": "http.response.body", "body": "not bytes"})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept", "subprotocol": "chat.v2"})
    await send({"type": "websocket.send"})
    await receive()
