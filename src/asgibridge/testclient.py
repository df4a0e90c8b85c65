"""An httpx-based test client for ASGI applications (asgibridge only, not asgiref).

`TestClient` / `AsyncTestClient` are httpx clients whose transport is the
application: streamed responses, client disconnects, WebSocket sessions
(`WebSocketSession`, `AsyncWebSocketSession`), lifespan and spec validation.
The clients need httpx (``pip install asgibridge[client]``) and import it
only when first used. See ``docs/testing.md``.
"""

from typing import TYPE_CHECKING, Any

from ._errors import ClientDisconnected, WebSocketClosed, WebSocketDenied

if TYPE_CHECKING:
    from ._asgi.testing.client import AsyncTestClient, TestClient
    from ._asgi.testing.websocket import AsyncWebSocketSession, WebSocketSession

__all__ = (
    "AsyncTestClient",
    "AsyncWebSocketSession",
    "ClientDisconnected",
    "TestClient",
    "WebSocketClosed",
    "WebSocketDenied",
    "WebSocketSession",
)

_LAZY = {
    "AsyncTestClient": "._asgi.testing.client",
    "TestClient": "._asgi.testing.client",
    "AsyncWebSocketSession": "._asgi.testing.websocket",
    "WebSocketSession": "._asgi.testing.websocket",
}


def __getattr__(name: str) -> Any:
    # Lazy re-export: httpx is an optional dependency, imported on first use only.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    try:
        value = getattr(importlib.import_module(module, __package__), name)
    except ModuleNotFoundError as exc:
        if exc.name != "httpx":
            raise
        raise ModuleNotFoundError(
            f"asgibridge.testclient.{name} needs httpx: pip install 'asgibridge[client]'",
            name="httpx",
        ) from exc
    globals()[name] = value
    return value
