"""A WebSocket echo app written against the TypedDicts."""

from __future__ import annotations

from asgibridge.typing import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGISendCallable,
    Scope,
    WebSocketAcceptEvent,
    WebSocketScope,
)


def chosen_subprotocol(scope: WebSocketScope) -> str | None:
    offered = list(scope.get("subprotocols", []))
    return "chat" if "chat" in offered else None


async def echo(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] != "websocket":
        return
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            accept: WebSocketAcceptEvent = {
                "type": "websocket.accept",
                "subprotocol": chosen_subprotocol(scope),
            }
            await send(accept)
        elif event["type"] == "websocket.receive":
            text = event.get("text")
            if text is not None:
                await send({"type": "websocket.send", "text": text})
            else:
                await send({"type": "websocket.send", "bytes": event.get("bytes") or b""})
        elif event["type"] == "websocket.disconnect":
            code: int = event["code"]
            reason = event.get("reason")
            if code != 1000 and reason:
                print(reason)
            return


async def deny(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """Refuse the handshake with an HTTP response (the websocket denial extension)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"no"})
        return
    await send({"type": "websocket.close", "code": 1008, "reason": "policy"})


application: ASGI3Application = echo
denial: ASGI3Application = deny
