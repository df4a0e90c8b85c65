"""Testing ASGI applications: asgiref's ApplicationCommunicator and an httpx-based test client.

`ApplicationCommunicator` (asgiref's API) trades raw ASGI messages with one
application instance. `TestClient` / `AsyncTestClient` are httpx clients
whose transport is the application: streamed responses, client disconnects,
WebSocket sessions (`WebSocketSession`, `AsyncWebSocketSession`), lifespan
and spec validation. The client names need httpx (``pip install
asgibridge[client]``) and import it only when first used.
"""

from typing import TYPE_CHECKING, Any

from ._asgi._communicator import ApplicationCommunicator
from ._errors import ClientDisconnected, WebSocketClosed, WebSocketDenied

if TYPE_CHECKING:
    from ._asgi._client import AsyncTestClient, TestClient
    from ._asgi._client_websocket import AsyncWebSocketSession, WebSocketSession

__all__ = (
    "ApplicationCommunicator",
    "AsyncTestClient",
    "AsyncWebSocketSession",
    "ClientDisconnected",
    "TestClient",
    "WebSocketClosed",
    "WebSocketDenied",
    "WebSocketSession",
)

_LAZY = {
    "AsyncTestClient": "._asgi._client",
    "TestClient": "._asgi._client",
    "AsyncWebSocketSession": "._asgi._client_websocket",
    "WebSocketSession": "._asgi._client_websocket",
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
            f"asgibridge.testing.{name} needs httpx: pip install 'asgibridge[client]'",
            name="httpx",
        ) from exc
    globals()[name] = value
    return value
