"""A lifespan-aware app: startup/shutdown with state, failures reported with a message."""

from __future__ import annotations

from typing import Any

from asgibridge.typing import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGISendCallable,
    LifespanScope,
    LifespanStartupFailedEvent,
    Scope,
)


def open_pool(state: dict[str, Any]) -> None:
    state["pool"] = object()


async def lifespan(
    scope: LifespanScope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    state = scope.get("state")
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            try:
                if state is not None:
                    open_pool(state)
            except OSError as exc:
                failed: LifespanStartupFailedEvent = {
                    "type": "lifespan.startup.failed",
                    "message": str(exc),
                }
                await send(failed)
                return
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    await send({"type": "http.response.start", "status": 204})
    await send({"type": "http.response.body"})


application: ASGI3Application = app
