"""An HTTP app written against the TypedDicts: read the whole body, answer."""

from __future__ import annotations

from asgibridge.typing import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Scope,
)


async def read_body(receive: ASGIReceiveCallable) -> bytes | None:
    """The request body, or None when the client went away."""
    chunks: list[bytes] = []
    while True:
        event = await receive()
        if event["type"] == "http.request":
            chunks.append(event.get("body", b""))
            if not event.get("more_body", False):
                return b"".join(chunks)
        elif event["type"] == "http.disconnect":
            return None


def header(scope: HTTPScope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value
    return None


async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    if body is None:
        return
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", header(scope, b"content-type") or b"text/plain")],
    }
    await send(start)
    reply: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body}
    await send(reply)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


application: ASGI3Application = app
